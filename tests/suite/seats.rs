//! Reserved seats: `GET /events/{id}/seats` and lock / confirm / unlock.

use crate::both;
use crate::harness::TestApp;
use serde_json::json;
use std::time::Duration;

both!(async fn lock_then_confirm_books_the_seat_for_its_holder(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_seated_event(&["A1", "A2"]).await;

    let before = redis.now_ms();
    let lock = app.seat_action(&id, "A1", "lock", "alice").await;
    let after = redis.now_ms();
    lock.assert_status(200);
    assert_eq!(lock.body["seatId"], "A1");
    assert_eq!(lock.body["sectionId"], "s1");
    assert_eq!(lock.body["status"], "locked");
    // The default lock TTL is 60 s on Redis's clock, from the moment the lock was taken.
    let expires = millis(&lock.body["expiresAt"]);
    assert!(
        (before + 60_000..=after + 60_000).contains(&expires),
        "expiresAt {expires} is not 60 s after the lock ({before}..{after})"
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
    redis.assert_audit_clean();
});

both!(async fn a_held_seat_refuses_everyone_else(redis) {
    let app = TestApp::on(redis).await;
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
});

both!(async fn locking_again_returns_the_same_lock_without_extending_it(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    let first = app.seat_action(&id, "A1", "lock", "alice").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = app.seat_action(&id, "A1", "lock", "alice").await;
    again.assert_status(200);
    assert_eq!(again.body["expiresAt"], first.body["expiresAt"]);
});

both!(async fn unlock_frees_the_seat_for_others(redis) {
    let app = TestApp::on(redis).await;
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
});

both!(async fn a_booked_seat_cannot_be_locked_confirmed_or_unlocked(redis) {
    let app = TestApp::on(redis).await;
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
    redis.assert_audit_clean();
});

both!(async fn unknown_seats_events_and_bad_bodies(redis) {
    let app = TestApp::on(redis).await;
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
});

both!(async fn an_unconfirmed_lock_expires_by_itself_and_the_holder_loses_it(redis) {
    let mut settings = redis.settings();
    settings.lock_ttl_ms = 300;
    let app = TestApp::spawn_with(settings).await;
    let id = app.create_seated_event(&["A1"]).await;
    app.seat_action(&id, "A1", "lock", "alice")
        .await
        .assert_status(200);

    // Redis expires the lock key by itself; nothing in the service does.
    redis.wait_until_gone(&format!("bo:{{{id}}}:lock:A1"));
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
    redis.assert_audit_clean();
});

both!(async fn lock_expiry_is_redis_own_the_key_carries_the_ttl(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_seated_event(&["A1"]).await;
    let before = redis.now_ms();
    let lock = app.seat_action(&id, "A1", "lock", "alice").await;
    let after = redis.now_ms();
    lock.assert_status(200);
    let key = format!("bo:{{{id}}}:lock:A1");
    let holder: String = redis.query(&["GET", &key]);
    let expires_at: i64 = redis.query(&["PEXPIRETIME", &key]);
    assert_eq!(holder, "alice");
    assert_eq!(expires_at, millis(&lock.body["expiresAt"]));
    assert!((before + 60_000..=after + 60_000).contains(&expires_at));
});

/// An RFC 3339 time from the API as milliseconds since the epoch.
fn millis(value: &serde_json::Value) -> i64 {
    let text = value.as_str().expect("a time");
    text.parse::<jiff::Timestamp>()
        .expect("RFC 3339")
        .as_millisecond()
}
