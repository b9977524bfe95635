//! What one client could do to a replica, each tried as the attack it was and shown closed
//! (the hardening issue): metric labels from the client, sockets held without sending, one
//! buyer holding a whole section, tokens standing for each other, streams without bounds,
//! huge listings, organizers reaching into each other's events, and the small leaks.

use crate::harness::sse::EventStream;
use crate::harness::{
    Http, Nginx, RedisServer, ServerProcess, TEST_SECRET, TestApp, eventually, test_settings, token,
};
use boxoffice::auth::{Claims, Role};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn hs256(claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("token")
}

fn claims(user: &str, role: Role, exp: u64, aud: Option<&str>) -> Claims {
    Claims {
        sub: user.into(),
        exp,
        nbf: None,
        iat: None,
        role: Some(role),
        aud: aud.map(str::to_owned),
        iss: None,
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// An event of 300 general admission tickets (`s1`) with a waiting room of `max_active`.
async fn room_event(http: &Http, max_active: u32) -> String {
    let reply = http
        .post(
            "/events",
            json!({ "name": "On-sale", "waitingRoom": { "enabled": true, "maxActive": max_active },
                    "sections": [{ "name": "Floor", "price": 20, "capacity": 300 }] }),
        )
        .await;
    reply.assert_status(201);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// `user` joins the event's waiting room: their standing.
async fn join(http: &Http, event: &str, user: &str) -> Value {
    let reply = http
        .post(&format!("/events/{event}/queue"), json!({ "userId": user }))
        .await;
    reply.assert_status(200);
    reply.body
}

/// `user` joins the event's waiting room and asks until admitted (the replica releases turns
/// at its next refresh): the admitted standing.
async fn admitted(http: &Http, event: &str, user: &str) -> Value {
    let ticket = join(http, event, user).await["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let standing = http
            .get(&format!("/events/{event}/queue/{ticket}?user={user}"))
            .await;
        standing.assert_status(200);
        if standing.body["status"] == "admitted" {
            return standing.body;
        }
        assert!(std::time::Instant::now() < deadline, "{user}: {standing:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The `boxoffice_http_requests_total` series a replica exports.
async fn request_series(replica: &ServerProcess) -> Vec<String> {
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", replica.metrics_port))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .filter(|l| l.starts_with("boxoffice_http_requests_total{"))
        .map(str::to_owned)
        .collect()
}

/// Random methods and paths (answered 405 and 404) add no series beyond the fixed method
/// list and the `unmatched` route: cardinality is bounded whatever clients send. nginx
/// answers unknown methods itself, in JSON.
#[tokio::test]
async fn methods_and_paths_from_clients_are_not_metric_labels() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let client = reqwest::Client::new();
    for i in 0..300u32 {
        let method = format!("X{}{}", "Q".repeat(200 + (i as usize % 50)), i);
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let reply = client
            .request(
                method,
                format!(
                    "{}/random/{i}/{}",
                    replica.http.base,
                    "p".repeat(i as usize)
                ),
            )
            .send()
            .await
            .expect("sent");
        assert!(reply.status().is_client_error(), "{}", reply.status());
        let body: Value = reply.json().await.expect("a JSON error body");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let series = request_series(&replica).await;
    for line in &series {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a method label");
        assert!(
            [
                "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"
            ]
            .contains(&method),
            "{line}"
        );
        assert!(
            !line.contains("/random/"),
            "a raw path became a label: {line}"
        );
    }
    // Every request above is one series: method other, route unmatched, one status.
    let unmatched: Vec<_> = series.iter().filter(|l| l.contains("unmatched")).collect();
    assert!(unmatched.len() <= 2, "{unmatched:?}");

    let nginx = Nginx::start(&[replica.port]);
    let reply = client
        .request(
            Method::from_bytes(b"BREW").expect("method"),
            format!("{}/events", nginx.url()),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 405);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}

/// Reads until the server closes the connection; how long that took, or `None` if it had not
/// closed it after `within`.
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some((started.elapsed(), received)),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some((started.elapsed(), received)),
        }
    }
    None
}

/// Connections that send nothing, half a request line, a header line now and then, or a body
/// a byte at a time are closed by the replica once HTTP_HEADER_TIMEOUT_MS (or
/// HTTP_BODY_TIMEOUT_MS) passes; an idle keep-alive connection too; past
/// HTTP_MAX_CONNECTIONS new connections get a JSON 503 at once; and once the attack's sockets
/// are closed, everyone is served again.
#[tokio::test]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(
        &redis.url(),
        "api-1",
        &[
            ("HTTP_HEADER_TIMEOUT_MS", "1000"),
            ("HTTP_BODY_TIMEOUT_MS", "1000"),
            ("HTTP_MAX_CONNECTIONS", "40"),
        ],
    );
    let addr = ("127.0.0.1", replica.port);
    let limit = Duration::from_secs(60);

    // Nothing at all; half a request line; a header line every 300 ms.
    let mut silent = TcpStream::connect(addr).expect("connect");
    let mut partial = TcpStream::connect(addr).expect("connect");
    partial.write_all(b"GET /healthz HT").expect("write");
    let mut dripping = TcpStream::connect(addr).expect("connect");
    dripping
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .expect("write");
    let drip = std::thread::spawn(move || {
        for i in 0..20 {
            std::thread::sleep(Duration::from_millis(300));
            if dripping
                .write_all(format!("x-drip-{i}: 1\r\n").as_bytes())
                .is_err()
            {
                return true;
            }
        }
        false
    });
    assert!(
        closed_by_server(&mut silent, limit).is_some(),
        "silent connection kept"
    );
    assert!(
        closed_by_server(&mut partial, limit).is_some(),
        "partial request line kept"
    );
    assert!(
        drip.join().expect("drip thread"),
        "a connection sending a header line every 300 ms was kept for 6 s"
    );

    // An idle keep-alive connection after one answer.
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    let (_, answered) = closed_by_server(&mut idle, limit).expect("idle keep-alive kept");
    assert!(String::from_utf8_lossy(&answered).starts_with("HTTP/1.1 200"));

    // A body that stops arriving: 408 in JSON, then closed.
    let mut body = TcpStream::connect(addr).expect("connect");
    body.write_all(
        format!(
            "POST /events HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
            crate::harness::organizer()
        )
        .as_bytes(),
    )
    .expect("write");
    let (_, answered) = closed_by_server(&mut body, limit).expect("slow body kept");
    let answered = String::from_utf8_lossy(&answered);
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("REQUEST_TIMEOUT"), "{answered}");

    // 60 sockets that send nothing: 40 are held (until the header timeout), the rest are
    // answered 503 OVERLOADED at once.
    let mut held: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let mut refused = 0;
    for stream in held.iter_mut() {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        if let Ok(n) = stream.read(&mut buf)
            && n > 0
        {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(text.starts_with("HTTP/1.1 503"), "{text}");
            assert!(text.contains("OVERLOADED"), "{text}");
            refused += 1;
        }
    }
    assert!(
        refused >= 20,
        "only {refused} of 60 over a cap of 40 were refused"
    );
    for stream in held.iter_mut() {
        assert!(
            closed_by_server(stream, limit).is_some(),
            "a held socket was kept"
        );
    }
    replica.http.get("/healthz").await.assert_status(200);
    let open = std::fs::read_dir(format!("/proc/{}/fd", replica.pid().expect("pid")))
        .expect("fds")
        .count();
    assert!(open < 60, "{open} descriptors open after the attack");
}

/// MAX_TICKETS_HELD_PER_USER (10 by default) bounds what one buyer holds live in an event:
/// general admission holds, hold seats and seat locks together. One buyer no longer empties a
/// section with 30 holds of 10; the store holds exactly what was allowed.
#[tokio::test]
async fn one_buyer_cannot_hold_a_whole_section() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let event = app
        .create_event(json!([
            { "name": "Floor", "price": 10, "capacity": 300 },
            { "name": "Stalls", "price": 20, "seats": ["A1", "A2", "A3", "A4", "A5", "A6"] },
        ]))
        .await;
    let event = event["id"].as_str().expect("id").to_owned();
    let holds = format!("/events/{event}/holds");
    let mut made = 0;
    for _ in 0..30 {
        let reply = app
            .post(
                &holds,
                json!({ "sectionId": "s1", "qty": 10, "userId": "mallory" }),
            )
            .await;
        match reply.status {
            201 => made += 1,
            _ => {
                reply.assert_error(409, "USER_LIMIT_REACHED");
                assert_eq!(reply.body["error"]["limit"], 10);
            }
        }
    }
    assert_eq!(made, 1, "one hold of 10 is all one buyer may hold");
    assert_eq!(app.remaining(&event, "s1").await, 290);
    let key = format!("bo:{{{event}}}:sections");
    let remaining: i64 = redis.query(&["HGET", &key, "s1:remaining"]);
    assert_eq!(remaining, 290, "the store holds what was allowed");

    // Seat locks count with the holds: with 10 held, no seat may be locked.
    let lock = app.seat_action(&event, "A1", "lock", "mallory").await;
    lock.assert_error(409, "USER_LIMIT_REACHED");
    // Another buyer may: 4 locks and a hold of 6 reach 10; an 11th ticket is refused.
    for seat in ["A1", "A2", "A3", "A4"] {
        app.seat_action(&event, seat, "lock", "trent")
            .await
            .assert_status(200);
    }
    app.post(
        &holds,
        json!({ "sectionId": "s1", "qty": 6, "userId": "trent" }),
    )
    .await
    .assert_status(201);
    app.post(&holds, json!({ "seats": ["A5"], "userId": "trent" }))
        .await
        .assert_error(409, "USER_LIMIT_REACHED");
    app.seat_action(&event, "A6", "lock", "trent")
        .await
        .assert_error(409, "USER_LIMIT_REACHED");
}

/// In a waiting room, an admission covers one checkout: the hold made with it uses it (a
/// second hold or a direct booking with the same admission is refused), the holder still
/// counts against maxActive, and confirming the hold ends it.
#[tokio::test]
async fn an_admission_covers_one_checkout() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let event = room_event(&app, 1).await;
    let alice = admitted(&app, &event, "alice").await;
    let bob = join(&app, &event, "bob").await;
    assert_eq!(alice["status"], "admitted");
    assert_eq!(bob["status"], "waiting");
    let admission = alice["admissionToken"]
        .as_str()
        .expect("admission")
        .to_owned();
    let holds = format!("/events/{event}/holds");
    let with = [("admission-token", admission.as_str())];
    let hold = app
        .send(
            Method::POST,
            &holds,
            Some(json!({ "sectionId": "s1", "qty": 2, "userId": "alice" })),
            &with,
        )
        .await;
    hold.assert_status(201);
    app.send(
        Method::POST,
        &holds,
        Some(json!({ "sectionId": "s1", "qty": 2, "userId": "alice" })),
        &with,
    )
    .await
    .assert_error(403, "ADMISSION_REQUIRED");
    app.send(
        Method::POST,
        "/book",
        Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "alice" })),
        &with,
    )
    .await
    .assert_error(403, "ADMISSION_REQUIRED");
    // The holder still fills the one active place: bob waits.
    let ticket = bob["ticket"].as_str().expect("ticket");
    let standing = app
        .get(&format!("/events/{event}/queue/{ticket}?user=bob"))
        .await;
    assert_eq!(standing.body["status"], "waiting", "{standing:?}");
    let checkouts: Vec<String> =
        redis.query(&["ZRANGE", &format!("bo:{{{event}}}:q:checkouts"), "0", "-1"]);
    assert_eq!(checkouts, ["alice"]);
    // Confirming ends the checkout; bob's turn comes.
    let id = hold.body["id"].as_str().expect("hold id");
    app.post(
        &format!("{holds}/{id}/confirm"),
        json!({ "userId": "alice" }),
    )
    .await
    .assert_status(201);
    // (At the replica's next refresh: bob asks until then.)
    let standing = admitted(&app, &event, "bob").await;
    assert_eq!(standing["ticket"], ticket);
    let checkouts: Vec<String> =
        redis.query(&["ZRANGE", &format!("bo:{{{event}}}:q:checkouts"), "0", "-1"]);
    assert!(checkouts.is_empty());
}

/// Identity and admission tokens never stand for each other, whatever is configured (no
/// AUTH_JWT_AUDIENCE and no ADMISSION_SECRET here, the defaults); tokens that never expire,
/// carry an audience nobody configured, or are too long are refused, and no refusal says what
/// the parser made of the token.
#[tokio::test]
async fn tokens_cannot_stand_for_each_other_or_for_ever() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let event = room_event(&app, 10).await;
    let joined = admitted(&app, &event, "alice").await;
    let admission = joined["admissionToken"]
        .as_str()
        .expect("admitted")
        .to_owned();
    let book = |auth: String, admission: Option<String>| {
        let app = app.http.clone();
        let event = event.clone();
        async move {
            let mut headers = vec![("authorization", auth)];
            if let Some(admission) = admission {
                headers.push(("admission-token", admission));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.send(
                Method::POST,
                "/book",
                Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1 })),
                &headers,
            )
            .await
        }
    };
    // The admission token as identity: refused, and it lists nothing.
    let as_identity = format!("Bearer {admission}");
    book(as_identity.clone(), None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
    app.send(
        Method::GET,
        "/bookings",
        None,
        &[("authorization", &as_identity)],
    )
    .await
    .assert_error(401, "UNAUTHENTICATED");
    // An identity token as admission: not admitted.
    let identity = token("alice", Role::Buyer);
    book(format!("Bearer {identity}"), Some(identity.clone()))
        .await
        .assert_error(403, "ADMISSION_REQUIRED");
    // The real pair books.
    book(format!("Bearer {identity}"), Some(admission))
        .await
        .assert_status(201);

    let forever = hs256(&claims(
        "alice",
        Role::Admin,
        10_000_000_000_000_000_000,
        None,
    ));
    let foreign = hs256(&claims(
        "alice",
        Role::Admin,
        now() + 600,
        Some("another-service"),
    ));
    let mut huge = claims("alice", Role::Admin, now() + 600, None);
    huge.iss = Some("x".repeat(9_000));
    let huge = hs256(&huge);
    for (what, token, says) in [
        ("never expires", forever, "longer than this service accepts"),
        ("foreign audience", foreign, "audience"),
        ("9 KB", huge, "too long"),
        ("malformed", "a.b.c".to_owned(), "malformed"),
    ] {
        let reply = app
            .send(
                Method::GET,
                "/bookings",
                None,
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
        reply.assert_error(401, "UNAUTHENTICATED");
        let message = reply.body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{what}: {message}");
        for parser_word in [
            "Base64", "base64", "JSON", "Json", "Error(", "line", "column",
        ] {
            assert!(!message.contains(parser_word), "{what}: {message}");
        }
    }
}

/// Streams are capped per client address (STREAM_MAX_PER_CLIENT) and per replica
/// (STREAM_MAX_PER_REPLICA) with a JSON 429, and one replica's Redis clients stay flat however
/// many events have subscribers (one subscription follows them all), while changes still
/// arrive.
#[tokio::test]
async fn streams_are_bounded_and_redis_clients_stay_flat() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(
        &redis.url(),
        "api-1",
        &[
            ("STREAM_MAX_PER_CLIENT", "60"),
            ("STREAM_MAX_PER_REPLICA", "70"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let http = &replica.http;
    let clients = || -> usize {
        let list: String = redis.query(&["CLIENT", "LIST"]);
        list.lines().count()
    };
    let mut events = Vec::new();
    for _ in 0..51 {
        events.push(http.create_ga_event(100).await);
    }
    let mut streams =
        vec![EventStream::open(&http.base, &format!("/events/{}/stream", events[0]), None).await];
    let ready = streams[0].next().await.expect("ready");
    assert_eq!(ready.event, "ready");
    eventually("the subscription is up", || async {
        let subscribers: Vec<redis::Value> = redis.query(&["PUBSUB", "NUMSUB", "bo:changes"]);
        matches!(subscribers.get(1), Some(redis::Value::Int(1)))
    })
    .await;
    let before = clients();
    for event in &events[1..] {
        let mut stream =
            EventStream::open(&http.base, &format!("/events/{event}/stream"), None).await;
        stream.next().await.expect("ready");
        streams.push(stream);
    }
    assert_eq!(
        clients(),
        before,
        "Redis clients grew with events that have subscribers"
    );
    // Changes still arrive, on the last event as on the first.
    for (i, event) in [(0, &events[0]), (50, &events[50])] {
        http.book(event, "s1", 2, "alice").await.assert_status(201);
        let change = streams[i].next().await.expect("a change");
        assert_eq!(change.event, "change");
        assert_eq!(change.json()["remaining"], 98);
    }
    // 51 streams from 127.0.0.1; 9 more reach its cap of 60; the 61st is refused.
    for _ in 0..9 {
        streams.push(
            EventStream::open(&http.base, &format!("/events/{}/stream", events[1]), None).await,
        );
    }
    let refused = http.get(&format!("/events/{}/stream", events[1])).await;
    refused.assert_error(429, "RATE_LIMITED");
    // Another client (through the trusted proxy) may, up to the replica's cap of 70.
    let mut others = Vec::new();
    for n in 0..10 {
        let reply = reqwest::Client::new()
            .get(format!("{}/events/{}/stream", http.base, events[2]))
            .header("x-forwarded-for", format!("10.0.0.{n}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), 200);
        others.push(reply);
    }
    let over = http
        .send(
            Method::GET,
            &format!("/events/{}/stream", events[2]),
            None,
            &[("x-forwarded-for", "10.0.0.200")],
        )
        .await;
    over.assert_error(429, "RATE_LIMITED");
    drop(others);
}

/// `GET /events` lists summaries, at most 100 a page: 40 events of 10,000 seats list in a few
/// kilobytes, not 26 MB; the seat maps stay whole, compressed when the client accepts it.
#[tokio::test]
async fn listings_are_summaries_and_large_maps_are_compressed() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    // 100 rows of 100: seats AA1..AA100, AB1.., named by their row.
    let rows: Vec<Value> = (0..100u8)
        .map(|r| {
            let name = format!("{}{}", (b'A' + r / 26) as char, (b'A' + r % 26) as char);
            json!({ "name": name, "count": 100 })
        })
        .collect();
    let mut last = String::new();
    for _ in 0..40 {
        let event = app
            .create_event(json!([{ "name": "Hall", "price": 10, "rows": rows }]))
            .await;
        last = event["id"].as_str().expect("id").to_owned();
    }
    let listed = app.get("/events?limit=100").await;
    listed.assert_status(200);
    assert!(listed.text.len() < 40 * 400, "{} bytes", listed.text.len());
    assert!(!listed.text.contains("\"AA1\""), "a seat id is listed");
    let events = listed.body["events"].as_array().expect("events");
    assert!(events.len() >= 40);
    let hall = &events.iter().find(|e| e["id"] == last).expect("listed")["sections"][0];
    assert_eq!(hall["capacity"], 10_000);
    assert_eq!(hall["remaining"], 10_000);
    assert_eq!(hall["seating"], "reserved");
    app.get("/events?limit=101")
        .await
        .assert_error(400, "INVALID_REQUEST");

    let map = reqwest::Client::new()
        .get(format!("{}/events/{last}/seats", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("seat map");
    assert_eq!(map.status(), 200);
    assert_eq!(
        map.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let compressed = map.bytes().await.expect("body").len();
    let plain = app.get(&format!("/events/{last}/seats")).await.text.len();
    assert!(compressed * 4 < plain, "{compressed} compressed of {plain}");
}

/// An event belongs to the organizer who created it (and the organizers they add): another
/// organizer may not switch its waiting room, cancel its buyers' bookings or read them;
/// admins may manage every event.
#[tokio::test]
async fn organizers_manage_only_their_own_events() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let auth = |user: &str, role: Role| format!("Bearer {}", token(user, role));
    let (olga, oscar, admin) = (
        auth("olga", Role::Organizer),
        auth("oscar", Role::Organizer),
        auth("root", Role::Admin),
    );
    let as_ = |who: &str| vec![("authorization", who.to_owned())];
    let send = |method: Method, path: String, body: Option<Value>, who: &str| {
        let app = app.http.clone();
        let headers = as_(who);
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.send(method, &path, body, &headers).await
        }
    };
    let created = send(
        Method::POST,
        "/events".into(),
        Some(json!({ "name": "Olga's", "sections": [{ "name": "Floor", "price": 5, "capacity": 10 }] })),
        &olga,
    )
    .await;
    created.assert_status(201);
    let event = created.body["id"].as_str().expect("id").to_owned();
    let booking = app.book(&event, "s1", 1, "bea").await;
    booking.assert_status(201);
    let booking = booking.body["id"].as_str().expect("id").to_owned();
    let room = json!({ "enabled": false });
    let room_path = format!("/events/{event}/waiting-room");

    send(Method::PUT, room_path.clone(), Some(room.clone()), &oscar)
        .await
        .assert_error(403, "FORBIDDEN");
    send(Method::DELETE, format!("/bookings/{booking}"), None, &oscar)
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    send(Method::GET, format!("/bookings/{booking}"), None, &oscar)
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    let listed = send(
        Method::GET,
        format!("/bookings?eventId={event}"),
        None,
        &oscar,
    )
    .await;
    listed.assert_status(200);
    assert_eq!(listed.body["bookings"], json!([]));
    send(
        Method::GET,
        format!("/events/{event}/organizers"),
        None,
        &oscar,
    )
    .await
    .assert_error(403, "FORBIDDEN");
    let key = boxoffice::store::keys::booking(
        &boxoffice::domain::ids::BookingId::parse(&booking).expect("a booking id"),
    );
    let status: String = redis.query(&["GET", &key]);
    assert!(
        status.contains("\"confirmed\""),
        "nothing changed: {status}"
    );

    // Olga manages it, and adds Oscar; then he may.
    send(Method::PUT, room_path.clone(), Some(room.clone()), &olga)
        .await
        .assert_status(200);
    let added = send(
        Method::PUT,
        format!("/events/{event}/organizers/oscar"),
        None,
        &olga,
    )
    .await;
    added.assert_status(200);
    assert_eq!(added.body["organizers"], json!(["olga", "oscar"]));
    let listed = send(
        Method::GET,
        format!("/bookings?eventId={event}"),
        None,
        &oscar,
    )
    .await;
    assert_eq!(listed.body["bookings"].as_array().map(Vec::len), Some(1));
    // An admin manages every event.
    send(Method::DELETE, format!("/bookings/{booking}"), None, &admin)
        .await
        .assert_status(200);
}

/// The small leaks: X-Forwarded-For is believed from no one by default; an organizer's cancel
/// uses the organizer's own Idempotency-Key namespace; oversized headers, unknown static files
/// and timeouts answer in JSON; a client's request id is kept only when short and plain;
/// `/readyz` never shows the Redis URL.
#[tokio::test]
async fn the_small_leaks_are_closed() {
    let redis = RedisServer::start();
    let mut settings = test_settings(&redis.url());
    settings.rate_limit_per_ip = 2;
    let limited_app = TestApp::spawn_with(settings).await;
    assert!(
        boxoffice::config::Settings::defaults()
            .trusted_proxies
            .is_empty()
    );
    // Writes from 127.0.0.1, each claiming another address: all one client.
    let event = limited_app.create_ga_event(50).await;
    let mut limited = false;
    for n in 0..6 {
        let reply = limited_app
            .send(
                Method::POST,
                "/book",
                Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "u" })),
                &[("x-forwarded-for", &format!("10.9.9.{n}"))],
            )
            .await;
        limited |= reply.status == 429;
    }
    assert!(
        limited,
        "X-Forwarded-For from an untrusted peer was believed"
    );
    limited_app.stop().await;

    let app = TestApp::spawn(&redis).await;

    // The organizer's cancel under the key the buyer used: the buyer's key still replays.
    let key = [("idempotency-key", "k-1")];
    let booked = app
        .send(
            Method::POST,
            "/book",
            Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "bea" })),
            &key,
        )
        .await;
    booked.assert_status(201);
    let id = booked.body["id"].as_str().expect("id").to_owned();
    app.send(
        Method::DELETE,
        &format!("/bookings/{id}"),
        None,
        &[
            ("idempotency-key", "k-1"),
            ("authorization", &crate::harness::organizer()),
        ],
    )
    .await
    .assert_status(200);
    let again = app
        .send(
            Method::POST,
            "/book",
            Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "bea" })),
            &key,
        )
        .await;
    again.assert_status(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let big = "x".repeat(20_000);
    app.send(Method::GET, "/healthz", None, &[("x-padding", &big)])
        .await
        .assert_error(431, "HEADERS_TOO_LARGE");
    app.get("/docs/no-such-file.js")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    let marked = app
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("x-request-id", "<script>alert(1)</script>")],
        )
        .await;
    let id = marked.header("x-request-id").expect("a request id");
    assert!(!id.contains('<') && !id.is_empty(), "{id}");
    let plain = app
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(plain.header("x-request-id"), Some("abc-123"));

    let ready = app.get("/readyz").await;
    ready.assert_status(200);
    assert_eq!(ready.body, json!({ "status": "ok" }));
    let mut redis = redis;
    let port = redis.port().to_string();
    redis.kill();
    let unready = app.get("/readyz").await;
    unready.assert_error(503, "STORE_UNAVAILABLE");
    assert_eq!(unready.body["error"]["status"], "unavailable");
    assert!(!unready.text.contains(&port), "{}", unready.text);
    assert!(!unready.text.contains("redis://"), "{}", unready.text);
}
