//! `boxoffice audit`, run as the real binary, as the check every test that changes inventory
//! ends with.

use std::process::Command;

/// Runs `boxoffice audit` against this Redis: exit code and stdout.
pub fn audit(redis_url: &str) -> (i32, String) {
    audit_with(&["--redis-url".to_owned(), redis_url.to_owned()])
}

/// Runs `boxoffice audit` with these arguments: exit code and output.
pub fn audit_with(args: &[String]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .arg("audit")
        .args(args)
        .output()
        .expect("run boxoffice audit");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Asserts that every invariant holds in this Redis.
pub fn assert_audit_clean(redis_url: &str) {
    let (code, out) = audit(redis_url);
    assert_eq!(code, 0, "audit found violations:\n{out}");
    assert!(out.contains("OK: every invariant holds"), "{out}");
}
