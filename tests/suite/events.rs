//! `POST /events`, `POST /events/create`, `GET /events`, `GET /events/{id}`.

use crate::both;
use crate::harness::TestApp;
use serde_json::json;

both!(async fn creating_an_event_assigns_ids_and_fills_every_section(redis) {
    let app = TestApp::on(redis).await;

    let reply = app
        .post(
            "/events",
            json!({ "name": "Arctic Monkeys", "sections": [
                { "name": "VIP", "price": 149.99, "capacity": 5 },
                { "name": "Stalls", "price": 60, "seats": ["A1", "A2", "A3"] },
            ]}),
        )
        .await;
    reply.assert_status(201);
    let event = &reply.body;
    let id = event["id"].as_str().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/events/{id}").as_str())
    );
    assert_eq!(event["name"], "Arctic Monkeys");
    assert!(event["createdAt"].as_str().unwrap().ends_with('Z'));
    // Prices go out exactly, with two decimals (parsed from text, as the wire has them).
    let expected: serde_json::Value = serde_json::from_str(
        r#"[
            { "id": "s1", "name": "VIP", "price": 149.99, "seating": "general",
              "capacity": 5, "remaining": 5 },
            { "id": "s2", "name": "Stalls", "price": 60.00, "seating": "reserved",
              "capacity": 3, "remaining": 3, "seats": ["A1", "A2", "A3"] }
        ]"#,
    )
    .unwrap();
    assert_eq!(event["sections"], expected);
    assert!(reply.text.contains(r#""price":60.00"#), "{}", reply.text);

    let fetched = app.get(&format!("/events/{id}")).await;
    fetched.assert_status(200);
    assert_eq!(fetched.body, reply.body);
});

both!(async fn the_seed_route_events_create_does_the_same(redis) {
    let app = TestApp::on(redis).await;
    let reply = app
        .post(
            "/events/create",
            json!({ "name": "Gig", "sections": [{ "name": "GA", "price": 10, "capacity": 100 }] }),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.body["sections"][0]["remaining"], 100);
});

both!(async fn invalid_events_are_refused_with_the_reason(redis) {
    let mut settings = redis.settings();
    settings.demo_seats = 0;
    let app = TestApp::spawn_with(settings).await;
    let section = |extra: serde_json::Value| {
        let mut s = json!({ "name": "A", "price": 10, "capacity": 5 });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        json!({ "name": "E", "sections": [s] })
    };
    let cases = [
        (json!({ "sections": [] }), "name"),
        (
            json!({ "name": "   ", "sections": [{ "name": "A", "price": 1, "capacity": 1 }] }),
            "name",
        ),
        (
            json!({ "name": "x".repeat(201), "sections": [{ "name": "A", "price": 1, "capacity": 1 }] }),
            "name",
        ),
        (json!({ "name": "E", "sections": [] }), "sections"),
        (json!({ "name": "E" }), "sections"),
        (section(json!({ "price": -1 })), "negative"),
        (section(json!({ "price": 10.005 })), "2 decimals"),
        (section(json!({ "price": "ten" })), "price"),
        (section(json!({ "price": 1_000_000.01 })), "at most"),
        (section(json!({ "capacity": 0 })), "capacity"),
        (section(json!({ "capacity": -3 })), "capacity"),
        (section(json!({ "capacity": 2.5 })), "capacity"),
        (section(json!({ "capacity": 1_000_001 })), "capacity"),
        (section(json!({ "capacity": null })), "capacity"),
        (section(json!({ "capacity": null, "seats": [] })), "seats"),
        (
            section(json!({ "capacity": null, "seats": ["A1", "A1"] })),
            "twice",
        ),
        (
            section(json!({ "capacity": 3, "seats": ["A1", "A2"] })),
            "capacity",
        ),
        (
            section(json!({ "capacity": null, "seats": ["A 1"] })),
            "seatId",
        ),
        (
            section(json!({ "capacity": null, "seats": [1, 2] })),
            "seats",
        ),
        (section(json!({ "name": "" })), "name"),
    ];
    for (body, hint) in cases {
        let reply = app.post("/events", body.clone()).await;
        reply.assert_error(400, "INVALID_REQUEST");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(hint),
            "{body} -> {message} (expected {hint:?})"
        );
    }
    let listed = app.get("/events").await;
    assert_eq!(
        listed.body["events"],
        json!([]),
        "no refused event was created"
    );
});

both!(async fn seat_names_must_be_unique_across_the_whole_event(redis) {
    let app = TestApp::on(redis).await;
    let reply = app
        .post(
            "/events",
            json!({ "name": "E", "sections": [
                { "name": "Left", "price": 1, "seats": ["A1", "A2"] },
                { "name": "Right", "price": 1, "seats": ["A2", "A3"] },
            ]}),
        )
        .await;
    reply.assert_error(400, "INVALID_REQUEST");
    assert!(reply.text.contains("A2"), "{}", reply.text);
});

both!(async fn unknown_and_malformed_event_ids(redis) {
    let app = TestApp::on(redis).await;
    app.get("/events/no-such-event")
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    app.get("/events/bad%20id")
        .await
        .assert_error(400, "INVALID_REQUEST");
    let long = "x".repeat(65);
    app.get(&format!("/events/{long}"))
        .await
        .assert_error(400, "INVALID_REQUEST");
});

both!(async fn listing_events_pages_in_creation_order(redis) {
    let mut settings = redis.settings();
    settings.demo_seats = 0;
    let app = TestApp::spawn_with(settings).await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.create_ga_event(10).await);
    }

    let mut seen = Vec::new();
    let mut path = "/events?limit=2".to_owned();
    loop {
        let page = app.get(&path).await;
        page.assert_status(200);
        let events = page.body["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        for event in events {
            assert_eq!(event["sections"][0]["remaining"], 10);
            seen.push(event["id"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created);

    app.get("/events?limit=0")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.get("/events?limit=501")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.get("/events?limit=abc")
        .await
        .assert_error(400, "INVALID_REQUEST");
    app.get("/events?cursor=a:b")
        .await
        .assert_error(400, "INVALID_REQUEST");
});

both!(async fn a_section_given_by_rows_has_their_seats_and_the_map_names_each_row(redis) {
    let app = TestApp::on(redis).await;
    let reply = app
        .post(
            "/events",
            json!({ "name": "Rows", "sections": [
                { "name": "Stalls", "price": 60, "rows": [
                    { "name": "A", "count": 3 }, { "name": "B", "count": 2 },
                ] },
                { "name": "Box", "price": 90, "seats": ["X", "Y"] },
            ]}),
        )
        .await;
    reply.assert_status(201);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let stalls = &reply.body["sections"][0];
    assert_eq!(stalls["seats"], json!(["A1", "A2", "A3", "B1", "B2"]));
    assert_eq!(stalls["capacity"], 5);
    assert_eq!(stalls["remaining"], 5);
    assert_eq!(stalls["rows"], json!([{ "name": "A", "count": 3 }, { "name": "B", "count": 2 }]));
    assert!(reply.body["sections"][1].get("rows").is_none(), "{}", reply.text);

    let map = app.get(&format!("/events/{id}/seats")).await;
    map.assert_status(200);
    let rows: Vec<(String, Option<String>)> = map.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["row"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let expected: Vec<(String, Option<String>)> = [
        ("A1", Some("A")),
        ("A2", Some("A")),
        ("A3", Some("A")),
        ("B1", Some("B")),
        ("B2", Some("B")),
        ("X", None),
        ("Y", None),
    ]
    .into_iter()
    .map(|(s, r)| (s.to_owned(), r.map(str::to_owned)))
    .collect();
    assert_eq!(rows, expected);

    // Rows are seats like any other: booked by name, and the map says so.
    app.seat_action(&id, "B2", "lock", "alice").await.assert_status(200);
    app.seat_action(&id, "B2", "confirm", "alice").await.assert_status(201);
    assert_eq!(app.seat_status(&id, "B2").await["status"], "booked");
    assert_eq!(app.remaining(&id, "s1").await, 4);

    for (rows, expected) in [
        (json!([]), "rows must not be empty"),
        (json!([{ "name": "A", "count": 0 }]), "count must be 1 to 1000"),
        (json!([{ "name": "A:", "count": 1 }]), "row must match"),
        (json!([{ "name": "A", "count": 2 }, { "name": "A", "count": 1 }]), "appears twice"),
    ] {
        let refused = app
            .post(
                "/events",
                json!({ "name": "Bad", "sections": [{ "name": "S", "price": 1, "rows": rows }] }),
            )
            .await;
        refused.assert_error(400, "INVALID_REQUEST");
        assert!(
            refused.body["error"]["message"].as_str().unwrap().contains(expected),
            "{rows}: {}",
            refused.text
        );
    }
    redis.assert_audit_clean();
});

both!(async fn event_and_seat_map_reads_are_conditional_on_their_etag(redis) {
    let mut settings = redis.settings();
    settings.lock_ttl_ms = 1_000;
    settings.hold_ttl_ms = 1_000;
    let app = crate::harness::TestApp::spawn_with(settings).await;
    let created = app
        .post(
            "/events",
            json!({ "name": "Tagged", "sections": [
                { "name": "GA", "price": 10, "capacity": 10 },
                { "name": "Row", "price": 20, "rows": [{ "name": "A", "count": 3 }] },
            ]}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let get = |path: String, tag: Option<String>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = match &tag {
                Some(tag) => vec![("if-none-match", tag.as_str())],
                None => vec![],
            };
            app.send(reqwest::Method::GET, &path, None, &headers).await
        }
    };
    let event_path = format!("/events/{id}");
    let map_path = format!("/events/{id}/seats");
    for path in [&event_path, &map_path] {
        let first = get(path.clone(), None).await;
        first.assert_status(200);
        let tag = first.header("etag").expect("an ETag").to_owned();
        let again = get(path.clone(), Some(tag.clone())).await;
        assert_eq!(again.status, 304, "{path}: {}", again.text);
        assert!(again.text.is_empty());
        assert_eq!(again.header("etag"), Some(tag.as_str()));
        assert_eq!(get(path.clone(), Some("*".into())).await.status, 304);
        assert_eq!(get(path.clone(), Some("\"other\"".into())).await.status, 200);
    }

    // A booking changes both.
    let before = get(event_path.clone(), None).await.header("etag").unwrap().to_owned();
    app.book(&id, "s1", 2, "alice").await.assert_status(201);
    let after = get(event_path.clone(), Some(before.clone())).await;
    after.assert_status(200);
    assert_eq!(after.body["sections"][0]["remaining"], 8);
    assert_ne!(after.header("etag"), Some(before.as_str()));

    // A lock that expires changes the map with no write at all: Redis's clock decides.
    app.seat_action(&id, "A2", "lock", "bob").await.assert_status(200);
    let locked = get(map_path.clone(), None).await;
    assert_eq!(locked.body["seats"][1]["status"], "locked");
    let tag = locked.header("etag").unwrap().to_owned();
    redis.wait_until_gone(&format!("bo:{{{id}}}:lock:A2"));
    let expired = get(map_path.clone(), Some(tag)).await;
    expired.assert_status(200);
    assert_eq!(expired.body["seats"][1]["status"], "available");

    // So does a general admission hold that expires, for the event's remaining.
    let held = app
        .post(&format!("/events/{id}/holds"), json!({ "userId": "carol", "sectionId": "s1", "qty": 3 }))
        .await;
    held.assert_status(201);
    let ends = boxoffice::domain::time::parse_rfc3339_ms(held.body["expiresAt"].as_str().unwrap()).unwrap();
    let during = get(event_path.clone(), None).await;
    assert_eq!(during.body["sections"][0]["remaining"], 5);
    let tag = during.header("etag").unwrap().to_owned();
    crate::harness::wait_until("Redis's clock passes the hold's expiry", || redis.now_ms() > ends);
    let later = get(event_path.clone(), Some(tag)).await;
    later.assert_status(200);
    assert_eq!(later.body["sections"][0]["remaining"], 8);

    get("/events/no-such-event".into(), Some("*".into()))
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    redis.assert_audit_clean();
});
