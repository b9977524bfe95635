//! `boxoffice audit` must catch every kind of broken invariant; otherwise the "audit clean"
//! at the end of every other test would prove nothing. Each case breaks one invariant by
//! writing to Redis directly and expects the audit to name it and exit 1.

use crate::harness::{RedisServer, TestApp, assert_audit_clean, audit};

/// An event with a GA section (10, 3 sold) and a reserved section (A1..A3, A1 sold).
async fn sold_some(app: &TestApp) -> (String, String) {
    let event = app
        .create_event(serde_json::json!([
            { "name": "GA", "price": 10, "capacity": 10 },
            { "name": "Seats", "price": 20, "seats": ["A1", "A2", "A3"] },
        ]))
        .await;
    let id = event["id"].as_str().unwrap().to_owned();
    let booking = app.book(&id, "s1", 3, "alice").await;
    app.book(&id, "s2", 1, "bob").await.assert_status(201);
    (id, booking.body["id"].as_str().unwrap().to_owned())
}

fn tamper(redis: &RedisServer, command: &[&str]) {
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    let _: redis::Value = cmd.query(&mut redis.connection()).unwrap();
}

#[tokio::test]
async fn a_consistent_store_passes_and_reports_what_it_counted() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    // The demo event is created beside start-up, or by the first demo request: this one.
    app.get("/seats").await.assert_status(200);
    sold_some(&app).await;
    let (code, out) = audit(&redis.url());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 events, 3 sections"), "{out}"); // ours and the demo event
    assert!(out.contains("2 confirmed"), "{out}");
    assert!(out.contains("4 tickets sold"), "{out}");
}

#[tokio::test]
async fn each_broken_invariant_is_reported() {
    // Given the event id and a booking id, the Redis command that breaks one invariant.
    type Breakage = fn(&str, &str) -> Vec<String>;
    let cases: &[(&str, Breakage)] = &[
        ("remaining 8 + held 0 + booked 3 != capacity 10", |e, _| {
            vec![
                "HINCRBY".into(),
                format!("bo:{{{e}}}:sections"),
                "s1:remaining".into(),
                "1".into(),
            ]
        }),
        // A general admission hold of 2 whose quantity was never taken out of remaining.
        ("remaining 7 + held 2 + booked 3 != capacity 10", |e, _| {
            vec![
                "ZADD".into(),
                format!("bo:{{{e}}}:holds"),
                "99999999999999".into(),
                "01a20000-0000-7000-8000-000000000000:s1:2:mallory".into(),
            ]
        }),
        // A2 (position 1) marked held with no lock: best available would never offer it.
        (
            "seat A2: held-seats bit 1 but absent in the lock index",
            |e, _| {
                vec![
                    "SETBIT".into(),
                    format!("bo:{{{e}}}:held-seats"),
                    "1".into(),
                    "1".into(),
                ]
            },
        ),
        ("hold index entry \"garbage\" is malformed", |e, _| {
            vec![
                "ZADD".into(),
                format!("bo:{{{e}}}:holds"),
                "1".into(),
                "garbage".into(),
            ]
        }),
        ("remaining is -1", |e, _| {
            vec![
                "HSET".into(),
                format!("bo:{{{e}}}:sections"),
                "s1:remaining".into(),
                "-1".into(),
            ]
        }),
        (
            "seat A2 is booked but belongs to 0 confirmed bookings",
            // A2 is the seat at position 1.
            |e, _| {
                vec![
                    "SETBIT".into(),
                    format!("bo:{{{e}}}:booked-seats"),
                    "1".into(),
                    "1".into(),
                ]
            },
        ),
        (
            "seat A1 is free but 1 confirmed booking(s) hold it",
            |e, _| {
                // A1, at position 0, was sold to bob.
                vec![
                    "SETBIT".into(),
                    format!("bo:{{{e}}}:booked-seats"),
                    "0".into(),
                    "0".into(),
                ]
            },
        ),
        ("booked seat A1 is locked", |e, _| {
            vec![
                "SET".into(),
                format!("bo:{{{e}}}:lock:A1"),
                "mallory".into(),
                "PX".into(),
                "60000".into(),
            ]
        }),
        ("is indexed but has no document", |_, b| {
            vec![
                "EVAL".into(),
                "return redis.call('DEL', unpack(redis.call('KEYS', ARGV[1])))".into(),
                "0".into(),
                format!("bo:*:booking:{b}"),
            ]
        }),
        (
            "booked-seats bit 7 is set, but no seat has that position",
            |e, _| {
                vec![
                    "SETBIT".into(),
                    format!("bo:{{{e}}}:booked-seats"),
                    "7".into(),
                    "1".into(),
                ]
            },
        ),
        ("seat A3 is not mapped to its position 2", |e, _| {
            vec![
                "HSET".into(),
                format!("bo:{{{e}}}:seat-at"),
                "2".into(),
                "A2".into(),
            ]
        }),
        // A version bumped without its entry in the change stream.
        ("a change was not announced", |e, _| {
            vec!["INCR".into(), format!("bo:{{{e}}}:version")]
        }),
        ("missing from the events index", |e, _| {
            vec!["ZREM".into(), "bo:events".into(), e.to_owned()]
        }),
        (
            "user alice has a booking here, but the event is not in the user's index",
            |e, _| vec!["ZREM".into(), "bo:{u:alice}:events".into(), e.to_owned()],
        ),
        // Tickets (docs/tickets.md): alice's booking of 3 in s1 has tickets <b>.1 to <b>.3.
        (
            "section s1: 1 counted checked in, but 0 check-ins",
            |e, _| {
                vec![
                    "HINCRBY".into(),
                    format!("bo:{{{e}}}:checkin-counts"),
                    "s1".into(),
                    "1".into(),
                ]
            },
        ),
        (
            "section s1: 4 counted sold, but confirmed bookings hold 3 tickets",
            |e, _| {
                vec![
                    "HINCRBY".into(),
                    format!("bo:{{{e}}}:sections"),
                    "s1:sold".into(),
                    "1".into(),
                ]
            },
        ),
        ("is revoked but its booking is confirmed", |e, b| {
            vec![
                "ZADD".into(),
                format!("bo:{{{e}}}:revoked"),
                "1".into(),
                format!("{b}.1"),
            ]
        }),
        ("is checked in but no booking here has it", |e, b| {
            vec![
                "HSET".into(),
                format!("bo:{{{e}}}:checkins"),
                format!("{b}.4"),
                r#"{"scannerId":"d","nonce":"n","at":1}"#.into(),
            ]
        }),
        // A ticket let in after its booking was cancelled (the check-in script refuses it).
        ("after its booking was cancelled at 1 ms", |e, b| {
            vec![
                "EVAL".into(),
                "local key = redis.call('KEYS', ARGV[1])[1] \
                 local booking = cjson.decode(redis.call('GET', key)) \
                 booking.status = 'cancelled' booking.cancelledAt = 1 \
                 redis.call('SET', key, cjson.encode(booking)) \
                 redis.call('HSET', ARGV[2], ARGV[3], '{\"scannerId\":\"d\",\"nonce\":\"n\",\"at\":5}') \
                 return redis.call('HINCRBY', ARGV[4], 's1', 1)"
                    .into(),
                "0".into(),
                format!("bo:*:booking:{b}"),
                format!("bo:{{{e}}}:checkins"),
                format!("{b}.1"),
                format!("bo:{{{e}}}:checkin-counts"),
            ]
        }),
    ];
    for (expected, breakage) in cases {
        let redis = RedisServer::start();
        let app = TestApp::spawn(&redis).await;
        let (event, booking) = sold_some(&app).await;
        assert_audit_clean(&redis.url());
        let command = breakage(&event, &booking);
        tamper(
            &redis,
            &command.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let (code, out) = audit(&redis.url());
        assert_eq!(code, 1, "{expected}: {out}");
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_pass() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill();
    let (code, out) = audit(&url);
    assert_eq!(code, 2, "{out}");
}
