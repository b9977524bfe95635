//! The seed systems' routes on the demo event: `/seats`, `/lock`, `/confirm`, `/unlock`,
//! `/release`, with the seat in the path or the body.

use crate::both;
use crate::harness::{RedisServer, TestApp};
use reqwest::Method;
use serde_json::json;

both!(async fn the_demo_event_has_demo_seats_numbered_from_one(redis) {
    let mut settings = redis.open_settings();
    settings.demo_seats = 4;
    let app = TestApp::spawn_with(settings).await;
    let seats = app.get("/seats").await;
    seats.assert_status(200);
    assert_eq!(seats.body["eventId"], "demo");
    let ids: Vec<&str> = seats.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    assert!(
        seats.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "available")
    );
});

both!(async fn path_routes_take_the_user_from_the_query_or_the_body(redis) {
    let app = TestApp::spawn_with(redis.open_settings()).await;

    // Bare POST, user in the query, as the seed systems do it.
    let lock = app
        .send(Method::POST, "/lock/3?user=alice", None, &[])
        .await;
    lock.assert_status(200);
    assert_eq!(lock.body["seatId"], "3");
    app.send(Method::POST, "/lock/3?user=bob", None, &[])
        .await
        .assert_error(423, "SEAT_LOCKED");
    app.post("/confirm/3", json!({ "userId": "bob" }))
        .await
        .assert_error(403, "LOCK_NOT_OWNED");
    let confirm = app.post("/confirm/3", json!({ "userId": "alice" })).await;
    confirm.assert_status(201);
    assert_eq!(confirm.body["eventId"], "demo");
    assert_eq!(confirm.body["seats"], json!(["3"]));
    app.send(Method::POST, "/lock/3", None, &[])
        .await
        .assert_error(409, "SEAT_BOOKED");

    // Nobody named: the user is "anonymous".
    app.send(Method::POST, "/lock/4", None, &[])
        .await
        .assert_status(200);
    app.send(Method::POST, "/unlock/4?user=anonymous", None, &[])
        .await
        .assert_status(200);
    app.send(Method::POST, "/lock/4", None, &[])
        .await
        .assert_status(200);
    app.send(Method::POST, "/release/4", None, &[])
        .await
        .assert_status(200);

    app.send(Method::POST, "/lock/99", None, &[])
        .await
        .assert_error(404, "SEAT_NOT_FOUND");
    app.send(Method::POST, "/lock/3?user=a%20b", None, &[])
        .await
        .assert_error(400, "INVALID_REQUEST");
    redis.assert_audit_clean();
});

both!(async fn body_routes_take_seat_ids_as_strings_or_numbers(redis) {
    let app = TestApp::spawn_with(redis.open_settings()).await;
    app.post("/lock", json!({ "seatId": 5, "userId": "u1" }))
        .await
        .assert_status(200);
    app.post("/lock", json!({ "seatId": "5", "userId": "u2" }))
        .await
        .assert_error(423, "SEAT_LOCKED");
    let confirm = app
        .post("/confirm", json!({ "seatId": "5", "userId": "u1" }))
        .await;
    confirm.assert_status(201);

    app.post("/lock", json!({ "seatId": 6, "userId": "u1" }))
        .await
        .assert_status(200);
    app.post("/unlock", json!({ "seatId": 6, "userId": "u2" }))
        .await
        .assert_error(403, "LOCK_NOT_OWNED");
    app.post("/release", json!({ "seatId": 6, "userId": "u1" }))
        .await
        .assert_status(200);
    app.post("/unlock", json!({ "seatId": 6, "userId": "u1" }))
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");

    for bad in [
        json!({}),
        json!({ "seatId": -1 }),
        json!({ "seatId": 1.5 }),
        json!({ "seatId": true }),
    ] {
        app.post("/lock", bad)
            .await
            .assert_error(400, "INVALID_REQUEST");
    }
    let seats = app.get("/seats").await;
    let status = |id: &str| {
        seats.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("5"), "booked");
    assert_eq!(status("6"), "available");
});

both!(async fn a_replica_starting_later_never_resets_the_demo_event(redis) {
    let first = TestApp::spawn_with(redis.open_settings()).await;
    first.send(Method::POST, "/lock/1?user=a", None, &[]).await;
    first
        .send(Method::POST, "/confirm/1?user=a", None, &[])
        .await
        .assert_status(201);
    first
        .send(Method::POST, "/lock/2?user=b", None, &[])
        .await
        .assert_status(200);

    let mut settings = redis.open_settings();
    settings.demo_seats = 50; // even with another seat count
    let second = TestApp::spawn_with(settings).await;
    let seats = second.get("/seats").await;
    let list = seats.body["seats"].as_array().unwrap();
    assert_eq!(list.len(), 10);
    assert_eq!(list[0]["status"], "booked");
    assert_eq!(list[1]["status"], "locked");
    redis.assert_audit_clean();
});

#[tokio::test]
async fn the_demo_event_comes_back_if_redis_loses_it() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_with(crate::harness::app::open_settings(
        crate::harness::test_settings(&redis.url()),
    ))
    .await;
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut redis.connection())
        .unwrap();
    let lock = app.send(Method::POST, "/lock/1?user=a", None, &[]).await;
    lock.assert_status(200);
    assert_eq!(
        app.get("/seats").await.body["seats"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

both!(async fn without_demo_seats_there_is_no_demo_event(redis) {
    let mut settings = redis.open_settings();
    settings.demo_seats = 0;
    let app = TestApp::spawn_with(settings).await;
    app.get("/seats").await.assert_error(404, "EVENT_NOT_FOUND");
    app.send(Method::POST, "/lock/1", None, &[])
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
});
