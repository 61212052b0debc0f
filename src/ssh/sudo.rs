//! Privileged commands for non-root users.
//!
//! The first privileged command of a connection runs optimistically ([`optimistic`]): as is
//! for a uid-0 login, else through `sudo -n`, and a marker on stderr says which way it ran. So
//! the usual case (root or passwordless sudo) costs no probe round trip. Only when that first
//! try finds no marker (sudo refused, typically wanting a password) does the connection probe
//! the full way. The password comes from the configured environment variable or a prompt, is
//! checked once, and is then fed on stdin (`sudo -S`) ahead of the command's own stdin: it never
//! appears in argv, where `ps` and logs could see it.

use crate::secret::Secret;

/// How privileged commands run on one connection (resolved once, then cached).
#[derive(Debug, Clone)]
pub(crate) enum SudoMode {
    /// Logged in as root, or sudo disabled for the host: run the script as is.
    Direct,
    NoPassword,
    Password(Secret),
}

/// Probe run as the login user: prints `uid0` for any uid-0 login (whatever its name),
/// otherwise succeeds only when sudo needs no password for `sh -c`.
pub(crate) const PROBE: &str =
    "if [ \"$(id -u)\" = 0 ]; then echo uid0; else sudo -n -- sh -c true; fi";

/// Marker lines [`optimistic`] prints on stderr before the script starts.
const MARK_UID0: &str = "otp-provision-sudo:uid0";
const MARK_NOPASSWD: &str = "otp-provision-sudo:nopasswd";

/// The first privileged command of a connection: runs `script` directly for a uid-0 login, else
/// under `sudo -n`, announcing the way on stderr; when sudo refuses, the script never runs and
/// no marker appears. The script appears once in the line (its size limit stays the same).
pub(crate) fn optimistic(script: &str) -> String {
    let quoted = crate::shell::q(script);
    format!(
        "s={quoted}
         if [ \"$(id -u)\" = 0 ]; then echo {MARK_UID0} >&2; exec sh -c \"$s\"; fi
         exec sudo -n -- sh -c 'echo {MARK_NOPASSWD} >&2; exec sh -c \"$1\"' sh \"$s\""
    )
}

/// Takes the marker line of [`optimistic`] out of `stderr` (sudo may warn before it, e.g.
/// about an unresolvable hostname) and returns the mode it stands for; `None` when the script
/// did not run.
pub(crate) fn take_marker(stderr: &mut Vec<u8>) -> Option<SudoMode> {
    // Bytes, not text: a lossy UTF-8 view would shift the offsets after an invalid byte.
    let mut offset = 0;
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        let mode = match line.strip_suffix(b"\n").unwrap_or(line) {
            l if l == MARK_UID0.as_bytes() => SudoMode::Direct,
            l if l == MARK_NOPASSWD.as_bytes() => SudoMode::NoPassword,
            _ => {
                offset += line.len();
                continue;
            }
        };
        let end = offset + line.len();
        stderr.drain(offset..end);
        return Some(mode);
    }
    None
}

/// Checks a password: `-k` ignores cached credentials, so sudo always reads exactly one line.
pub(crate) const PROBE_PASSWORD: &str = "sudo -k -S -p '' -- sh -c true";

/// Whether `sudo -n` failed only because a password is needed (sudo 1.8 and 1.9 wording).
pub(crate) fn needs_password(stderr: &str) -> bool {
    stderr.contains("a password is required") || stderr.contains("password is required")
}

/// The command line and the bytes to send before the command's own stdin.
pub(crate) fn wrap(mode: &SudoMode, script: &str) -> (String, Option<Secret>) {
    let quoted = crate::shell::q(script);
    match mode {
        SudoMode::Direct => (script.to_string(), None),
        SudoMode::NoPassword => (format!("sudo -n -- sh -c {quoted}"), None),
        SudoMode::Password(pw) => (
            // -k: ignore a cached timestamp so sudo always consumes the password line and it
            // never leaks into the command's stdin.
            format!("sudo -k -S -p '' -- sh -c {quoted}"),
            Some(Secret::new(format!("{}\n", pw.expose()))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_table() {
        let pw = SudoMode::Password(Secret::new("s3cr3t"));
        let cases: &[(&SudoMode, &str, &str, Option<&str>)] = &[
            (&SudoMode::Direct, "id -u", "id -u", None),
            (
                &SudoMode::NoPassword,
                "id -u",
                "sudo -n -- sh -c 'id -u'",
                None,
            ),
            (
                &SudoMode::NoPassword,
                "echo 'a b' > /x",
                r#"sudo -n -- sh -c 'echo '\''a b'\'' > /x'"#,
                None,
            ),
            (
                &pw,
                "cat > /etc/x",
                "sudo -k -S -p '' -- sh -c 'cat > /etc/x'",
                Some("s3cr3t\n"),
            ),
        ];
        for (mode, script, want, stdin) in cases {
            let (cmd, pre) = wrap(mode, script);
            assert_eq!(&cmd, want);
            assert!(!cmd.contains("s3cr3t"), "password must never reach argv");
            assert_eq!(pre.as_ref().map(|s| s.expose()), *stdin);
        }
    }

    /// The optimistic line under the local shell: as a non-root user without sudo the script
    /// must not run and no marker appears; as root it runs with the marker, which is taken out.
    #[test]
    fn optimistic_line_runs_once_and_marks_the_way() {
        let script = "echo 'out a b'; echo err >&2; exit 3";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(optimistic(script))
            .output()
            .unwrap();
        let mut stderr = out.stderr.clone();
        let mode = take_marker(&mut stderr);
        if nix_uid_is_root() {
            assert!(matches!(mode, Some(SudoMode::Direct)));
            assert_eq!(out.stdout, b"out a b\n");
            assert_eq!(stderr, b"err\n");
            assert_eq!(out.status.code(), Some(3));
        } else {
            assert!(!matches!(mode, Some(SudoMode::Direct)));
        }
    }

    fn nix_uid_is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n")
    }

    #[test]
    fn take_marker_table() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "otp-provision-sudo:nopasswd\nerr\n",
                Some("nopasswd"),
                "err\n",
            ),
            ("otp-provision-sudo:uid0\n", Some("uid0"), ""),
            (
                "sudo: unable to resolve host x\notp-provision-sudo:nopasswd\nboom",
                Some("nopasswd"),
                "sudo: unable to resolve host x\nboom",
            ),
            (
                "sudo: a password is required\n",
                None,
                "sudo: a password is required\n",
            ),
            (
                "say otp-provision-sudo:uid0\n",
                None,
                "say otp-provision-sudo:uid0\n",
            ),
            ("", None, ""),
        ];
        for (input, want, rest) in cases {
            let mut buf = input.as_bytes().to_vec();
            // The same with an invalid UTF-8 byte ahead of it (a warning in a Latin-1 locale).
            let mut raw = b"\xe9t\xe9\n".to_vec();
            raw.extend_from_slice(input.as_bytes());
            let got_raw = take_marker(&mut raw).is_some();
            assert_eq!(got_raw, want.is_some(), "{input:?}");
            let mut raw_rest = b"\xe9t\xe9\n".to_vec();
            raw_rest.extend_from_slice(rest.as_bytes());
            assert_eq!(raw, raw_rest, "{input:?}");
            let got = take_marker(&mut buf).map(|m| match m {
                SudoMode::Direct => "uid0",
                SudoMode::NoPassword => "nopasswd",
                SudoMode::Password(_) => "password",
            });
            assert_eq!(got, *want, "{input:?}");
            assert_eq!(String::from_utf8_lossy(&buf), *rest, "{input:?}");
        }
    }

    #[test]
    fn needs_password_wording() {
        assert!(needs_password("sudo: a password is required\n"));
        assert!(!needs_password(
            "otpt is not in the sudoers file.  This incident will be reported.\n"
        ));
        assert!(!needs_password("sh: 1: sudo: not found\n"));
    }
}
