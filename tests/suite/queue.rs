//! Waiting rooms: one place per user, admissions in queue order (or a shuffled order drawn at
//! the start), paced by `admitPerMinute` and capped by `maxActive` across replicas, enforced on
//! bookings, holds and locks with signed admission tokens, people who stop asking skipped.

use crate::both;
use crate::harness::{Backend, Http, Reply, ServerProcess, TestApp, eventually};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// An event with a reserved row A (4 seats) and general admission (`s2`, 100), and this
/// waiting room.
async fn event_with_room(app: &Http, room: Value) -> String {
    let reply = app
        .post(
            "/events",
            json!({ "name": "On-sale", "waitingRoom": room, "sections": [
                { "name": "Stalls", "price": 50, "rows": [{ "name": "A", "count": 4 }] },
                { "name": "Floor", "price": 20, "capacity": 100 },
            ]}),
        )
        .await;
    reply.assert_status(201);
    reply.body["id"].as_str().expect("event id").to_owned()
}

async fn join(app: &Http, event: &str, user: &str) -> Reply {
    let reply = app
        .post(&format!("/events/{event}/queue"), json!({ "userId": user }))
        .await;
    reply.assert_status(200);
    reply
}

async fn ask(app: &Http, event: &str, user: &str, ticket: &str) -> Reply {
    let reply = app
        .get(&format!("/events/{event}/queue/{ticket}?user={user}"))
        .await;
    reply.assert_status(200);
    reply
}

async fn book_with(app: &Http, event: &str, user: &str, admission: Option<&str>) -> Reply {
    let body = json!({ "eventId": event, "sectionId": "s2", "qty": 1, "userId": user });
    let headers: Vec<(&str, &str)> = admission
        .map(|t| ("admission-token", t))
        .into_iter()
        .collect();
    app.send(Method::POST, "/book", Some(body), &headers).await
}

fn ticket(reply: &Reply) -> String {
    reply.body["ticket"].as_str().expect("ticket").to_owned()
}

fn token(reply: &Reply) -> String {
    reply.body["admissionToken"]
        .as_str()
        .unwrap_or_else(|| panic!("not admitted: {reply:?}"))
        .to_owned()
}

both!(
    /// maxActive 2: the first two in line are admitted; each admission is for its user and
    /// event only, ends with a booking, and its slot goes to the next in line.
    async fn admissions_follow_the_line_and_end_with_a_booking(backend) {
        let app = TestApp::on(backend).await;
        let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 2 })).await;
        let other = event_with_room(&app, json!({ "enabled": true, "maxActive": 2 })).await;
        let mut tickets = Vec::new();
        for user in ["u1", "u2", "u3", "u4", "u5"] {
            tickets.push(ticket(&join(&app, &event, user).await));
        }
        assert_eq!(tickets, ["1", "2", "3", "4", "5"]);
        // One place per user.
        let again = join(&app, &event, "u3").await;
        assert_eq!(ticket(&again), "3");
        assert_eq!(again.body["status"], "waiting");
        assert_eq!(again.body["position"], 0);
        assert_eq!(ask(&app, &event, "u5", "5").await.body["position"], 2);
        let u1 = ask(&app, &event, "u1", "1").await;
        assert_eq!(u1.body["status"], "admitted", "{u1:?}");
        let (t1, t2) = (token(&u1), token(&ask(&app, &event, "u2", "2").await));

        // Nothing without an admission, or with someone else's, or another event's.
        book_with(&app, &event, "u3", None)
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        book_with(&app, &event, "u3", Some(&t1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        let o1 = token(&join(&app, &other, "u1").await);
        book_with(&app, &event, "u1", Some(&o1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        book_with(&app, &other, "u1", Some(&t1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        let lock = app
            .send(Method::POST, &format!("/events/{event}/seats/A1/lock"),
                Some(json!({ "userId": "u3" })), &[])
            .await;
        lock.assert_error(403, "ADMISSION_REQUIRED");
        let hold = app
            .send(Method::POST, &format!("/events/{event}/holds"),
                Some(json!({ "userId": "u3", "seats": ["A1"] })), &[])
            .await;
        hold.assert_error(403, "ADMISSION_REQUIRED");
        // Admitted: u2 locks a seat, u1 books.
        app.send(Method::POST, &format!("/events/{event}/seats/A1/lock"),
            Some(json!({ "userId": "u2" })), &[("admission-token", t2.as_str())])
            .await
            .assert_status(200);
        book_with(&app, &event, "u1", Some(&t1)).await.assert_status(201);
        // The booking used u1's admission.
        book_with(&app, &event, "u1", Some(&t1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        assert_eq!(ask(&app, &event, "u1", "1").await.body["status"], "ended");
        // Its slot went to u3, the next in line.
        let u3 = ask(&app, &event, "u3", "3").await;
        assert_eq!(u3.body["status"], "admitted", "{u3:?}");
        assert_eq!(ask(&app, &event, "u4", "4").await.body["position"], 0);
        // Confirming the seat u2 locked is a booking too: u2's admission ends, u4 is next.
        app.seat_action(&event, "A1", "confirm", "u2").await.assert_status(201);
        assert_eq!(ask(&app, &event, "u4", "4").await.body["status"], "admitted");
        // What the store holds: u3 and u4 admitted, u5 in line.
        let admitted: Vec<String> =
            backend.query(&["ZRANGE", &format!("bo:{{{event}}}:q:admissions"), "0", "-1"]);
        assert_eq!(
            admitted.into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from(["u3".to_owned(), "u4".to_owned()])
        );
        let line: Vec<String> =
            backend.query(&["ZRANGE", &format!("bo:{{{event}}}:q:line"), "0", "-1"]);
        assert_eq!(line, ["u5"]);
        // A wrong ticket, and events without a waiting room.
        app.get(&format!("/events/{event}/queue/4?user=u5"))
            .await
            .assert_error(404, "QUEUE_TICKET_NOT_FOUND");
        let plain = app.create_ga_event(10).await;
        app.post(&format!("/events/{plain}/queue"), json!({ "userId": "u1" }))
            .await
            .assert_error(409, "WAITING_ROOM_OFF");
        app.book(&plain, "s1", 1, "u1").await.assert_status(201);
        backend.assert_audit_clean();
    }
);

/// An admission ends at admittedUntil: its token is refused after that, on Redis's clock.
#[tokio::test]
async fn an_expired_admission_is_refused() {
    let backend = Backend::single();
    let app = TestApp::on(&backend).await;
    let room = json!({ "enabled": true, "maxActive": 5, "admissionTtlSeconds": 1 });
    let event = event_with_room(&app, room).await;
    let admitted = join(&app, &event, "late").await;
    let admission = token(&admitted);
    let until = boxoffice::domain::time::parse_rfc3339_ms(
        admitted.body["admittedUntil"]
            .as_str()
            .expect("admittedUntil"),
    )
    .expect("a time");
    eventually("the admission's end passes on Redis's clock", || async {
        backend.now_ms() > until
    })
    .await;
    book_with(&app, &event, "late", Some(&admission))
        .await
        .assert_error(403, "ADMISSION_REQUIRED");
    assert_eq!(ask(&app, &event, "late", "1").await.body["status"], "ended");
}

/// admitPerMinute 1200 (one every 50 ms) from salesStartAt, people asking through three
/// replicas: the k-th admission is never before start + k x 50 ms, on Redis's clock, and by
/// the last request every due admission was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admissions_are_paced_on_redis_clock() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        // Each place is asked about as fast as the test can: no QUEUE_POLL_RATE here.
        .map(|id| {
            ServerProcess::on(
                &backend,
                id,
                &[("RATE_LIMIT_PER_USER", "0"), ("QUEUE_POLL_RATE", "0")],
            )
        })
        .collect();
    let app = &replicas[0].http;
    let room = |start: &str| {
        json!({ "enabled": true, "admitPerMinute": 1200, "admissionTtlSeconds": 600,
                "salesStartAt": start })
    };
    let event = event_with_room(app, room("2099-01-01T00:00:00Z")).await;
    let users: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
    for user in &users {
        assert_eq!(join(app, &event, user).await.body["status"], "waiting");
    }
    // The sale starts now.
    let start = backend.now_ms();
    let at = boxoffice::domain::time::rfc3339(start);
    app.send(
        Method::PUT,
        &format!("/events/{event}/waiting-room"),
        Some(room(&at)),
        &[],
    )
    .await
    .assert_status(200);
    // People keep asking, through every replica in turn, until Redis's clock is 1.5 s past
    // the start.
    let mut last_asked = start;
    let mut turn = 0;
    while last_asked < start + 1_500 {
        last_asked = backend.now_ms();
        ask(&replicas[turn % 3].http, &event, &users[79], "80").await;
        turn += 1;
    }
    let admitted: Vec<(String, f64)> = backend.query(&[
        "ZRANGE",
        &format!("bo:{{{event}}}:q:admissions"),
        "0",
        "-1",
        "WITHSCORES",
    ]);
    let mut times: Vec<i64> = admitted
        .iter()
        .map(|(_, until)| *until as i64 - 600_000)
        .collect();
    times.sort_unstable();
    for (k, at) in times.iter().enumerate() {
        assert!(
            *at >= start + 50 * k as i64,
            "admission {k} at {at}, start {start}: {times:?}"
        );
    }
    let due = ((last_asked - start) / 50 + 1) as usize;
    assert!(
        times.len() >= due,
        "{} admitted, {due} due by {last_asked}",
        times.len()
    );
    assert!(times.len() < 80, "the pace held people back");
    // In line order.
    let admitted: BTreeSet<&str> = admitted.iter().map(|(u, _)| u.as_str()).collect();
    let first: BTreeSet<&str> = users[..times.len()].iter().map(String::as_str).collect();
    assert_eq!(admitted, first);
}

/// Someone who stops asking for QUEUE_ABANDON_MS is skipped when their turn comes; joining
/// again puts them at the back.
#[tokio::test]
async fn people_who_stop_asking_are_skipped() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.queue_abandon_ms = 300;
    let app = TestApp::spawn_with(settings).await;
    let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 1 })).await;
    let a = join(&app, &event, "a").await;
    join(&app, &event, "gone").await;
    join(&app, &event, "c").await;
    // "gone" asks no more; on Redis's clock, more than QUEUE_ABANDON_MS pass.
    let seen = format!("bo:{{{event}}}:q:seen");
    eventually("gone has been silent for 300 ms", || async {
        let last: f64 = backend.query(&["ZSCORE", &seen, "gone"]);
        backend.now_ms() - last as i64 > 300
    })
    .await;
    // a's booking frees the one slot; "gone" is skipped, "c" (who asks) is admitted.
    book_with(&app, &event, "a", Some(&token(&a)))
        .await
        .assert_status(201);
    let c = ask(&app, &event, "c", "3").await;
    assert_eq!(c.body["status"], "admitted", "{c:?}");
    let gone = ask(&app, &event, "gone", "2").await;
    assert_eq!(gone.body["status"], "ended", "{gone:?}");
    let back = join(&app, &event, "gone").await;
    assert_eq!(ticket(&back), "4");
    assert_eq!(back.body["status"], "waiting");
}

/// order "shuffle": everyone who joined before the start is put in a random order then (a
/// permutation drawn in Redis, different for two events), later arrivals behind them.
#[tokio::test]
async fn the_shuffle_is_a_permutation_drawn_at_the_start() {
    let backend = Backend::single();
    let app = TestApp::on(&backend).await;
    let room = |start: &str| json!({ "enabled": true, "maxActive": 1, "order": "shuffle", "salesStartAt": start });
    let mut orders = Vec::new();
    for _ in 0..2 {
        let event = event_with_room(&app, room("2099-01-01T00:00:00Z")).await;
        for i in 0..50 {
            join(&app, &event, &format!("s{i:02}")).await;
        }
        let at = boxoffice::domain::time::rfc3339(backend.now_ms());
        app.send(
            Method::PUT,
            &format!("/events/{event}/waiting-room"),
            Some(room(&at)),
            &[],
        )
        .await
        .assert_status(200);
        // The first request after the start draws the order; then a latecomer joins.
        ask(&app, &event, "s00", "1").await;
        assert_eq!(ticket(&join(&app, &event, "late").await), "51");
        let line: Vec<(String, f64)> = backend.query(&[
            "ZRANGE",
            &format!("bo:{{{event}}}:q:line"),
            "0",
            "-1",
            "WITHSCORES",
        ]);
        let admitted: Vec<(String, f64)> = backend.query(&[
            "ZRANGE",
            &format!("bo:{{{event}}}:q:admissions"),
            "0",
            "-1",
            "WITHSCORES",
        ]);
        assert_eq!(admitted.len(), 1);
        assert_eq!(
            line.last().map(|(u, t)| (u.as_str(), *t)),
            Some(("late", 51.0))
        );
        let turns: BTreeSet<i64> = line[..49].iter().map(|(_, t)| *t as i64).collect();
        // The admitted one had turn 1; the other 49 hold turns 2..=50.
        assert_eq!(turns, (2..=50).collect::<BTreeSet<_>>());
        let order: Vec<String> = line[..49].iter().map(|(u, _)| u.clone()).collect();
        let mut arrival = order.clone();
        arrival.sort();
        assert_ne!(order, arrival, "not arrival order");
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1], "a new order for each event");
}

/// 20 000 buyers join through three real replicas at once: each gets exactly one place,
/// places are 1..=20000 with no gap, the first maxActive places are admitted and nobody else,
/// and the positions people see are the people ahead of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_joiners_over_three_replicas() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &[("RATE_LIMIT_PER_USER", "0")]))
        .collect();
    let event = event_with_room(
        &replicas[0].http,
        json!({ "enabled": true, "maxActive": 100 }),
    )
    .await;
    let joiners = 20_000;
    let replies: Vec<(usize, Reply)> = futures_util::stream::iter(0..joiners)
        .map(|i| {
            let http = replicas[i % 3].http.clone();
            let event = event.clone();
            async move { (i, join(&http, &event, &format!("j{i}")).await) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let places: HashMap<String, String> =
        backend.query(&["HGETALL", &format!("bo:{{{event}}}:q:places")]);
    assert_eq!(places.len(), joiners);
    let numbers: BTreeSet<u64> = places.values().map(|p| p.parse().expect("place")).collect();
    assert_eq!(
        numbers,
        (1..=joiners as u64).collect::<BTreeSet<_>>(),
        "unique, no gap"
    );
    for (i, reply) in &replies {
        assert_eq!(
            places[&format!("j{i}")],
            ticket(reply),
            "the place each was told"
        );
    }
    // Joining again changes nothing.
    for i in (0..joiners).step_by(997) {
        let again = join(&replicas[(i + 1) % 3].http, &event, &format!("j{i}")).await;
        assert_eq!(ticket(&again), places[&format!("j{i}")]);
    }
    // The first 100 places are admitted, nobody else.
    let admitted: Vec<String> =
        backend.query(&["ZRANGE", &format!("bo:{{{event}}}:q:admissions"), "0", "-1"]);
    let admitted_places: BTreeSet<u64> = admitted
        .iter()
        .map(|u| places[u].parse().unwrap())
        .collect();
    assert_eq!(admitted_places, (1..=100).collect::<BTreeSet<_>>());
    // People ahead of place p: p - 101.
    for i in (0..joiners).step_by(1_013) {
        let user = format!("j{i}");
        let place: u64 = places[&user].parse().unwrap();
        let standing = ask(&replicas[i % 3].http, &event, &user, &place.to_string()).await;
        if place > 100 {
            assert_eq!(standing.body["position"], place - 101, "{standing:?}");
        } else {
            assert_eq!(standing.body["status"], "admitted");
        }
    }
    backend.assert_audit_clean();
}

/// The standing as a stream: `waiting`, then, once the admitted buyer has booked, `admitted`
/// with a token, without asking again.
#[tokio::test]
async fn the_standing_streams_until_admitted() {
    let backend = Backend::single();
    let app = TestApp::spawn_with(crate::harness::app::open_settings(backend.settings())).await;
    let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 1 })).await;
    let first = join(&app, &event, "first").await;
    assert_eq!(ticket(&join(&app, &event, "second").await), "2");
    let mut stream = crate::harness::sse::EventStream::open(
        &app.base,
        &format!("/events/{event}/queue/2/stream?user=second"),
        None,
    )
    .await;
    let waiting = stream.next().await.expect("a standing");
    assert_eq!(waiting.event, "standing");
    assert_eq!(waiting.json()["status"], "waiting");
    assert_eq!(waiting.json()["position"], 0);
    book_with(&app, &event, "first", Some(&token(&first)))
        .await
        .assert_status(201);
    let admitted = stream.next().await.expect("the next standing");
    assert_eq!(admitted.json()["status"], "admitted", "{admitted:?}");
    let admission = admitted.json()["admissionToken"]
        .as_str()
        .expect("token")
        .to_owned();
    book_with(&app, &event, "second", Some(&admission))
        .await
        .assert_status(201);
    // A wrong ticket is a JSON error, not a stream.
    app.get(&format!("/events/{event}/queue/9/stream?user=second"))
        .await
        .assert_error(404, "QUEUE_TICKET_NOT_FOUND");
}
