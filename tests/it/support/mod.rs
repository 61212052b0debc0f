//! Fixtures shared by integration tests.

pub mod lab;
pub mod sshd;

/// A test that cannot run here (a tool or Docker missing). Under CI (`CI` set) that is a
/// failure: panics with `why`. Otherwise prints it and appends `test: why` to the file named by
/// `$OTP_TEST_SKIPS` (scripts/test sets it and prints every line in its summary), so no skip is
/// silent; the caller then returns.
pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("integration test")
        .to_string();
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set, so this may not be skipped: {why}");
    }
    eprintln!("SKIP: {test}: {why}");
    if let Some(path) = std::env::var_os("OTP_TEST_SKIPS") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("OTP_TEST_SKIPS {}: {e}", path.to_string_lossy()));
        writeln!(f, "{test}: {why}").expect("append to $OTP_TEST_SKIPS");
    }
}
