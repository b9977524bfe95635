//! What a new user sees when the Redis setting is wrong: one line at start that names the
//! Redis (password masked) and what is wrong; `/readyz` says the same in its JSON; every
//! route answers `503 STORE_UNAVAILABLE`, never `500`; `boxoffice audit` exits 2 with the same
//! reason.

use crate::harness::{RedisServer, ServerProcess, audit, eventually, free_port};
use std::process::Command;

/// Starts `boxoffice` with this REDIS_URL and returns its exit code and stderr, for URLs that
/// must stop it at once.
fn start_with_url(url: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .env("REDIS_URL", url)
        .env("BIND_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("run boxoffice");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_malformed_redis_url_stops_the_replica_with_one_line_naming_it() {
    for (url, says) in [
        ("localhost:6379", "not redis"),
        ("http://127.0.0.1:6380", "scheme \"http\""),
        ("redis://127.0.0.1:6379/zero", "database number"),
    ] {
        let (code, stderr) = start_with_url(url);
        assert_eq!(code, Some(2), "{url}: {stderr}");
        assert!(stderr.contains(url), "names the URL: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(
            stderr.contains("expected redis://"),
            "says what is expected: {stderr}"
        );
        eprintln!("REDIS_URL={url}:\n{stderr}");
    }
}

/// Starts a replica on `url`, waits for its start-up line about Redis, and checks that the
/// line and `boxoffice audit` name `masked` and `reason`, and `/readyz` says `reason` without
/// the address (anyone may ask it).
async fn assert_unusable(url: &str, masked: &str, reason: &str, secret: Option<&str>) {
    let replica = ServerProcess::spawn(url, "api-1", &[("RUST_LOG", "info")]);
    eventually("the start-up line about Redis", || async {
        replica.log().contains("redis is not usable yet")
    })
    .await;
    let log = replica.log();
    let line = log
        .lines()
        .find(|l| l.contains("redis is not usable yet"))
        .expect("the line");
    assert!(line.contains(masked), "names the URL: {line}");
    assert!(line.contains(reason), "says why: {line}");
    eprintln!("{url}:\n  {line}");

    let ready = replica.get("/readyz").await;
    ready.assert_error(503, "STORE_UNAVAILABLE");
    assert_eq!(
        ready.body["error"]["status"], "unavailable",
        "{}",
        ready.text
    );
    let port = url
        .rsplit(':')
        .next()
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    assert!(!ready.text.contains(port), "{}", ready.text);
    let why = ready.body["error"]["reason"].as_str().unwrap_or("");
    assert!(why.contains(reason), "{}", ready.text);

    let event = serde_json::json!({
        "name": "x", "sections": [{ "name": "GA", "price": 1, "capacity": 1 }]
    });
    replica
        .post("/events", event)
        .await
        .assert_error(503, "STORE_UNAVAILABLE");
    replica
        .get("/events")
        .await
        .assert_error(503, "STORE_UNAVAILABLE");

    let (code, out) = audit(url);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(masked) && out.contains(reason), "{out}");
    if let Some(secret) = secret {
        for text in [&replica.log(), &ready.text, &out] {
            assert!(!text.contains(secret), "the password leaked: {text}");
        }
    }
}

#[tokio::test]
async fn no_redis_at_the_url_is_named_with_the_url() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    assert_unusable(&url, &url, "connection refused", None).await;
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error_with_the_password_masked() {
    let redis = RedisServer::start_with_password("right-one");
    let url = format!("redis://:wrong-one@127.0.0.1:{}", redis.port());
    let masked = format!("redis://:***@127.0.0.1:{}", redis.port());
    assert_unusable(&url, &masked, "authentication failed", Some("wrong-one")).await;
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_named() {
    let redis = RedisServer::start();
    let url = format!("{}/99", redis.url());
    assert_unusable(
        &url,
        &url,
        "database number in REDIS_URL does not exist",
        None,
    )
    .await;
}
