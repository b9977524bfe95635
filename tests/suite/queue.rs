//! Waiting rooms: one place per user, admissions in queue order (or a shuffled order drawn at
//! the start), paced by `admitPerMinute` and capped by `maxActive` across replicas, enforced on
//! bookings, holds and locks with signed admission tokens, turns not taken lapsing; the line
//! spread over queue shards (`QUEUE_SHARDS`) in first-come order, polls answered by replicas.

use crate::both;
use crate::harness::{Backend, Http, Reply, ServerProcess, TestApp, eventually};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Asks until the answer is `status` (and, if given, at `position`); returns that answer.
async fn ask_until(
    app: &Http,
    event: &str,
    user: &str,
    ticket: &str,
    status: &str,
    position: Option<u64>,
) -> Reply {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let reply = ask(app, event, user, ticket).await;
        if reply.body["status"] == status && position.is_none_or(|p| reply.body["position"] == p) {
            return reply;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{user} is not {status} {position:?}: {reply:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
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

/// The place a ticket names: `(shard, seq)`.
fn place(ticket: &str) -> (u16, u64) {
    let mut parts = ticket.split('.');
    let shard = parts.next().and_then(|p| p.parse().ok()).expect("shard");
    let seq = parts.next().and_then(|p| p.parse().ok()).expect("seq");
    (shard, seq)
}

fn token(reply: &Reply) -> String {
    reply.body["admissionToken"]
        .as_str()
        .unwrap_or_else(|| panic!("not admitted: {reply:?}"))
        .to_owned()
}

/// A field of the event's queue state (`served`, `outstanding`, ...).
fn queue_state(backend: &Backend, event: &str, field: &str) -> Option<String> {
    backend.query(&["HGET", &format!("bo:{{{event}}}:q:state"), field])
}

fn admitted_users(backend: &Backend, event: &str) -> BTreeSet<String> {
    let users: Vec<String> =
        backend.query(&["ZRANGE", &format!("bo:{{{event}}}:q:admissions"), "0", "-1"]);
    users.into_iter().collect()
}

both!(
    /// maxActive 2: the first two in line are admitted when they ask; each admission is for its
    /// user and event only, ends with a booking, and its slot goes to the next in line.
    async fn admissions_follow_the_line_and_end_with_a_booking(backend) {
        let app = TestApp::on(backend).await;
        let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 2 })).await;
        let other = event_with_room(&app, json!({ "enabled": true, "maxActive": 2 })).await;
        let mut tickets = Vec::new();
        for user in ["u1", "u2", "u3", "u4", "u5"] {
            tickets.push(ticket(&join(&app, &event, user).await));
        }
        let places: Vec<(u16, u64)> = tickets.iter().map(|t| place(t)).collect();
        assert_eq!(places, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
        // One place per user.
        let again = join(&app, &event, "u3").await;
        assert_eq!(ticket(&again), tickets[2]);
        assert_eq!(again.body["status"], "waiting");
        ask_until(&app, &event, "u3", &tickets[2], "waiting", Some(0)).await;
        ask_until(&app, &event, "u5", &tickets[4], "waiting", Some(2)).await;
        let u1 = ask(&app, &event, "u1", &tickets[0]).await;
        assert_eq!(u1.body["status"], "admitted", "{u1:?}");
        let (t1, t2) = (token(&u1), token(&ask(&app, &event, "u2", &tickets[1]).await));
        // Asking again answers the same admission.
        let u1_again = ask(&app, &event, "u1", &tickets[0]).await;
        assert_eq!(u1_again.body["admittedUntil"], u1.body["admittedUntil"]);

        // Nothing without an admission, or with someone else's, or another event's.
        book_with(&app, &event, "u3", None)
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        book_with(&app, &event, "u3", Some(&t1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        let o1_ticket = ticket(&join(&app, &other, "u1").await);
        let o1 = token(&ask_until(&app, &other, "u1", &o1_ticket, "admitted", None).await);
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
        // The booking used u1's admission, and its place: asking again is `ended`.
        book_with(&app, &event, "u1", Some(&t1))
            .await
            .assert_error(403, "ADMISSION_REQUIRED");
        assert_eq!(ask(&app, &event, "u1", &tickets[0]).await.body["status"], "ended");
        // Its slot went to u3, the next in line.
        ask_until(&app, &event, "u3", &tickets[2], "admitted", None).await;
        ask_until(&app, &event, "u4", &tickets[3], "waiting", Some(0)).await;
        // Confirming the seat u2 locked is a booking too: u2's admission ends, u4 is next.
        app.seat_action(&event, "A1", "confirm", "u2").await.assert_status(201);
        ask_until(&app, &event, "u4", &tickets[3], "admitted", None).await;
        // u1 joins again: a new place, at the back behind u5.
        let back = join(&app, &event, "u1").await;
        assert_eq!(place(&ticket(&back)), (0, 5));
        ask_until(&app, &event, "u1", &ticket(&back), "waiting", Some(1)).await;
        // What the store holds: u3 and u4 admitted, four turns released, u5 and u1 in line.
        assert_eq!(
            admitted_users(backend, &event),
            BTreeSet::from(["u3".to_owned(), "u4".to_owned()])
        );
        assert_eq!(queue_state(backend, &event, "served").as_deref(), Some("4"));
        let taken: HashMap<String, String> =
            backend.query(&["HGETALL", &format!("bo:{{{event}}}:q:taken")]);
        assert_eq!(
            taken,
            HashMap::from([("u1", "0.0"), ("u2", "0.1"), ("u3", "0.2"), ("u4", "0.3")]
                .map(|(u, p)| (u.to_owned(), p.to_owned())))
        );
        // Someone else's ticket, a forged one, and events without a waiting room.
        for forged in [tickets[3].clone(), "0.4.AAAAAAAAAAAAAAAA".into(), "4".into()] {
            app.get(&format!("/events/{event}/queue/{forged}?user=u5"))
                .await
                .assert_error(404, "QUEUE_TICKET_NOT_FOUND");
        }
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
    let late = ticket(&join(&app, &event, "late").await);
    let admitted = ask_until(&app, &event, "late", &late, "admitted", None).await;
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
    assert_eq!(
        ask(&app, &event, "late", &late).await.body["status"],
        "ended"
    );
}

/// admitPerMinute 1200 (one every 50 ms) from salesStartAt, 80 people asking through three
/// replicas: the k-th admission is never before start + k x 50 ms, on Redis's clock, and
/// admissions go to the first in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admissions_are_paced_on_redis_clock() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| {
            ServerProcess::on(
                &backend,
                id,
                &[("RATE_LIMIT_PER_USER", "0"), ("QUEUE_REFRESH_MS", "20")],
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
    let mut tickets = Vec::new();
    for user in &users {
        let joined = join(app, &event, user).await;
        assert_eq!(joined.body["status"], "waiting");
        tickets.push(ticket(&joined));
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
    // Everyone asks, through every replica in turn, until 20 are admitted.
    let mut turn = 0;
    while admitted_users(&backend, &event).len() < 20 {
        let asks = users.iter().zip(&tickets).map(|(user, ticket)| {
            turn += 1;
            let http = replicas[turn % 3].http.clone();
            let event = event.clone();
            async move { ask(&http, &event, user, ticket).await }
        });
        futures_util::future::join_all(asks).await;
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
    // Turns were released in line order, and only released turns were taken.
    let served: usize = queue_state(&backend, &event, "served")
        .and_then(|s| s.parse().ok())
        .expect("served");
    assert!(served < 80, "the pace held people back: {served}");
    let released: BTreeSet<&str> = users[..served].iter().map(String::as_str).collect();
    for (user, _) in &admitted {
        assert!(released.contains(user.as_str()), "{user} of {released:?}");
    }
}

/// A turn not taken within QUEUE_ABANDON_MS of its release lapses: its holder is skipped,
/// the next in line gets the slot, and joining again puts them at the back.
#[tokio::test]
async fn turns_not_taken_lapse() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.queue_abandon_ms = 300;
    let app = TestApp::spawn_with(settings).await;
    let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 1 })).await;
    let a = ticket(&join(&app, &event, "a").await);
    let gone = ticket(&join(&app, &event, "gone").await);
    let c = ticket(&join(&app, &event, "c").await);
    let a_admission = token(&ask_until(&app, &event, "a", &a, "admitted", None).await);
    // a's booking frees the one slot; "gone" never asks, so "c" (who asks) is admitted once
    // gone's turn has lapsed.
    book_with(&app, &event, "a", Some(&a_admission))
        .await
        .assert_status(201);
    ask_until(&app, &event, "c", &c, "admitted", None).await;
    let batches: HashMap<String, String> =
        backend.query(&["HGETALL", &format!("bo:{{{event}}}:q:batches")]);
    assert!(
        !batches.contains_key("1"),
        "gone's turn (1) lapsed and left: {batches:?}"
    );
    let gone_now = ask(&app, &event, "gone", &gone).await;
    assert_eq!(gone_now.body["status"], "ended", "{gone_now:?}");
    assert_eq!(
        admitted_users(&backend, &event),
        BTreeSet::from(["c".to_owned()])
    );
    let back = join(&app, &event, "gone").await;
    assert_eq!(place(&ticket(&back)), (0, 3));
    assert_eq!(back.body["status"], "waiting");
}

/// order "shuffle": everyone who joined before the start is put in a random order then (a
/// permutation of their turns, drawn per event), later arrivals behind them.
#[tokio::test]
async fn the_shuffle_is_a_permutation_drawn_at_the_start() {
    let backend = Backend::single();
    let app = TestApp::on(&backend).await;
    let room = |start: &str| json!({ "enabled": true, "maxActive": 1, "order": "shuffle", "salesStartAt": start });
    let mut orders = Vec::new();
    for _ in 0..2 {
        let event = event_with_room(&app, room("2099-01-01T00:00:00Z")).await;
        let mut tickets = BTreeMap::new();
        for i in 0..50 {
            let user = format!("s{i:02}");
            tickets.insert(user.clone(), ticket(&join(&app, &event, &user).await));
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
        // Asking moves the queue on: the order is drawn and the first turn released.
        eventually("the shuffle is drawn", || async {
            ask(&app, &event, "s00", &tickets["s00"]).await;
            queue_state(&backend, &event, "served").as_deref() == Some("1")
        })
        .await;
        assert_eq!(
            queue_state(&backend, &event, "shuffled").as_deref(),
            Some("50")
        );
        let late = ticket(&join(&app, &event, "late").await);
        ask_until(&app, &event, "late", &late, "waiting", Some(49)).await;
        // Every early joiner's turn: the admitted one's is 0, the others' 1 + position.
        let mut turns = BTreeMap::new();
        for (user, ticket) in &tickets {
            let standing = ask(&app, &event, user, ticket).await;
            let turn = match standing.body["status"].as_str() {
                Some("admitted") => 0,
                _ => 1 + standing.body["position"].as_u64().expect("a position"),
            };
            turns.insert(turn, user.clone());
        }
        assert_eq!(
            turns.keys().copied().collect::<Vec<u64>>(),
            (0..50).collect::<Vec<_>>(),
            "a permutation"
        );
        let order: Vec<String> = turns.into_values().collect();
        let mut arrival = order.clone();
        arrival.sort();
        assert_ne!(order, arrival, "not arrival order");
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1], "a new order for each event");
}

/// 20 000 buyers join through three real replicas at once: each gets exactly one place,
/// places are 0..20000 with no gap, the first maxActive turns are released and nobody
/// else's, and the positions people see are the turns before theirs.
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
    let shard = boxoffice::store::keys::queue_shard_tag(
        &boxoffice::domain::ids::EventId::parse(&event).expect("event id"),
        0,
        1,
    );
    let places: HashMap<String, u64> =
        backend.query(&["HGETALL", &format!("bo:{{{shard}}}:q:places")]);
    assert_eq!(places.len(), joiners);
    let numbers: BTreeSet<u64> = places.values().copied().collect();
    assert_eq!(
        numbers,
        (0..joiners as u64).collect::<BTreeSet<_>>(),
        "unique, no gap"
    );
    for (i, reply) in &replies {
        assert_eq!(
            (0, places[&format!("j{i}")]),
            place(&ticket(reply)),
            "the place each was told"
        );
    }
    // Joining again changes nothing.
    for i in (0..joiners).step_by(997) {
        let again = join(&replicas[(i + 1) % 3].http, &event, &format!("j{i}")).await;
        assert_eq!(place(&ticket(&again)), (0, places[&format!("j{i}")]));
    }
    // Place p waits behind p - 100 others once every place is in a round; the first 100 are
    // admitted when they ask, nobody else.
    let tickets: HashMap<usize, String> = replies.iter().map(|(i, r)| (*i, ticket(r))).collect();
    for i in (0..joiners).step_by(1_013) {
        let user = format!("j{i}");
        let place = places[&user];
        let replica = &replicas[i % 3].http;
        if place >= 100 {
            ask_until(
                replica,
                &event,
                &user,
                &tickets[&i],
                "waiting",
                Some(place - 100),
            )
            .await;
        }
    }
    for (i, reply) in replies
        .iter()
        .filter(|(i, _)| places[&format!("j{i}")] < 100)
    {
        let standing = ask(
            &replicas[i % 3].http,
            &event,
            &format!("j{i}"),
            &ticket(reply),
        )
        .await;
        assert_eq!(standing.body["status"], "admitted", "{standing:?}");
    }
    assert_eq!(
        queue_state(&backend, &event, "served").as_deref(),
        Some("100")
    );
    let admitted: BTreeSet<u64> = admitted_users(&backend, &event)
        .iter()
        .map(|u| places[u])
        .collect();
    assert_eq!(admitted, (0..100).collect::<BTreeSet<_>>());
    backend.assert_audit_clean();
}

both!(
    /// QUEUE_SHARDS=4: joins spread over four slots, two waves of joiners through two replicas;
    /// everyone has one place and one turn, everyone of the first wave (in a round before the
    /// second wave joined) comes before everyone of the second, and admissions never pass
    /// maxActive.
    async fn a_sharded_line_keeps_first_come_first_served(backend) {
        let mut settings = backend.settings();
        settings.queue_shards = 4;
        let apps = [TestApp::spawn_with(settings.clone()).await, TestApp::spawn_with(settings).await];
        let event = event_with_room(&apps[0], json!({ "enabled": true, "maxActive": 10 })).await;
        let event_id = boxoffice::domain::ids::EventId::parse(&event).expect("event id");
        let wave = |from: usize| {
            let (apps, event) = (&apps, &event);
            futures_util::stream::iter(from..from + 200)
                .map(move |i| async move {
                    let user = format!("w{i:03}");
                    (user.clone(), ticket(&join(&apps[i % 2], event, &user).await))
                })
                .buffer_unordered(32)
                .collect::<Vec<(String, String)>>()
        };
        let first = wave(0).await;
        // The first wave is in a round before anyone of the second joins.
        eventually("the first wave is in a round", || async {
            ask(&apps[0], &event, &first[0].0, &first[0].1).await;
            let rounds: Vec<String> =
                backend.query(&["LRANGE", &format!("bo:{{{event}}}:q:rounds"), "0", "-1"]);
            rounds.last().is_some_and(|r| {
                r.split(',').map(|n| n.parse::<u64>().expect("count")).sum::<u64>() == 200
            })
        })
        .await;
        let second = wave(200).await;
        // Places: four shards, each its own slot, numbered 0.. with no gap.
        let mut per_shard: BTreeMap<u16, BTreeSet<u64>> = BTreeMap::new();
        for (_, t) in first.iter().chain(&second) {
            let (shard, seq) = place(t);
            assert!(per_shard.entry(shard).or_default().insert(seq), "one place each");
        }
        assert_eq!(per_shard.len(), 4);
        for (shard, seqs) in &per_shard {
            assert_eq!(*seqs, (0..seqs.len() as u64).collect::<BTreeSet<_>>());
            let tag = boxoffice::store::keys::queue_shard_tag(&event_id, *shard, 4);
            let stored: u64 = backend.query(&["HLEN", &format!("bo:{{{tag}}}:q:places")]);
            assert_eq!(stored, seqs.len() as u64);
        }
        // Joining again changes nothing.
        for (user, t) in first.iter().step_by(37) {
            assert_eq!(&ticket(&join(&apps[1], &event, user).await), t);
        }
        // Every turn once: the admitted ten take turns 0..10, the others wait in 10..400.
        let mut turns: BTreeMap<u64, (usize, String)> = BTreeMap::new();
        for (n, (user, t)) in first.iter().chain(&second).enumerate() {
            let app = &apps[n % 2];
            let mut standing = ask(app, &event, user, t).await;
            // Until every place is in a round, a position is only an estimate.
            while standing.body["status"] == "waiting" {
                let rounds: Vec<String> =
                    backend.query(&["LRANGE", &format!("bo:{{{event}}}:q:rounds"), "-1", "-1"]);
                let stitched: u64 = rounds[0].split(',').map(|c| c.parse::<u64>().expect("count")).sum();
                if stitched == 400 {
                    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
                    standing = ask(app, &event, user, t).await;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                standing = ask(app, &event, user, t).await;
            }
            let turn = match standing.body["status"].as_str() {
                Some("admitted") => turns.len() as u64 + 1_000,
                _ => 10 + standing.body["position"].as_u64().expect("a position"),
            };
            let wave = usize::from(n >= 200);
            assert!(turns.insert(turn, (wave, user.clone())).is_none(), "turn {turn} twice");
        }
        let admitted = admitted_users(backend, &event);
        assert_eq!(admitted.len(), 10, "maxActive: {admitted:?}");
        let waiting: Vec<(u64, usize)> = turns
            .iter()
            .filter(|(turn, _)| **turn < 1_000)
            .map(|(turn, (wave, _))| (*turn, *wave))
            .collect();
        assert_eq!(
            waiting.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            (10..400).collect::<Vec<_>>()
        );
        // The first wave's turns all come before the second wave's.
        let first_of_second = waiting.iter().position(|(_, w)| *w == 1).expect("second wave");
        assert!(waiting[first_of_second..].iter().all(|(_, w)| *w == 1), "{waiting:?}");
        assert_eq!(first_of_second, 190);
        backend.assert_audit_clean();
    }
);

/// The standing as a stream: `waiting`, then, once the admitted buyer has booked, `admitted`
/// with a token, without asking again.
#[tokio::test]
async fn the_standing_streams_until_admitted() {
    let backend = Backend::single();
    let app = TestApp::spawn_with(crate::harness::app::open_settings(backend.settings())).await;
    let event = event_with_room(&app, json!({ "enabled": true, "maxActive": 1 })).await;
    let first = ticket(&join(&app, &event, "first").await);
    let first = ask_until(&app, &event, "first", &first, "admitted", None).await;
    let second = ticket(&join(&app, &event, "second").await);
    let mut stream = crate::harness::sse::EventStream::open(
        &app.base,
        &format!("/events/{event}/queue/{second}/stream?user=second"),
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
    app.get(&format!(
        "/events/{event}/queue/0.9.AAAAAAAAAAAAAAAA/stream?user=second"
    ))
    .await
    .assert_error(404, "QUEUE_TICKET_NOT_FOUND");
}

/// Polls cost Redis nothing: with a refresh period longer than the test, 1000 asks by 10
/// waiting people run no queue script at all (the replica's own counters of script calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_run_no_script() {
    let backend = Backend::single();
    let replica = ServerProcess::on(
        &backend,
        "api-1",
        &[("RATE_LIMIT_PER_USER", "0"), ("QUEUE_REFRESH_MS", "60000")],
    );
    let app = &replica.http;
    let event = event_with_room(app, json!({ "enabled": true, "maxActive": 1 })).await;
    let mut tickets = Vec::new();
    for n in 0..10 {
        let user = format!("p{n}");
        tickets.push((user.clone(), ticket(&join(app, &event, &user).await)));
    }
    let calls = || async {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", replica.metrics_port))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter(|l| {
                l.starts_with("boxoffice_redis_script_duration_seconds_count{script=\"queue_")
            })
            .map(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .expect("a count")
            })
            .sum::<u64>()
    };
    let before = calls().await;
    assert!(
        before >= 11,
        "the joins and the first refresh ran scripts: {before}"
    );
    for _ in 0..100 {
        for (user, ticket) in &tickets {
            let standing = ask(app, &event, user, ticket).await;
            assert_eq!(standing.body["status"], "waiting", "{standing:?}");
        }
    }
    assert_eq!(calls().await, before, "1000 polls ran a queue script");
}
