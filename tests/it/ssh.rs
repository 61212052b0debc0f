//! The SSH transport against real OpenSSH servers on loopback (see support/sshd.rs).

use std::path::Path;
use std::time::{Duration, Instant};

use otp_provision::inventory::HostKeyPolicy;
use otp_provision::ssh::{Command, Connector, SshError, Target, connect_all};
use sha2::{Digest, Sha256};

use crate::support::sshd::{self, Agent, Options, Sshd};

/// `OTPT_TEST_LOG=otp_provision=debug,russh=debug` shows the transport's logs in failing tests.
fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("OTPT_TEST_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
}

macro_rules! require_sshd {
    () => {
        init_log();
        if !sshd::available() {
            return;
        }
    };
}

fn cmd(script: &str) -> Command {
    Command {
        script: script.into(),
        ..Default::default()
    }
}

fn sudo_cmd(script: &str) -> Command {
    Command {
        script: script.into(),
        privileged: true,
        ..Default::default()
    }
}

fn sudo_cmd_stdin(script: &str, stdin: &[u8]) -> Command {
    Command {
        stdin: Some(stdin.to_vec()),
        ..sudo_cmd(script)
    }
}

/// sshd may write a log line just after the client already saw the outcome.
async fn wait_log(s: &Sshd, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "sshd log lacks {needle:?}:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_auth_exit_codes_and_streams_kept_apart() {
    require_sshd!();
    let s = Sshd::start();
    let conn = Connector::new().connect(&s.target("node-a")).await.unwrap();
    let out = conn
        .exec(cmd("echo out; echo err >&2; printf more; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "out\nmore");
    assert_eq!(out.stderr_str(), "err\n");
    assert_eq!(out.code, Some(3));
    assert!(!out.success());

    let ok = conn.exec(cmd("id -un; tty || true")).await.unwrap();
    assert_eq!(ok.code, Some(0));
    // No PTY: `tty` reports "not a tty".
    assert_eq!(ok.stdout_str(), "root\nnot a tty\n");

    let sig = conn.exec(cmd("kill -TERM $$")).await.unwrap();
    assert_eq!(sig.code, None);
    assert_eq!(sig.signal.as_deref(), Some("TERM"));

    // Privileged as root: no sudo involved.
    let root = conn.exec(sudo_cmd("id -u")).await.unwrap();
    assert_eq!(root.stdout_str(), "0\n");
    conn.close().await;
    assert!(
        s.log().contains("Accepted publickey for otpt-root"),
        "{}",
        s.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_auth_without_key_files() {
    require_sshd!();
    let s = Sshd::start();
    let agent = Agent::start(&[&s.client_key]);
    let mut t = s.target("node-agent");
    t.key_files.clear();
    t.agent = true;
    let conn = Connector::new()
        .with_agent_socket(&agent.socket)
        .connect(&t)
        .await
        .unwrap();
    assert_eq!(
        conn.exec(cmd("echo hi")).await.unwrap().stdout_str(),
        "hi\n"
    );

    // Same target with an empty agent: nothing else to try, so auth fails naming the host.
    let empty = Agent::start(&[]);
    let err = Connector::new()
        .with_agent_socket(&empty.socket)
        .connect(&t)
        .await
        .expect_err("empty agent must not authenticate");
    assert!(matches!(err, SshError::Auth { .. }), "{err}");
    assert!(err.to_string().starts_with("node-agent: "), "{err}");
    assert!(err.to_string().contains("agent: no identities"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bastion_hop_shares_one_bastion_connection() {
    require_sshd!();
    let bastion = Sshd::start();
    let target = Sshd::start();
    let target2 = Sshd::start();
    let via = Box::new(bastion.target("jump"));
    let mut t1 = target.target("inner-1");
    t1.via = Some(via.clone());
    let mut t2 = target2.target("inner-2");
    t2.via = Some(via);

    let c = Connector::new();
    let results = connect_all(&c, &[t1, t2], 4).await;
    let mut conns = Vec::new();
    for (name, r) in results {
        conns.push(r.unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    // SSH_CONNECTION on the target: "client_ip client_port server_ip server_port".
    let sc = conns[0]
        .exec(cmd("echo $SSH_CONNECTION"))
        .await
        .unwrap()
        .stdout_str();
    let fields: Vec<&str> = sc.split_whitespace().collect();
    assert_eq!(fields[3], target.port.to_string());
    let client_port: u16 = fields[1].parse().unwrap();

    // Proof that the hop happened: the bastion's sshd opened the direct-tcpip connections
    // (its log names both target ports), and it authenticated our client exactly once.
    let blog = bastion.log();
    for p in [target.port, target2.port] {
        assert!(
            blog.contains(&format!("server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port {p}")),
            "bastion log lacks the tunnel to {p}:\n{blog}"
        );
    }
    assert_eq!(
        count(&blog, "Accepted publickey for otpt-root"),
        1,
        "{blog}"
    );
    // The target's TCP peer is the bastion's sshd (a descendant of the bastion listener),
    // not this test process.
    let ss = sshd::run(
        "ss",
        &[
            "-tnpH",
            "state",
            "established",
            &format!("sport = :{client_port}"),
        ],
    );
    let bastion_pids = bastion.descendants();
    assert!(
        bastion_pids
            .iter()
            .any(|p| ss.contains(&format!("pid={p},"))),
        "port {client_port} not owned by the bastion's sshd {bastion_pids:?}:\n{ss}"
    );
    assert!(!ss.contains(&format!("pid={},", std::process::id())));

    // A bastion that fails (unknown host key) fails every host behind it with the bastion's
    // error, tried once.
    let before = count(&bastion.log(), "Connection from 127.0.0.1");
    let mut bad_jump = bastion.target("jump");
    bad_jump.known_hosts = vec![bastion.dir.path().join("empty_known_hosts")];
    let mut u1 = target.target("inner-1");
    u1.via = Some(Box::new(bad_jump.clone()));
    let mut u2 = target2.target("inner-2");
    u2.via = Some(Box::new(bad_jump));
    for (name, r) in connect_all(&Connector::new(), &[u1, u2], 4).await {
        let e = r.expect_err("connected through an unverified bastion");
        assert!(matches!(e, SshError::HostKeyUnknown { .. }), "{name}: {e}");
        assert_eq!(e.host(), "jump");
    }
    assert_eq!(
        count(&bastion.log(), "Connection from 127.0.0.1") - before,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publickey_plus_totp_through_askpass() {
    require_sshd!();
    let program = sshd::ensure_pam_otp();
    let s = Sshd::start_with(Options {
        program: Some(program),
        config: vec![
            "UsePAM yes".into(),
            "KbdInteractiveAuthentication yes".into(),
            "AuthenticationMethods publickey,keyboard-interactive".into(),
        ],
    });
    let dir = s.dir.path();
    let calls = dir.join("askpass-calls");
    let good = sshd::script(
        &dir.join("askpass-good"),
        &format!(
            "printf '%s\\n' \"$1\" >> {}\noathtool --totp -b {}",
            calls.display(),
            sshd::OTP_SECRET
        ),
    );
    let mut t = s.target("otp-node");
    t.keyboard_interactive = true;
    t.askpass = Some(good);
    let conn = Connector::new().connect(&t).await.unwrap();
    assert_eq!(
        conn.exec(cmd("echo in")).await.unwrap().stdout_str(),
        "in\n"
    );
    let asked = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(asked.lines().count(), 1, "one OTP prompt per host: {asked}");
    assert!(
        asked.starts_with("(otpt-root@otp-node) Verification code"),
        "{asked}"
    );
    let log = s.log();
    assert!(log.contains("Partial publickey for otpt-root"), "{log}");
    assert!(
        log.contains("Accepted keyboard-interactive/pam for otpt-root"),
        "{log}"
    );

    // A wrong code (none of the codes valid around now) is refused.
    let bad = sshd::script(
        &dir.join("askpass-bad"),
        &format!(
            "valid=$(oathtool --totp -b -w 4 --now=\"$(date -u -d '-90 sec' '+%Y-%m-%d %H:%M:%S UTC')\" {})\n\
             for c in 000000 111111 222222 333333; do\n\
               echo \"$valid\" | grep -qx $c || {{ echo $c; exit 0; }}\n\
             done\nexit 1",
            sshd::OTP_SECRET
        ),
    );
    t.askpass = Some(bad);
    let err = Connector::new()
        .connect(&t)
        .await
        .expect_err("wrong OTP accepted");
    assert!(matches!(err, SshError::Auth { .. }), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("otp-node: "), "{text}");
    assert!(
        text.contains("keyboard-interactive (1 answers): refused"),
        "{text}"
    );
    wait_log(&s, "Failed keyboard-interactive/pam for otpt-root").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_host_key_is_refused_before_authentication() {
    require_sshd!();
    let s = Sshd::start();
    let other = sshd::keygen(&s.dir.path().join("impostor"));
    let kh = s.dir.path().join("known_hosts-changed");
    std::fs::write(
        &kh,
        format!(
            "# line 1\n\nsomewhere.else {}\n[127.0.0.1]:{} {}",
            s.host_key,
            s.port,
            other.trim()
        ),
    )
    .unwrap();
    let marker = s.dir.path().join("executed");
    let mut t = s.target("changed");
    t.known_hosts = vec![kh.clone()];
    t.host_key_policy = HostKeyPolicy::AcceptNew;
    let r = Connector::new().connect(&t).await;
    if let Ok(c) = &r {
        // Only reached if the check is broken; makes the "nothing executed" claim testable.
        let _ = c.exec(cmd(&format!("touch {}", marker.display()))).await;
    }
    let err = r.expect_err("changed key accepted");
    match &err {
        SshError::HostKeyChanged {
            host, file, line, ..
        } => {
            assert_eq!(host, "changed");
            assert_eq!(file, &kh.display().to_string());
            assert_eq!(*line, 4);
        }
        e => panic!("wrong error: {e}"),
    }
    assert!(
        err.to_string().contains(&format!("{}:4", kh.display())),
        "{err}"
    );
    assert!(!marker.exists());
    // accept-new must not have "fixed" the file.
    assert_eq!(
        count(&std::fs::read_to_string(&kh).unwrap(), "[127.0.0.1]"),
        1
    );
    // The server saw a key exchange but not one authentication request.
    let log = s.log();
    assert!(log.contains("Connection from 127.0.0.1"), "{log}");
    assert_eq!(count(&log, "userauth-request"), 0, "{log}");

    // Control: the same log does show authentication for a trusted connection.
    let ok = Connector::new()
        .connect(&s.target("trusted"))
        .await
        .unwrap();
    ok.exec(cmd("true")).await.unwrap();
    assert!(count(&s.log(), "userauth-request") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_entries_and_pinned_keys() {
    require_sshd!();
    let s = Sshd::start();
    let kh = s.known_hosts_file();
    sshd::run("ssh-keygen", &["-q", "-H", "-f", kh.to_str().unwrap()]);
    let hashed = std::fs::read_to_string(&kh).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    let mut t = s.target("hashed");
    t.known_hosts = vec![kh];
    Connector::new().connect(&t).await.unwrap();

    // Pinned keys replace known_hosts; a pin that does not match is refused.
    let mut pinned = s.target("pinned");
    pinned.known_hosts = vec![];
    pinned.host_keys = vec![s.host_key.clone()];
    Connector::new().connect(&pinned).await.unwrap();
    pinned.host_keys = vec![sshd::keygen(&s.dir.path().join("other")).trim().to_string()];
    let err = Connector::new().connect(&pinned).await.err().unwrap();
    assert!(matches!(err, SshError::HostKeyNotPinned { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_new_records_then_strict_accepts() {
    require_sshd!();
    let s = Sshd::start();
    let kh = s.dir.path().join("fresh/known_hosts");
    let mut t = s.target("newhost");
    t.known_hosts = vec![kh.clone()];

    let err = Connector::new()
        .connect(&t)
        .await
        .expect_err("strict accepted unknown");
    assert!(matches!(err, SshError::HostKeyUnknown { .. }), "{err}");
    assert!(!kh.exists());

    t.host_key_policy = HostKeyPolicy::AcceptNew;
    let c = Connector::new().connect(&t).await.unwrap();
    c.exec(cmd("true")).await.unwrap();
    let text = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(text, s.known_hosts_line() + "\n");
    // OpenSSH reads what we wrote.
    let found = sshd::run(
        "ssh-keygen",
        &[
            "-F",
            &format!("[127.0.0.1]:{}", s.port),
            "-f",
            kh.to_str().unwrap(),
        ],
    );
    assert!(found.contains(&s.host_key), "{found}");

    t.host_key_policy = HostKeyPolicy::Strict;
    let c = Connector::new().connect(&t).await.unwrap();
    c.exec(cmd("true")).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        text,
        "strict must not write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_without_password() {
    require_sshd!();
    sshd::ensure_sudo_users();
    let s = Sshd::start();
    let mut t = s.target("sudo-nopw");
    t.user = sshd::SUDO_NOPW_USER.into();
    let c = Connector::new().connect(&t).await.unwrap();
    assert_eq!(
        c.exec(cmd("id -un")).await.unwrap().stdout_str(),
        format!("{}\n", sshd::SUDO_NOPW_USER)
    );
    // The first privileged command also finds out how sudo works here (no separate probe);
    // its marker never reaches the caller, and later commands go the same way.
    for _ in 0..2 {
        let out = c
            .exec(sudo_cmd_stdin(
                "id -u; cat; echo warn >&2; exit 4",
                b"payload",
            ))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "0\npayload");
        assert_eq!(out.stderr_str(), "warn\n");
        assert_eq!(out.code, Some(4));
    }
    // One exec request per command, none for probing sudo: `id -un` and the two above.
    let execs = s.log().matches("req exec").count();
    assert_eq!(execs, 3, "{}", s.log());
    // Quoting survives sudo + sh -c.
    let q = c
        .exec(sudo_cmd("printf '%s|' \"a b\" 'c'\"'\"'d' $((1+1))"))
        .await
        .unwrap();
    assert_eq!(q.stdout_str(), "a b|c'd|2|");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_with_password_from_env() {
    require_sshd!();
    sshd::ensure_sudo_users();
    let s = Sshd::start();
    let mut t = s.target("sudo-pw");
    t.user = sshd::SUDO_PW_USER.into();
    t.sudo_password_env = Some("OTPT_TEST_SUDO_PASSWORD".into());
    t.command_timeout = Duration::from_secs(30);
    // SAFETY: no other test reads or writes these variables; set before any connection.
    unsafe {
        std::env::set_var("OTPT_TEST_SUDO_PASSWORD", sshd::SUDO_PW_PASSWORD);
        std::env::set_var("OTPT_TEST_SUDO_WRONG", "not-the-password");
    }
    let c = Connector::new().connect(&t).await.unwrap();
    // The password goes to sudo first; the command's own stdin follows untouched.
    let out = c
        .exec(sudo_cmd_stdin("id -u; cat", b"line1\nline2\n"))
        .await
        .unwrap();
    assert_eq!(
        out.stdout_str(),
        "0\nline1\nline2\n",
        "stderr: {}",
        out.stderr_str()
    );
    assert!(!out.stderr_str().contains(sshd::SUDO_PW_PASSWORD));
    // Many privileged commands at once share the one resolved sudo mode.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..5 {
        let c = c.clone();
        set.spawn(async move { c.exec(sudo_cmd(&format!("echo {i}; id -u"))).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().unwrap().stdout_str().ends_with("\n0\n"));
    }
    // The password is never in argv: the server's process table never shows it.
    assert!(!sshd::run("ps", &["-eo", "args"]).contains(sshd::SUDO_PW_PASSWORD));

    t.sudo_password_env = Some("OTPT_TEST_SUDO_WRONG".into());
    let c = Connector::new().connect(&t).await.unwrap();
    let err = c
        .exec(sudo_cmd("id -u"))
        .await
        .expect_err("wrong sudo password accepted");
    let text = err.to_string();
    assert!(matches!(err, SshError::Auth { .. }), "{text}");
    assert!(
        text.contains("OTPT_TEST_SUDO_WRONG") && !text.contains("not-the-password"),
        "{text}"
    );

    t.sudo_password_env = Some("OTPT_TEST_SUDO_UNSET".into());
    let c = Connector::new().connect(&t).await.unwrap();
    let err = c.exec(sudo_cmd("id -u")).await.err().unwrap();
    assert!(err.to_string().contains("OTPT_TEST_SUDO_UNSET"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_names_host_and_command() {
    require_sshd!();
    let s = Sshd::start();
    let c = Connector::new().connect(&s.target("slow")).await.unwrap();
    let started = Instant::now();
    let err = c
        .exec(Command {
            script: "sleep 30\necho never".into(),
            timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        })
        .await
        .expect_err("sleep 30 finished within 1 s?");
    match &err {
        SshError::Timeout { host, secs, what } => {
            assert_eq!(host, "slow");
            assert_eq!(*secs, 1);
            assert_eq!(what, "sleep 30 …");
        }
        e => panic!("wrong error {e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    // The connection survives a timed-out command.
    assert_eq!(
        c.exec(cmd("echo alive")).await.unwrap().stdout_str(),
        "alive\n"
    );
    // A background child holding stdout open does not make a finished command time out.
    let bg = c
        .exec(Command {
            script: "sleep 20 & echo started".into(),
            timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bg.stdout_str(), "started\n");
    assert_eq!(bg.code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_command_names_host() {
    require_sshd!();
    let s = Sshd::start();
    let c = Connector::new().connect(&s.target("doomed")).await.unwrap();
    let running = {
        let c = c.clone();
        tokio::spawn(async move { c.exec(cmd("echo started; sleep 30")).await })
    };
    // Wait until the command runs on the server, then kill every sshd process serving us.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sshd::run("ps", &["-eo", "args"]).contains("sleep 30") {
        assert!(Instant::now() < deadline, "command never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill_sessions();
    let err = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("exec hung after the server died")
        .unwrap()
        .expect_err("exec succeeded on a dead server");
    assert!(matches!(err, SshError::Disconnected { .. }), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("doomed: connection lost"), "{text}");
    assert!(text.contains("echo started"), "{text}");
    // Later commands fail fast with the host named too.
    let again = c.exec(cmd("true")).await.err().unwrap();
    assert_eq!(again.host(), "doomed");
    assert!(c.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_upload_5_mib() {
    require_sshd!();
    let s = Sshd::start();
    let c = Connector::new().connect(&s.target("upload")).await.unwrap();
    let mut data = vec![0u8; 5 << 20];
    let mut x: u32 = 0x1234_5678;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let dest = s.dir.path().join("upload.bin");
    let q = shell_quote(&dest);
    let out = c
        .exec(Command {
            script: format!("cat > {q} && sha256sum {q} && wc -c < {q}"),
            stdin: Some(data.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr_str());
    let want = hex::encode(Sha256::digest(&data));
    let text = out.stdout_str();
    assert!(text.starts_with(&want), "{text}");
    assert!(text.ends_with(&format!("\n{}\n", 5 << 20)), "{text}");
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_execs_on_one_connection() {
    require_sshd!();
    let s = Sshd::start(); // MaxSessions 10
    let c = Connector::new().connect(&s.target("busy")).await.unwrap();
    let run = |c: otp_provision::ssh::Connection| async move {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20 {
            let c = c.clone();
            set.spawn(async move {
                c.exec(cmd(&format!("sleep 0.5; echo {i}")))
                    .await
                    .map(|o| o.stdout_str())
            });
        }
        let mut ok = Vec::new();
        let mut errs = Vec::new();
        while let Some(r) = set.join_next().await {
            match r.unwrap() {
                Ok(o) => ok.push(o.trim().parse::<u32>().unwrap()),
                Err(e) => errs.push(e.to_string()),
            }
        }
        ok.sort();
        (ok, errs)
    };
    let (ok, errs) = run(c.clone()).await;
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ok, (0..20).collect::<Vec<_>>());
    // OpenSSH frees a closed channel only in a later pass of its loop, so a burst of commands
    // finishing together can briefly exceed MaxSessions even under the cap; such refusals are
    // retried (and logged by sshd as "no more sessions").
    let refusals = "no more sessions";
    let capped_refusals = count(&s.log(), refusals);

    // Control: without the cap, many more channels are refused, and the retry still completes
    // every command.
    let uncapped = Connector::new()
        .with_sessions_per_host(20)
        .connect(&s.target("uncapped"))
        .await
        .unwrap();
    let (ok, errs) = run(uncapped).await;
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ok.len(), 20);
    let uncapped_refusals = count(&s.log(), refusals) - capped_refusals;
    eprintln!("session refusals: capped {capped_refusals}, uncapped {uncapped_refusals}");
    assert!(
        uncapped_refusals >= 10,
        "MaxSessions 10 did not bite; the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_all_keeps_order_and_names_failures() {
    require_sshd!();
    let s = Sshd::start();
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dead = s.target("dead");
    dead.port = dead_port;
    let targets: Vec<Target> = vec![s.target("a"), dead, s.target("b")];
    let res = connect_all(&Connector::new(), &targets, 2).await;
    let names: Vec<&str> = res.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "dead", "b"]);
    assert!(res[0].1.is_ok() && res[2].1.is_ok());
    let err = res[1].1.as_ref().err().unwrap();
    assert!(matches!(err, SshError::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("dead: cannot connect to [127.0.0.1]:{dead_port}")),
        "{err}"
    );
}

/// Loopback latency numbers for the report: `cargo test --test it ssh::bench -- --ignored
/// --nocapture`. Prints medians; asserts nothing about speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_connect_and_exec() {
    require_sshd!();
    let s = Sshd::start();
    let t = s.target("bench");
    let c = Connector::new();
    let mut connect = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let conn = c.connect(&t).await.unwrap();
        connect.push(t0.elapsed());
        conn.close().await;
    }
    let conn = c.connect(&t).await.unwrap();
    let mut exec = Vec::new();
    for _ in 0..50 {
        let t0 = Instant::now();
        conn.exec(cmd("true")).await.unwrap();
        exec.push(t0.elapsed());
    }
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let conn = conn.clone();
        set.spawn(async move { conn.exec(cmd("true")).await.unwrap() });
    }
    while set.join_next().await.is_some() {}
    let par = t0.elapsed();
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "BENCH connect+auth median {:?} (n=20); exec `true` median {:?} (n=50); 40 execs on one connection, 8 at a time: {:?}",
        median(&mut connect),
        median(&mut exec),
        par
    );
    // The same as the real root, whose ~/.bashrc (pyenv init) runs for every command.
    let mut rt = s.target("bench-root");
    rt.user = "root".into();
    let conn = c.connect(&rt).await.unwrap();
    let mut exec = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        conn.exec(cmd("true")).await.unwrap();
        exec.push(t0.elapsed());
    }
    println!(
        "BENCH exec `true` as root (bash + ~/.bashrc) median {:?} (n=10)",
        median(&mut exec)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_passphrase_from_askpass() {
    require_sshd!();
    let s = Sshd::start();
    let dir = s.dir.path();
    let key = dir.join("enc_ed25519");
    sshd::run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "correct horse",
            "-C",
            "",
            "-f",
            key.to_str().unwrap(),
        ],
    );
    let public = std::fs::read_to_string(dir.join("enc_ed25519.pub")).unwrap();
    let ak = dir.join("authorized_keys");
    let mut text = std::fs::read_to_string(&ak).unwrap();
    text.push_str(&public);
    std::fs::write(&ak, text).unwrap();
    let calls = dir.join("askpass-calls");
    let askpass = sshd::script(
        &dir.join("askpass"),
        &format!(
            "printf '%s\\n' \"$1\" >> {}\necho 'correct horse'",
            calls.display()
        ),
    );
    let mut t = s.target("enc");
    t.key_files = vec![key.clone()];
    t.askpass = Some(askpass);
    // Three hosts sharing the key, connecting at once: one passphrase prompt for the run.
    let connector = Connector::new();
    let targets: Vec<Target> = ["enc-1", "enc-2", "enc-3"]
        .iter()
        .map(|n| Target {
            name: n.to_string(),
            ..t.clone()
        })
        .collect();
    for (name, r) in connect_all(&connector, &targets, 3).await {
        let c = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.exec(cmd("echo ok")).await.unwrap().stdout_str(), "ok\n");
    }
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        format!("Enter passphrase for key '{}': \n", key.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_user_certificate() {
    require_sshd!();
    // A key that is NOT in authorized_keys, only signed by a CA the server trusts.
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = ca_dir.path().join("user_ca");
    sshd::keygen(&ca);
    let s = Sshd::start_with(Options {
        config: vec![format!("TrustedUserCAKeys {}.pub", ca.display())],
        ..Default::default()
    });
    let key = s.dir.path().join("certified");
    sshd::keygen(&key);
    sshd::run(
        "ssh-keygen",
        &[
            "-q",
            "-s",
            ca.to_str().unwrap(),
            "-I",
            "otpt-test",
            "-n",
            sshd::ROOT_USER,
            "-V",
            "-5m:+1h",
            key.with_extension("pub").to_str().unwrap(),
        ],
    );
    let cert = s.dir.path().join("certified-cert.pub");
    assert!(cert.exists());
    let mut t = s.target("cert");
    t.key_files = vec![];
    t.certificate = Some(cert.clone());
    let c = Connector::new().connect(&t).await.unwrap();
    assert_eq!(c.exec(cmd("echo ok")).await.unwrap().stdout_str(), "ok\n");
    assert!(s.log().contains("ED25519-CERT"), "{}", s.log());

    // Control: the bare key (no certificate) is refused.
    let mut bare = s.target("bare");
    bare.key_files = vec![key];
    let err = Connector::new()
        .connect(&bare)
        .await
        .expect_err("bare key accepted");
    assert!(matches!(err, SshError::Auth { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_from_askpass() {
    require_sshd!();
    sshd::ensure_sudo_users();
    let s = Sshd::start_with(Options {
        config: vec!["PasswordAuthentication yes".into()],
        ..Default::default()
    });
    let dir = s.dir.path();
    let calls = dir.join("askpass-calls");
    let askpass = sshd::script(
        &dir.join("askpass"),
        &format!(
            "printf '%s\\n' \"$1\" >> {}\necho '{}'",
            calls.display(),
            sshd::SUDO_PW_PASSWORD
        ),
    );
    let mut t = s.target("pw");
    t.user = sshd::SUDO_PW_USER.into();
    t.key_files = vec![];
    t.password = true;
    t.askpass = Some(askpass);
    let c = Connector::new().connect(&t).await.unwrap();
    assert_eq!(
        c.exec(cmd("id -un")).await.unwrap().stdout_str(),
        format!("{}\n", sshd::SUDO_PW_USER)
    );
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        format!("({}@pw) Password: \n", sshd::SUDO_PW_USER)
    );
    assert!(
        s.log().contains("Accepted password for otpt-sudo-pw"),
        "{}",
        s.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_on_a_silent_server() {
    init_log();
    // Accepts TCP but never speaks SSH (a hung daemon, a firewall that swallows packets).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let t = Target {
        name: "silent".into(),
        address: "127.0.0.1".into(),
        port,
        user: "nobody".into(),
        key_files: vec![],
        certificate: None,
        agent: false,
        password: false,
        keyboard_interactive: false,
        askpass: None,
        known_hosts: vec![dir.path().join("known_hosts")],
        host_key_policy: HostKeyPolicy::Strict,
        host_keys: vec![],
        sudo: false,
        sudo_password_env: None,
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(5),
        lock_wait: Duration::from_secs(600),
        via: None,
    };
    let err = Connector::new()
        .connect(&t)
        .await
        .expect_err("connected to a silent server");
    assert!(matches!(err, SshError::Connect { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("silent: cannot connect to [127.0.0.1]:{port}: timed out after 1s")
    );
    hold.abort();
}
