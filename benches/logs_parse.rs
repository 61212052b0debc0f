//! Parse throughput of `otp-provision logs` on a generated mixed log (not a test: it only
//! reports). Run: `cargo bench --bench logs_parse` (release build), options:
//! `-- --bytes N` (default 1 GiB), `--file PATH` (parse a real plain log file instead).
//!
//! The log is generated chunk by chunk (about 1 MiB of one source at a time, sources
//! interleaved by weight) and each chunk is parsed right away, so memory stays small. Only
//! the parsing is timed: one thread, so the figure is MB/s per core.

use std::time::{Duration, Instant};

use otp_provision::inventory::{FieldKind, FieldType, LogFormat, LogParser};
use otp_provision::logs::{JournalEntry, Origin, ParserSet, Record, file_records, journal_records};

fn custom_parsers() -> Vec<LogParser> {
    let base = |name: &str| LogParser {
        name: name.into(),
        format: LogFormat::Regex,
        regex: None,
        time_key: Some("time".into()),
        time_format: None,
        time_keep: false,
        types: Vec::new(),
        namespaces: Vec::new(),
        containers: Vec::new(),
        units: Vec::new(),
        files: Vec::new(),
    };
    vec![
        LogParser {
            regex: Some(r#"^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)")?$"#.into()),
            time_format: Some("%d/%b/%Y:%H:%M:%S %z".into()),
            types: vec![
                FieldType { field: "code".into(), kind: FieldKind::Integer },
                FieldType { field: "size".into(), kind: FieldKind::Integer },
            ],
            containers: vec!["nginx".into()],
            ..base("nginx")
        },
        LogParser {
            regex: Some(r"^(?<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) +(?<level>[A-Z]+) +(?<pid>\d+) --- \[(?<thread>[^\]]+)\] (?<logger>\S+) +: (?<message>.*)$".into()),
            time_format: Some("%Y-%m-%d %H:%M:%S.%L".into()),
            files: vec!["/var/log/app/*.log".into()],
            ..base("logback")
        },
    ]
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    PodNginx,
    PodKlog,
    PodJson,
    AppLogback,
    Audit,
    Syslog,
    Journal,
}

const MIX: [(Kind, u32, &str); 7] = [
    (
        Kind::PodNginx,
        25,
        "/var/log/pods/web_nginx-7d9f_0f1e/nginx/0.log",
    ),
    (
        Kind::PodKlog,
        15,
        "/var/log/pods/kube-system_kube-apiserver-cp1_11/kube-apiserver/0.log",
    ),
    (
        Kind::PodJson,
        15,
        "/var/log/pods/shop_cart-5c_aa/cart/0.log",
    ),
    (Kind::AppLogback, 15, "/var/log/app/payments.log"),
    (Kind::Audit, 15, "/var/log/kubernetes/audit/audit.log"),
    (Kind::Syslog, 5, "/var/log/syslog"),
    (Kind::Journal, 10, "journal"),
];

/// Appends one line (with its newline) of `kind` at time `t` (seconds) to `buf`.
fn line(buf: &mut String, kind: Kind, rng: &mut Rng, t: u64) {
    use std::fmt::Write as _;
    let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
    let ns = rng.below(1_000_000_000);
    let cri = |buf: &mut String, stream: &str| {
        let _ = write!(buf, "2024-05-01T{h:02}:{m:02}:{s:02}.{ns:09}Z {stream} F ");
    };
    // One line in a hundred is something no parser reads.
    if rng.below(100) == 0 && !matches!(kind, Kind::Journal) {
        let _ = writeln!(
            buf,
            "\tat com.bank.Thing.method(Thing.java:{})",
            rng.below(900)
        );
        return;
    }
    match kind {
        Kind::PodNginx => {
            cri(buf, "stdout");
            let _ = writeln!(
                buf,
                r#"10.{}.{}.{} - - [01/May/2024:{h:02}:{m:02}:{s:02} +0000] "{} {} HTTP/1.1" {} {} "-" "{}""#,
                rng.below(255),
                rng.below(255),
                rng.below(255),
                rng.pick(&["GET", "GET", "GET", "POST", "PUT"]),
                rng.pick(&[
                    "/",
                    "/index.html",
                    "/api/v1/payments?page=2",
                    "/static/app.js",
                    "/healthz"
                ]),
                rng.pick(&["200", "200", "200", "304", "404", "500"]),
                rng.below(50_000),
                rng.pick(&[
                    "curl/8.0",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
                    "kube-probe/1.33"
                ]),
            );
        }
        Kind::PodKlog => {
            cri(buf, "stderr");
            let _ = writeln!(
                buf,
                r#"{}0501 {h:02}:{m:02}:{s:02}.{:06}       1 {}] "{}" {}"#,
                rng.pick(&["I", "I", "I", "W", "E"]),
                ns / 1000,
                rng.pick(&[
                    "httplog.go:134",
                    "controller.go:231",
                    "watcher.go:92",
                    "trace.go:236"
                ]),
                rng.pick(&[
                    "HTTP",
                    "Trace[1960151208]: \"List\" url:/api/v1/pods",
                    "watch chan error",
                    "Starting controller"
                ]),
                rng.pick(&[
                    r#"verb="GET" URI="/api/v1/namespaces/default/pods" latency="2.1ms" resp=200"#,
                    r#"err="etcdserver: mvcc: required revision has been compacted""#,
                    "",
                ]),
            );
        }
        Kind::PodJson => {
            cri(buf, "stdout");
            let _ = writeln!(
                buf,
                r#"{{"level":"{}","ts":"2024-05-01T{h:02}:{m:02}:{s:02}.{:03}Z","logger":"cart","msg":"{}","cart_id":{},"items":{},"duration_ms":{}.{}}}"#,
                rng.pick(&["info", "info", "debug", "warn", "error"]),
                ns / 1_000_000,
                rng.pick(&[
                    "item added",
                    "checkout started",
                    "price lookup",
                    "cart \"saved\""
                ]),
                rng.below(1_000_000),
                rng.below(20),
                rng.below(500),
                rng.below(1000),
            );
        }
        Kind::AppLogback => {
            let _ = writeln!(
                buf,
                "2024-05-01 {h:02}:{m:02}:{s:02}.{:03} {} 1 --- [{}] {} : {}",
                ns / 1_000_000,
                rng.pick(&[" INFO", " INFO", " WARN", "ERROR", "DEBUG"]),
                rng.pick(&[
                    "nio-8080-exec-1",
                    "main",
                    "scheduling-1",
                    "nio-8080-exec-12"
                ]),
                rng.pick(&[
                    "c.b.p.PaymentController   ",
                    "o.s.web.servlet.DispatcherServlet",
                    "c.b.p.LedgerClient"
                ]),
                rng.pick(&[
                    "Payment accepted id=42 amount=10.00 EUR",
                    "Completed initialization in 1 ms",
                    "Ledger call took 120ms"
                ]),
            );
        }
        Kind::Audit => {
            let _ = writeln!(
                buf,
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{:016x}-{:08x}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/{}/pods?limit=500","verb":"{}","user":{{"username":"system:serviceaccount:kube-system:{}","uid":"{:x}","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]}},"sourceIPs":["10.0.0.{}"],"userAgent":"kube-controller-manager/v1.33.4 (linux/amd64) kubernetes/abcdef/system:serviceaccount:kube-system:generic-garbage-collector","objectRef":{{"resource":"pods","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2024-05-01T{h:02}:{m:02}:{s:02}.{:06}Z","stageTimestamp":"2024-05-01T{h:02}:{m:02}:{s:02}.{:06}Z","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller:generic-garbage-collector\""}}}}"#,
                rng.next(),
                rng.next() as u32,
                rng.pick(&["default", "kube-system", "payments"]),
                rng.pick(&["list", "watch", "get", "create", "patch"]),
                rng.pick(&[
                    "generic-garbage-collector",
                    "replicaset-controller",
                    "endpointslice-controller"
                ]),
                rng.next(),
                rng.below(255),
                ns / 1000,
                ns / 1000,
            );
        }
        Kind::Syslog => {
            let _ = writeln!(
                buf,
                "May  1 {h:02}:{m:02}:{s:02} cp1 {}: {}",
                rng.pick(&["systemd[1]", "kernel", "sshd[812]", "CRON[2211]"]),
                rng.pick(&[
                    "Started Session 12 of User ops.",
                    "eth0: Link is Up - 1Gbps/Full",
                    "pam_unix(cron:session): session opened for user root(uid=0)"
                ]),
            );
        }
        Kind::Journal => {
            let msg = match rng.below(3) {
                0 => format!(
                    r#"I0501 {h:02}:{m:02}:{s:02}.{:06}    1234 kubelet.go:2345] \"SyncLoop UPDATE\" source=\"api\" pods=[\"kube-system/kube-proxy-x{}\"]"#,
                    ns / 1000,
                    rng.below(99)
                ),
                1 => format!(
                    r#"E0501 {h:02}:{m:02}:{s:02}.{:06}    1234 pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"app\\\" with CrashLoopBackOff\""#,
                    ns / 1000
                ),
                _ => format!(
                    r#"time=\"2024-05-01T{h:02}:{m:02}:{s:02}.{ns:09}Z\" level=info msg=\"StartContainer for \\\"{:016x}\\\" returns successfully\""#,
                    rng.next()
                ),
            };
            let unit = if msg.starts_with("time=") {
                "containerd.service"
            } else {
                "kubelet.service"
            };
            let _ = writeln!(
                buf,
                r#"{{"__CURSOR":"s=0a1b;i={:x};b=2c;m={:x};t={:x};x={:x}","__REALTIME_TIMESTAMP":"{}","__MONOTONIC_TIMESTAMP":"{}","_BOOT_ID":"2c3d","PRIORITY":"6","_PID":"1234","_COMM":"kubelet","_SYSTEMD_UNIT":"{unit}","SYSLOG_IDENTIFIER":"kubelet","_HOSTNAME":"cp1","MESSAGE":"{msg}"}}"#,
                rng.next(),
                rng.next(),
                rng.next(),
                rng.next(),
                1_714_521_600_000_000u64 + t * 1_000_000 + ns / 1000,
                t * 1_000_000,
            );
        }
    }
}

/// CPU time this thread has run, from the scheduler (`/proc/thread-self/schedstat`, ns). On a
/// shared machine wall time also counts the time other processes had the core; CPU time is
/// what "per core" means.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn parse_chunk(
    set: &ParserSet,
    kind: Kind,
    origin: &Origin,
    source: &str,
    text: &str,
) -> (u64, u64) {
    let (mut records, mut fields) = (0u64, 0u64);
    let mut sink = |r: &Record<'_>| {
        records += 1;
        fields += r.fields.len() as u64 + r.ts.is_some() as u64;
    };
    if let Kind::Journal = kind {
        let entries: Vec<JournalEntry> = text.lines().filter_map(JournalEntry::from_json).collect();
        journal_records(set, "cp1", &entries, &mut sink);
    } else {
        let mut prev = None;
        file_records(set, "cp1", origin, source, text, &mut prev, &mut sink);
    }
    (records, fields)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut total: u64 = 1 << 30;
    let mut file = None;
    let mut micro = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bytes" => total = args.next().and_then(|v| v.parse().ok()).expect("--bytes N"),
            "--file" => file = args.next(),
            "--bench" => {}
            "--micro" => micro = true,
            other => eprintln!("ignoring argument {other}"),
        }
    }
    let set = ParserSet::new(&custom_parsers()).expect("parsers compile");
    if micro {
        micro_nginx(&set);
        return;
    }

    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).expect("readable UTF-8 file");
        let origin = Origin::of_file(&path);
        let source = origin.source();
        let start = Instant::now();
        let (r, _) = parse_chunk(&set, Kind::Syslog, &origin, &source, &text);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{path}: {} bytes, {r} records in {secs:.3}s: {:.1} MB/s",
            text.len(),
            text.len() as f64 / secs / 1e6
        );
        return;
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let origins: Vec<(Origin, String)> = MIX
        .iter()
        .map(|(_, _, p)| {
            let o = if *p == "journal" {
                Origin::Unit("kubelet.service".into())
            } else {
                Origin::of_file(p)
            };
            let s = o.source();
            (o, s)
        })
        .collect();
    let weights: u32 = MIX.iter().map(|m| m.1).sum();
    let mut per_kind = vec![(0u64, Duration::ZERO, 0u64); MIX.len()];
    let mut cpu = Duration::ZERO;
    let mut cpu_known = true;
    let mut per_kind_cpu = vec![Duration::ZERO; MIX.len()];
    let mut buf = String::with_capacity(1 << 21);
    let (mut done, mut records, mut fields) = (0u64, 0u64, 0u64);
    let mut gen_time = Duration::ZERO;
    let mut t = 36_000u64;
    let wall = Instant::now();
    while done < total {
        let mut pick = rng.below(weights as u64) as u32;
        let idx = MIX
            .iter()
            .position(|m| {
                if pick < m.1 {
                    true
                } else {
                    pick -= m.1;
                    false
                }
            })
            .unwrap_or(0);
        let kind = MIX[idx].0;
        let g = Instant::now();
        buf.clear();
        while buf.len() < (1 << 20) {
            t += rng.below(2);
            line(&mut buf, kind, &mut rng, t);
        }
        gen_time += g.elapsed();
        let cpu0 = thread_cpu();
        let start = Instant::now();
        let (r, f) = parse_chunk(&set, kind, &origins[idx].0, &origins[idx].1, &buf);
        let took = start.elapsed();
        match (cpu0, thread_cpu()) {
            (Some(a), Some(b)) => {
                cpu += b.saturating_sub(a);
                per_kind_cpu[idx] += b.saturating_sub(a);
            }
            _ => cpu_known = false,
        }
        records += r;
        fields += f;
        per_kind[idx].0 += buf.len() as u64;
        per_kind[idx].1 += took;
        per_kind[idx].2 += r;
        done += buf.len() as u64;
    }
    let parse: Duration = per_kind.iter().map(|k| k.1).sum();
    println!(
        "generated {done} bytes in {:.1}s (not timed), wall {:.1}s",
        gen_time.as_secs_f64(),
        wall.elapsed().as_secs_f64()
    );
    println!(
        "{:<12} {:>10} {:>12} {:>12} {:>12}",
        "source", "MB", "records", "MB/s wall", "MB/s CPU"
    );
    for (((kind, _, _), (bytes, took, r)), c) in MIX.iter().zip(&per_kind).zip(&per_kind_cpu) {
        println!(
            "{:<12} {:>10.1} {:>12} {:>12.1} {:>12.1}",
            format!("{kind:?}"),
            *bytes as f64 / 1e6,
            r,
            *bytes as f64 / took.as_secs_f64().max(1e-9) / 1e6,
            *bytes as f64 / c.as_secs_f64().max(1e-9) / 1e6
        );
    }
    println!(
        "total: {:.1} MB, {records} records, {fields} fields, parsed in {:.2}s wall on one thread: {:.1} MB/s",
        done as f64 / 1e6,
        parse.as_secs_f64(),
        done as f64 / parse.as_secs_f64() / 1e6
    );
    if cpu_known && !cpu.is_zero() {
        println!(
            "CPU time of the parsing thread {:.2}s: {:.1} MB/s per core",
            cpu.as_secs_f64(),
            done as f64 / cpu.as_secs_f64() / 1e6
        );
    }
}

/// Where the time of the nginx parser goes: the regex alone vs. the whole parser.
fn micro_nginx(set: &ParserSet) {
    let mut rng = Rng(7);
    let mut buf = String::new();
    while buf.len() < 50_000_000 {
        line(&mut buf, Kind::PodNginx, &mut rng, 36_000);
    }
    let msgs: Vec<&str> = buf
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3))
        .collect();
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    let p = &set.custom()[0];
    let re = regex::Regex::new(p.def.regex.as_deref().unwrap()).unwrap();
    let mut locs = re.capture_locations();
    let t = Instant::now();
    let mut n = 0;
    for m in &msgs {
        n += re.captures_read(&mut locs, m).is_some() as usize;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "regex captures_read: {n} matches, {:.1} MB/s",
        bytes as f64 / secs / 1e6
    );
    let t = Instant::now();
    let mut n = 0;
    for m in &msgs {
        n += re.is_match(m) as usize;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "regex is_match: {n} matches, {:.1} MB/s",
        bytes as f64 / secs / 1e6
    );
    let reb = regex::bytes::RegexBuilder::new(p.def.regex.as_deref().unwrap())
        .unicode(false)
        .build()
        .unwrap();
    let mut locs = reb.capture_locations();
    let t = Instant::now();
    let mut n = 0;
    for m in &msgs {
        n += reb.captures_read(&mut locs, m.as_bytes()).is_some() as usize;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "bytes, ASCII classes: {n} matches, {:.1} MB/s",
        bytes as f64 / secs / 1e6
    );
    let t = Instant::now();
    let mut n = 0;
    let mut f = Vec::new();
    for m in &msgs {
        f.clear();
        n += p.parse(m, 2024, &mut f).is_some() as usize;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "Parser::parse: {n} matches, {:.1} MB/s",
        bytes as f64 / secs / 1e6
    );
}
