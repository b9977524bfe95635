//! Redis stalls (SIGSTOP) or dies (SIGKILL): every route that needs it answers
//! `503 STORE_UNAVAILABLE` with `Retry-After` within 2 s, `/healthz` stays 200, and when Redis
//! is back the service recovers by itself, without a restart.

mod common;

use common::{RedisServer, Reply, TestApp, assert_audit_clean};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Every route that needs Redis, on real ids.
fn redis_routes(event: &str, seated: &str, booking: &str) -> Vec<(Method, String, Option<Value>)> {
    let user = Some(json!({ "userId": "alice" }));
    vec![
        (Method::GET, "/readyz".into(), None),
        (Method::GET, "/events".into(), None),
        (
            Method::POST,
            "/events".into(),
            Some(json!({ "name": "x", "sections": [{ "name": "a", "price": 1, "capacity": 1 }] })),
        ),
        (Method::GET, format!("/events/{event}"), None),
        (Method::GET, format!("/events/{seated}/seats"), None),
        (
            Method::POST,
            "/book".into(),
            Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1 })),
        ),
        (Method::GET, "/bookings".into(), None),
        (Method::GET, format!("/bookings?eventId={event}"), None),
        (Method::GET, format!("/bookings/{booking}"), None),
        (Method::DELETE, format!("/bookings/{booking}"), None),
        (
            Method::POST,
            format!("/events/{seated}/seats/A1/lock"),
            user.clone(),
        ),
        (
            Method::POST,
            format!("/events/{seated}/seats/A1/confirm"),
            user.clone(),
        ),
        (
            Method::POST,
            format!("/events/{seated}/seats/A1/unlock"),
            user,
        ),
        (Method::GET, "/seats".into(), None),
        (Method::POST, "/lock/1?user=bob".into(), None),
        (
            Method::POST,
            "/confirm".into(),
            Some(json!({ "seatId": 1, "userId": "bob" })),
        ),
        (Method::POST, "/release/1".into(), None),
    ]
}

/// Fires every route at once; asserts each is a quick, well-formed 503. Returns the slowest.
async fn assert_all_unavailable(
    app: &TestApp,
    routes: Vec<(Method, String, Option<Value>)>,
) -> Duration {
    let timed = join_all(routes.into_iter().map(|(method, path, body)| async move {
        let started = Instant::now();
        let reply: Reply = app.send(method.clone(), &path, body, &[]).await;
        (format!("{method} {path}"), reply, started.elapsed())
    }))
    .await;
    let mut slowest = Duration::ZERO;
    for (route, reply, took) in timed {
        reply.assert_error(503, "STORE_UNAVAILABLE");
        assert_eq!(reply.header("retry-after"), Some("1"), "{route}");
        assert!(took < Duration::from_secs(2), "{route} took {took:?}");
        slowest = slowest.max(took);
    }
    slowest
}

async fn wait_until_ready(app: &TestApp) -> Duration {
    let started = Instant::now();
    while app.get("/readyz").await.status != 200 {
        assert!(started.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn fixtures(app: &TestApp) -> (String, String, String) {
    let event = app.create_ga_event(100).await;
    let seated = app.create_seated_event(&["A1", "A2"]).await;
    let booking = app.book(&event, "s1", 1, "alice").await;
    (
        event,
        seated,
        booking.body["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_redis_gets_503_within_two_seconds_and_recovers_by_itself() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let (event, seated, booking) = fixtures(&app).await;

    redis.pause();
    let slowest = assert_all_unavailable(&app, redis_routes(&event, &seated, &booking)).await;
    eprintln!("redis stalled (SIGSTOP): slowest 503 after {slowest:?}");
    app.get("/healthz").await.assert_status(200);

    redis.resume();
    let recovered = wait_until_ready(&app).await;
    eprintln!("redis resumed: ready again after {recovered:?}");
    app.book(&event, "s1", 1, "bob").await.assert_status(201);
    app.seat_action(&seated, "A2", "lock", "bob")
        .await
        .assert_status(200);
    assert_audit_clean(&redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_redis_gets_503_within_two_seconds_and_recovers_when_it_returns() {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let (event, seated, booking) = fixtures(&app).await;

    redis.kill();
    let slowest = assert_all_unavailable(&app, redis_routes(&event, &seated, &booking)).await;
    eprintln!("redis killed (SIGKILL): slowest 503 after {slowest:?}");
    // Still 503, not hanging, on a second round against the dead address.
    let again = assert_all_unavailable(&app, redis_routes(&event, &seated, &booking)).await;
    eprintln!("redis still down: slowest 503 after {again:?}");
    app.get("/healthz").await.assert_status(200);

    // It comes back empty (no persistence here): the replica needs no restart, the scripts
    // reload themselves (NOSCRIPT) and the demo event is recreated on first use.
    redis.restart();
    let recovered = wait_until_ready(&app).await;
    eprintln!("redis restarted: ready again after {recovered:?}");
    let fresh = app.create_ga_event(5).await;
    app.book(&fresh, "s1", 2, "bob").await.assert_status(201);
    app.send(Method::POST, "/lock/1?user=bob", None, &[])
        .await
        .assert_status(200);
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn redis_down_at_start_up_does_not_stop_the_replica() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    let app = TestApp::spawn_with(common::test_settings(&url)).await;
    app.get("/healthz").await.assert_status(200);
    app.get("/readyz")
        .await
        .assert_error(503, "STORE_UNAVAILABLE");
    redis.restart();
    wait_until_ready(&app).await;
    // Scripts load on first use and the demo event appears on first use.
    app.get("/seats").await.assert_status(200);
    let event = app.create_ga_event(3).await;
    app.book(&event, "s1", 3, "u").await.assert_status(201);
    assert_audit_clean(&redis.url());
}
