//! A throwaway OpenSSH server on 127.0.0.1 for tests: its own host key, config, authorized_keys
//! and log in a temp dir; killed (with every session process) on drop.
//!
//! Needs root (sshd privilege separation, PAM, test users) and Debian's openssh-server. Without
//! them tests skip with a message, except under `CI`, where they fail.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use otp_provision::inventory::HostKeyPolicy;
use otp_provision::ssh::Target;

pub const SSHD: &str = "/usr/sbin/sshd";
/// `sshd` takes its PAM service name from its program name: a symlink gives a PAM stack of our
/// own (`/etc/pam.d/sshd-otptest`) without touching the system's `sshd` service.
pub const OTP_SSHD: &str = "/usr/local/sbin/sshd-otptest";
pub const OTP_PAM_SERVICE: &str = "/etc/pam.d/sshd-otptest";
/// Base32 TOTP seed used only by the loopback test server.
pub const OTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const OTP_DIR: &str = "/var/lib/otp-provision-test";

/// Login used instead of `root`: uid 0, but `/bin/sh` and a home of its own. root's own
/// ~/.bashrc on these machines runs `pyenv init`, whose `pyenv rehash` lock makes concurrent
/// non-interactive sessions wait on each other for up to a minute; that is the machine's login
/// environment, not the transport, so the fixture logs in around it.
pub const ROOT_USER: &str = "otpt-root";
const ROOT_HOME: &str = "/var/lib/otp-provision-test/root-home";

pub const SUDO_NOPW_USER: &str = "otpt-sudo-nopw";
pub const SUDO_PW_USER: &str = "otpt-sudo-pw";
/// Password of `otpt-sudo-pw`, a local test account that only exists on test machines.
pub const SUDO_PW_PASSWORD: &str = "otpt-Sudo-pw-9";

/// True when sshd tests can run here. Otherwise: panic under CI, else record the skip
/// ([`super::skip`]) and return false.
pub fn available() -> bool {
    let why = if !Path::new(SSHD).exists() {
        Some(format!("{SSHD} missing (apt-get install openssh-server)"))
    } else if !is_root() {
        Some("not running as root".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(w) => {
            super::skip(&format!("sshd tests cannot run: {w}"));
            false
        }
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An ed25519 key pair generated with ssh-keygen (no passphrase).
pub fn keygen(path: &Path) -> String {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

#[derive(Default, Clone)]
pub struct Options {
    /// Extra sshd_config lines (they win over the defaults below them).
    pub config: Vec<String>,
    /// Program to run instead of /usr/sbin/sshd (the PAM service trick).
    pub program: Option<PathBuf>,
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// `ssh-ed25519 AAAA...` of the server.
    pub host_key: String,
    /// Client private key listed in authorized_keys (for every user).
    pub client_key: PathBuf,
    pub log_path: PathBuf,
    child: Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        Self::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Sshd {
        ensure_root_alias();
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("otpt-sshd-")
            .tempdir()
            .unwrap();
        // sshd reads authorized_keys as the login user: the directory must be traversable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let host_key_path = dir.path().join("host_ed25519");
        let host_key = keygen(&host_key_path).trim().to_string();
        let client_key = dir.path().join("client_ed25519");
        let client_pub = keygen(&client_key);
        let ak = dir.path().join("authorized_keys");
        std::fs::write(&ak, client_pub).unwrap();
        std::fs::set_permissions(&ak, std::fs::Permissions::from_mode(0o644)).unwrap();
        let log_path = dir.path().join("sshd.log");
        let program = opts.program.clone().unwrap_or_else(|| SSHD.into());

        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut cfg = opts.config.clone();
            cfg.extend([
                format!("Port {port}"),
                "ListenAddress 127.0.0.1".into(),
                format!("HostKey {}", host_key_path.display()),
                format!("PidFile {}", dir.path().join("sshd.pid").display()),
                format!("AuthorizedKeysFile {}", ak.display()),
                "StrictModes no".into(),
                "PermitRootLogin yes".into(),
                "UsePAM no".into(),
                "PasswordAuthentication no".into(),
                "KbdInteractiveAuthentication no".into(),
                "MaxSessions 10".into(),
                "MaxStartups 100".into(),
                "AllowTcpForwarding yes".into(),
                "LogLevel DEBUG1".into(),
                "Subsystem sftp internal-sftp".into(),
            ]);
            let cfg_path = dir.path().join("sshd_config");
            std::fs::write(&cfg_path, cfg.join("\n") + "\n").unwrap();
            let _ = std::fs::remove_file(&log_path);
            // -E (log file) rather than -e: with -e, debug lines a session child logs before
            // it execs the command land on that command's stderr channel.
            let child = Command::new(&program)
                .args(["-D", "-E"])
                .arg(&log_path)
                .arg("-f")
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
            let mut child = child;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                if log.contains(&format!("Server listening on 127.0.0.1 port {port}")) {
                    return Sshd {
                        dir,
                        port,
                        host_key,
                        client_key,
                        log_path,
                        child,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    last_log = log;
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("sshd did not start listening within 10s:\n{log}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Port taken between probing and binding: try another one.
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("sshd failed to start:\n{last_log}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `[127.0.0.1]:port ssh-ed25519 AAAA...`
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key)
    }

    /// A known_hosts file (in the server's temp dir) trusting this server.
    pub fn known_hosts_file(&self) -> PathBuf {
        let p = self.dir.path().join(format!("known_hosts-{}", self.port));
        std::fs::write(&p, self.known_hosts_line() + "\n").unwrap();
        p
    }

    /// A root target using the client key file and strict host key checking.
    pub fn target(&self, name: &str) -> Target {
        Target {
            name: name.to_string(),
            address: "127.0.0.1".into(),
            port: self.port,
            user: ROOT_USER.into(),
            key_files: vec![self.client_key.clone()],
            certificate: None,
            agent: false,
            password: false,
            keyboard_interactive: false,
            askpass: None,
            known_hosts: vec![self.known_hosts_file()],
            host_key_policy: HostKeyPolicy::Strict,
            host_keys: vec![],
            sudo: true,
            sudo_password_env: None,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            lock_wait: Duration::from_secs(600),
            via: None,
        }
    }

    /// Every process below the listener (per-connection sshd processes and the commands they
    /// run), which is what a crashed or rebooted server looks like to the client.
    pub fn descendants(&self) -> Vec<u32> {
        descendants(self.child.id())
    }

    /// SIGKILL all sessions; the listener keeps running.
    pub fn kill_sessions(&self) {
        let pids: Vec<String> = self.descendants().iter().map(|p| p.to_string()).collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_sessions();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn descendants(root: u32) -> Vec<u32> {
    let mut parent: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parent.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (c, pp) in &parent {
            if *pp == p && !out.contains(c) {
                out.push(*c);
                frontier.push(*c);
            }
        }
    }
    out
}

/// An `ssh-agent` in the foreground on a socket of its own, holding the given keys.
pub struct Agent {
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Agent {
    pub fn start(keys: &[&Path]) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("otpt-agent-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent socket did not appear");
            std::thread::sleep(Duration::from_millis(10));
        }
        for k in keys {
            let out = Command::new("ssh-add")
                .arg(k)
                .env("SSH_AUTH_SOCK", &socket)
                .output()
                .expect("ssh-add");
            assert!(
                out.status.success(),
                "ssh-add: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Agent {
            socket,
            _dir: dir,
            child,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Creates (idempotently) [`ROOT_USER`], a second name for uid 0.
pub fn ensure_root_alias() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if !user_exists(ROOT_USER) {
            std::fs::create_dir_all(ROOT_HOME).unwrap();
            run(
                "useradd",
                &[
                    "-o", "-u", "0", "-g", "0", "-M", "-d", ROOT_HOME, "-s", "/bin/sh", ROOT_USER,
                ],
            );
        }
        std::fs::create_dir_all(ROOT_HOME).unwrap();
        // Not locked ("!"), which sshd refuses without PAM; no password either.
        run("usermod", &["-p", "*", ROOT_USER]);
    });
}

/// Creates (idempotently) the sudo test users: `otpt-sudo-nopw` (NOPASSWD) and `otpt-sudo-pw`
/// (password [`SUDO_PW_PASSWORD`]), each with a sudoers drop-in.
pub fn ensure_sudo_users() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for user in [SUDO_NOPW_USER, SUDO_PW_USER] {
            if !user_exists(user) {
                run("useradd", &["-m", "-s", "/bin/sh", user]);
            }
        }
        // `*` = no password login but not "locked" (sshd refuses locked accounts with UsePAM no).
        run("usermod", &["-p", "*", SUDO_NOPW_USER]);
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{SUDO_PW_USER}:{SUDO_PW_PASSWORD}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd failed");
        for (file, rule) in [
            (
                SUDO_NOPW_USER,
                format!("{SUDO_NOPW_USER} ALL=(ALL) NOPASSWD: ALL\n"),
            ),
            (SUDO_PW_USER, format!("{SUDO_PW_USER} ALL=(ALL) ALL\n")),
        ] {
            let path = format!("/etc/sudoers.d/{file}");
            std::fs::write(&path, rule).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
            run("visudo", &["-c", "-q", "-f", &path]);
        }
    });
}

/// Sets up the `sshd-otptest` PAM service: google-authenticator TOTP with [`OTP_SECRET`] for
/// [`ROOT_USER`] and [`SUDO_PW_USER`]. Returns the sshd program to start (a symlink to sshd).
pub fn ensure_pam_otp() -> PathBuf {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let module = "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so";
        assert!(
            Path::new(module).exists() || Path::new("/usr/lib/x86_64-linux-gnu/security/pam_google_authenticator.so").exists(),
            "libpam-google-authenticator is not installed"
        );
        std::fs::create_dir_all(OTP_DIR).unwrap();
        std::fs::set_permissions(OTP_DIR, std::fs::Permissions::from_mode(0o700)).unwrap();
        // No DISALLOW_REUSE and no RATE_LIMIT: tests log in several times within 30 s.
        for user in [ROOT_USER, SUDO_PW_USER] {
            let secret_file = format!("{OTP_DIR}/{user}.google_authenticator");
            std::fs::write(&secret_file, format!("{OTP_SECRET}\n\" TOTP_AUTH\n")).unwrap();
            std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        std::fs::write(
            OTP_PAM_SERVICE,
            format!(
                "# otp-provision integration tests only (sshd started as {OTP_SSHD}).\n\
                 auth required pam_google_authenticator.so secret={OTP_DIR}/${{USER}}.google_authenticator user=root\n\
                 account required pam_permit.so\n\
                 session required pam_permit.so\n\
                 password required pam_deny.so\n"
            ),
        )
        .unwrap();
        let link = Path::new(OTP_SSHD);
        if std::fs::read_link(link).ok().as_deref() != Some(Path::new(SSHD)) {
            let _ = std::fs::remove_file(link);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(SSHD, link).unwrap();
        }
    });
    PathBuf::from(OTP_SSHD)
}

/// Writes an executable script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    // Write to a temp name and rename: executing a file another thread still has open for
    // writing fails with ETXTBSY.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    path.to_path_buf()
}
