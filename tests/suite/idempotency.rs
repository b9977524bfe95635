//! `Idempotency-Key` on `POST /book`, seat confirm and `DELETE /bookings/{id}`: a retry replays
//! the first answer instead of booking (or cancelling) again.

use crate::both;
use crate::harness::{Reply, TestApp};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

async fn book_with_key(app: &TestApp, key: &str, body: Value) -> Reply {
    app.send(
        Method::POST,
        "/book",
        Some(body),
        &[("idempotency-key", key)],
    )
    .await
}

fn book_body(event: &str, qty: u32, user: &str) -> Value {
    json!({ "eventId": event, "sectionId": "s1", "qty": qty, "userId": user })
}

both!(async fn a_retried_booking_replays_the_first_answer_without_booking_again(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;

    let first = book_with_key(&app, "order-1", book_body(&event, 3, "alice")).await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = book_with_key(&app, "order-1", book_body(&event, 3, "alice")).await;
    again.assert_status(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.body, first.body,
        "the same answer, same booking id and remaining"
    );
    assert_eq!(app.remaining(&event, "s1").await, 7, "inventory taken once");
    let listed = app.get(&format!("/bookings?eventId={event}")).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 1);

    // The replay is the first answer even after the booking changed since.
    let id = first.body["id"].as_str().unwrap();
    app.delete(&format!("/bookings/{id}"))
        .await
        .assert_status(200);
    let later = book_with_key(&app, "order-1", book_body(&event, 3, "alice")).await;
    assert_eq!(later.body, first.body);
    assert_eq!(app.remaining(&event, "s1").await, 10);
    redis.assert_audit_clean();
});

both!(async fn the_same_key_with_a_different_request_is_refused(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let other_event = app.create_ga_event(10).await;
    book_with_key(&app, "k", book_body(&event, 1, "alice"))
        .await
        .assert_status(201);

    for different in [
        book_body(&event, 2, "alice"),
        book_body(&other_event, 1, "alice"),
        json!({ "eventId": event, "sectionId": "s2", "qty": 1, "userId": "alice" }),
    ] {
        book_with_key(&app, "k", different)
            .await
            .assert_error(422, "IDEMPOTENCY_KEY_REUSED");
    }
    assert_eq!(app.remaining(&event, "s1").await, 9);
    assert_eq!(app.remaining(&other_event, "s1").await, 10);
});

both!(async fn keys_belong_to_their_user(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let alice = book_with_key(&app, "k", book_body(&event, 1, "alice")).await;
    let bob = book_with_key(&app, "k", book_body(&event, 1, "bob")).await;
    bob.assert_status(201);
    assert_eq!(bob.header("idempotent-replayed"), None);
    assert_ne!(alice.body["id"], bob.body["id"]);
    // Without a userId, the key belongs to "anonymous".
    let anon = book_with_key(
        &app,
        "k",
        json!({ "eventId": event, "sectionId": "s1", "qty": 2 }),
    )
    .await;
    anon.assert_status(201);
    assert_eq!(app.remaining(&event, "s1").await, 6);
});

both!(async fn keys_are_remembered_for_24_hours(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let before = redis.now_ms();
    book_with_key(&app, "k", book_body(&event, 1, "alice"))
        .await
        .assert_status(201);
    let after = redis.now_ms();
    let day_ms = 24 * 60 * 60 * 1000;
    for key in [
        "bo:{u:alice}:idem:k".to_owned(),
        format!("bo:{{{event}}}:idem:alice:k"),
    ] {
        // Set during the request, to expire a day later on Redis's clock.
        let expires_at: i64 = redis.query(&["PEXPIRETIME", &key]);
        assert!(
            (before + day_ms..=after + day_ms).contains(&expires_at),
            "{key}: expires at {expires_at}, written in {before}..{after}"
        );
    }
});

both!(async fn concurrent_duplicates_book_exactly_once(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(100).await;

    let replies = join_all(
        (0..50).map(|_| book_with_key(&app, "double-click", book_body(&event, 2, "alice"))),
    )
    .await;
    let ids: std::collections::HashSet<&str> = replies
        .iter()
        .map(|r| r.body["id"].as_str().unwrap())
        .collect();
    assert!(replies.iter().all(|r| r.status == 201), "{replies:?}");
    assert_eq!(ids.len(), 1, "one booking for fifty duplicates");
    let replayed = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 49);
    assert_eq!(app.remaining(&event, "s1").await, 98);
    redis.assert_audit_clean();
});

both!(async fn a_refusal_is_not_remembered_a_retry_is_evaluated_afresh(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(2).await;
    let taken = app.book(&event, "s1", 2, "bob").await;
    book_with_key(&app, "k", book_body(&event, 1, "alice"))
        .await
        .assert_error(409, "INSUFFICIENT_INVENTORY");
    app.delete(&format!("/bookings/{}", taken.body["id"].as_str().unwrap()))
        .await;
    let retry = book_with_key(&app, "k", book_body(&event, 1, "alice")).await;
    retry.assert_status(201);
    assert_eq!(retry.header("idempotent-replayed"), None);
});

both!(async fn seat_confirms_replay_too(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_seated_event(&["A1", "A2"]).await;
    app.seat_action(&event, "A1", "lock", "alice")
        .await
        .assert_status(200);
    let path = format!("/events/{event}/seats/A1/confirm");
    let user = json!({ "userId": "alice" });
    let key = [("idempotency-key", "pay-77")];
    let first = app
        .send(Method::POST, &path, Some(user.clone()), &key)
        .await;
    first.assert_status(201);
    let again = app
        .send(Method::POST, &path, Some(user.clone()), &key)
        .await;
    again.assert_status(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    // Without the key, a second confirm is simply refused: the seat is sold.
    app.send(Method::POST, &path, Some(user), &[])
        .await
        .assert_error(409, "SEAT_BOOKED");
    // The same key for another seat is a different request.
    app.seat_action(&event, "A2", "lock", "alice").await;
    let other = format!("/events/{event}/seats/A2/confirm");
    app.send(
        Method::POST,
        &other,
        Some(json!({ "userId": "alice" })),
        &key,
    )
    .await
    .assert_error(422, "IDEMPOTENCY_KEY_REUSED");
    // The demo routes take the header as well.
    app.send(Method::POST, "/lock/1?user=zoe", None, &[])
        .await
        .assert_status(200);
    let demo = [("idempotency-key", "demo-1")];
    app.send(Method::POST, "/confirm/1?user=zoe", None, &demo)
        .await
        .assert_status(201);
    let replay = app
        .send(Method::POST, "/confirm/1?user=zoe", None, &demo)
        .await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    redis.assert_audit_clean();
});

both!(async fn cancels_replay_too(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let a = app.book(&event, "s1", 3, "alice").await;
    let b = app.book(&event, "s1", 1, "alice").await;
    let path = |r: &Reply| format!("/bookings/{}", r.body["id"].as_str().unwrap());
    let key = [("idempotency-key", "cancel-1")];

    let first = app.send(Method::DELETE, &path(&a), None, &key).await;
    first.assert_status(200);
    let again = app.send(Method::DELETE, &path(&a), None, &key).await;
    again.assert_status(200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(app.remaining(&event, "s1").await, 9, "given back once");
    app.send(Method::DELETE, &path(&b), None, &key)
        .await
        .assert_error(422, "IDEMPOTENCY_KEY_REUSED");
    app.send(Method::DELETE, &path(&a), None, &[])
        .await
        .assert_error(409, "BOOKING_ALREADY_CANCELLED");
    redis.assert_audit_clean();
});

both!(async fn malformed_keys_are_refused(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let long = "k".repeat(256);
    for key in ["", "has space", long.as_str(), "tab\there"] {
        book_with_key(&app, key, book_body(&event, 1, "alice"))
            .await
            .assert_error(400, "INVALID_REQUEST");
    }
    assert_eq!(app.remaining(&event, "s1").await, 10);
});
