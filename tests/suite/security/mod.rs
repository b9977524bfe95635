//! Who may do what, in jwt mode (the default), against real processes: every route that needs
//! a user, attacked with no token, an expired one, one not valid yet, a bad signature,
//! `alg: none`, a malformed one, another user's, a buyer's where an organizer is needed; each
//! answer checked (status, code, `WWW-Authenticate`), and no refused request changes a single
//! inventory key. Then algorithm confusion, ownership, per-user limits under concurrency
//! across replicas, and rate limits shared by replicas.

mod attacks;

use crate::fuzz::inventory_digest;
use crate::harness::{
    Backend, RedisServer, Reply, ServerProcess, TEST_SECRET, TestApp, bearer, organizer,
    test_settings, token,
};
use boxoffice::auth::{Claims, Role};
use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Instant;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(user: &str, role: Role, exp: u64) -> Claims {
    Claims {
        sub: user.to_owned(),
        exp,
        nbf: None,
        iat: Some(now()),
        role: Some(role),
        aud: None,
        iss: None,
    }
}

fn hs256(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("token")
}

/// `alg: none`: a header, the claims, no signature.
fn unsigned(claims: &Claims) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64.encode(serde_json::to_vec(claims).expect("claims"));
    format!("{header}.{body}.")
}

/// The attacks, as `Authorization` values (None: no header).
fn attacks(user: &str) -> Vec<(&'static str, Option<String>)> {
    let mut not_yet = claims(user, Role::Admin, now() + 7200);
    not_yet.nbf = Some(now() + 3600);
    vec![
        ("no token", None),
        ("malformed", Some("Bearer not.a.token".into())),
        (
            "another scheme",
            Some(format!("Basic {}", token(user, Role::Admin))),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                hs256(
                    TEST_SECRET.as_bytes(),
                    &claims(user, Role::Admin, now() - 3600)
                )
            )),
        ),
        (
            "not valid yet",
            Some(format!(
                "Bearer {}",
                hs256(TEST_SECRET.as_bytes(), &not_yet)
            )),
        ),
        (
            "wrong signature",
            Some(format!(
                "Bearer {}",
                hs256(
                    b"another-secret-that-is-long-enough-0123456",
                    &claims(user, Role::Admin, now() + 3600)
                )
            )),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                unsigned(&claims(user, Role::Admin, now() + 3600))
            )),
        ),
    ]
}

/// Every route that acts for a user, on real ids: (method, path, body).
fn user_routes(
    event: &str,
    seated: &str,
    booking: &str,
    hold: &str,
) -> Vec<(Method, String, Option<Value>)> {
    let alice = Some(json!({ "userId": "alice" }));
    let hold_path = format!("/events/{event}/holds/{hold}");
    vec![
        (
            Method::POST,
            format!("/events/{seated}/holds"),
            Some(json!({ "userId": "alice", "seats": ["A2"] })),
        ),
        (Method::GET, format!("{hold_path}?user=alice"), None),
        (Method::POST, format!("{hold_path}/extend"), alice.clone()),
        (Method::POST, format!("{hold_path}/confirm"), alice.clone()),
        (Method::DELETE, hold_path.clone(), alice.clone()),
        (
            Method::POST,
            "/events".into(),
            Some(json!({ "name": "x", "sections": [{ "name": "a", "price": 1, "capacity": 1 }] })),
        ),
        (
            Method::POST,
            "/events/create".into(),
            Some(json!({ "name": "x", "sections": [{ "name": "a", "price": 1, "capacity": 1 }] })),
        ),
        (
            Method::POST,
            "/book".into(),
            Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "alice" })),
        ),
        (
            Method::POST,
            "/bookings".into(),
            Some(json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": "alice" })),
        ),
        (Method::GET, "/bookings?userId=alice".into(), None),
        (Method::GET, format!("/bookings/{booking}"), None),
        (Method::DELETE, format!("/bookings/{booking}"), None),
        (
            Method::POST,
            format!("/events/{seated}/seats/A2/lock"),
            alice.clone(),
        ),
        (
            Method::POST,
            format!("/events/{seated}/seats/A1/confirm"),
            alice.clone(),
        ),
        (
            Method::POST,
            format!("/events/{seated}/seats/A1/unlock"),
            alice.clone(),
        ),
        (
            Method::POST,
            "/lock".into(),
            Some(json!({ "seatId": 2, "userId": "alice" })),
        ),
        (Method::POST, "/lock/2?user=alice".into(), None),
        (
            Method::POST,
            "/confirm".into(),
            Some(json!({ "seatId": 1, "userId": "alice" })),
        ),
        (Method::POST, "/confirm/1?user=alice".into(), None),
        (
            Method::POST,
            "/unlock".into(),
            Some(json!({ "seatId": 1, "userId": "alice" })),
        ),
        (Method::POST, "/unlock/1?user=alice".into(), None),
        (
            Method::POST,
            "/release".into(),
            Some(json!({ "seatId": 1, "userId": "alice" })),
        ),
        (Method::POST, "/release/1?user=alice".into(), None),
    ]
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<Value>,
    auth: Option<&str>,
) -> Reply {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
    app.http
        .anonymous()
        .send(method.clone(), path, body, &headers)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_refuses_every_bad_token_and_changes_nothing() {
    let redis = RedisServer::start_with(&["--enable-debug-command", "local"]);
    let app = TestApp::spawn(&redis).await;
    let event = app.create_ga_event(10).await;
    let seated = app.create_seated_event(&["A1", "A2"]).await;
    let booking = app.book(&event, "s1", 1, "alice").await;
    booking.assert_status(201);
    let booking = booking.body["id"].as_str().unwrap().to_owned();
    app.seat_action(&seated, "A1", "lock", "alice")
        .await
        .assert_status(200);
    app.get("/seats").await.assert_status(200);
    app.send(Method::POST, "/lock/1?user=alice", None, &[])
        .await
        .assert_status(200);
    let hold = app
        .post(
            &format!("/events/{event}/holds"),
            json!({ "userId": "alice", "sectionId": "s1", "qty": 1 }),
        )
        .await;
    hold.assert_status(201);
    let hold = hold.body["id"].as_str().unwrap().to_owned();
    let before = inventory_digest(&mut redis.connection());

    let mut tried = 0;
    for (method, path, body) in user_routes(&event, &seated, &booking, &hold) {
        for (attack, auth) in attacks("alice") {
            let reply = send(&app, &method, &path, body.clone(), auth.as_deref()).await;
            reply.assert_error(401, "UNAUTHENTICATED");
            let challenge = reply.header("www-authenticate").unwrap_or("");
            assert!(
                challenge.starts_with("Bearer"),
                "{method} {path} ({attack}): {challenge:?}"
            );
            tried += 1;
        }
        // Another user's token, naming alice: forbidden to act as her; her booking does not
        // exist for bob.
        let bob = bearer("bob");
        let reply = send(&app, &method, &path, body.clone(), Some(&bob)).await;
        let expected = match (&method, path.as_str()) {
            (&Method::GET, p) | (&Method::DELETE, p) if p.starts_with("/bookings/") => {
                (404, "BOOKING_NOT_FOUND")
            }
            (_, "/events" | "/events/create") => (403, "FORBIDDEN"), // a buyer's token
            _ => (403, "FORBIDDEN"),
        };
        reply.assert_error(expected.0, expected.1);
        tried += 1;
    }
    eprintln!("{tried} refused requests, each with its status and code");
    assert_eq!(
        inventory_digest(&mut redis.connection()),
        before,
        "a refused request changed inventory"
    );
    redis_assert_clean(&redis);
}

fn redis_assert_clean(redis: &RedisServer) {
    crate::harness::assert_audit_clean(&redis.url());
}

/// With only an identity provider's public key, tokens must be signed with that key's
/// algorithm: an HS256 token signed with the public key's own bytes (algorithm confusion) is
/// refused, as is any HS256 token.
#[tokio::test]
async fn a_public_key_accepts_only_its_own_algorithm() {
    let dir = tempfile::tempdir().expect("dir");
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        private.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);

    let redis = RedisServer::start();
    let mut settings = test_settings(&redis.url());
    settings.auth.secret = None;
    settings.auth.public_key_file = Some(public.clone());
    let app = TestApp::spawn_with(settings).await;

    let organizer_claims = claims("org", Role::Organizer, now() + 3600);
    let eddsa = |claims: &Claims| {
        let key = EncodingKey::from_ed_pem(&std::fs::read(&private).unwrap()).expect("ed key");
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).expect("token")
    };
    let create = json!({ "name": "x", "sections": [{ "name": "a", "price": 1, "capacity": 1 }] });
    let ok = send(
        &app,
        &Method::POST,
        "/events",
        Some(create.clone()),
        Some(&format!("Bearer {}", eddsa(&organizer_claims))),
    )
    .await;
    ok.assert_status(201);

    let public_bytes = std::fs::read(&public).unwrap();
    for (attack, token) in [
        (
            "HS256 signed with the public key's bytes",
            hs256(&public_bytes, &organizer_claims),
        ),
        (
            "HS256 with the test secret",
            hs256(TEST_SECRET.as_bytes(), &organizer_claims),
        ),
    ] {
        let reply = send(
            &app,
            &Method::POST,
            "/events",
            Some(create.clone()),
            Some(&format!("Bearer {token}")),
        )
        .await;
        reply.assert_error(401, "UNAUTHENTICATED");
        eprintln!("{attack}: 401 {}", reply.body["error"]["message"]);
    }
}

/// A buyer reads and cancels their own bookings only; organizers anyone's; nobody acts as
/// somebody else.
#[tokio::test]
async fn bookings_belong_to_their_user() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let event = app.create_ga_event(10).await;
    let alices = app.book(&event, "s1", 2, "alice").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.book(&event, "s1", 1, "bob").await.assert_status(201);
    let as_bob = |method: Method, path: String| {
        let app = &app;
        async move { send(app, &method, &path, None, Some(&bearer("bob"))).await }
    };
    as_bob(Method::GET, format!("/bookings/{alices}"))
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    as_bob(Method::DELETE, format!("/bookings/{alices}"))
        .await
        .assert_error(404, "BOOKING_NOT_FOUND");
    as_bob(Method::GET, "/bookings?userId=alice".into())
        .await
        .assert_error(403, "FORBIDDEN");
    let own = as_bob(Method::GET, "/bookings".into()).await;
    own.assert_status(200);
    let users: Vec<&str> = own.body["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["bob"], "a buyer lists their own bookings only");
    // Alice and an organizer may.
    send(
        &app,
        &Method::GET,
        &format!("/bookings/{alices}"),
        None,
        Some(&bearer("alice")),
    )
    .await
    .assert_status(200);
    let all = send(
        &app,
        &Method::GET,
        &format!("/bookings?eventId={event}"),
        None,
        Some(&organizer()),
    )
    .await;
    assert_eq!(all.body["bookings"].as_array().unwrap().len(), 2);
    send(
        &app,
        &Method::DELETE,
        &format!("/bookings/{alices}"),
        None,
        Some(&organizer()),
    )
    .await
    .assert_status(200);
    // Events are created by organizers only; reads are public.
    let create = json!({ "name": "x", "sections": [{ "name": "a", "price": 1, "capacity": 1 }] });
    send(
        &app,
        &Method::POST,
        "/events",
        Some(create),
        Some(&bearer("bob")),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    for path in ["/healthz", "/readyz", "/events", "/seats", "/openapi.json"] {
        send(&app, &Method::GET, path, None, None)
            .await
            .assert_status(200);
    }
    send(&app, &Method::GET, &format!("/events/{event}"), None, None)
        .await
        .assert_status(200);
    crate::harness::assert_audit_clean(&redis.url());
}

/// maxPerUser holds under 50 concurrent attempts by one user through three replicas, counts
/// held seats, and comes back with a cancel; MAX_LOCKS_PER_USER caps live locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_user_limits_hold_under_concurrency_across_replicas() {
    let backend = Backend::single();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &[("MAX_LOCKS_PER_USER", "3")]))
        .collect();
    let created = replicas[0]
        .post(
            "/events",
            json!({ "name": "limited", "maxPerUser": 4, "sections": [
                { "name": "GA", "price": 10, "capacity": 1000 },
                { "name": "Seats", "price": 20, "seats": ["A1", "A2", "A3", "A4", "A5", "A6"], "maxPerUser": 2 },
            ] }),
        )
        .await;
    created.assert_status(201);
    let event = created.body["id"].as_str().unwrap().to_owned();
    let attempts = join_all((0..50).map(|i| {
        let replica = &replicas[i % 3];
        let event = &event;
        async move { replica.book(event, "s1", 1, "scalper").await }
    }))
    .await;
    let booked = attempts.iter().filter(|r| r.status == 201).count();
    assert_eq!(booked, 4, "maxPerUser 4 of 50 attempts");
    for refused in attempts.iter().filter(|r| r.status != 201) {
        refused.assert_error(409, "USER_LIMIT_REACHED");
        assert_eq!(refused.body["error"]["limit"], 4);
    }
    // The section limit counts held seats: two locks, then no third seat in that section.
    let bob = &replicas[1];
    bob.seat_action(&event, "A1", "lock", "bob")
        .await
        .assert_status(200);
    bob.seat_action(&event, "A2", "lock", "bob")
        .await
        .assert_status(200);
    let third = bob.seat_action(&event, "A3", "lock", "bob").await;
    third.assert_error(409, "USER_LIMIT_REACHED");
    assert_eq!(third.body["error"]["current"], 2);
    // A cancel gives the allowance back.
    let mine: Vec<String> = attempts
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    replicas[2]
        .delete(&format!("/bookings/{}", mine[0]))
        .await
        .assert_status(200);
    replicas[2]
        .book(&event, "s1", 1, "scalper")
        .await
        .assert_status(201);
    replicas[2]
        .book(&event, "s1", 1, "scalper")
        .await
        .assert_error(409, "USER_LIMIT_REACHED");
    // MAX_LOCKS_PER_USER=3: a fourth live lock in an event is refused.
    let seats: Vec<String> = (1..=5).map(|n| format!("B{n}")).collect();
    let open = replicas[0]
        .create_seated_event(&seats.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    for seat in &seats[..3] {
        replicas[0]
            .seat_action(&open, seat, "lock", "carol")
            .await
            .assert_status(200);
    }
    let fourth = replicas[1]
        .seat_action(&open, &seats[3], "lock", "carol")
        .await;
    fourth.assert_error(409, "USER_LIMIT_REACHED");
    assert_eq!(fourth.body["error"]["limit"], 3);
    backend.assert_audit_clean();
}

/// RATE_LIMIT_PER_USER is one limit for all replicas: two replicas do not allow twice as much.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_are_shared_by_all_replicas() {
    let backend = Backend::single();
    let limited = [("RATE_LIMIT_PER_USER", "5")];
    let replicas = [
        ServerProcess::on(&backend, "api-1", &limited),
        ServerProcess::on(&backend, "api-2", &limited),
    ];
    let seats: Vec<String> = (1..=60).map(|n| format!("R{n}")).collect();
    let event = replicas[0]
        .create_seated_event(&seats.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let started = Instant::now();
    let replies = join_all((0..60).map(|i| {
        let replica = &replicas[i % 2];
        let (event, seat) = (&event, &seats[i]);
        async move {
            // Unlocks of seats nobody holds: refused with 409 when allowed through, so the
            // test counts writes, not locks (MAX_LOCKS_PER_USER stays out of it).
            replica.seat_action(event, seat, "unlock", "dave").await
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let passed = replies.iter().filter(|r| r.status != 429).count();
    for limited in replies.iter().filter(|r| r.status == 429) {
        limited.assert_error(429, "RATE_LIMITED");
        assert!(limited.header("retry-after").is_some());
    }
    // A burst of 5, then 5 a second: whatever the replica that answered.
    let allowed = 5 + (5.0 * elapsed.as_secs_f64()).ceil() as usize;
    eprintln!(
        "rate limit 5/s over 2 replicas: {passed} of 60 passed in {elapsed:?} (at most {allowed})"
    );
    assert!(passed >= 5, "the burst passes: {passed}");
    assert!(
        passed <= allowed,
        "{passed} passed, at most {allowed} allowed"
    );
}

/// RATE_LIMIT_PER_IP: behind a trusted proxy (127.0.0.1 is one by default) a write counts
/// against the address the proxy forwarded, in one bucket for all replicas; a client that is
/// not a trusted proxy cannot choose its address with X-Forwarded-For.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn address_rate_limits_believe_only_trusted_proxies() {
    let backend = Backend::single();
    // The replicas behind a proxy on loopback (none is trusted by default).
    let limited = [("RATE_LIMIT_PER_IP", "3"), ("TRUSTED_PROXIES", "127.0.0.1")];
    let replicas = [
        ServerProcess::on(&backend, "api-1", &limited),
        ServerProcess::on(&backend, "api-2", &limited),
    ];
    let seats: Vec<String> = (1..=40).map(|n| format!("P{n}")).collect();
    let event = replicas[0]
        .create_seated_event(&seats.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    // 30 users behind one forwarded address, through both replicas.
    let started = Instant::now();
    let replies = join_all((0..30).map(|i| {
        let replica = &replicas[i % 2];
        let (event, seat) = (&event, &seats[i]);
        async move {
            let user = format!("guest{i}");
            replica
                .send(
                    Method::POST,
                    &format!("/events/{event}/seats/{seat}/unlock"),
                    Some(json!({ "userId": user })),
                    &[("x-forwarded-for", "198.51.100.1, 203.0.113.7")],
                )
                .await
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let passed = replies.iter().filter(|r| r.status != 429).count();
    for limited in replies.iter().filter(|r| r.status == 429) {
        limited.assert_error(429, "RATE_LIMITED");
        assert!(limited.header("retry-after").is_some());
    }
    let allowed = 3 + (3.0 * elapsed.as_secs_f64()).ceil() as usize;
    eprintln!("per-address limit 3/s: {passed} of 30 passed in {elapsed:?} (at most {allowed})");
    assert!(
        passed >= 3 && passed <= allowed,
        "{passed} passed, 3..={allowed} allowed"
    );
    // The bucket is the last forwarded address (the one the trusted proxy saw), not the
    // first (which the client wrote), nor the proxy's own.
    let bucket = |address: &str| format!("bo:{{ip:{address}}}:rate");
    assert_eq!(backend.query::<i64>(&["EXISTS", &bucket("203.0.113.7")]), 1);
    assert_eq!(
        backend.query::<i64>(&["EXISTS", &bucket("198.51.100.1")]),
        0
    );
    // Another address has its own allowance.
    replicas[1]
        .send(
            Method::POST,
            &format!("/events/{event}/seats/P40/unlock"),
            Some(json!({ "userId": "other" })),
            &[("x-forwarded-for", "192.0.2.44")],
        )
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");

    // Loopback not trusted (the default: no proxy is): X-Forwarded-For is ignored, the
    // peer's address counts.
    let untrusted = ServerProcess::on(&backend, "api-3", &[("RATE_LIMIT_PER_IP", "3")]);
    untrusted
        .send(
            Method::POST,
            &format!("/events/{event}/seats/P39/unlock"),
            Some(json!({ "userId": "spoofer" })),
            &[("x-forwarded-for", "192.0.2.99")],
        )
        .await
        .assert_error(409, "SEAT_NOT_LOCKED");
    assert_eq!(backend.query::<i64>(&["EXISTS", &bucket("192.0.2.99")]), 0);
    assert_eq!(backend.query::<i64>(&["EXISTS", &bucket("127.0.0.1")]), 1);
}

/// CORS: in jwt mode no other origin may call the API unless CORS_ALLOWED_ORIGINS names it.
#[tokio::test]
async fn browsers_on_other_origins_are_allowed_only_when_listed() {
    let redis = RedisServer::start();
    let preflight = |app: &TestApp, origin: &'static str| {
        let http = app.anonymous();
        async move {
            http.send(
                Method::OPTIONS,
                "/book",
                None,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ],
            )
            .await
        }
    };
    let closed = TestApp::spawn(&redis).await;
    let reply = preflight(&closed, "https://shop.example").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "{reply:?}"
    );

    let mut settings = test_settings(&redis.url());
    settings.cors_allowed_origins = vec!["https://shop.example".into()];
    let listed = TestApp::spawn_with(settings).await;
    let reply = preflight(&listed, "https://shop.example").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://shop.example"),
        "{reply:?}"
    );
    let reply = preflight(&listed, "https://evil.example").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "{reply:?}"
    );
    // A real request from the listed origin can read the headers a client needs.
    let reply = listed
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("origin", "https://shop.example")],
        )
        .await;
    let exposed = reply
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("retry-after") && exposed.contains("x-request-id"),
        "{exposed}"
    );
}

/// The replicas' Redis user (redis/acl-rules, as docker-compose and scripts/cluster deploy
/// it) may touch only boxoffice's keys with data commands; every route of the suite runs
/// under it. Here: what it may not do, and the password read from REDIS_PASSWORD_FILE.
#[tokio::test]
async fn the_service_redis_user_may_do_only_what_boxoffice_needs() {
    let redis = RedisServer::start_acl();
    let mut service = redis::Client::open(redis.service_url())
        .and_then(|c| c.get_connection())
        .expect("the service user logs in");
    for refused in [
        vec!["FLUSHALL"],
        vec!["KEYS", "*"],
        vec!["CONFIG", "GET", "maxmemory"],
        vec!["SWAPDB", "0", "1"],
        vec!["CLIENT", "KILL", "ID", "999999"],
        vec!["SHUTDOWN", "NOSAVE"],
        vec!["GET", "someone-elses-key"],
        vec!["SET", "someone-elses-key", "x"],
        vec!["ACL", "LIST"],
    ] {
        let mut cmd = redis::cmd(refused[0]);
        for arg in &refused[1..] {
            cmd.arg(*arg);
        }
        let error = cmd
            .query::<redis::Value>(&mut service)
            .expect_err(&format!("{refused:?} is refused"));
        assert!(
            error.to_string().contains("NOPERM") || error.to_string().contains("no permissions"),
            "{refused:?}: {error}"
        );
    }
    let _: () = redis::cmd("SET")
        .arg("bo:probe")
        .arg("1")
        .query(&mut service)
        .expect("its own keys");

    // No password in the URL: user from REDIS_USERNAME, password from REDIS_PASSWORD_FILE.
    let (_, password) = redis.access().service();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("redis-password");
    std::fs::write(&file, format!("{}\n", password.expect("a password"))).expect("written");
    let url = format!("redis://127.0.0.1:{}", redis.port());
    let replica = ServerProcess::spawn(
        &url,
        "api-1",
        &[
            ("REDIS_USERNAME", "boxoffice"),
            ("REDIS_PASSWORD_FILE", file.to_str().expect("utf-8 path")),
        ],
    );
    let event = replica.create_ga_event(5).await;
    replica
        .book(&event, "s1", 2, "alice")
        .await
        .assert_status(201);
    assert_eq!(replica.remaining(&event, "s1").await, 3);
    redis_assert_clean(&redis);
}
