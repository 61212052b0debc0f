//! Parser definitions against sample kubelet, containerd, CRI, audit and application lines;
//! built-ins against their Fluent Bit regexes; unmatched lines; merge order; writer snapshots;
//! the collection script run by a real shell.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::*;
use crate::inventory::{LogFormat, LogParser, load_with_home};
use crate::timestamp::{parse_rfc3339, rfc3339};

fn def(name: &str, format: LogFormat) -> LogParser {
    LogParser {
        name: name.into(),
        format,
        regex: None,
        time_key: None,
        time_format: None,
        time_keep: false,
        types: Vec::new(),
        namespaces: Vec::new(),
        containers: Vec::new(),
        units: Vec::new(),
        files: Vec::new(),
    }
}

fn types(list: &[(&str, crate::inventory::FieldKind)]) -> Vec<crate::inventory::FieldType> {
    list.iter()
        .map(|(f, k)| crate::inventory::FieldType {
            field: f.to_string(),
            kind: *k,
        })
        .collect()
}

/// The operator parsers used by the sample tables (as an inventory would define them).
fn custom_parsers() -> Vec<LogParser> {
    use crate::inventory::FieldKind::{Integer, String as Str};
    vec![
        // Fluent Bit's nginx parser.
        LogParser {
            regex: Some(r#"^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)")?$"#.into()),
            time_key: Some("time".into()),
            time_format: Some("%d/%b/%Y:%H:%M:%S %z".into()),
            types: types(&[("code", Integer), ("size", Integer)]),
            containers: vec!["nginx*".into()],
            ..def("nginx", LogFormat::Regex)
        },
        // Spring Boot / logback default console pattern.
        LogParser {
            regex: Some(r"^(?<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) +(?<level>[A-Z]+) +(?<pid>\d+) --- \[(?<thread>[^\]]+)\] (?<logger>\S+) +: (?<message>.*)$".into()),
            time_key: Some("time".into()),
            time_format: Some("%Y-%m-%d %H:%M:%S.%L".into()),
            time_keep: true,
            namespaces: vec!["payments".into()],
            files: vec!["/var/log/app/*.log".into()],
            ..def("logback", LogFormat::Regex)
        },
        // kubeadm.md 7.6's bank_app.
        LogParser {
            regex: Some(r"^(?<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) +(?<level>[A-Z]+) +\[(?<thread>[^\]]*)\] +txn=(?<txn_id>[A-Za-z0-9-]+) +(?<logger>[\w.$]+) - (?<message>.*)$".into()),
            time_key: Some("time".into()),
            time_format: Some("%Y-%m-%dT%H:%M:%S.%LZ".into()),
            time_keep: true,
            namespaces: vec!["bank".into()],
            ..def("bank_app", LogFormat::Regex)
        },
        LogParser {
            time_key: Some("ts".into()),
            time_format: Some("%s".into()),
            types: types(&[("port", Str)]),
            units: vec!["myapp".into()],
            namespaces: vec!["shop".into()],
            ..def("app_json", LogFormat::Json)
        },
    ]
}

fn set() -> ParserSet {
    ParserSet::new(&custom_parsers()).unwrap()
}

fn show(v: &Val<'_>) -> String {
    match v {
        Val::Str(s) => s.to_string(),
        Val::Int(i) => format!("{i}i"),
        Val::Float(f) => format!("{f}f"),
        Val::Bool(b) => format!("{b}b"),
        Val::Json(j) => j.to_string(),
    }
}

/// `parser ts | k=v k=v` for table comparisons.
fn summary(r: &Record<'_>) -> String {
    let fields = r
        .fields
        .iter()
        .map(|(k, v)| format!("{k}={}", show(v)))
        .collect::<Vec<_>>()
        .join(" | ");
    format!(
        "{} {} || {fields}",
        r.parser,
        r.ts.map(rfc3339).unwrap_or_else(|| "-".into())
    )
}

fn file_summary(set: &ParserSet, path: &str, text: &str) -> Vec<String> {
    let origin = Origin::of_file(path);
    let source = origin.source();
    let mut out = Vec::new();
    let mut prev = None;
    file_records(set, "h1", &origin, &source, text, &mut prev, &mut |r| {
        out.push(summary(r))
    });
    out
}

fn journal_summary(set: &ParserSet, unit: &str, ts: &str, message: &str) -> String {
    let e = JournalEntry {
        ts: parse_rfc3339(ts.as_bytes()).unwrap(),
        unit: unit.into(),
        source: Origin::Unit(unit.into()).source(),
        pid: Some("1234".into()),
        priority: Some(6),
        message: message.into(),
        cursor: None,
    };
    let entries = [e];
    let mut out = Vec::new();
    journal_records(set, "h1", &entries, &mut |r| out.push(summary(r)));
    out.remove(0)
}

#[test]
fn journal_samples() {
    let s = set();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "kubelet.service",
            "2024-05-01T10:00:00.123456Z",
            r#"I0501 10:00:00.123456    1234 kubelet.go:2345] "SyncLoop ADD" source="api" pods=["kube-system/etcd-cp1"]"#,
            r#"klog 2024-05-01T10:00:00.123456000Z || priority=6i | level=I | pid=1234 | caller=kubelet.go:2345 | message="SyncLoop ADD" source="api" pods=["kube-system/etcd-cp1"]"#,
        ),
        (
            // klog times are local and zone-less: the journal's time stays.
            "kubelet.service",
            "2024-05-01T08:00:01.000001Z",
            r#"E0501 10:00:01.000001    1234 pod_workers.go:1298] "Error syncing pod, skipping" err="failed to \"StartContainer\"""#,
            r#"klog 2024-05-01T08:00:01.000001000Z || priority=6i | level=E | pid=1234 | caller=pod_workers.go:1298 | message="Error syncing pod, skipping" err="failed to \"StartContainer\"""#,
        ),
        (
            "containerd.service",
            "2024-05-01T10:00:00.200000Z",
            r#"time="2024-05-01T10:00:00.123456789Z" level=info msg="StartContainer for \"abc\" returns successfully""#,
            r#"containerd 2024-05-01T10:00:00.123456789Z || pid=1234 | priority=6i | level=info | msg=StartContainer for "abc" returns successfully"#,
        ),
        (
            "containerd.service",
            "2024-05-01T10:00:00.200000Z",
            "plain text containerd never writes",
            "journal 2024-05-01T10:00:00.200000000Z || pid=1234 | priority=6i | message=plain text containerd never writes",
        ),
        (
            "myapp.service",
            "2024-05-01T10:00:09Z",
            r#"{"ts":1714557600,"level":"warn","msg":"slow","port":8080}"#,
            "app_json 2024-05-01T10:00:00.000000000Z || pid=1234 | priority=6i | level=warn | msg=slow | port=8080i",
        ),
        (
            "sshd.service",
            "2024-05-01T10:00:00Z",
            "Accepted publickey for ops",
            "journal 2024-05-01T10:00:00.000000000Z || pid=1234 | priority=6i | message=Accepted publickey for ops",
        ),
    ];
    let mut fails = Vec::new();
    for (unit, ts, msg, want) in cases {
        let got = journal_summary(&s, unit, ts, msg);
        if got != *want {
            fails.push(format!("{unit} {msg}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn file_samples() {
    let s = set();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "/var/log/pods/web_nginx-7d9f_0f1e/nginx/0.log",
            r#"2024-05-01T10:00:00.123456789Z stdout F 10.0.0.1 - - [01/May/2024:12:00:00 +0200] "GET /index.html HTTP/1.1" 200 612 "-" "curl/8.0""#,
            &[
                r#"nginx 2024-05-01T10:00:00.000000000Z || stream=stdout | logtag=F | namespace=web | pod=nginx-7d9f | container=nginx | remote=10.0.0.1 | host=- | user=- | method=GET | path=/index.html | code=200i | size=612i | referer=- | agent=curl/8.0"#,
            ],
        ),
        (
            // Zone-less logback time: the CRI time stays, the text time is kept.
            "/var/log/pods/payments_api-1_9a/api/0.log",
            "2024-05-01T10:00:00.500000000Z stderr F 2024-05-01 12:00:00.123 ERROR 1 --- [nio-8080-exec-1] c.b.p.PaymentController  : Payment failed id=42",
            &[
                "logback 2024-05-01T10:00:00.500000000Z || stream=stderr | logtag=F | namespace=payments | pod=api-1 | container=api | time=2024-05-01 12:00:00.123 | level=ERROR | pid=1 | thread=nio-8080-exec-1 | logger=c.b.p.PaymentController | message=Payment failed id=42",
            ],
        ),
        (
            "/var/log/pods/bank_core-0_77/core/1.log",
            "2026-05-01T12:00:00.200000000Z stdout F 2026-05-01T12:00:00.123Z INFO [http-nio-8080-exec-1] txn=7f3a-99 com.bank.payments.Api - Payment accepted",
            &[
                "bank_app 2026-05-01T12:00:00.123000000Z || stream=stdout | logtag=F | namespace=bank | pod=core-0 | container=core | time=2026-05-01T12:00:00.123Z | level=INFO | thread=http-nio-8080-exec-1 | txn_id=7f3a-99 | logger=com.bank.payments.Api | message=Payment accepted",
            ],
        ),
        (
            // No parser selected: JSON is recognised by its brace.
            "/var/log/pods/other_svc-1_aa/svc/0.log",
            r#"2024-05-01T10:00:00.000000001Z stdout F {"level":"info","msg":"listening","port":8080,"tls":true,"tags":["a"]}"#,
            &[
                r#"json 2024-05-01T10:00:00.000000001Z || stream=stdout | logtag=F | namespace=other | pod=svc-1 | container=svc | level=info | msg=listening | port=8080i | tls=trueb | tags=["a"]"#,
            ],
        ),
        (
            // Control-plane pods log klog.
            "/var/log/pods/kube-system_kube-apiserver-cp1_11/kube-apiserver/0.log",
            "2024-05-01T10:00:00.000000002Z stderr F W0501 10:00:00.000001       1 warnings.go:70] watch chan error: etcdserver: mvcc: required revision has been compacted",
            &[
                "klog 2024-05-01T10:00:00.000000002Z || stream=stderr | logtag=F | namespace=kube-system | pod=kube-apiserver-cp1 | container=kube-apiserver | level=W | pid=1 | caller=warnings.go:70 | message=watch chan error: etcdserver: mvcc: required revision has been compacted",
            ],
        ),
        (
            // Partial CRI line and a plain-text message stay in `message`.
            "/var/log/pods/other_svc-1_aa/svc/0.log",
            "2024-05-01T10:00:00.000000003Z stdout P first part of a long line",
            &[
                "cri 2024-05-01T10:00:00.000000003Z || stream=stdout | logtag=P | namespace=other | pod=svc-1 | container=svc | message=first part of a long line",
            ],
        ),
        (
            "/var/log/kubernetes/audit/audit.log",
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"8f2a","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?limit=500","verb":"list","user":{"username":"kubernetes-admin"},"sourceIPs":["10.0.0.1"],"responseStatus":{"code":200},"requestReceivedTimestamp":"2024-05-01T10:00:00.100000Z","stageTimestamp":"2024-05-01T10:00:00.105000Z"}"#,
            &[
                r#"audit 2024-05-01T10:00:00.100000000Z || kind=Event | apiVersion=audit.k8s.io/v1 | level=Metadata | auditID=8f2a | stage=ResponseComplete | requestURI=/api/v1/namespaces/default/pods?limit=500 | verb=list | user={"username":"kubernetes-admin"} | sourceIPs=["10.0.0.1"] | responseStatus={"code":200} | requestReceivedTimestamp=2024-05-01T10:00:00.100000Z | stageTimestamp=2024-05-01T10:00:00.105000Z"#,
            ],
        ),
        (
            // A file glob parser; the stack trace line inherits the previous time.
            "/var/log/app/server.log",
            "2024-05-01 10:00:00.123 ERROR 1 --- [main] c.b.App  : boom\n\tat c.b.App.main(App.java:1)\n",
            &[
                "logback 2024-05-01T10:00:00.123000000Z || time=2024-05-01 10:00:00.123 | level=ERROR | pid=1 | thread=main | logger=c.b.App | message=boom",
                "raw 2024-05-01T10:00:00.123000000Z || raw=\tat c.b.App.main(App.java:1)",
            ],
        ),
        (
            "/var/log/syslog",
            "May  1 10:00:00 cp1 systemd[1]: Started kubelet.service - kubelet.\n2024-05-01T10:00:01.500000+00:00 cp1 kernel: eth0: link up\n",
            &[
                "syslog YEAR-05-01T10:00:00.000000000Z || hostname=cp1 | ident=systemd | pid=1 | message=Started kubelet.service - kubelet.",
                "syslog-iso 2024-05-01T10:00:01.500000000Z || hostname=cp1 | ident=kernel | message=eth0: link up",
            ],
        ),
    ];
    let mut fails = Vec::new();
    for (path, text, want) in cases {
        let got = file_summary(&s, path, text);
        // Year-less times in plain files are read in the current year.
        let year = crate::timestamp::year_of(crate::timestamp::now_nanos()).to_string();
        let want: Vec<String> = want.iter().map(|w| w.replace("YEAR", &year)).collect();
        if got != want {
            fails.push(format!("{path}\n   got: {got:#?}\n  want: {want:#?}"));
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn unmatched_lines_are_kept_raw() {
    let s = set();
    let got = file_summary(
        &s,
        "/var/log/app/x.log",
        "not a logback line\n2024-05-01 10:00:00.000 INFO 1 --- [m] a.B  : ok\nstill not one\n",
    );
    assert_eq!(
        got,
        [
            "raw - || raw=not a logback line",
            "logback 2024-05-01T10:00:00.000000000Z || time=2024-05-01 10:00:00.000 | level=INFO | pid=1 | thread=m | logger=a.B | message=ok",
            "raw 2024-05-01T10:00:00.000000000Z || raw=still not one",
        ]
    );
    // A pod line that is not CRI at all is raw too, never dropped.
    let got = file_summary(&s, "/var/log/pods/a_b_c/d/0.log", "garbage\n");
    assert_eq!(got, ["raw - || raw=garbage"]);
}

#[test]
fn type_conversions_keep_unconvertible_values() {
    use crate::inventory::FieldKind::{Bool, Float, Hex, Integer};
    let p = Parser::compile(&LogParser {
        regex: Some(r"^(?<a>\S+) (?<b>\S+) (?<c>\S+) (?<d>\S+) (?<e>\S+)$".into()),
        types: types(&[
            ("a", Integer),
            ("b", Float),
            ("c", Bool),
            ("d", Hex),
            ("e", Integer),
        ]),
        ..def("t", LogFormat::Regex)
    })
    .unwrap();
    let mut f = Vec::new();
    p.parse("42 2.5 TRUE 0xff x9", 2024, &mut f).unwrap();
    let got: Vec<String> = f.iter().map(|(k, v)| format!("{k}={}", show(v))).collect();
    assert_eq!(got, ["a=42i", "b=2.5f", "c=trueb", "d=255i", "e=x9"]);
}

#[test]
fn regex_classes_are_ascii_and_characters_stay_whole() {
    let p = |re: &str| {
        Parser::compile(&LogParser {
            regex: Some(re.into()),
            ..def("t", LogFormat::Regex)
        })
        .unwrap()
    };
    let fields = |p: &Parser, line: &str| {
        let mut f = Vec::new();
        p.parse(line, 2024, &mut f).map(|_| {
            f.iter()
                .map(|(k, v)| format!("{k}={}", show(v)))
                .collect::<Vec<_>>()
        })
    };
    // Onigmo (Ruby syntax) reads \d and \w as ASCII.
    assert_eq!(fields(&p(r"^(?<n>\d+)$"), "١٢٣"), None);
    assert_eq!(fields(&p(r"^(?<w>\w+) (?<rest>.*)$"), "café x"), None);
    // `.` and negated classes take whole characters.
    assert_eq!(
        fields(&p(r"^(?<a>.)(?<b>.)(?<c>.*)$"), "éàü!"),
        Some(vec!["a=é".into(), "b=à".into(), "c=ü!".into()])
    );
    assert_eq!(
        fields(&p(r"^(?<a>[^ ]{2}) (?<b>.+)$"), "日本 語"),
        Some(vec!["a=日本".into(), "b=語".into()])
    );
    // `\h` is Onigmo's hex digit; escaped backslashes stay literal.
    assert_eq!(
        fields(&p(r"^(?<id>\h+) (?<s>[\s\d]+)\\d$"), "00ff 1 2\\d"),
        Some(vec!["id=00ff".into(), "s=1 2".into()])
    );
    assert_eq!(
        fields(&p(r"^(?<x>[^\d\s]+)$"), "ab-c"),
        Some(vec!["x=ab-c".into()])
    );
    // Unicode classes still work.
    assert_eq!(
        fields(&p(r"^(?<word>\p{L}+)$"), "Grüße"),
        Some(vec!["word=Grüße".into()])
    );
}

#[test]
fn time_key_handling() {
    let mk = |keep: bool| {
        Parser::compile(&LogParser {
            regex: Some(r"^(?<time>\S+) (?<msg>.*)$".into()),
            time_key: Some("time".into()),
            time_format: Some("%Y-%m-%dT%H:%M:%S%z".into()),
            time_keep: keep,
            ..def("t", LogFormat::Regex)
        })
        .unwrap()
    };
    let (drop, keep) = (mk(false), mk(true));
    let mut f = Vec::new();
    let m = drop.parse("2024-05-01T10:00:00Z hi", 2024, &mut f).unwrap();
    assert_eq!(m.ts, parse_rfc3339(b"2024-05-01T10:00:00Z"));
    assert!(m.zoned);
    assert_eq!(f.len(), 1, "time field dropped without time_keep");
    let mut f = Vec::new();
    keep.parse("2024-05-01T10:00:00Z hi", 2024, &mut f).unwrap();
    assert_eq!(f.len(), 2);
    // A time that does not parse is kept, and the line still matches.
    let mut f = Vec::new();
    let m = drop.parse("yesterday hi", 2024, &mut f).unwrap();
    assert_eq!(m.ts, None);
    assert_eq!(f.len(), 2);
}

/// The hand-written built-ins must read every line exactly as their Fluent Bit regexes do.
#[test]
fn builtins_agree_with_their_regexes() {
    let s = ParserSet::new(&[]).unwrap();
    let lines: &[&str] = &[
        "2024-05-01T10:00:00.123456789Z stdout F hello world",
        "2024-05-01T10:00:00.123456789Z stderr P ",
        "2024-05-01T10:00:00.123456789+02:00 stdout F a  b",
        "2024-05-01T10:00:00Z stdout F no fraction",
        "2024-05-01T10:00:00.1Z stdin F x",
        "2024-05-01T10:00:00.1Z stdout Fx",
        " stdout F x",
        "x stdout  F",
        "I0501 10:00:00.123456    1234 kubelet.go:2345] \"SyncLoop ADD\"",
        "W0501 10:00:00.1 1 a.go:1] ",
        "E0501 10:00:00.123456 1234 a b.go:1] x",
        "F0501 10:00:00.123456    1234 a.go:1]x",
        "I0501 10:00:00. 1 a.go:1] x",
        "X0501 10:00:00.123456    1234 a.go:1] x",
        "I0501 10:00:00.123456    1234 ] x",
        "May  1 10:00:00 cp1 systemd[1]: Started x.",
        "May 12 10:00:00 cp1 kernel: [ 1.0] eth0: up",
        "May 12 10:00:00 cp1 CRON[12]: (root) CMD (run: it)",
        "May 12 10:00:00 cp1 foo bar baz",
        "May 12 10:00:00 cp1 app[x]: bracket",
        "May 12 10:00:00  x",
        "may 12 10:00:00 cp1 a: b",
        "2024-05-01T10:00:00.123456+00:00 cp1 kubelet[99]: I0501 msg",
        "2024-05-01T10:00:00.5Z cp1 sshd[1]: Accepted",
        "2024-05-01T10:00:00+0000 cp1 a: no fraction",
        "2024-05-01T10:00:00.5+0200 cp1 a: b: c",
        "",
        "random text",
    ];
    let mut fails = Vec::new();
    for def in LogParser::builtins().iter().filter(|d| d.regex.is_some()) {
        let by_regex = Parser::compile(def).unwrap();
        let by_hand = s.builtin(&def.name);
        for line in lines {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ra = by_regex.parse(line, 2024, &mut a);
            let rb = by_hand.parse(line, 2024, &mut b);
            if ra != rb || a != b {
                fails.push(format!(
                    "{} on {line:?}:\n  regex {ra:?} {a:?}\n  hand  {rb:?} {b:?}",
                    def.name
                ));
            }
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn logfmt_and_json_edge_cases() {
    let s = ParserSet::new(&[]).unwrap();
    let lf = s.builtin("logfmt");
    let mut f = Vec::new();
    assert!(
        lf.parse(r#"a=1 b="x \"y\" z" c= flag d="""#, 2024, &mut f)
            .is_some()
    );
    let got: Vec<String> = f.iter().map(|(k, v)| format!("{k}={}", show(v))).collect();
    assert_eq!(got, ["a=1", r#"b=x "y" z"#, "c=", "flag=trueb", "d="]);
    for bad in ["just words here", r#"a="unterminated"#, "=x", ""] {
        let mut f = Vec::new();
        assert!(lf.parse(bad, 2024, &mut f).is_none(), "{bad}");
        assert!(f.is_empty());
    }
    let js = s.builtin("json");
    for bad in ["[1,2]", "{\"a\":", "\"s\"", "{} trailing"] {
        assert!(js.parse(bad, 2024, &mut Vec::new()).is_none(), "{bad}");
    }
}

#[test]
fn journal_json_decoding() {
    let e = JournalEntry::from_json(
        r#"{"__REALTIME_TIMESTAMP":"1714557600000001","__CURSOR":"c","SYSLOG_IDENTIFIER":"kernel","MESSAGE":[104,105,255],"PRIORITY":"3"}"#,
    )
    .unwrap();
    assert_eq!(e.ts, 1_714_557_600_000_001_000);
    assert_eq!(e.unit, "kernel");
    assert_eq!(e.message, "hi\u{fffd}");
    assert_eq!(e.priority, Some(3));
    assert_eq!(e.cursor.as_deref(), Some("c"));
    let e = JournalEntry::from_json(
        r#"{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"kubelet.service","MESSAGE":null}"#,
    )
    .unwrap();
    assert_eq!((e.source.as_str(), e.message.as_str()), ("kubelet", ""));
    assert!(JournalEntry::from_json("-- cursor: s=1").is_none());
    assert!(JournalEntry::from_json(r#"{"MESSAGE":"no time"}"#).is_none());
}

#[test]
fn selection_rules() {
    let s = set();
    let content = |o: Origin| {
        let p = s.plan(&o);
        (
            p.envelope.map(|e| e.name().to_string()),
            p.content
                .iter()
                .flatten()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>(),
        )
    };
    let pod = |ns: &str, c: &str| Origin::of_file(&format!("/var/log/pods/{ns}_p_u/{c}/0.log"));
    assert_eq!(content(pod("web", "nginx-sidecar")).1, ["nginx"]);
    assert_eq!(content(pod("payments", "any")).1, ["logback"]);
    assert_eq!(
        content(pod("web", "other")),
        (Some("cri".into()), vec!["klog".into()])
    );
    assert_eq!(
        content(Origin::Unit("myapp.service".into())).1,
        ["app_json"]
    );
    assert_eq!(
        content(Origin::Unit("kube-proxy.service".into())).1,
        ["klog"]
    );
    assert!(content(Origin::Unit("sshd.service".into())).1.is_empty());
    assert_eq!(
        content(Origin::File("/var/log/app/a.log".into())).1,
        ["logback"]
    );
    assert_eq!(
        content(Origin::File("/var/log/kubernetes/audit/audit.log".into())).1,
        ["audit"]
    );
    assert_eq!(
        Origin::of_file("/var/log/containers/web-0_shop_api-0123abcd.log"),
        Origin::Pod {
            path: "/var/log/containers/web-0_shop_api-0123abcd.log".into(),
            namespace: "shop".into(),
            pod: "web-0".into(),
            container: "api".into()
        }
    );
    assert!(parser::glob_match("kube*.service", "kube-proxy.service"));
    assert!(parser::glob_match("a?c", "abc"));
    assert!(!parser::glob_match("a?c", "ac"));
    assert!(parser::glob_match("*", ""));
    assert!(!parser::glob_match("pay-*", "payments"));
}

fn rec<'a>(ts: Option<&str>, host: &'a str, n: usize) -> Record<'a> {
    Record {
        ts: ts.map(|t| parse_rfc3339(t.as_bytes()).unwrap()),
        host,
        source: "s",
        parser: "raw",
        fields: vec![(Cow::Borrowed("n"), Val::Int(n as i64))],
    }
}

#[test]
fn merge_orders_by_time_across_hosts() {
    let a = vec![
        rec(Some("2024-05-01T10:00:00Z"), "a", 1),
        rec(Some("2024-05-01T10:00:02Z"), "a", 2),
        rec(Some("2024-05-01T10:00:02Z"), "a", 3),
        rec(Some("2024-05-01T10:00:05Z"), "a", 4),
    ];
    let b = vec![
        rec(Some("2024-05-01T09:59:59Z"), "b", 5),
        rec(Some("2024-05-01T10:00:02Z"), "b", 6),
        rec(Some("2024-05-01T10:00:03Z"), "b", 7),
    ];
    // Out of order within its stream: sorted (stably) before merging.
    let c = vec![
        rec(Some("2024-05-01T10:00:04Z"), "c", 8),
        rec(Some("2024-05-01T10:00:01Z"), "c", 9),
        rec(None, "c", 10),
    ];
    let order: Vec<i64> = merge(vec![a, vec![], b, c])
        .iter()
        .map(|r| match r.fields[0].1 {
            Val::Int(n) => n,
            _ => 0,
        })
        .collect();
    // Untimed first; equal times: stream order (a before b), then line order (2 before 3).
    assert_eq!(order, [10, 5, 1, 9, 2, 3, 6, 7, 8, 4]);
}

fn writer_records() -> Vec<Record<'static>> {
    let t = |s: &str| parse_rfc3339(s.as_bytes());
    vec![
        Record {
            ts: t("2024-05-01T10:00:00.123456789Z"),
            host: "cp1",
            source: "kubelet",
            parser: "klog",
            fields: vec![
                (Cow::Borrowed("priority"), Val::Int(6)),
                (Cow::Borrowed("level"), Val::Str("I".into())),
                (Cow::Borrowed("pid"), Val::Str("1234".into())),
                (
                    Cow::Borrowed("message"),
                    Val::Str(r#""SyncLoop ADD" source="api""#.into()),
                ),
            ],
        },
        Record {
            ts: t("2024-05-01T10:00:00.2Z"),
            host: "w1",
            source: "web/nginx-7d9f/nginx",
            parser: "nginx",
            fields: vec![
                (Cow::Borrowed("stream"), Val::Str("stdout".into())),
                (Cow::Borrowed("host"), Val::Str("-".into())),
                (Cow::Borrowed("path"), Val::Str("/a b,c".into())),
                (Cow::Borrowed("code"), Val::Int(200)),
                (Cow::Borrowed("took"), Val::Float(0.25)),
                (Cow::Borrowed("tls"), Val::Bool(true)),
            ],
        },
        Record {
            ts: t("2024-05-01T10:00:01Z"),
            host: "cp1",
            source: "/var/log/kubernetes/audit/audit.log",
            parser: "audit",
            fields: vec![
                (Cow::Borrowed("verb"), Val::Str("list".into())),
                (
                    Cow::Borrowed("user"),
                    Val::Json(serde_json::json!({"username": "admin", "groups": ["a"]})),
                ),
            ],
        },
        Record {
            ts: None,
            host: "w1",
            source: "/var/log/app/x.log",
            parser: "raw",
            fields: vec![(
                Cow::Borrowed("raw"),
                Val::Str("multi\nline \"quoted\" \t tab".into()),
            )],
        },
        Record {
            ts: t("2024-05-01T10:00:02Z"),
            host: "cp2",
            source: "sshd",
            parser: "journal",
            fields: vec![
                (Cow::Borrowed("priority"), Val::Int(3)),
                (
                    Cow::Borrowed("message"),
                    Val::Str("error: kex failed".into()),
                ),
            ],
        },
    ]
}

fn render(format: Format) -> String {
    let mut w = Writer::new(format, Vec::new());
    for r in writer_records() {
        w.write(&r).unwrap();
    }
    String::from_utf8(w.into_inner()).unwrap()
}

#[test]
fn writer_ndjson() {
    let out = render(Format::Ndjson);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(v.get("host").is_some());
    }
    insta::assert_snapshot!(out);
}

#[test]
fn writer_csv() {
    insta::assert_snapshot!(render(Format::Csv));
}

#[test]
fn writer_logfmt() {
    let out = render(Format::Logfmt);
    // What logfmt writes, the logfmt parser reads back.
    let s = ParserSet::new(&[]).unwrap();
    for line in out.lines() {
        assert!(
            s.builtin("logfmt")
                .parse(line, 2024, &mut Vec::new())
                .is_some(),
            "{line}"
        );
    }
    insta::assert_snapshot!(out);
}

#[test]
fn writer_text() {
    insta::assert_snapshot!(render(Format::Text));
}

#[test]
fn args_to_query() {
    let now = parse_rfc3339(b"2024-05-01T10:00:00Z").unwrap();
    let args =
        |since: Option<&str>, lines: Option<usize>, units: &[&str], files: &[&str]| LogsArgs {
            since: since.map(str::to_string),
            until: None,
            lines,
            units: units.iter().map(|s| s.to_string()).collect(),
            files: files.iter().map(|s| s.to_string()).collect(),
            follow: false,
            interval: 2.0,
            format: None,
        };
    let q = args(None, None, &[], &[]).query(now).unwrap();
    assert_eq!(q.units, DEFAULT_UNITS);
    assert_eq!(q.files, DEFAULT_FILES);
    assert_eq!(q.lines, Some(DEFAULT_LINES));
    let q = args(Some("1h"), None, &["etcd"], &[]).query(now).unwrap();
    assert_eq!((q.units.len(), q.files.len(), q.lines), (1, 0, None));
    assert_eq!(q.since, parse_rfc3339(b"2024-05-01T09:00:00Z"));
    let q = args(Some("1h"), Some(5), &[], &["/x/*.log"])
        .query(now)
        .unwrap();
    assert_eq!((q.units.len(), q.lines), (0, Some(5)));
    assert!(args(None, None, &[], &["rel/path"]).query(now).is_err());
    assert!(args(Some("soon"), None, &[], &[]).query(now).is_err());
    let mut a = args(Some("1h"), None, &[], &[]);
    a.until = Some("2h".into());
    assert!(a.query(now).unwrap_err().contains("after --until"));
}

// ---------------------------------------------------------------------------------------------
// The collection script, run by a real shell against local files and a stand-in journalctl.

/// Runs scripts with the local `sh`; hosts named `down*` cannot be reached.
struct LocalShell {
    path: String,
}

impl Transport for LocalShell {
    type Conn = String;
    async fn connect(
        &self,
        _inv: &crate::inventory::Inventory,
        host: &crate::inventory::Host,
    ) -> Result<String, crate::ssh::SshError> {
        if host.name.starts_with("down") {
            return Err(crate::ssh::SshError::Connect {
                host: host.name.clone(),
                addr: format!("{}:22", host.address),
                reason: "connection refused".into(),
            });
        }
        Ok(host.name.clone())
    }
    async fn close(&self, _conn: &String) {}
    async fn exec(
        &self,
        _conn: &String,
        script: String,
    ) -> Result<crate::ssh::Output, crate::ssh::SshError> {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", &self.path)
            .output()
            .await
            .expect("sh runs");
        Ok(crate::ssh::Output {
            stdout: out.stdout,
            stderr: out.stderr,
            code: out.status.code().map(|c| c as u32),
            signal: None,
        })
    }
}

/// A stand-in `journalctl` that records its arguments and prints two entries.
fn fake_journalctl(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {args}\ncat <<'EOF'\n{e1}\n{e2}\nEOF\n",
        args = dir.join("args").display(),
        e1 = r#"{"__REALTIME_TIMESTAMP":"1714557600500000","__CURSOR":"c1","_SYSTEMD_UNIT":"kubelet.service","_PID":"7","PRIORITY":"6","MESSAGE":"I0501 10:00:00.500000       7 kubelet.go:1] \"started\""}"#,
        e2 = r#"{"__REALTIME_TIMESTAMP":"1714557602000000","__CURSOR":"c2","_SYSTEMD_UNIT":"containerd.service","_PID":"8","PRIORITY":"6","MESSAGE":"time=\"2024-05-01T10:00:02Z\" level=info msg=\"pulled\""}"#,
    );
    let path = bin.join("journalctl");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn inventory(dir: &Path, extra: &str) -> crate::inventory::Inventory {
    let text = format!(
        r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane"]
[[host]]
name = "down1"
address = "10.0.0.12"
roles = ["worker"]
[[host]]
name = "w2"
address = "10.0.0.13"
roles = ["worker"]
{extra}"#
    );
    load_with_home(
        &dir.join("cluster.toml"),
        &text,
        Some(PathBuf::from("/home/op")),
    )
    .unwrap()
    .inventory
}

#[tokio::test]
async fn hosts_are_read_merged_and_a_down_host_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = fake_journalctl(dir.path());
    let logs = dir.path().join("app");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("a.log"),
        "2024-05-01T10:00:01Z level=warn msg=one\nunparsed\n2024-05-01T10:00:03Z level=info msg=three\n",
    )
    .unwrap();
    let inv = inventory(
        dir.path(),
        &format!(
            "[[log_parser]]\nname = \"app\"\nformat = \"regex\"\nregex = '^(?<time>\\S+) (?<rest>.*)$'\ntime_key = \"time\"\ntime_format = \"%Y-%m-%dT%H:%M:%S%z\"\nfiles = [\"{}/*.log\"]\n",
            logs.display()
        ),
    );
    let args = LogsArgs {
        since: Some("2024-05-01T10:00:00Z".into()),
        until: Some("2024-05-01T10:00:02.5Z".into()),
        lines: None,
        units: vec!["kubelet".into(), "containerd".into()],
        files: vec![format!("{}/*.log", logs.display())],
        follow: false,
        interval: 2.0,
        format: None,
    };
    let rep = crate::report::Reporter::new(crate::report::OutputFormat::Text, true, 0);
    let mut out = Vec::new();
    let t = LocalShell { path };
    let code = run(&inv, &[], &args, &t, Format::Text, &mut out, &rep)
        .await
        .unwrap();
    assert_eq!(code, crate::exit::FAILED, "down1 is unreachable");
    let out = String::from_utf8(out).unwrap();
    // Both live hosts, merged by time; the line after 10:00:02.5 is outside --until; the
    // unparsed line is kept with the time of the line before it.
    let prefix = dir.path().display().to_string();
    let want = [
        "2024-05-01T10:00:00.500Z cp1 kubelet: [I] \"started\"  pid=7 caller=kubelet.go:1",
        "2024-05-01T10:00:00.500Z w2 kubelet: [I] \"started\"  pid=7 caller=kubelet.go:1",
        "2024-05-01T10:00:01.000Z cp1 PREFIX/app/a.log: rest=\"level=warn msg=one\"",
        "2024-05-01T10:00:01.000Z cp1 PREFIX/app/a.log: unparsed",
        "2024-05-01T10:00:01.000Z w2 PREFIX/app/a.log: rest=\"level=warn msg=one\"",
        "2024-05-01T10:00:01.000Z w2 PREFIX/app/a.log: unparsed",
        "2024-05-01T10:00:02.000Z cp1 containerd: [info] pulled  pid=8",
        "2024-05-01T10:00:02.000Z w2 containerd: [info] pulled  pid=8",
    ]
    .map(|l| l.replace("PREFIX", &prefix));
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
    let args_seen = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(
        args_seen.lines().next().unwrap(),
        "--no-pager --quiet --output=json --since=@1714557600 --until=@1714557603 --unit=kubelet --unit=containerd"
    );
}

/// Two rounds of `--follow` state: the second reads only what was appended, and a line still
/// being written waits for its newline.
#[tokio::test]
async fn follow_rounds_continue_where_they_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = fake_journalctl(dir.path());
    let f = dir.path().join("x.log");
    std::fs::write(&f, "old 1\nold 2\nold 3\n").unwrap();
    let t = LocalShell { path };
    let q = Query {
        since: None,
        until: None,
        lines: Some(2),
        units: vec!["kubelet".into()],
        files: vec![f.display().to_string()],
    };
    let run_script = |s: String| {
        let t = &t;
        async move {
            let o = t.exec(&String::new(), s).await.unwrap();
            assert!(o.success(), "{}", o.stderr_str());
            HostOutput::parse(&o.stdout)
        }
    };
    let h = run_script(collect::script(&q, None)).await;
    assert_eq!(h.content(&h.files[0], false), "old 2\nold 3\n");
    assert_eq!(h.journal.len(), 2);
    let c1 = h.advance(&Cursor::default());
    assert_eq!(c1.journal.as_deref(), Some("c2"));
    assert_eq!(c1.files[&f.display().to_string()], 18);

    use std::io::Write as _;
    let mut fh = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
    fh.write_all(b"new 4\nhalf").unwrap();
    let h = run_script(collect::script(&q, Some(&c1))).await;
    assert_eq!(h.content(&h.files[0], true), "new 4\n");
    let c2 = h.advance(&c1);
    assert_eq!(c2.files[&f.display().to_string()], 24);
    fh.write_all(b" done\n").unwrap();
    let h = run_script(collect::script(&q, Some(&c2))).await;
    assert_eq!(h.content(&h.files[0], true), "half done\n");
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(
        args.lines().nth(1).unwrap().contains("--after-cursor=c2"),
        "{args}"
    );

    // Truncated (rotated in place): read from the start again.
    std::fs::write(&f, "fresh\n").unwrap();
    let c3 = h.advance(&c2);
    let h = run_script(collect::script(&q, Some(&c3))).await;
    assert_eq!(h.content(&h.files[0], true), "fresh\n");
}

/// A JSON line split by containerd into partial lines is read as one record.
#[test]
fn partial_cri_lines_become_one_record() {
    let out = concat!(
        "\u{1e}otp-file 200 -1 /var/log/pods/shop_cart-1_u/cart/0.log\n",
        "2024-05-01T10:00:00.1Z stdout P {\"level\":\"info\",\"msg\":\"big \n",
        "2024-05-01T10:00:00.2Z stdout F payload\"}\n",
        "\n\u{1e}otp-end 0\n",
    );
    let outputs = vec![("h1".to_string(), HostOutput::parse(out.as_bytes()))];
    let s = ParserSet::new(&[]).unwrap();
    let recs = merged_records(&s, &outputs, &Query::default(), false);
    let got: Vec<String> = recs.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            "json 2024-05-01T10:00:00.100000000Z || stream=stdout | logtag=F | namespace=shop | pod=cart-1 | container=cart | level=info | msg=big payload"
        ]
    );
}

/// Ctrl-C during a round (not only during the pause between rounds) ends `--follow`: the
/// listener lives for the whole run, so the signal is not swallowed by a handler nobody awaits.
#[tokio::test]
async fn follow_stops_on_sigint_that_arrives_mid_round() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// Runs the first round's scripts; in the second round it sends this process SIGINT and
    /// then hangs, as a slow host would.
    struct InterruptedSecondRound {
        inner: LocalShell,
        execs: AtomicUsize,
    }
    impl Transport for InterruptedSecondRound {
        type Conn = String;
        async fn connect(
            &self,
            inv: &crate::inventory::Inventory,
            host: &crate::inventory::Host,
        ) -> Result<String, crate::ssh::SshError> {
            self.inner.connect(inv, host).await
        }
        async fn close(&self, _conn: &String) {}
        async fn exec(
            &self,
            conn: &String,
            script: String,
        ) -> Result<crate::ssh::Output, crate::ssh::SshError> {
            // Two live hosts (down1 never connects): execs 0 and 1 are the first round.
            if self.execs.fetch_add(1, Ordering::SeqCst) == 2 {
                let pid = std::process::id().to_string();
                let st = tokio::process::Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .await
                    .unwrap();
                assert!(st.success());
                std::future::pending::<()>().await;
            }
            self.inner.exec(conn, script).await
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = fake_journalctl(dir.path());
    let inv = inventory(dir.path(), "");
    let args = LogsArgs {
        since: None,
        until: None,
        lines: Some(1),
        units: vec!["kubelet".into()],
        files: vec![],
        follow: true,
        interval: 0.2,
        format: None,
    };
    let rep = crate::report::Reporter::new(crate::report::OutputFormat::Text, true, 0);
    let t = InterruptedSecondRound {
        inner: LocalShell { path },
        execs: AtomicUsize::new(0),
    };
    let mut out = Vec::new();
    // A guard against hanging, not a time measurement: without the fix this never returns.
    let code = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run(&inv, &[], &args, &t, Format::Text, &mut out, &rep),
    )
    .await
    .expect("--follow kept running after SIGINT")
    .unwrap();
    assert_eq!(code, crate::exit::FAILED, "down1 is unreachable");
    assert!(
        t.execs.load(Ordering::SeqCst) >= 3,
        "the second round started"
    );
    assert!(!out.is_empty(), "the first round was written");
}
