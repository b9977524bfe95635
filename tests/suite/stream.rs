//! Live availability: `GET /events/{eventId}/stream` (Server-Sent Events) carries every change
//! the scripts announce, in order, with consecutive ids; resumes with `Last-Event-ID` or says
//! `reset`; reaches subscribers of every replica, through nginx too; one Redis reader per event
//! per replica feeds any number of subscribers; a slow subscriber is dropped without slowing the
//! others; streams end when the replica drains.

use crate::both;
use crate::harness::sse::{EventStream, SseEvent};
use crate::harness::{Backend, Nginx, PATIENCE, ServerProcess, TestApp, eventually};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reserved row A (4 seats) in `s1`, general admission (capacity `floor`) in `s2`.
async fn venue(app: &crate::harness::Http, floor: u32) -> String {
    let event = app
        .create_event(json!([
            { "name": "Stalls", "price": 50, "rows": [{ "name": "A", "count": 4 }] },
            { "name": "Floor", "price": 20, "capacity": floor },
        ]))
        .await;
    event["id"].as_str().expect("event id").to_owned()
}

fn stream_path(event: &str) -> String {
    format!("/events/{event}/stream")
}

/// The store's own record: the version, and the id of the stream's last entry.
fn stored(backend: &Backend, event: &str) -> (u64, String) {
    let version: Option<u64> = backend.query(&["GET", &format!("bo:{{{event}}}:version")]);
    let last: Vec<(String, Vec<String>)> = backend.query(&[
        "XREVRANGE",
        &format!("bo:{{{event}}}:changes"),
        "+",
        "-",
        "COUNT",
        "1",
    ]);
    (
        version.unwrap_or(0),
        last.first().map(|(id, _)| id.clone()).unwrap_or_default(),
    )
}

fn assert_consecutive(events: &[SseEvent], after: u64) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.event, "change", "{events:?}");
        assert_eq!(event.version(), after + 1 + i as u64, "{events:?}");
        assert_eq!(event.json()["version"], event.version(), "{event:?}");
    }
}

both!(
    /// Every kind of change, in order, as the store recorded it; a second client resumes from
    /// the `Last-Event-ID` it sends and gets exactly what came after.
    async fn changes_arrive_in_order_and_a_client_resumes_after_its_last_id(backend) {
        let app = TestApp::on(backend).await;
        let event = venue(&app, 10).await;
        let mut stream = EventStream::open(&app.base, &stream_path(&event), None).await;
        let ready = stream.next().await.expect("ready");
        assert_eq!(ready.event, "ready");
        let start = ready.version();
        assert_eq!(ready.json(), json!({ "version": start }));

        app.seat_action(&event, "A1", "lock", "ann").await.assert_status(200);
        app.book(&event, "s2", 3, "bob").await.assert_status(201);
        let hold = app
            .post(
                &format!("/events/{event}/holds"),
                json!({ "seats": ["A2", "A3"], "userId": "cy" }),
            )
            .await;
        hold.assert_status(201);
        let hold_id = hold.body["id"].as_str().expect("hold id");
        app.send(
            reqwest::Method::DELETE,
            &format!("/events/{event}/holds/{hold_id}"),
            Some(json!({ "userId": "cy" })),
            &[],
        )
        .await
        .assert_status(200);
        let booking = app.seat_action(&event, "A1", "confirm", "ann").await;
        booking.assert_status(201);
        let booking_id = booking.body["id"].as_str().expect("booking id");
        // Cancelled by an organizer (the harness's default caller).
        app.delete(&format!("/bookings/{booking_id}"))
            .await
            .assert_status(200);

        let changes = stream.take(6).await;
        assert_consecutive(&changes, start);
        let data: Vec<Value> = changes.iter().map(SseEvent::json).collect();
        assert_eq!(data[0]["section"], "s1");
        assert_eq!(data[0]["status"], "locked");
        assert_eq!(data[0]["seats"], json!(["A1"]));
        assert!(data[0]["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{:?}", data[0]);
        assert_eq!(data[1], json!({ "version": start + 2, "section": "s2", "remaining": 7 }));
        assert_eq!(data[2]["status"], "locked");
        assert_eq!(data[2]["seats"], json!(["A2", "A3"]));
        assert_eq!(data[2]["expiresAt"], hold.body["expiresAt"]);
        assert_eq!(
            data[3],
            json!({ "version": start + 4, "section": "s1", "status": "available",
                    "seats": ["A2", "A3"] })
        );
        assert_eq!(
            data[4],
            json!({ "version": start + 5, "section": "s1", "remaining": 3, "status": "booked",
                    "seats": ["A1"] })
        );
        assert_eq!(
            data[5],
            json!({ "version": start + 6, "section": "s1", "remaining": 4,
                    "status": "available", "seats": ["A1"] })
        );
        // What the store holds: one entry per version, the last one the current version.
        let (version, last_id) = stored(backend, &event);
        assert_eq!(version, start + 6);
        assert_eq!(last_id, format!("{version}-0"));

        // A client that saw up to the second change gets the third on.
        let mut resumed =
            EventStream::open(&app.base, &stream_path(&event), Some(changes[1].version())).await;
        let again = resumed.take(4).await;
        assert_eq!(
            again.iter().map(SseEvent::json).collect::<Vec<_>>(),
            data[2..].to_vec()
        );
        // And one that saw everything gets the next change, nothing else first.
        let mut current =
            EventStream::open(&app.base, &stream_path(&event), Some(version)).await;
        app.book(&event, "s2", 1, "dan").await.assert_status(201);
        let next = current.next().await.expect("the next change");
        assert_eq!(next.version(), version + 1);
        assert_eq!(next.json()["remaining"], 6);
    }
);

/// A client whose `Last-Event-ID` is older than what the stream still keeps (or from another
/// life of the event) is told to reload, with the version to go on from.
#[tokio::test]
async fn a_client_behind_the_kept_changes_is_told_to_reset() {
    let backend = Backend::single();
    let app = TestApp::on(&backend).await;
    let event = venue(&app, 10).await;
    for user in ["a", "b", "c"] {
        app.book(&event, "s2", 1, user).await.assert_status(201);
    }
    // What MAXLEN trimming does to a long stream: the oldest entries go.
    let key = format!("bo:{{{event}}}:changes");
    let trimmed: u64 = backend.query(&["XTRIM", &key, "MINID", "3-0"]);
    assert_eq!(trimmed, 2);

    for after in [0, 1] {
        let mut stream = EventStream::open(&app.base, &stream_path(&event), Some(after)).await;
        let reset = stream.next().await.expect("reset");
        assert_eq!(reset.event, "reset", "after {after}: {reset:?}");
        assert_eq!(reset.version(), 3 + after);
        assert_eq!(reset.json(), json!({ "version": 3 + after }));
        // Then the stream goes on from there.
        app.book(&event, "s2", 1, &format!("next{after}"))
            .await
            .assert_status(201);
        let next = stream.next().await.expect("next change");
        assert_eq!(next.version(), 4 + after);
    }
    // Still kept: no reset.
    let mut stream = EventStream::open(&app.base, &stream_path(&event), Some(2)).await;
    let events = stream.take(3).await;
    assert_consecutive(&events, 2);
    // From the future (Redis lost the event's history, or another event's id).
    let mut stream = EventStream::open(&app.base, &stream_path(&event), Some(99)).await;
    let reset = stream.next().await.expect("reset");
    assert_eq!((reset.event.as_str(), reset.version()), ("reset", 5));

    // Bad requests are JSON errors.
    app.get("/events/no-such-event/stream")
        .await
        .assert_error(404, "EVENT_NOT_FOUND");
    app.send(
        reqwest::Method::GET,
        &stream_path(&event),
        None,
        &[("last-event-id", "yesterday")],
    )
    .await
    .assert_error(400, "INVALID_REQUEST");
}

both!(
    /// Two real replicas behind the project's nginx: streams opened through nginx (on both
    /// replicas) and directly on each see a change made through either replica.
    async fn a_change_through_one_replica_reaches_subscribers_of_every_replica(backend) {
        let one = ServerProcess::on(backend, "api-1", &[]);
        let two = ServerProcess::on(backend, "api-2", &[]);
        let nginx = Nginx::start(&[one.port, two.port]);
        let event = venue(&one.http, 10).await;
        let path = stream_path(&event);
        let mut streams = vec![
            EventStream::open(&one.http.base, &path, None).await,
            EventStream::open(&two.http.base, &path, None).await,
        ];
        let mut through_nginx = Vec::new();
        while through_nginx.len() < 4 {
            through_nginx.push(EventStream::open(&nginx.http.base, &path, None).await);
        }
        let instances: std::collections::BTreeSet<_> =
            through_nginx.iter().map(|s| s.instance.clone()).collect();
        assert_eq!(instances.len(), 2, "nginx spreads streams over both: {instances:?}");
        streams.extend(through_nginx);
        for stream in &mut streams {
            assert_eq!(stream.next().await.expect("ready").event, "ready");
        }

        one.http.seat_action(&event, "A2", "lock", "ann").await.assert_status(200);
        two.http.book(&event, "s2", 2, "bob").await.assert_status(201);
        for stream in &mut streams {
            let seen = stream.take(2).await;
            assert_eq!(seen[0].json()["seats"], json!(["A2"]), "{}", stream.instance);
            assert_eq!(seen[1].json()["remaining"], 8, "{}", stream.instance);
        }
    }
);

/// Redis's clients blocked in XREAD: the readers of change streams.
/// Redis clients subscribed to the change notices, and Redis clients in all.
fn subscriptions_and_clients(backend: &Backend) -> (usize, usize) {
    let clients: String = backend.query(&["CLIENT", "LIST"]);
    let subscribed = clients
        .lines()
        .filter(|line| line.contains("cmd=subscribe"))
        .count();
    (subscribed, clients.lines().count())
}

/// 1000 subscribers of one event on one replica: one subscription to the change notices feeds
/// them all, each gets every change, and the replica's Redis clients are as many as before
/// the first subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_subscribers_share_one_redis_subscription() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.stream_max_per_client = 2000;
    let app = TestApp::spawn_with(settings).await;
    let event = venue(&app, 1000).await;
    let path = stream_path(&event);
    let mut streams = vec![EventStream::open(&app.base, &path, None).await];
    assert_eq!(streams[0].next().await.expect("ready").event, "ready");
    eventually("one subscription to the change notices", || async {
        subscriptions_and_clients(&backend).0 == 1
    })
    .await;
    let (_, clients) = subscriptions_and_clients(&backend);
    for _ in 1..1000 {
        streams.push(EventStream::open(&app.base, &path, None).await);
    }
    for stream in &mut streams[1..] {
        assert_eq!(stream.next().await.expect("ready").event, "ready");
    }
    for user in ["a", "b", "c"] {
        app.book(&event, "s2", 1, user).await.assert_status(201);
    }
    let received = futures_util::future::join_all(streams.iter_mut().map(|s| s.take(3))).await;
    for events in &received {
        assert_consecutive(events, 0);
        assert_eq!(events[2].json()["remaining"], 997);
    }
    assert_eq!(
        subscriptions_and_clients(&backend),
        (1, clients),
        "still one subscription, and no more Redis clients, for 1000 subscribers"
    );
}

/// A subscriber that stops reading falls behind by more than STREAM_BUFFER changes and is
/// dropped; another subscriber gets every change meanwhile, and the slow one, reconnecting
/// with its last id, resumes where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_subscriber_is_dropped_and_never_holds_up_the_others() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.stream_buffer = 16;
    // The kernel's buffers are part of what a stalled subscriber absorbs: capped, so that a
    // few thousand changes overrun them (left to the OS they grow to megabytes).
    settings.socket_send_buffer_bytes = 32 * 1024;
    let app = TestApp::spawn_with(settings).await;
    let changes = 3000;
    let event = venue(&app, changes).await;

    // The slow one: a socket with a small receive buffer that reads the head and the first
    // event, then nothing.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut slow = socket.connect(app.addr).await.expect("connect");
    slow.write_all(
        format!(
            "GET {} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
            stream_path(&event)
        )
        .as_bytes(),
    )
    .await
    .expect("request");
    let mut head = Vec::new();
    while !String::from_utf8_lossy(&head).contains("event: ready") {
        let mut byte = [0u8; 256];
        let n = slow.read(&mut byte).await.expect("read");
        assert!(
            n > 0,
            "stream ended early: {}",
            String::from_utf8_lossy(&head)
        );
        head.extend_from_slice(&byte[..n]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"));

    let mut fast = EventStream::open(&app.base, &stream_path(&event), None).await;
    let start = fast.next().await.expect("ready").version();
    let writers = (0..8).map(|w| {
        let http = app.http.clone();
        let event = event.clone();
        tokio::spawn(async move {
            for i in 0..changes / 8 {
                http.book(&event, "s2", 1, &format!("u{w}x{i}"))
                    .await
                    .assert_status(201);
            }
        })
    });
    // The fast one reads every change while the slow one reads nothing.
    let reading = tokio::spawn(async move {
        let events = fast.take(changes as usize).await;
        assert_consecutive(&events, start);
    });
    for writer in writers {
        writer.await.expect("writer");
    }
    reading
        .await
        .expect("the fast subscriber got every change, in order");

    // The slow one now reads what was buffered for it: its stream ended early.
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest))
        .await
        .expect("the dropped stream ends")
        .expect("read");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&head),
        String::from_utf8_lossy(&rest)
    );
    let last_id: u64 = text
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .filter_map(|id| id.parse().ok())
        .max()
        .expect("ids");
    assert!(
        last_id < start + u64::from(changes),
        "dropped before the end: last id {last_id}"
    );
    // Reconnecting with its last id, it gets everything it missed.
    let mut back = EventStream::open(&app.base, &stream_path(&event), Some(last_id)).await;
    let missed = (start + u64::from(changes) - last_id) as usize;
    let events = back.take(missed).await;
    assert_consecutive(&events, last_id);
}

/// A stream ends after `STREAM_MAX_LIFETIME_MS`; the client that reconnects with its
/// `Last-Event-ID` gets what happened while it was away, and nothing twice.
#[tokio::test]
async fn a_stream_ends_after_its_lifetime_and_the_reconnect_misses_nothing() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.stream_max_lifetime_ms = 300;
    let app = TestApp::spawn_with(settings).await;
    let event = venue(&app, 10).await;
    let mut stream = EventStream::open(&app.base, &stream_path(&event), None).await;
    let ready = stream.next().await.expect("ready");
    assert_eq!(ready.event, "ready");
    // Nothing happens to the event: the stream ends by itself.
    assert!(stream.next().await.is_none(), "the stream ended");

    app.book(&event, "s2", 2, "bob").await.assert_status(201);
    let mut resumed =
        EventStream::open(&app.base, &stream_path(&event), Some(ready.version())).await;
    let missed = resumed.next().await.expect("the change made while away");
    assert_eq!(missed.event, "change");
    assert_eq!(missed.version(), ready.version() + 1);
    assert_eq!(missed.json()["remaining"], 8);
    let (version, _) = stored(&backend, &event);
    assert_eq!(version, missed.version());
}

/// Open streams end when the replica starts draining: they never hold up a shutdown (the
/// grace period here is an hour, so only ending streams let it finish).
#[tokio::test]
async fn streams_end_when_the_replica_drains() {
    let backend = Backend::single();
    let mut settings = backend.settings();
    settings.shutdown_drain_ms = 100;
    settings.shutdown_grace_ms = 3_600_000;
    let app = TestApp::spawn_with(settings).await;
    let event = venue(&app, 10).await;
    let base = app.base.clone();
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut stream = EventStream::open(&base, &stream_path(&event), None).await;
        assert_eq!(stream.next().await.expect("ready").event, "ready");
        streams.push(stream);
    }
    tokio::time::timeout(PATIENCE, app.stop())
        .await
        .expect("shutdown finished with streams open");
    for stream in &mut streams {
        assert!(stream.next().await.is_none(), "the stream ended");
    }
    // Nothing answers any more.
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_err()
    );
}
