//! Privileged commands for non-root users.
//!
//! The first privileged command of a connection probes `sudo -n`. When sudo wants a password,
//! it comes from the configured environment variable or a prompt, is checked once, and is then
//! fed on stdin (`sudo -S`) ahead of the command's own stdin: it never appears in argv, where
//! `ps` and logs could see it.

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

/// Checks a password: `-k` ignores cached credentials, so sudo always reads exactly one line.
pub(crate) const PROBE_PASSWORD: &str = "sudo -k -S -p '' -- sh -c true";

/// Whether `sudo -n` failed only because a password is needed (sudo 1.8 and 1.9 wording).
pub(crate) fn needs_password(stderr: &str) -> bool {
    stderr.contains("a password is required") || stderr.contains("password is required")
}

/// The command line and the bytes to send before the command's own stdin.
pub(crate) fn wrap(mode: &SudoMode, script: &str) -> (String, Option<Secret>) {
    let quoted = shell_escape::unix::escape(script.into());
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

    #[test]
    fn needs_password_wording() {
        assert!(needs_password("sudo: a password is required\n"));
        assert!(!needs_password(
            "otpt is not in the sudoers file.  This incident will be reported.\n"
        ));
        assert!(!needs_password("sh: 1: sudo: not found\n"));
    }
}
