//! Reserved seats: `GET /events/{id}/seats` and lock / confirm / unlock.

mod common;

use common::{RedisServer, TestApp, assert_audit_clean, test_settings};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn lock_then_confirm_books_the_seat_for_its_holder() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1", "A2"]).await;

    let lock = app.seat_action(&id, "A1", "lock", "alice").await;
    lock.assert_status(200);
    assert_eq!(lock.body["seatId"], "A1");
    assert_eq!(lock.body["sectionId"], "s1");
    assert_eq!(lock.body["status"], "locked");
    let expires = lock.body["expiresAt"].as_str().unwrap();
    let expires = expires.parse::<jiff::Timestamp>().unwrap();
    let ttl = expires.duration_since(jiff::Timestamp::now());
    assert!(
        ttl > jiff::SignedDuration::from_secs(55) && ttl <= jiff::SignedDuration::from_secs(60),
        "default lock TTL is 60 s, got {ttl:?}"
    );
    let seat = app.seat_status(&id, "A1").await;
    assert_eq!(seat["status"], "locked");
    assert_eq!(seat["lockExpiresAt"], lock.body["expiresAt"]);
    assert_eq!(app.remaining(&id, "s1").await, 2, "a lock is not a sale");

    let confirm = app.seat_action(&id, "A1", "confirm", "alice").await;
    confirm.assert_status(201);
    assert_eq!(confirm.body["seats"], json!(["A1"]));
    assert_eq!(confirm.body["qty"], 1);
    assert_eq!(confirm.body["userId"], "alice");
    assert_eq!(confirm.body["status"], "confirmed");
    assert_eq!(confirm.body["remaining"], 1);
    assert!(
        confirm.text.contains(r#""totalPrice":40.00"#),
        "{}",
        confirm.text
    );

    let seat = app.seat_status(&id, "A1").await;
    assert_eq!(seat["status"], "booked");
    assert!(seat.get("lockExpiresAt").is_none());
    assert_eq!(app.seat_status(&id, "A2").await["status"], "available");
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn a_held_seat_refuses_everyone_else() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice")
        .await
        .assert_status(200);

    let taken = app.seat_action(&id, "A1", "lock", "bob").await;
    taken.assert_error(423, "SEAT_LOCKED");
    assert!(taken.body["error"]["lockExpiresAt"].is_string());
    assert!(
        !taken.text.contains("alice"),
        "never reveal the holder: {}",
        taken.text
    );
    app.seat_action(&id, "A1", "confirm", "bob")
        .await
        .assert_error(403, "LOCK_NOT_OWNED");
    app.seat_action(&id, "A1", "unlock", "bob")
        .await
        .assert_error(403, "LOCK_NOT_OWNED");

    let map = app.get(&format!("/events/{id}/seats")).await;
    assert!(
        !map.text.contains("alice"),
        "never reveal the holder: {}",
        map.text
    );
    app.seat_action(&id, "A1", "confirm", "alice")
        .await
        .assert_status(201);
}

#[tokio::test]
async fn locking_again_returns_the_same_lock_without_extending_it() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    let first = app.seat_action(&id, "A1", "lock", "alice").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = app.seat_action(&id, "A1", "lock", "alice").await;
    again.assert_status(200);
    assert_eq!(again.body["expiresAt"], first.body["expiresAt"]);
}

#[tokio::test]
async fn unlock_frees_the_seat_for_others() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice")
        .await
        .assert_status(200);
    let unlocked = app.seat_action(&id, "A1", "unlock", "alice").await;
    unlocked.assert_status(200);
    assert_eq!(unlocked.body["status"], "available");
    assert_eq!(app.seat_status(&id, "A1").await["status"], "available");

    app.seat_action(&id, "A1", "unlock", "alice")
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");
    app.seat_action(&id, "A1", "confirm", "alice")
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");
    app.seat_action(&id, "A1", "lock", "bob")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_booked_seat_cannot_be_locked_confirmed_or_unlocked() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice").await;
    app.seat_action(&id, "A1", "confirm", "alice")
        .await
        .assert_status(201);
    for (action, user) in [
        ("lock", "bob"),
        ("lock", "alice"),
        ("confirm", "alice"),
        ("unlock", "alice"),
    ] {
        app.seat_action(&id, "A1", action, user)
            .await
            .assert_error(409, "SEAT_BOOKED");
    }
    assert_eq!(app.remaining(&id, "s1").await, 0);
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn unknown_seats_events_and_bad_bodies() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    for action in ["lock", "confirm", "unlock"] {
        app.seat_action(&id, "Z9", action, "u")
            .await
            .assert_error(404, "SEAT_NOT_FOUND");
        app.seat_action("nope", "A1", action, "u")
            .await
            .assert_error(404, "EVENT_NOT_FOUND");
        app.seat_action(&id, "a:b", action, "u")
            .await
            .assert_error(400, "INVALID_REQUEST");
        let path = format!("/events/{id}/seats/A1/{action}");
        app.post(&path, json!({}))
            .await
            .assert_error(400, "INVALID_REQUEST");
        app.post(&path, json!({ "userId": 7 }))
            .await
            .assert_error(400, "INVALID_REQUEST");
        app.post(&path, json!({ "userId": "a b" }))
            .await
            .assert_error(400, "INVALID_REQUEST");
    }
    app.get("/events/nope/seats")
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    // A general admission event has no named seats.
    let ga = app.create_ga_event(5).await;
    let map = app.get(&format!("/events/{ga}/seats")).await;
    map.assert_status(200);
    assert_eq!(map.body["seats"], json!([]));
    app.seat_action(&ga, "1", "lock", "u")
        .await
        .assert_error(404, "SEAT_NOT_FOUND");
}

#[tokio::test]
async fn an_unconfirmed_lock_expires_by_itself_and_the_holder_loses_it() {
    let redis = RedisServer::start();
    let mut settings = test_settings(&redis.url());
    settings.lock_ttl_ms = 300;
    let app = TestApp::spawn_with(settings).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice")
        .await
        .assert_status(200);
    app.seat_action(&id, "A1", "lock", "bob")
        .await
        .assert_error(423, "SEAT_LOCKED");

    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.seat_status(&id, "A1").await["status"], "available");
    // Even the former holder cannot confirm an expired lock.
    app.seat_action(&id, "A1", "confirm", "alice")
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");
    app.seat_action(&id, "A1", "unlock", "alice")
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");
    // The seat is free for the next user, and for a booking by quantity.
    app.seat_action(&id, "A1", "lock", "bob")
        .await
        .assert_status(200);
    app.seat_action(&id, "A1", "unlock", "bob")
        .await
        .assert_status(200);
    let booked = app.book(&id, "s1", 1, "carol").await;
    booked.assert_status(201);
    assert_eq!(booked.body["seats"], json!(["A1"]));
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn lock_expiry_is_redis_own_the_key_carries_the_ttl() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice")
        .await
        .assert_status(200);
    let mut conn = redis.connection();
    let key = format!("bo:{{{id}}}:lock:A1");
    let holder: String = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
    assert_eq!(holder, "alice");
    assert!((55_000..=60_000).contains(&ttl), "PTTL {ttl}");
}
