//! Pure syntax checks for single inventory values. Each returns `Err((message, hint))` so the
//! caller only adds the position.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;

/// `(what is wrong, what would be right)`.
pub(crate) type Problem = (String, String);

/// Closest candidate by edit distance, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&word_l, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("agnet").
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// "did you mean `x`? valid: a, b, c" for a value or key that is not one of `valid`.
pub(crate) fn one_of_hint(word: &str, valid: &[&str]) -> String {
    let list = valid
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(word, valid) {
        Some(c) => format!("did you mean `{c}`? valid: {list}"),
        None => format!("valid: {list}"),
    }
}

/// RFC 1123 label: what Kubernetes accepts as a cluster or node name part.
pub(crate) fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain (lowercase labels separated by dots), as Kubernetes node names must be.
pub(crate) fn dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(dns_label)
}

/// A lowercase, dash-only rewrite of `s`, offered as the right spelling in hints.
pub(crate) fn suggest_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "node-1".into()
    } else {
        out.chars().take(63).collect()
    }
}

/// What an address string is: an IP, or a syntactically valid DNS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrKind {
    Ip(IpAddr),
    Dns,
}

pub(crate) fn address(s: &str) -> Result<AddrKind, Problem> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(AddrKind::Ip(ip));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && inner.parse::<IpAddr>().is_ok()
    {
        return Err((
            format!("`{s}` is written with brackets"),
            format!("write the IPv6 address without brackets: \"{inner}\""),
        ));
    }
    if s.contains(':') {
        return Err((
            format!("`{s}` is not a valid address"),
            "give an IP address or DNS name without a port; set the SSH port with ssh = { port = N }"
                .into(),
        ));
    }
    // All-numeric names are never hostnames: "10.0.0.300" is a mistyped IPv4 address.
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err((
            format!("`{s}` is not a valid IPv4 address"),
            "each of the four parts is 0-255, e.g. \"10.0.0.11\"".into(),
        ));
    }
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(AddrKind::Dns)
    } else {
        Err((
            format!("`{s}` is neither an IP address nor a valid DNS name"),
            "use an IP address (\"10.0.0.11\") or a DNS name (\"node1.example.com\")".into(),
        ))
    }
}

/// A CIDR whose host bits are zero.
pub(crate) fn cidr(s: &str) -> Result<IpNet, Problem> {
    let net: IpNet = s.parse().map_err(|_| {
        (
            format!("`{s}` is not a CIDR range"),
            "write network/prefix, e.g. \"10.244.0.0/16\"".to_string(),
        )
    })?;
    if net.network() != net.addr() {
        return Err((
            format!("`{s}` has host bits set"),
            format!("the network of this range is \"{}\"", net.trunc()),
        ));
    }
    Ok(net)
}

/// `MAJOR.MINOR.PATCH`, optionally with a leading `v` (stripped).
pub(crate) fn kubernetes_version(s: &str, supported: &[u32]) -> Result<String, Problem> {
    let bare = s.strip_prefix('v').unwrap_or(s);
    let supported_list = supported
        .iter()
        .map(|m| format!("1.{m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Err((
            format!("`{s}` is not a Kubernetes version"),
            format!("write the full release, e.g. \"1.33.4\" (supported minors: {supported_list})"),
        ));
    }
    let minor: u32 = parts[1].parse().unwrap_or(u32::MAX);
    if parts[0] != "1" || !supported.contains(&minor) {
        return Err((
            format!("Kubernetes {bare} is not supported"),
            format!("supported minors: {supported_list}"),
        ));
    }
    Ok(bare.to_string())
}

fn label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// Kubernetes label / taint key: `[prefix/]name`.
pub(crate) fn label_key(s: &str) -> Result<(), Problem> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix
        && !dns_subdomain(p)
    {
        return Err((
            format!("label key `{s}` has an invalid prefix `{p}`"),
            "the prefix is a lowercase DNS name, e.g. \"example.com/rack\"".into(),
        ));
    }
    if !label_name(name) {
        return Err((
            format!("label key `{s}` is not a valid Kubernetes label key"),
            "the name part is 1-63 characters of a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric, e.g. \"rack\" or \"example.com/rack\"".into(),
        ));
    }
    Ok(())
}

pub(crate) fn label_value(s: &str) -> Result<(), Problem> {
    if s.is_empty() || label_name(s) {
        Ok(())
    } else {
        Err((
            format!("label value `{s}` is not a valid Kubernetes label value"),
            "at most 63 characters of a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric (or empty)".into(),
        ))
    }
}

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `key[=value]:Effect`.
pub(crate) fn taint(s: &str) -> Result<(), Problem> {
    let form = "write key[=value]:Effect, e.g. \"dedicated=db:NoSchedule\"";
    let Some((kv, effect)) = s.rsplit_once(':') else {
        return Err((format!("taint `{s}` has no effect"), form.into()));
    };
    if !TAINT_EFFECTS.contains(&effect) {
        return Err((
            format!("taint `{s}` has unknown effect `{effect}`"),
            one_of_hint(effect, &TAINT_EFFECTS),
        ));
    }
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    if key.is_empty() {
        return Err((format!("taint `{s}` has no key"), form.into()));
    }
    label_key(key).map_err(|(m, h)| (format!("taint `{s}`: {m}"), h))?;
    label_value(value).map_err(|(m, h)| (format!("taint `{s}`: {m}"), h))
}

const HOST_KEY_ALGOS: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// `<algo> <base64> [comment]`, the base64 blob being a key of that algorithm.
pub(crate) fn host_key(s: &str) -> Result<(), Problem> {
    let form = "write it as in known_hosts or ssh-keyscan output: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...\"";
    let mut parts = s.split_whitespace();
    let (Some(algo), Some(b64)) = (parts.next(), parts.next()) else {
        return Err((
            format!("pinned host key `{s}` is not `<algorithm> <base64>`"),
            form.into(),
        ));
    };
    if !HOST_KEY_ALGOS.contains(&algo) {
        return Err((
            format!("pinned host key has unknown algorithm `{algo}`"),
            one_of_hint(algo, &HOST_KEY_ALGOS),
        ));
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| {
            (
                format!("pinned {algo} host key is not valid base64"),
                form.to_string(),
            )
        })?;
    // The SSH wire format starts with the algorithm name as a length-prefixed string; checking it
    // catches keys pasted under the wrong algorithm or truncated copies.
    let inner = blob
        .get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        .and_then(|n| blob.get(4..4 + n));
    match inner {
        Some(name) if name == algo.as_bytes() && blob.len() > 4 + algo.len() => Ok(()),
        Some(name) if std::str::from_utf8(name).is_ok_and(|n| HOST_KEY_ALGOS.contains(&n)) => {
            Err((
                format!(
                    "pinned host key says `{algo}` but the key data is `{}`",
                    String::from_utf8_lossy(name)
                ),
                "copy the whole line from ssh-keyscan or known_hosts".into(),
            ))
        }
        _ => Err((
            format!("pinned {algo} host key data is not an SSH public key"),
            "copy the whole line from ssh-keyscan or known_hosts".into(),
        )),
    }
}

/// `http://` or `https://` followed by a host.
pub(crate) fn http_url(s: &str) -> Result<(), Problem> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            Ok(())
        }
        Some(_) => Err((
            format!("`{s}` has no host"),
            "e.g. \"http://mirror.example.com/k8s\"".into(),
        )),
        None => Err((
            format!("`{s}` is not an http(s) URL"),
            "start it with http:// or https://, e.g. \"https://mirror.example.com/k8s\"".into(),
        )),
    }
}

/// A POSIX environment variable name.
pub(crate) fn env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A Linux network interface name (IFNAMSIZ is 16 including the NUL).
pub(crate) fn interface_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

/// SSH user name as OpenSSH accepts it on the command line (no whitespace, no '@').
pub(crate) fn user_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '@' || c == ':')
}

/// An image tag as the CNI and kube-vip projects publish them: `vMAJOR.MINOR.PATCH[-suffix]`
/// (`v0.9.2`, `v1.7.1-flannel1`). The registry and repository are fixed by the renderer, so a
/// full image reference here would produce `registry/path:registry/path:tag`.
pub(crate) fn image_tag(s: &str) -> Result<(), Problem> {
    let example = "write the release tag only, e.g. \"v0.9.2\"";
    if s.contains(['/', '@', ':']) {
        return Err((
            format!("`{s}` is not an image tag"),
            format!("{example}; the registry comes from registry_mirror"),
        ));
    }
    let (bare, has_v) = match s.strip_prefix('v') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (core, suffix) = match bare.split_once('-') {
        Some((c, x)) => (c, Some(x)),
        None => (bare, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|x| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    if !numeric || !suffix_ok || s.len() > 128 {
        return Err((format!("`{s}` is not a version tag"), example.into()));
    }
    if !has_v {
        return Err((
            format!("image tag `{s}` lacks the leading `v`"),
            format!("the projects tag their images \"v{s}\""),
        ));
    }
    Ok(())
}

/// `host[:port][/path]` of a registry mirror, normalised without a trailing `/`.
pub(crate) fn registry_mirror(s: &str) -> Result<String, Problem> {
    if let Some((scheme, rest)) = s.split_once("://") {
        return Err((
            format!("registry_mirror `{s}` has a URL scheme `{scheme}://`"),
            format!(
                "container runtimes take the registry without a scheme: \"{}\"",
                rest.trim_end_matches('/')
            ),
        ));
    }
    let form = "write host[:port][/path], e.g. \"registry.bank.example/k8s\"";
    let norm = s.trim_end_matches('/');
    let (hostport, path) = match norm.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (norm, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hostport, None),
    };
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|n| n > 0)
    {
        return Err((
            format!("registry_mirror `{s}` has an invalid port `{p}`"),
            format!("a TCP port is 1-65535; {form}"),
        ));
    }
    if host.is_empty() || address(host).is_err() {
        return Err((
            format!("registry_mirror `{s}` does not start with a host name"),
            form.into(),
        ));
    }
    // Repository path components as the distribution spec allows them.
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
    };
    if let Some(p) = path
        && !p.split('/').all(component_ok)
    {
        return Err((
            format!("registry_mirror `{s}` has an invalid path `{p}`"),
            "path parts are lowercase letters, digits, '.', '_' and '-', e.g. \"registry.bank.example/k8s\"".into(),
        ));
    }
    Ok(norm.to_string())
}

/// The OIDC issuer: an `https://` URL without query, fragment or user info, as kube-apiserver
/// requires.
pub(crate) fn issuer_url(s: &str) -> Result<(), Problem> {
    if let Some(rest) = s.strip_prefix("http://") {
        return Err((
            format!("issuer_url `{s}` does not use https"),
            format!("the API server only accepts https issuers: \"https://{rest}\""),
        ));
    }
    let Some(rest) = s.strip_prefix("https://") else {
        return Err((
            format!("issuer_url `{s}` is not an https URL"),
            "write the issuer exactly as the tokens' `iss` claim, e.g. \"https://idp.bank.example/realms/k8s\"".into(),
        ));
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || s.contains(char::is_whitespace) {
        return Err((
            format!("issuer_url `{s}` has no host"),
            "e.g. \"https://idp.bank.example/realms/k8s\"".into(),
        ));
    }
    if authority.contains('@') || s.contains(['?', '#']) {
        return Err((
            format!("issuer_url `{s}` has user info, a query or a fragment"),
            "the API server rejects them: give scheme, host and path only".into(),
        ));
    }
    Ok(())
}

/// A light syntax check of a CEL expression over OIDC `claims`: string literals closed,
/// brackets balanced, and `claims` referenced. The API server compiles the expression fully at
/// start-up; this only catches what would otherwise surface as a crash-looping API server.
pub(crate) fn cel_claims_expression(s: &str) -> Result<(), Problem> {
    let mut stack: Vec<char> = Vec::new();
    let mut chars = s.chars();
    let mut words = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut closed = false;
                while let Some(x) = chars.next() {
                    if x == '\\' {
                        chars.next();
                    } else if x == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err((
                        format!("CEL expression `{s}` has an unclosed string literal"),
                        format!("close the string with {c}"),
                    ));
                }
                words.push(' ');
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Err((
                        format!("CEL expression `{s}` has an unmatched `{c}`"),
                        "balance the brackets".into(),
                    ));
                }
                words.push(' ');
            }
            _ => words.push(c),
        }
    }
    if let Some(open) = stack.last() {
        return Err((
            format!("CEL expression `{s}` has an unclosed `{open}`"),
            "balance the brackets".into(),
        ));
    }
    let mentions_claims = words
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == "claims");
    if !mentions_claims {
        return Err((
            format!("CEL expression `{s}` does not look at `claims`"),
            "the token's claims are `claims`, e.g. \"has(claims.amr) && claims.amr.exists(x, x == 'mfa')\"".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let keys = ["user", "port", "key_files", "known_hosts"];
        assert_eq!(closest("usr", &keys), Some("user"));
        assert_eq!(closest("key-files", &keys), Some("key_files"));
        assert_eq!(closest("KNOWN_HOSTS", &keys), Some("known_hosts"));
        assert_eq!(closest("zebra", &keys), None);
        assert_eq!(closest("agnet", &["agent", "askpass"]), Some("agent"));
    }

    #[test]
    fn addresses() {
        for ok in [
            "10.0.0.1",
            "fd00::1",
            "node1",
            "node1.example.com",
            "a-b.c.",
        ] {
            assert!(address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.300",
            "[fd00::1]",
            "10.0.0.1:22",
            "-node",
            "no_underscore",
            "",
        ] {
            assert!(address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert!(cidr("10.244.0.0/16").is_ok());
        assert!(cidr("fd00:10::/56").is_ok());
        let (m, h) = cidr("10.244.1.0/16").unwrap_err();
        assert!(m.contains("host bits"), "{m}");
        assert!(h.contains("10.244.0.0/16"), "{h}");
        assert!(cidr("10.244.0.0").is_err());
        assert!(cidr("10.244.0.0/33").is_err());
    }

    #[test]
    fn versions() {
        let sup = [31, 32, 33];
        assert_eq!(kubernetes_version("1.33.4", &sup).unwrap(), "1.33.4");
        assert_eq!(kubernetes_version("v1.31.0", &sup).unwrap(), "1.31.0");
        assert!(
            kubernetes_version("1.30.2", &sup)
                .unwrap_err()
                .0
                .contains("not supported")
        );
        assert!(kubernetes_version("2.33.0", &sup).is_err());
        assert!(
            kubernetes_version("1.33", &sup)
                .unwrap_err()
                .1
                .contains("1.33.4")
        );
        assert!(kubernetes_version("1.33.x", &sup).is_err());
    }

    #[test]
    fn labels_and_taints() {
        for ok in [
            "rack",
            "example.com/rack",
            "node-role.kubernetes.io/db",
            "A_b.c",
        ] {
            assert!(label_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-rack",
            "rack-",
            "Example.com/rack",
            "a/b/c",
            &"x".repeat(64),
        ] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
        assert!(label_value("").is_ok());
        assert!(label_value("has space").is_err());
        for ok in [
            "k=v:NoSchedule",
            "k:NoExecute",
            "example.com/k=:PreferNoSchedule",
        ] {
            assert!(taint(ok).is_ok(), "{ok}");
        }
        for bad in ["k=v", "k=v:NoScheduel", "=v:NoSchedule", "k=v v:NoSchedule"] {
            assert!(taint(bad).is_err(), "{bad}");
        }
        assert!(
            taint("k=v:NoScheduel")
                .unwrap_err()
                .1
                .contains("`NoSchedule`")
        );
    }

    #[test]
    fn host_keys() {
        // A real ed25519 public key (from ssh-keygen), with and without comment.
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEwTHt3E6WrMbWk0tdXGz+7aOt4AFLIUAlzYOsKEcj8H";
        assert!(host_key(key).is_ok());
        assert!(host_key(&format!("{key} root@cp1")).is_ok());
        assert!(host_key("ssh-ed25519").is_err());
        assert!(host_key("ssh-ed25519 !!!notbase64").is_err());
        let wrong = key.replace("ssh-ed25519", "ssh-rsa");
        assert!(
            host_key(&wrong)
                .unwrap_err()
                .0
                .contains("key data is `ssh-ed25519`")
        );
        assert!(host_key("ssh-ed25519 AAAA").is_err());
        assert!(
            host_key("ssh-dss AAAA")
                .unwrap_err()
                .0
                .contains("unknown algorithm")
        );
    }

    #[test]
    fn urls_envs_ifnames() {
        assert!(http_url("https://m.example.com/k8s").is_ok());
        assert!(http_url("http://10.0.0.5:8080").is_ok());
        assert!(http_url("ftp://m").is_err());
        assert!(http_url("https://").is_err());
        assert!(env_name("OTP_SUDO_PASSWORD"));
        assert!(!env_name("1X") && !env_name("A-B") && !env_name(""));
        assert!(interface_name("eth0") && interface_name("enp0s31f6"));
        assert!(!interface_name("averyveryverylongname") && !interface_name("eth 0"));
        assert_eq!(suggest_label("My_Cluster!"), "my-cluster");
        assert!(dns_label("otp-prod") && !dns_label("Otp") && !dns_label("a_b"));
    }

    #[test]
    fn image_tags() {
        for ok in ["v0.9.2", "v3.30.7", "v1.7.1-flannel1", "v1.0.0-rc.1"] {
            assert!(image_tag(ok).is_ok(), "{ok}");
        }
        assert!(image_tag("0.9.2").unwrap_err().1.contains("\"v0.9.2\""));
        for bad in [
            "latest",
            "v1.2",
            "v1.2.3-",
            "ghcr.io/kube-vip/kube-vip:v0.9.2",
            "v1.2.3@sha256:ab",
        ] {
            assert!(image_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_mirrors() {
        for (input, norm) in [
            ("registry.bank.example", "registry.bank.example"),
            (
                "registry.bank.example:5000/k8s/",
                "registry.bank.example:5000/k8s",
            ),
            ("10.0.0.5:5000", "10.0.0.5:5000"),
            ("localhost/a/b_c", "localhost/a/b_c"),
        ] {
            assert_eq!(registry_mirror(input).unwrap(), norm);
        }
        let (m, h) = registry_mirror("https://registry.bank.example/k8s").unwrap_err();
        assert!(
            m.contains("scheme") && h.contains("\"registry.bank.example/k8s\""),
            "{m} {h}"
        );
        assert!(
            registry_mirror("reg.example:0")
                .unwrap_err()
                .0
                .contains("port")
        );
        assert!(registry_mirror("reg.example:x").is_err());
        assert!(
            registry_mirror("reg.example/K8s")
                .unwrap_err()
                .0
                .contains("path")
        );
        assert!(registry_mirror("reg.example//k8s").is_err());
        assert!(registry_mirror("/k8s").is_err());
        assert!(registry_mirror("bad host").is_err());
    }

    #[test]
    fn issuer_urls() {
        assert!(issuer_url("https://idp.example.com/realms/k8s").is_ok());
        assert!(issuer_url("https://10.0.0.9:8443").is_ok());
        assert!(
            issuer_url("http://idp.example.com")
                .unwrap_err()
                .1
                .contains("https://idp.example.com")
        );
        assert!(issuer_url("idp.example.com").is_err());
        assert!(issuer_url("https://").is_err());
        assert!(issuer_url("https://idp.example.com/?x=1").is_err());
        assert!(issuer_url("https://u@idp.example.com").is_err());
    }

    #[test]
    fn cel_expressions() {
        for ok in [
            "has(claims.amr) && claims.amr.exists(x, x == 'mfa')",
            "claims.acr == \"gold\"",
            "claims['email_verified'] == true",
            "'a)b' != claims.x",
        ] {
            assert!(cel_claims_expression(ok).is_ok(), "{ok}");
        }
        for (bad, what) in [
            ("has(claims.amr", "unclosed `(`"),
            ("claims.amr)", "unmatched `)`"),
            ("claims.acr == 'gold", "unclosed string"),
            ("true", "does not look at `claims`"),
            ("'claims' == 'claims'", "does not look at `claims`"),
        ] {
            assert!(
                cel_claims_expression(bad).unwrap_err().0.contains(what),
                "{bad}"
            );
        }
    }
}
