//! Redis stalls (SIGSTOP) or dies (SIGKILL): every route that needs it answers
//! `503 STORE_UNAVAILABLE` with `Retry-After` (a stalled Redis never answers, so a 503 at all
//! proves the request deadline fired; how fast is printed, and measured by scripts/bench, not
//! asserted), `/healthz` stays 200, and when Redis is back the service recovers by itself,
//! without a restart. These tests run with the product's own short Redis deadlines.

use crate::harness::app::product_deadlines;
use crate::harness::{
    PATIENCE, RedisServer, Reply, TestApp, assert_audit_clean, eventually, test_settings,
};
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

/// Fires every route at once; asserts each is a well-formed 503. Returns the slowest.
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
        slowest = slowest.max(took);
    }
    slowest
}

async fn wait_until_ready(app: &TestApp) -> Duration {
    let started = Instant::now();
    eventually("ready again", || async {
        app.get("/readyz").await.status == 200
    })
    .await;
    started.elapsed()
}

/// An app with the product's Redis deadlines (0.5 s per reply, 1 s per request).
async fn fail_fast_app(redis_url: &str) -> TestApp {
    TestApp::spawn_with(product_deadlines(test_settings(redis_url))).await
}

/// An event, a seated event and a booking, made through a patient app (the fail-fast one is
/// for the faults, not for the set-up).
async fn fixtures(redis: &RedisServer) -> (String, String, String) {
    let app = TestApp::spawn(redis).await;
    let event = app.create_ga_event(100).await;
    let seated = app.create_seated_event(&["A1", "A2"]).await;
    let booking = app.book(&event, "s1", 1, "alice").await;
    app.stop().await;
    (
        event,
        seated,
        booking.body["id"].as_str().unwrap().to_owned(),
    )
}

/// Sends a request as a client is told to: again after a `503` (with an Idempotency-Key, so
/// a write that did happen is not made twice), until it gets another answer.
async fn like_a_client(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Reply {
    let key = format!("retry-{}", uuid::Uuid::now_v7());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = app
            .send(
                method.clone(),
                path,
                body.clone(),
                &[("idempotency-key", &key)],
            )
            .await;
        if reply.status != 503 {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still 503: {}",
            reply.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_redis_gets_503_and_recovers_by_itself() {
    let redis = RedisServer::start();
    let (event, seated, booking) = fixtures(&redis).await;
    let app = fail_fast_app(&redis.url()).await;

    redis.pause();
    let slowest = assert_all_unavailable(&app, redis_routes(&event, &seated, &booking)).await;
    eprintln!("redis stalled (SIGSTOP): slowest 503 after {slowest:?}");
    app.get("/healthz").await.assert_status(200);

    redis.resume();
    let recovered = wait_until_ready(&app).await;
    eprintln!("redis resumed: ready again after {recovered:?}");
    let book = json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "bob" });
    like_a_client(&app, Method::POST, "/book", Some(book))
        .await
        .assert_status(201);
    let lock = format!("/events/{seated}/seats/A2/lock");
    like_a_client(&app, Method::POST, &lock, Some(json!({ "userId": "bob" })))
        .await
        .assert_status(200);
    assert_audit_clean(&redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_redis_gets_503_and_recovers_when_it_returns() {
    let mut redis = RedisServer::start();
    let (event, seated, booking) = fixtures(&redis).await;
    let app = fail_fast_app(&redis.url()).await;

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
    let create = json!({ "name": "x", "sections": [{ "name": "GA", "price": 1, "capacity": 5 }] });
    let fresh = like_a_client(&app, Method::POST, "/events", Some(create)).await;
    fresh.assert_status(201);
    let book = json!({ "eventId": fresh.body["id"], "sectionId": "s1", "qty": 2, "userId": "bob" });
    like_a_client(&app, Method::POST, "/book", Some(book))
        .await
        .assert_status(201);
    like_a_client(&app, Method::POST, "/lock/1?user=bob", None)
        .await
        .assert_status(200);
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn redis_down_at_start_up_does_not_stop_the_replica() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    let app = fail_fast_app(&url).await;
    app.get("/healthz").await.assert_status(200);
    app.get("/readyz")
        .await
        .assert_error(503, "STORE_UNAVAILABLE");
    redis.restart();
    wait_until_ready(&app).await;
    // Scripts load on first use and the demo event appears on first use.
    like_a_client(&app, Method::GET, "/seats", None)
        .await
        .assert_status(200);
    let create = json!({ "name": "x", "sections": [{ "name": "GA", "price": 1, "capacity": 3 }] });
    let event = like_a_client(&app, Method::POST, "/events", Some(create)).await;
    event.assert_status(201);
    let book = json!({ "eventId": event.body["id"], "sectionId": "s1", "qty": 3, "userId": "u" });
    like_a_client(&app, Method::POST, "/book", Some(book))
        .await
        .assert_status(201);
    assert_audit_clean(&redis.url());
}
