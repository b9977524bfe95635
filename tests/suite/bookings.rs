//! `POST /book`, `GET /bookings`, `GET /bookings/{id}`, `DELETE /bookings/{id}`.

use crate::both;
use crate::harness::{RedisServer, TestApp};
use serde_json::json;

both!(async fn booking_takes_from_remaining_and_prices_exactly(redis) {
    let app = TestApp::on(redis).await;
    let event = app
        .create_event(json!([{ "name": "VIP", "price": 0.1, "capacity": 5 }]))
        .await;
    let id = event["id"].as_str().unwrap();

    let reply = app.book(id, "s1", 3, "alice").await;
    reply.assert_status(201);
    let b = &reply.body;
    assert_eq!(b["eventId"], id);
    assert_eq!(b["sectionId"], "s1");
    assert_eq!(b["qty"], 3);
    assert_eq!(b["userId"], "alice");
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["remaining"], 2);
    assert!(b.get("seats").is_none(), "general admission has no seats");
    // 3 x 0.10 is 0.30 exactly, not 0.30000000000000004.
    assert!(reply.text.contains(r#""unitPrice":0.10"#), "{}", reply.text);
    assert!(
        reply.text.contains(r#""totalPrice":0.30"#),
        "{}",
        reply.text
    );
    let booking_id = b["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(booking_id).unwrap().get_version_num(),
        7
    );

    assert_eq!(app.remaining(id, "s1").await, 2);
    let fetched = app.get(&format!("/bookings/{booking_id}")).await;
    fetched.assert_status(200);
    assert_eq!(fetched.body["id"], booking_id);
    assert_eq!(fetched.body["eventName"], "Test event");
    assert_eq!(fetched.body["sectionName"], "VIP");
    assert!(fetched.body.get("remaining").is_none());

    // /bookings is an alias of /book.
    let alias = app
        .post(
            "/bookings",
            json!({ "eventId": id, "sectionId": "s1", "qty": 2 }),
        )
        .await;
    alias.assert_status(201);
    // Without a userId the booking is the token's user's (here the harness's `tester`).
    assert_eq!(alias.body["userId"], "tester");
    assert_eq!(alias.body["remaining"], 0);
    redis.assert_audit_clean();
});

both!(async fn not_enough_left_is_a_conflict_that_changes_nothing(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_ga_event(5).await;
    app.book(&id, "s1", 4, "a").await.assert_status(201);

    let reply = app.book(&id, "s1", 2, "b").await;
    reply.assert_error(409, "INSUFFICIENT_INVENTORY");
    assert_eq!(reply.body["error"]["remaining"], 1);
    assert_eq!(reply.body["error"]["requested"], 2);
    assert_eq!(app.remaining(&id, "s1").await, 1);

    app.book(&id, "s1", 1, "c").await.assert_status(201);
    app.book(&id, "s1", 1, "d")
        .await
        .assert_error(409, "INSUFFICIENT_INVENTORY");
    assert_eq!(app.remaining(&id, "s1").await, 0);
    redis.assert_audit_clean();
});

both!(async fn bad_booking_requests_are_refused_before_touching_inventory(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_ga_event(50).await;
    let cases = [
        json!({ "eventId": id, "sectionId": "s1", "qty": 0 }),
        json!({ "eventId": id, "sectionId": "s1", "qty": 11 }),
        json!({ "eventId": id, "sectionId": "s1", "qty": -1 }),
        json!({ "eventId": id, "sectionId": "s1", "qty": 1.5 }),
        json!({ "eventId": id, "sectionId": "s1", "qty": "2" }),
        json!({ "eventId": id, "sectionId": "s1" }),
        json!({ "eventId": id, "qty": 1 }),
        json!({ "sectionId": "s1", "qty": 1 }),
        json!({ "eventId": 5, "sectionId": "s1", "qty": 1 }),
        json!({ "eventId": "a:b", "sectionId": "s1", "qty": 1 }),
        json!({ "eventId": id, "sectionId": "s1", "qty": 1, "userId": "" }),
        json!({ "eventId": id, "sectionId": "s1", "qty": 1, "userId": "x".repeat(65) }),
        json!([1, 2]),
    ];
    for body in cases {
        app.post("/book", body)
            .await
            .assert_error(400, "INVALID_REQUEST");
    }
    app.book("no-such-event", "s1", 1, "u")
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    app.book(&id, "s9", 1, "u")
        .await
        .assert_error(404, "SECTION_NOT_FOUND");
    assert_eq!(app.remaining(&id, "s1").await, 50);
});

both!(async fn max_qty_per_booking_is_configurable(redis) {
    let mut settings = redis.settings();
    settings.max_qty_per_booking = 2;
    let app = TestApp::spawn_with(settings).await;
    let id = app.create_ga_event(10).await;
    let reply = app.book(&id, "s1", 3, "u").await;
    reply.assert_error(400, "INVALID_REQUEST");
    assert!(reply.text.contains("1 to 2"), "{}", reply.text);
    app.book(&id, "s1", 2, "u").await.assert_status(201);
});

both!(async fn booking_a_reserved_section_picks_free_unlocked_seats_in_order(redis) {
    let app = TestApp::on(redis).await;
    let id = app
        .create_seated_event(&["A1", "A2", "A3", "A4", "A5"])
        .await;
    app.seat_action(&id, "A1", "lock", "holder")
        .await
        .assert_status(200);

    let reply = app.book(&id, "s1", 2, "bob").await;
    reply.assert_status(201);
    assert_eq!(reply.body["seats"], json!(["A2", "A3"]));
    assert_eq!(reply.body["remaining"], 3);

    // Three remain, but one of them is held: only two can be booked now.
    let refused = app.book(&id, "s1", 3, "carol").await;
    refused.assert_error(409, "INSUFFICIENT_INVENTORY");
    assert_eq!(refused.body["error"]["remaining"], 3);
    assert_eq!(refused.body["error"]["unlocked"], 2);

    let rest = app.book(&id, "s1", 2, "carol").await;
    rest.assert_status(201);
    assert_eq!(rest.body["seats"], json!(["A4", "A5"]));
    assert_eq!(app.seat_status(&id, "A4").await["status"], "booked");
    assert_eq!(app.seat_status(&id, "A1").await["status"], "locked");
    redis.assert_audit_clean();
});

both!(async fn cancelling_returns_inventory_exactly_once(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_ga_event(5).await;
    let booking = app.book(&id, "s1", 3, "alice").await;
    let booking_id = booking.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.remaining(&id, "s1").await, 2);

    let cancelled = app.delete(&format!("/bookings/{booking_id}")).await;
    cancelled.assert_status(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["remaining"], 5);
    assert!(cancelled.body["cancelledAt"].is_string());
    assert_eq!(app.remaining(&id, "s1").await, 5);

    let again = app.delete(&format!("/bookings/{booking_id}")).await;
    again.assert_error(409, "BOOKING_ALREADY_CANCELLED");
    assert_eq!(app.remaining(&id, "s1").await, 5, "given back once only");
    let fetched = app.get(&format!("/bookings/{booking_id}")).await;
    assert_eq!(fetched.body["status"], "cancelled");
    redis.assert_audit_clean();
});

both!(async fn cancelling_seats_frees_them_for_the_next_buyer(redis) {
    let app = TestApp::on(redis).await;
    let id = app.create_seated_event(&["A1", "A2"]).await;
    let first = app.book(&id, "s1", 2, "alice").await;
    first.assert_status(201);
    app.book(&id, "s1", 1, "bob")
        .await
        .assert_error(409, "INSUFFICIENT_INVENTORY");

    let booking_id = first.body["id"].as_str().unwrap();
    app.delete(&format!("/bookings/{booking_id}"))
        .await
        .assert_status(200);
    assert_eq!(app.seat_status(&id, "A1").await["status"], "available");
    let second = app.book(&id, "s1", 1, "bob").await;
    second.assert_status(201);
    assert_eq!(second.body["seats"], json!(["A1"]));
    redis.assert_audit_clean();
});

both!(async fn unknown_and_malformed_booking_ids(redis) {
    let app = TestApp::on(redis).await;
    let unknown = "0196b2a0-0000-7000-8000-000000000000";
    app.get(&format!("/bookings/{unknown}"))
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    app.delete(&format!("/bookings/{unknown}"))
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    app.get("/bookings/not-a-uuid")
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    app.get("/bookings/bad%20id")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.delete("/bookings/a:b")
        .await
        .assert_error(400, "INVALID_REQUEST");
});

both!(async fn listing_filters_by_event_and_user_and_pages_with_a_cursor(redis) {
    let app = TestApp::on(redis).await;
    let gig = app.create_ga_event(100).await;
    let play = app.create_ga_event(100).await;
    let mut all = Vec::new();
    for (event, user) in [
        (&gig, "ann"),
        (&play, "ann"),
        (&gig, "ben"),
        (&play, "ben"),
        (&gig, "ann"),
    ] {
        let reply = app.book(event, "s1", 1, user).await;
        reply.assert_status(201);
        all.push(reply.body["id"].as_str().unwrap().to_owned());
    }

    let ids = |reply: &crate::harness::Reply| -> Vec<String> {
        reply.body["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let everything = app.get("/bookings").await;
    everything.assert_status(200);
    assert_eq!(ids(&everything), all, "all bookings, oldest first");
    assert!(everything.body["nextCursor"].is_null());
    let first = &everything.body["bookings"][0];
    assert_eq!(first["eventName"], "Test event");
    assert_eq!(first["sectionName"], "GA");

    let in_gig = app.get(&format!("/bookings?eventId={gig}")).await;
    assert_eq!(
        ids(&in_gig),
        vec![all[0].clone(), all[2].clone(), all[4].clone()]
    );
    let anns = app.get("/bookings?userId=ann").await;
    assert_eq!(
        ids(&anns),
        vec![all[0].clone(), all[1].clone(), all[4].clone()]
    );
    let anns_gig = app
        .get(&format!("/bookings?userId=ann&eventId={gig}"))
        .await;
    assert_eq!(ids(&anns_gig), vec![all[0].clone(), all[4].clone()]);

    let mut paged = Vec::new();
    let mut path = "/bookings?limit=2".to_owned();
    loop {
        let page = app.get(&path).await;
        page.assert_status(200);
        paged.extend(ids(&page));
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/bookings?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, all);

    app.get("/bookings?eventId=nope")
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    app.get("/bookings?userId=a%20b")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.get("/bookings?limit=0")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.get("/bookings?cursor=garbage")
        .await
        .assert_error(400, "INVALID_REQUEST");
});

#[tokio::test]
async fn empty_listings_are_empty_not_errors() {
    // Found by tests/fuzz.rs: a user without bookings made an empty Redis pipeline (500).
    let redis = RedisServer::start();
    let mut settings = crate::harness::test_settings(&redis.url());
    settings.demo_seats = 0;
    let app = TestApp::spawn_with(settings).await;
    let events = app.get("/events").await;
    events.assert_status(200);
    assert_eq!(events.body, json!({ "events": [], "nextCursor": null }));
    let none = json!({ "bookings": [], "nextCursor": null });
    assert_eq!(app.get("/bookings").await.body, none);
    let event = app.create_ga_event(5).await;
    for query in [
        "/bookings".to_owned(),
        "/bookings?userId=nobody".to_owned(),
        format!("/bookings?eventId={event}"),
        format!("/bookings?eventId={event}&userId=nobody"),
    ] {
        let reply = app.get(&query).await;
        reply.assert_status(200);
        assert_eq!(reply.body, none, "{query}");
    }
}
