//! Checkout holds: `POST /events/{eventId}/holds` and what follows (read, extend, confirm,
//! release), all or nothing, expiring on Redis's clock, against real Redis (single and cluster)
//! and several replicas.

use crate::both;
use crate::harness::{Backend, Reply, ServerProcess, TestApp, wait_until};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};

async fn rows_event(app: &TestApp, rows: Value) -> String {
    let reply = app
        .post(
            "/events",
            json!({ "name": "Holds", "sections": [
                { "name": "Stalls", "price": 50, "rows": rows },
                { "name": "Floor", "price": 20, "capacity": 10 },
            ]}),
        )
        .await;
    reply.assert_status(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn hold(app: &crate::harness::Http, event: &str, body: Value) -> Reply {
    app.post(&format!("/events/{event}/holds"), body).await
}

async fn act(
    app: &crate::harness::Http,
    event: &str,
    hold: &str,
    action: &str,
    user: &str,
) -> Reply {
    let path = format!("/events/{event}/holds/{hold}");
    let body = Some(json!({ "userId": user }));
    match action {
        "read" => app.get(&format!("{path}?user={user}")).await,
        "release" => app.send(Method::DELETE, &path, body, &[]).await,
        _ => {
            app.send(Method::POST, &format!("{path}/{action}"), body, &[])
                .await
        }
    }
}

fn id(reply: &Reply) -> String {
    reply.body["id"].as_str().unwrap_or_default().to_owned()
}

both!(async fn a_hold_of_named_seats_is_all_or_nothing_and_confirms_as_one_booking(redis) {
    let app = TestApp::on(redis).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 4 }, { "name": "B", "count": 4 }])).await;
    app.seat_action(&event, "A3", "lock", "bob").await.assert_status(200);

    // One seat of three is held by someone else: nothing is held, and the answer names it.
    let refused = hold(&app, &event, json!({ "userId": "alice", "seats": ["A1", "A2", "A3"] })).await;
    refused.assert_error(423, "SEAT_LOCKED");
    assert_eq!(refused.body["error"]["seats"], json!(["A3"]));
    assert!(refused.body["error"]["lockExpiresAt"].is_string());
    assert!(!refused.text.contains("bob"), "never who: {}", refused.text);
    assert_eq!(app.seat_status(&event, "A1").await["status"], "available");

    let held = hold(&app, &event, json!({ "userId": "alice", "seats": ["A1", "A2"] })).await;
    held.assert_status(201);
    assert_eq!(held.body["seats"], json!(["A1", "A2"]));
    assert_eq!(held.body["qty"], 2);
    assert_eq!(held.body["sectionId"], "s1");
    assert_eq!(held.body["status"], "held");
    assert_eq!(held.body["extensionsLeft"], 3);
    let hold_id = id(&held);
    // The seats are locked for the seat API too, for everyone else.
    assert_eq!(app.seat_status(&event, "A1").await["status"], "locked");
    app.seat_action(&event, "A1", "lock", "carol").await.assert_error(423, "SEAT_LOCKED");
    let taken = hold(&app, &event, json!({ "userId": "carol", "seats": ["A2", "B1"] })).await;
    taken.assert_error(423, "SEAT_LOCKED");
    assert_eq!(taken.body["error"]["seats"], json!(["A2"]));

    act(&app, &event, &hold_id, "read", "alice").await.assert_status(200);
    act(&app, &event, &hold_id, "read", "bob").await.assert_error(404, "HOLD_NOT_FOUND");
    act(&app, &event, &hold_id, "confirm", "bob").await.assert_error(404, "HOLD_NOT_FOUND");

    let booked = act(&app, &event, &hold_id, "confirm", "alice").await;
    booked.assert_status(201);
    assert_eq!(booked.body["seats"], json!(["A1", "A2"]));
    assert_eq!(booked.body["qty"], 2);
    assert_eq!(booked.body["userId"], "alice");
    assert_eq!(booked.body["totalPrice"].as_f64(), Some(100.0));
    assert_eq!(booked.body["remaining"], 6);
    // Finished: not found any more, for every action.
    for action in ["read", "extend", "confirm", "release"] {
        act(&app, &event, &hold_id, action, "alice").await.assert_error(404, "HOLD_NOT_FOUND");
    }
    let sold = hold(&app, &event, json!({ "userId": "carol", "seats": ["B2", "A2"] })).await;
    sold.assert_error(409, "SEAT_BOOKED");
    assert_eq!(sold.body["error"]["seats"], json!(["A2"]));
    hold(&app, &event, json!({ "userId": "carol", "seats": ["A1", "B1"] }))
        .await
        .assert_error(409, "SEAT_BOOKED");
    // A released hold frees its seats at once.
    let again = hold(&app, &event, json!({ "userId": "carol", "seats": ["B1", "B2"] })).await;
    again.assert_status(201);
    let released = act(&app, &event, &id(&again), "release", "carol").await;
    released.assert_status(200);
    assert_eq!(released.body["status"], "released");
    app.seat_action(&event, "B1", "lock", "dave").await.assert_status(200);
    redis.assert_audit_clean();
});

both!(async fn a_general_admission_hold_takes_its_quantity_until_confirmed_or_released(redis) {
    let app = TestApp::on(redis).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 2 }])).await;
    let held = hold(&app, &event, json!({ "userId": "alice", "sectionId": "s2", "qty": 4 })).await;
    held.assert_status(201);
    assert_eq!(held.body["qty"], 4);
    assert!(held.body.get("seats").is_none());
    assert_eq!(app.remaining(&event, "s2").await, 6);
    // The audit counts what is held: remaining + held + booked == capacity.
    redis.assert_audit_clean();
    app.book(&event, "s2", 7, "bob").await.assert_error(409, "INSUFFICIENT_INVENTORY");
    app.book(&event, "s2", 6, "bob").await.assert_status(201);
    hold(&app, &event, json!({ "userId": "carol", "sectionId": "s2", "qty": 1 }))
        .await
        .assert_error(409, "INSUFFICIENT_INVENTORY");

    let booked = act(&app, &event, &id(&held), "confirm", "alice").await;
    booked.assert_status(201);
    assert_eq!(booked.body["qty"], 4);
    assert_eq!(booked.body["remaining"], 0);
    // Cancelling the booking gives the four back.
    app.delete(&format!("/bookings/{}", id(&booked)))
        .await
        .assert_status(200);
    assert_eq!(app.remaining(&event, "s2").await, 4);

    let second = hold(&app, &event, json!({ "userId": "carol", "sectionId": "s2", "qty": 3 })).await;
    second.assert_status(201);
    assert_eq!(app.remaining(&event, "s2").await, 1);
    act(&app, &event, &id(&second), "release", "carol").await.assert_status(200);
    assert_eq!(app.remaining(&event, "s2").await, 4);
    // On a reserved section a quantity is held as the best available seats.
    let best = hold(&app, &event, json!({ "userId": "carol", "sectionId": "s1", "qty": 2 })).await;
    best.assert_status(201);
    assert_eq!(best.body["seats"], json!(["A1", "A2"]));
    redis.assert_audit_clean();
});

both!(async fn bad_hold_requests_are_refused_with_the_reason(redis) {
    let app = TestApp::on(redis).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 4 }])).await;
    for body in [
        json!({ "userId": "u" }),
        json!({ "userId": "u", "seats": [] }),
        json!({ "userId": "u", "seats": ["A1", "A1"] }),
        json!({ "userId": "u", "seats": ["A1"], "sectionId": "s2", "qty": 1 }),
        json!({ "userId": "u", "sectionId": "s2", "qty": 0 }),
        json!({ "userId": "u", "sectionId": "s2", "qty": 11 }),
        json!({ "userId": "u", "sectionId": "s2", "qty": 1, "extra": true }),
    ] {
        hold(&app, &event, body.clone()).await.assert_error(400, "INVALID_REQUEST");
    }
    hold(&app, &event, json!({ "userId": "u", "seats": ["A1", "Z9"] }))
        .await
        .assert_error(404, "SEAT_NOT_FOUND");
    hold(&app, &event, json!({ "userId": "u", "sectionId": "s9", "qty": 1 }))
        .await
        .assert_error(404, "SECTION_NOT_FOUND");
    hold(&app, "no-such-event", json!({ "userId": "u", "sectionId": "s1", "qty": 1 }))
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    for hold_id in ["nope", "01a20000-0000-4000-8000-000000000000", "01a20000-0000-7000-8000-000000000000"] {
        act(&app, &event, hold_id, "read", "u").await.assert_error(404, "HOLD_NOT_FOUND");
        act(&app, &event, hold_id, "confirm", "u").await.assert_error(404, "HOLD_NOT_FOUND");
    }
    // Nothing of that changed the inventory.
    assert_eq!(app.remaining(&event, "s2").await, 10);
    redis.assert_audit_clean();
});

both!(async fn an_expired_hold_gives_everything_back_by_itself(redis) {
    let mut settings = redis.settings();
    settings.hold_ttl_ms = 1_000;
    // Twelve tickets held by one user here.
    settings.max_tickets_held_per_user = 12;
    let app = TestApp::spawn_with(settings).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 3 }])).await;
    let ga = hold(&app, &event, json!({ "userId": "alice", "sectionId": "s2", "qty": 10 })).await;
    ga.assert_status(201);
    let seats = hold(&app, &event, json!({ "userId": "alice", "seats": ["A1", "A2"] })).await;
    seats.assert_status(201);
    assert_eq!(app.remaining(&event, "s2").await, 0);

    // Wait for Redis's clock, not for time: the lock keys are gone when the hold has expired.
    redis.wait_until_gone(&format!("bo:{{{event}}}:lock:A1"));
    let ends = seats.body["expiresAt"].as_str().unwrap().to_owned();
    let ends_ms = boxoffice::domain::time::parse_rfc3339_ms(&ends).expect("a time");
    wait_until("Redis's clock passes the GA hold's expiry", || {
        redis.now_ms() > ends_ms + 50
    });
    // Reads count the expired quantity as available before any script gave it back.
    assert_eq!(app.remaining(&event, "s2").await, 10);
    assert_eq!(app.seat_status(&event, "A1").await["status"], "available");
    act(&app, &event, &id(&ga), "read", "alice").await.assert_error(404, "HOLD_NOT_FOUND");
    act(&app, &event, &id(&ga), "confirm", "alice").await.assert_error(409, "HOLD_EXPIRED");
    act(&app, &event, &id(&seats), "confirm", "alice").await.assert_error(409, "HOLD_EXPIRED");
    act(&app, &event, &id(&ga), "extend", "alice").await.assert_error(409, "HOLD_EXPIRED");
    // Everyone else can take it all now.
    app.book(&event, "s2", 10, "bob").await.assert_status(201);
    app.seat_action(&event, "A1", "lock", "bob").await.assert_status(200);
    redis.assert_audit_clean();
});

both!(async fn extensions_are_counted_and_never_pass_the_longest_life(redis) {
    let mut settings = redis.settings();
    settings.hold_max_extensions = 2;
    let app = TestApp::spawn_with(settings).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 3 }])).await;
    let held = hold(&app, &event, json!({ "userId": "alice", "seats": ["A1"] })).await;
    held.assert_status(201);
    let first = act(&app, &event, &id(&held), "extend", "alice").await;
    first.assert_status(200);
    assert_eq!(first.body["extensionsLeft"], 1);
    assert!(first.body["expiresAt"].as_str() >= held.body["expiresAt"].as_str());
    act(&app, &event, &id(&held), "extend", "bob").await.assert_error(404, "HOLD_NOT_FOUND");
    act(&app, &event, &id(&held), "extend", "alice").await.assert_status(200);
    act(&app, &event, &id(&held), "extend", "alice")
        .await
        .assert_error(409, "HOLD_EXTENSION_LIMIT");
    // The lock key carries the hold's expiry.
    let key_expiry: i64 = redis.query(&["PEXPIRETIME", &format!("bo:{{{event}}}:lock:A1")]);
    let read = act(&app, &event, &id(&held), "read", "alice").await;
    let expires = boxoffice::domain::time::parse_rfc3339_ms(read.body["expiresAt"].as_str().unwrap())
        .expect("a time");
    assert_eq!(key_expiry, expires);

    // HOLD_MAX_LIFETIME_MS shorter than HOLD_TTL_MS: the hold ends at its longest life, and
    // cannot be extended at all.
    let mut settings = redis.settings();
    settings.hold_ttl_ms = 60_000;
    settings.hold_max_lifetime_ms = 30_000;
    let short = TestApp::spawn_with(settings).await;
    let held = hold(&short, &event, json!({ "userId": "carol", "sectionId": "s2", "qty": 1 })).await;
    held.assert_status(201);
    let created = boxoffice::domain::time::parse_rfc3339_ms(held.body["createdAt"].as_str().unwrap()).unwrap();
    let expires = boxoffice::domain::time::parse_rfc3339_ms(held.body["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, 30_000);
    act(&short, &event, &id(&held), "extend", "carol")
        .await
        .assert_error(409, "HOLD_EXTENSION_LIMIT");
    redis.assert_audit_clean();
});

both!(async fn a_confirm_with_an_idempotency_key_books_exactly_once(redis) {
    let app = TestApp::on(redis).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 6 }])).await;
    let held = hold(&app, &event, json!({ "userId": "alice", "seats": ["A2", "A3", "A4"] })).await;
    held.assert_status(201);
    let path = format!("/events/{event}/holds/{}/confirm", id(&held));
    let replies = join_all((0..20).map(|_| {
        app.send(Method::POST, &path, Some(json!({ "userId": "alice" })), &[("idempotency-key", "pay-1")])
    }))
    .await;
    let ids: HashSet<String> = replies
        .iter()
        .map(|r| {
            r.assert_status(201);
            id(r)
        })
        .collect();
    assert_eq!(ids.len(), 1, "one booking: {ids:?}");
    let listed = app.get(&format!("/bookings?eventId={event}")).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 1);
    redis.assert_audit_clean();
});

both!(async fn held_tickets_count_toward_the_users_limits(redis) {
    let app = TestApp::on(redis).await;
    let reply = app
        .post(
            "/events",
            json!({ "name": "Limited", "maxPerUser": 4, "sections": [
                { "name": "GA", "price": 10, "capacity": 100 },
                { "name": "Seats", "price": 20, "seats": ["S1", "S2", "S3"] },
            ]}),
        )
        .await;
    let event = id(&reply);
    hold(&app, &event, json!({ "userId": "alice", "sectionId": "s1", "qty": 3 }))
        .await
        .assert_status(201);
    let over = app.book(&event, "s1", 2, "alice").await;
    over.assert_error(409, "USER_LIMIT_REACHED");
    assert_eq!(over.body["error"]["current"], 3);
    let seats = hold(&app, &event, json!({ "userId": "alice", "seats": ["S1", "S2"] })).await;
    seats.assert_error(409, "USER_LIMIT_REACHED");
    hold(&app, &event, json!({ "userId": "alice", "seats": ["S1"] }))
        .await
        .assert_status(201);
    redis.assert_audit_clean();
});

/// 200 users race through three replicas for overlapping 4-seat holds in one row: no seat
/// ends in two holds, every hold has its four seats, and what is locked is exactly the union of
/// the holds granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_holds_racing_across_replicas_never_share_a_seat() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &[]))
        .collect();
    let created = replicas[0]
        .post(
            "/events",
            json!({ "name": "Race", "sections": [
                { "name": "Row", "price": 10, "rows": [{ "name": "A", "count": 40 }] },
            ]}),
        )
        .await;
    let event = id(&created);
    let replies = join_all((0..200).map(|i| {
        let replica = &replicas[i % 3];
        let event = &event;
        async move {
            let start = 1 + (i * 7) % 37;
            let seats: Vec<String> = (start..start + 4).map(|n| format!("A{n}")).collect();
            let reply = hold(
                replica,
                event,
                json!({ "userId": format!("user{i}"), "seats": seats }),
            )
            .await;
            (seats, reply)
        }
    }))
    .await;
    let mut held: BTreeSet<String> = BTreeSet::new();
    let mut granted = 0;
    for (seats, reply) in &replies {
        match reply.status {
            201 => {
                granted += 1;
                assert_eq!(&reply.body["seats"], &json!(seats));
                for seat in seats {
                    assert!(held.insert(seat.clone()), "seat {seat} in two holds");
                }
            }
            423 => {
                reply.assert_error(423, "SEAT_LOCKED");
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(granted >= 1);
    let map = replicas[1]
        .get_fresh(&format!("/events/{event}/seats"))
        .await;
    let locked: BTreeSet<String> = map.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "locked")
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        locked, held,
        "locked seats are exactly those of the holds granted"
    );
    eprintln!(
        "{granted} of 200 overlapping holds granted, {} seats held",
        held.len()
    );
    backend.assert_audit_clean();
}

/// The seats of a hold of `qty` on section `section`, or the refusal.
async fn best(app: &TestApp, event: &str, section: &str, qty: u32, together: bool) -> Reply {
    let user = format!("buyer-{section}-{qty}-{together}");
    hold(
        app,
        event,
        json!({ "userId": user, "sectionId": section, "qty": qty, "together": together }),
    )
    .await
}

both!(async fn best_available_takes_front_rows_the_centre_and_leaves_no_single_seat(redis) {
    let app = TestApp::on(redis).await;
    let event = rows_event(&app, json!([{ "name": "A", "count": 10 }, { "name": "B", "count": 10 }])).await;
    // An empty front row: the block in its centre.
    let first = best(&app, &event, "s1", 4, true).await;
    first.assert_status(201);
    assert_eq!(first.body["seats"], json!(["A4", "A5", "A6", "A7"]));
    // Three either side are left: a block of three fills one exactly (front row still).
    let second = best(&app, &event, "s1", 3, true).await;
    assert_eq!(second.body["seats"], json!(["A1", "A2", "A3"]), "{}", second.text);
    // Row A has A8..A10 left: four together go to row B.
    let third = best(&app, &event, "s1", 4, true).await;
    assert_eq!(third.body["seats"], json!(["B4", "B5", "B6", "B7"]), "{}", third.text);

    // D1 is taken: two together nearest the centre (D3, D4) would leave D2 alone; D2, D3 does not.
    let other = rows_event(&app, json!([{ "name": "D", "count": 6 }])).await;
    app.seat_action(&other, "D1", "lock", "someone").await.assert_status(200);
    let clean = best(&app, &other, "s1", 2, true).await;
    assert_eq!(clean.body["seats"], json!(["D2", "D3"]), "{}", clean.text);

    // No row has two side by side: POST /book takes the fewest rows; together is refused.
    let split = rows_event(&app, json!([{ "name": "E", "count": 3 }, { "name": "F", "count": 3 }])).await;
    for seat in ["E2", "F2"] {
        app.seat_action(&split, seat, "lock", "someone").await.assert_status(200);
    }
    let booked = app.book(&split, "s1", 2, "bob").await;
    booked.assert_status(201);
    assert_eq!(booked.body["seats"], json!(["E1", "E3"]));
    let refused = best(&app, &split, "s1", 2, true).await;
    refused.assert_error(409, "NO_ADJACENT_SEATS");
    assert_eq!(refused.body["error"]["requested"], 2);
    best(&app, &split, "s1", 3, false)
        .await
        .assert_error(409, "INSUFFICIENT_INVENTORY");
    redis.assert_audit_clean();
});

/// 500 users ask for four seats together on a hundred-seat section (ten rows of ten) through
/// three replicas: every block granted is four consecutive seats of one row, no seat is in two
/// holds, and each row gets the one block its centre takes (three seats left either side).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_users_asking_for_four_together_get_whole_blocks() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &[]))
        .collect();
    let rows: Vec<Value> = "ABCDEFGHIJ"
        .chars()
        .map(|r| json!({ "name": r.to_string(), "count": 10 }))
        .collect();
    let created = replicas[0]
        .post(
            "/events",
            json!({ "name": "Hall", "sections": [{ "name": "Hall", "price": 10, "rows": rows }] }),
        )
        .await;
    let event = id(&created);
    let replies = join_all((0..500).map(|i| {
        let replica = &replicas[i % 3];
        let event = &event;
        async move {
            hold(replica, event, json!({ "userId": format!("fan{i}"), "sectionId": "s1", "qty": 4, "together": true })).await
        }
    }))
    .await;
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows_used: BTreeSet<String> = BTreeSet::new();
    for reply in &replies {
        if reply.status != 201 {
            reply.assert_error(409, "NO_ADJACENT_SEATS");
            continue;
        }
        let seats: Vec<String> = reply.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        let row = seats[0][..1].to_owned();
        let numbers: Vec<u32> = seats.iter().map(|s| s[1..].parse().unwrap()).collect();
        assert!(seats.iter().all(|s| s[..1] == row), "one row: {seats:?}");
        assert_eq!(
            numbers,
            (numbers[0]..numbers[0] + 4).collect::<Vec<_>>(),
            "side by side: {seats:?}"
        );
        assert_eq!(
            numbers[0], 4,
            "the centre of an empty row of ten: {seats:?}"
        );
        for seat in seats {
            assert!(seen.insert(seat.clone()), "{seat} in two holds");
        }
        assert!(rows_used.insert(row.clone()), "row {row} got two blocks");
    }
    assert_eq!(rows_used.len(), 10, "one block per row: {rows_used:?}");
    backend.assert_audit_clean();
}

/// In AUTH_MODE=open every route reads the user the same way: `?user=` or the body's `userId`
/// (the query wins); a request that names nobody is a 400 that says how, for its method
/// (`POST /book` books for `anonymous` then, as in the seeds).
#[tokio::test]
async fn in_open_mode_every_route_reads_the_user_the_same_way() {
    let backend = Backend::single();
    let app = TestApp::spawn_with(crate::harness::app::open_settings(backend.settings())).await;
    let event = app.create_ga_event(20).await;
    let made = app
        .anonymous()
        .post(
            &format!("/events/{event}/holds?user=al"),
            json!({ "sectionId": "s1", "qty": 2 }),
        )
        .await;
    made.assert_status(201);
    assert_eq!(made.body["userId"], "al");
    let id = made.body["id"].as_str().expect("hold id").to_owned();
    let path = format!("/events/{event}/holds/{id}");
    let http = app.anonymous();
    let read = http.get(&format!("{path}?user=al")).await;
    read.assert_status(200);
    let nobody = http.get(&path).await;
    nobody.assert_error(400, "INVALID_REQUEST");
    assert!(
        nobody.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("?user="),
        "{}",
        nobody.text
    );
    let unnamed = http
        .send(Method::POST, &format!("{path}/extend"), None, &[])
        .await;
    unnamed.assert_error(400, "INVALID_REQUEST");
    assert!(unnamed.text.contains("userId"), "{}", unnamed.text);
    http.send(Method::POST, &format!("{path}/extend?user=al"), None, &[])
        .await
        .assert_status(200);
    let confirmed = http
        .post(&format!("{path}/confirm"), json!({ "userId": "al" }))
        .await;
    confirmed.assert_status(201);
    assert_eq!(confirmed.body["qty"], 2);
    let booked = http
        .post(
            "/book?user=bo",
            json!({ "eventId": event, "sectionId": "s1", "qty": 1 }),
        )
        .await;
    booked.assert_status(201);
    assert_eq!(booked.body["userId"], "bo");
}
