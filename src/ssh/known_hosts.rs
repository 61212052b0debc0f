//! OpenSSH known_hosts matching and recording.
//!
//! russh ships helpers, but they stop short of what operators' files contain: no wildcards or
//! negation, no `@revoked`/`@cert-authority` markers, tab-separated lines are skipped, comment
//! lines shift the reported line numbers, and one unparsable key aborts the whole lookup. This
//! module reads the format the way `ssh` does (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::{Algorithm, PublicKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    None,
    CertAuthority,
    Revoked,
}

/// One key line that applies to the host being checked.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub file: PathBuf,
    /// 1-based line number in `file`, counting every line (comments and blanks included).
    pub line: usize,
    pub marker: Marker,
    pub key: PublicKey,
}

/// What the known_hosts files say about the key a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Trusted {
        file: PathBuf,
        line: usize,
    },
    /// A key of the same algorithm is recorded and differs: possible man in the middle.
    Changed {
        file: PathBuf,
        line: usize,
    },
    /// The presented key is listed under `@revoked`.
    Revoked {
        file: PathBuf,
        line: usize,
    },
    /// Keys are recorded for the host, but only of other algorithms.
    OtherAlgorithms {
        recorded: Vec<String>,
    },
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum KnownHostsError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("cannot record the host key in {file}: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
}

/// The name a host is recorded under: `host` on port 22, `[host]:port` otherwise.
pub(crate) fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Every non-CA entry of `files` that applies to `host:port`. Missing files count as empty.
pub(crate) fn entries_for(
    files: &[PathBuf],
    host: &str,
    port: u16,
) -> Result<Vec<Entry>, KnownHostsError> {
    let name = host_key_name(host, port);
    let mut out = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(KnownHostsError::Read {
                    file: file.display().to_string(),
                    source,
                });
            }
        };
        out.extend(parse_matching(&text, &name, file));
    }
    Ok(out)
}

fn parse_matching(text: &str, name: &str, file: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            m if m.starts_with('@') => continue,
            _ => Marker::None,
        };
        if marker != Marker::None {
            first = fields.next().unwrap_or_default();
        }
        let (Some(_alg), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Host certificates are not requested from servers (russh's Preferred default), so
        // CA lines can never vouch for a presented key; skip them rather than misread them.
        if marker == Marker::CertAuthority || !patterns_match(first, name) {
            continue;
        }
        match russh::keys::parse_public_key_base64(b64) {
            Ok(key) => out.push(Entry {
                file: file.to_path_buf(),
                line: idx + 1,
                marker,
                key,
            }),
            Err(e) => tracing::debug!(
                file = %file.display(),
                line = idx + 1,
                "skipping unparsable known_hosts key: {e}"
            ),
        }
    }
    out
}

/// OpenSSH semantics: comma-separated patterns, `*`/`?` wildcards, `!` negation wins over any
/// positive match, `|1|salt|hash` hashed names. Host names compare case-insensitively.
pub(crate) fn patterns_match(patterns: &str, name: &str) -> bool {
    let name_lc = name.to_ascii_lowercase();
    let mut positive = false;
    for pat in patterns.split(',') {
        if let Some(hashed) = pat.strip_prefix("|1|") {
            // ssh hashes the lower-cased name.
            if hashed_match(hashed, &name_lc) {
                positive = true;
            }
            continue;
        }
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        if wildcard_match(pat.to_ascii_lowercase().as_bytes(), name_lc.as_bytes()) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

fn hashed_match(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

fn wildcard_match(pat: &[u8], text: &[u8]) -> bool {
    // Iterative glob with single-star backtracking: linear enough for host names.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// RSA keys are recorded as `ssh-rsa` but negotiated as `rsa-sha2-*`: same key family.
pub(crate) fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. })) || a == b
}

pub(crate) fn verdict(entries: &[Entry], presented: &PublicKey) -> Verdict {
    let same_key = |e: &Entry| e.key.key_data() == presented.key_data();
    if let Some(e) = entries
        .iter()
        .filter(|e| e.marker == Marker::Revoked)
        .find(|e| same_key(e))
    {
        return Verdict::Revoked {
            file: e.file.clone(),
            line: e.line,
        };
    }
    let plain: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.marker == Marker::None)
        .collect();
    if let Some(e) = plain.iter().find(|e| same_key(e)) {
        return Verdict::Trusted {
            file: e.file.clone(),
            line: e.line,
        };
    }
    if let Some(e) = plain
        .iter()
        .find(|e| same_family(&e.key.algorithm(), &presented.algorithm()))
    {
        return Verdict::Changed {
            file: e.file.clone(),
            line: e.line,
        };
    }
    if plain.is_empty() {
        Verdict::Unknown
    } else {
        let mut recorded: Vec<String> = plain
            .iter()
            .map(|e| e.key.algorithm().as_str().to_string())
            .collect();
        recorded.dedup();
        Verdict::OtherAlgorithms { recorded }
    }
}

/// Serialises appends from many hosts connecting at once (one process, many tasks).
static LEARN_LOCK: Mutex<()> = Mutex::new(());

/// Append `[host]:port key` to `file` unless the file already records a key for that name
/// (another task may have learned it while we were connecting). Returns the line written.
pub(crate) fn learn(
    file: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<Option<usize>, KnownHostsError> {
    let _guard = LEARN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let werr = |source| KnownHostsError::Write {
        file: file.display().to_string(),
        source,
    };
    let existing = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(werr(source)),
    };
    let name = host_key_name(host, port);
    if !parse_matching(&existing, &name, file).is_empty() {
        return Ok(None);
    }
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(werr)?;
    }
    let mut key = key.clone();
    key.set_comment("");
    let openssh = key
        .to_openssh()
        .map_err(|e| werr(std::io::Error::other(e)))?;
    let mut text = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{name} {}\n", openssh.trim_end()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(werr)?;
    f.write_all(text.as_bytes()).map_err(werr)?;
    let line = existing.lines().count() + 1;
    Ok(Some(line))
}

/// Parse one pinned key (`ssh-ed25519 AAAA... [comment]`).
pub(crate) fn parse_pinned(s: &str) -> Option<PublicKey> {
    let mut it = s.split_whitespace();
    let _alg = it.next()?;
    russh::keys::parse_public_key_base64(it.next()?).ok()
}

/// Host key algorithms to offer, the ones already recorded for this host first (what `ssh`
/// does), so a server with several host keys presents the one we can verify.
pub(crate) fn preferred_key_algorithms(recorded: &[Algorithm]) -> Vec<Algorithm> {
    let defaults: Vec<Algorithm> = russh::Preferred::default().key.to_vec();
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = defaults
        .into_iter()
        .partition(|a| recorded.iter().any(|r| same_family(r, a)));
    first.extend(rest);
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIKpI7y8Kg0PjIz5/fkrYXFI1zDCxpTrcgbyOoONesaep";
    const K2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIN/87qPdcVNsWVfFOmJxqKiAGdJ6aJzfS6w2xKtOMWRc";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDaHh2+Ze03ekCesWnXBpUoJwqlmb8UtlDODR+5aMziplvH3f1CRm7RdXpl8uatSzbabSRLftYNJUpdDOlW5FK8=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    /// `|1|salt|hash` for `name` with a fixed salt, computed like `ssh-keygen -H`.
    fn hashed(name: &str) -> String {
        let salt = [7u8; 20];
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
        mac.update(name.as_bytes());
        let hash = mac.finalize().into_bytes();
        format!("|1|{}|{}", B64.encode(salt), B64.encode(hash))
    }

    #[test]
    fn pattern_table() {
        let h = hashed("[10.0.0.5]:2222");
        let hn = hashed("node1.example.com");
        let cases: &[(&str, &str, bool)] = &[
            ("node1", "node1", true),
            ("NODE1", "node1", true),
            ("node1,node2", "node2", true),
            ("node1", "node10", false),
            ("node*", "node10", true),
            ("*.example.com", "a.b.example.com", true),
            ("node?", "node10", false),
            ("node?", "node7", true),
            ("*,!node3", "node3", false),
            ("!node3,*", "node3", false),
            ("*,!node3", "node4", true),
            ("!node3", "node4", false),
            ("[10.0.0.5]:2222", "[10.0.0.5]:2222", true),
            ("10.0.0.5", "[10.0.0.5]:2222", false),
            ("[10.0.0.*]:2222", "[10.0.0.5]:2222", true),
            ("[10.0.0.5]:*", "[10.0.0.5]:2222", true),
            (h.as_str(), "[10.0.0.5]:2222", true),
            (h.as_str(), "[10.0.0.5]:2223", false),
            (hn.as_str(), "Node1.Example.COM", true),
            ("|1|garbage", "node1", false),
            ("|1|AAAA|not base64!", "node1", false),
        ];
        for (pat, name, want) in cases {
            assert_eq!(patterns_match(pat, name), *want, "{pat:?} vs {name:?}");
        }
    }

    #[test]
    fn verdict_table() {
        let name = "[127.0.0.1]:2222";
        let k1 = key(K1);
        let file = format!(
            "# comment line 1\n\
             \n\
             other ssh-ed25519 {K2}\n\
             {name}\tssh-ed25519\t{K1}\n\
             @revoked * ssh-ed25519 {K2}\n\
             @cert-authority * ssh-ed25519 {K2}\n\
             broken line\n\
             {name} ssh-ed25519 !!notbase64\n"
        );
        let p = Path::new("/kh");
        let entries = parse_matching(&file, name, p);
        assert_eq!(
            verdict(&entries, &k1),
            Verdict::Trusted {
                file: p.into(),
                line: 4
            }
        );
        // A different ed25519 key presented: revoked line 5 wins over changed line 4.
        assert_eq!(
            verdict(&entries, &key(K2)),
            Verdict::Revoked {
                file: p.into(),
                line: 5
            }
        );
        let changed = format!("# c\n# c\n{name} ssh-ed25519 {K2}\n");
        assert_eq!(
            verdict(&parse_matching(&changed, name, p), &k1),
            Verdict::Changed {
                file: p.into(),
                line: 3
            }
        );
        let other_alg = format!("{name} ecdsa-sha2-nistp256 {ECDSA}\n");
        assert_eq!(
            verdict(&parse_matching(&other_alg, name, p), &k1),
            Verdict::OtherAlgorithms {
                recorded: vec!["ecdsa-sha2-nistp256".into()]
            }
        );
        let hashed_file = format!("{} ssh-ed25519 {K1}\n", hashed(name));
        assert!(matches!(
            verdict(&parse_matching(&hashed_file, name, p), &k1),
            Verdict::Trusted { line: 1, .. }
        ));
        assert_eq!(verdict(&[], &k1), Verdict::Unknown);
        let port22 = format!("127.0.0.1 ssh-ed25519 {K2}\n");
        assert_eq!(
            verdict(&parse_matching(&port22, name, p), &k1),
            Verdict::Unknown,
            "a port-22 entry must not vouch for port 2222"
        );
    }

    #[test]
    fn learn_appends_once_and_then_matches() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/known_hosts");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "# existing\nsomeone ssh-ed25519 ".to_string() + K2).unwrap();
        let k1 = key(K1);
        assert_eq!(learn(&f, "127.0.0.1", 2222, &k1).unwrap(), Some(3));
        assert_eq!(learn(&f, "127.0.0.1", 2222, &k1).unwrap(), None);
        let entries = entries_for(std::slice::from_ref(&f), "127.0.0.1", 2222).unwrap();
        assert!(matches!(
            verdict(&entries, &k1),
            Verdict::Trusted { line: 3, .. }
        ));
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.ends_with(&format!("[127.0.0.1]:2222 ssh-ed25519 {K1}\n")),
            "{text}"
        );
    }

    #[test]
    fn recorded_algorithms_go_first() {
        let prefs = preferred_key_algorithms(&[key(ECDSA).algorithm()]);
        assert_eq!(prefs[0], key(ECDSA).algorithm());
        assert_eq!(prefs.len(), russh::Preferred::default().key.len());
        let rsa = preferred_key_algorithms(&[Algorithm::Rsa { hash: None }]);
        assert!(matches!(rsa[0], Algorithm::Rsa { .. }));
    }

    #[test]
    fn pinned_keys_parse_with_or_without_comment() {
        assert!(parse_pinned(&format!("ssh-ed25519 {K1} root@x")).is_some());
        assert!(parse_pinned(&format!("ssh-ed25519 {K1}")).is_some());
        assert!(parse_pinned("ssh-ed25519").is_none());
        assert!(parse_pinned("ssh-ed25519 garbage").is_none());
    }
}
