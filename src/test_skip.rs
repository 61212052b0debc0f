//! Unit tests that need a tool this machine may lack: under CI (`CI` set) a missing tool fails
//! the test; otherwise the skip is printed and appended to the file named by `$OTP_TEST_SKIPS`
//! (scripts/test sets it and prints every line in its summary), so no skip is silent.

/// True when `program` runs (`program ARG` spawns). Otherwise: panics under CI, else records
/// the skip of the calling test and returns false (the caller returns).
pub fn have(program: &str, arg: &str, install: &str) -> bool {
    if std::process::Command::new(program)
        .arg(arg)
        .output()
        .is_ok()
    {
        return true;
    }
    skip(&format!("{program} missing ({install})"));
    false
}

pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("unit test")
        .to_string();
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set, so this may not be skipped: {why}");
    }
    eprintln!("SKIP: {test}: {why}");
    if let Some(path) = std::env::var_os("OTP_TEST_SKIPS") {
        record(std::path::Path::new(&path), &test, why);
    }
}

fn record(path: &std::path::Path, test: &str, why: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("OTP_TEST_SKIPS {}: {e}", path.display()));
    writeln!(f, "{test}: {why}").expect("append to $OTP_TEST_SKIPS");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_present_program_is_no_skip() {
        assert!(super::have("sh", "-c", "-"));
    }

    #[test]
    fn skips_are_appended_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("skips");
        super::record(&p, "a::t1", "openssl missing (apt-get install openssl)");
        super::record(&p, "b::t2", "x");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "a::t1: openssl missing (apt-get install openssl)\nb::t2: x\n"
        );
    }
}
