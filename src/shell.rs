//! Shell quoting for every value interpolated into a remote command.

/// Quote `s` for POSIX sh (single quotes; `''` for the empty string).
pub fn q(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    shell_escape::unix::escape(s.into()).into_owned()
}

/// Quote each word and join with spaces.
pub fn words<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| q(s.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_values() {
        let cases = [
            ("plain", "plain"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", "'it'\\''s'"),
            ("$(reboot)", "'$(reboot)'"),
            ("1.33.4-*", "'1.33.4-*'"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input), want, "{input}");
        }
        assert_eq!(words(&["a", "b c"]), "a 'b c'");
    }
}
