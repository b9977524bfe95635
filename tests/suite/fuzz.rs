//! Bad input, everywhere: random methods, paths, query strings, headers and bodies (random JSON,
//! plausible bodies with wrong fields, raw bytes, oversized) at every route. For every case:
//! never a 5xx; every 4xx is a JSON error with a code and a message; and a refused request
//! changes no inventory (checked against a digest of every inventory key in Redis).
//!
//! `FUZZ_CASES` sets the number of cases (default 3000).

use crate::harness::{Http, RedisServer, TestApp, bearer, organizer, test_settings};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Ids the fixtures really have, so that random requests also reach deep into the handlers.
struct Fixtures {
    ga: String,
    seated: String,
    booking: String,
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    body: Option<Vec<u8>>,
}

fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GA", "SEATED", "BOOKING", "demo", "s1", "s2", "A1", "A2", "1", "10", "main"])
            .prop_map(str::to_owned),
        3 => "[A-Za-z0-9_-]{1,64}",
        1 => "[A-Za-z0-9_-]{65,200}",
        1 => "\\PC{1,20}",
        1 => prop::sample::select(vec!["a:b", "{x}", "..", "%00", "%ZZ", "%F0%9F%8E%AB", "a%2Fb", " ", "-1", "0195f0a2-7c1b-7d3e-9a4b-1234567890ab"])
            .prop_map(str::to_owned),
    ]
}

/// The API's routes (a list of its own, apart from the router and the OpenAPI document,
/// which `openapi::every_route_of_the_api_is_in_the_document` checks it against).
pub const ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/"),
    (Method::GET, "/healthz"),
    (Method::GET, "/readyz"),
    (Method::GET, "/openapi.json"),
    (Method::POST, "/events"),
    (Method::GET, "/events"),
    (Method::POST, "/events/create"),
    (Method::GET, "/events/{}"),
    (Method::GET, "/events/{}/seats"),
    (Method::POST, "/events/{}/seats/{}/lock"),
    (Method::POST, "/events/{}/seats/{}/confirm"),
    (Method::POST, "/events/{}/seats/{}/unlock"),
    (Method::POST, "/book"),
    (Method::POST, "/bookings"),
    (Method::GET, "/bookings"),
    (Method::GET, "/bookings/{}"),
    (Method::DELETE, "/bookings/{}"),
    (Method::GET, "/seats"),
    (Method::POST, "/lock"),
    (Method::POST, "/lock/{}"),
    (Method::POST, "/confirm"),
    (Method::POST, "/confirm/{}"),
    (Method::POST, "/unlock"),
    (Method::POST, "/unlock/{}"),
    (Method::POST, "/release"),
    (Method::POST, "/release/{}"),
    (Method::GET, "/events/{}/stream"),
    (Method::POST, "/events/{}/queue"),
    (Method::GET, "/events/{}/queue/{}"),
    (Method::GET, "/events/{}/queue/{}/stream"),
    (Method::PUT, "/events/{}/waiting-room"),
    (Method::POST, "/events/{}/holds"),
    (Method::GET, "/events/{}/holds/{}"),
    (Method::DELETE, "/events/{}/holds/{}"),
    (Method::POST, "/events/{}/holds/{}/extend"),
    (Method::POST, "/events/{}/holds/{}/confirm"),
    (Method::GET, "/events/{}/organizers"),
    (Method::PUT, "/events/{}/organizers/{}"),
    (Method::DELETE, "/events/{}/organizers/{}"),
    (Method::POST, "/events/{}/holds/{}/order"),
    (Method::GET, "/orders"),
    (Method::GET, "/orders/{}"),
    (Method::DELETE, "/orders/{}"),
    (Method::POST, "/orders/{}/payments"),
    (Method::POST, "/payments/stripe/webhook"),
    (Method::POST, "/webhooks"),
    (Method::GET, "/webhooks"),
    (Method::GET, "/webhooks/{}"),
    (Method::DELETE, "/webhooks/{}"),
    (Method::POST, "/webhooks/{}/rotate-secret"),
    (Method::GET, "/webhooks/{}/messages"),
    (Method::POST, "/webhooks/{}/messages/{}/retry"),
    (Method::GET, "/bookings/{}/tickets"),
    (Method::GET, "/bookings/{}/tickets/{}/qr.svg"),
    (Method::GET, "/tickets/keys"),
    (Method::GET, "/checkin"),
    (Method::POST, "/events/{}/checkins"),
    (Method::POST, "/events/{}/checkins/batch"),
    (Method::GET, "/events/{}/checkins/revoked"),
    (Method::GET, "/events/{}/checkins/stats"),
];

/// Paths that are no route, to send random requests to as well.
const NOT_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/"),
    (Method::POST, "/events/{}/seats/{}/{}"),
    (Method::GET, "/{}"),
    (Method::POST, "/{}/{}/{}"),
];

/// A path (with its usual method) from the API's own routes, ids filled in at random.
fn route() -> impl Strategy<Value = (Method, String)> {
    use Method as M;
    let templates: Vec<(Method, &str)> = ROUTES.iter().chain(NOT_ROUTES).cloned().collect();
    let other_method = prop::sample::select(vec![M::GET, M::POST, M::PUT, M::DELETE, M::PATCH]);
    let query = prop_oneof![
        3 => Just(String::new()),
        1 => (
            prop::sample::select(vec!["limit", "cursor", "eventId", "userId", "user"]),
            prop_oneof![id_like(), any::<i64>().prop_map(|n| n.to_string())],
        )
            .prop_map(|(k, v)| format!("?{k}={v}")),
        1 => "\\?[a-z=&%0-9]{0,30}",
    ];
    (
        prop::sample::select(templates),
        prop::option::weighted(0.15, other_method),
        prop::collection::vec(id_like(), 3),
        query,
    )
        .prop_map(|((method, template), other, ids, query)| {
            let mut path = String::new();
            let mut ids = ids.into_iter();
            for (i, part) in template.split("{}").enumerate() {
                if i > 0 {
                    path.push_str(&ids.next().unwrap_or_default());
                }
                path.push_str(part);
            }
            (other.unwrap_or(method), path + &query)
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-20i64..30).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
        id_like().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects made of the API's own field names, with values plausible or not.
fn plausible_body() -> impl Strategy<Value = Value> {
    let fields = vec![
        "eventId",
        "sectionId",
        "qty",
        "userId",
        "seatId",
        "name",
        "sections",
        "price",
        "capacity",
        "seats",
        "url",
        "types",
    ];
    let section = prop::collection::btree_map(
        prop::sample::select(vec!["name", "price", "capacity", "seats"]),
        json_value(),
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    let value = prop_oneof![
        3 => json_value(),
        2 => id_like().prop_map(Value::String),
        2 => (-3i64..15).prop_map(Value::from),
        1 => prop::collection::vec(section, 0..3).prop_map(Value::Array),
        1 => prop::collection::vec(id_like().prop_map(Value::String), 0..6).prop_map(Value::Array),
    ];
    prop::collection::btree_map(prop::sample::select(fields), value, 0..6).prop_map(|m| {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

/// POSTs to the routes that change inventory, with bodies shaped like the API's own, values
/// mostly plausible and now and then one field replaced by anything: many succeed, many are
/// refused for business reasons.
fn targeted() -> impl Strategy<Value = (String, Value)> {
    let event = prop::sample::select(vec!["GA", "SEATED", "demo", "nope"]).prop_map(Value::from);
    let section = prop::sample::select(vec!["s1", "s2", "main"]).prop_map(Value::from);
    let seat = prop_oneof![
        prop::sample::select(vec!["A1", "A2", "A3", "1", "2", "Z9"]).prop_map(Value::from),
        (0u64..12).prop_map(Value::from),
    ];
    let user =
        prop::sample::select(vec!["alice", "bob", "anonymous", "mallory"]).prop_map(Value::from);
    let booking =
        (event, section, -2i64..13, prop::option::of(user.clone())).prop_map(|(e, s, q, u)| {
            let mut b = serde_json::json!({ "eventId": e, "sectionId": s, "qty": q });
            if let Some(u) = u {
                b["userId"] = u;
            }
            b
        });
    let seat_body =
        (seat, user.clone()).prop_map(|(s, u)| serde_json::json!({ "seatId": s, "userId": u }));
    let user_body = user.prop_map(|u| serde_json::json!({ "userId": u }));
    let new_event = (
        "[A-Za-z ]{0,12}",
        prop::collection::vec(
            (
                -5i64..200,
                prop::option::of(0i64..30),
                prop::option::of(prop::collection::vec(id_like(), 0..4)),
            ),
            0..3,
        ),
    )
        .prop_map(|(name, sections)| {
            let sections: Vec<Value> = sections
                .into_iter()
                .map(|(price, capacity, seats)| {
                    let mut s = serde_json::json!({ "name": "S", "price": price });
                    if let Some(c) = capacity {
                        s["capacity"] = c.into();
                    }
                    if let Some(seats) = seats {
                        s["seats"] = seats.into();
                    }
                    s
                })
                .collect();
            serde_json::json!({ "name": name, "sections": sections })
        });
    let seat_path = (
        prop::sample::select(vec!["A1", "A2", "A3", "Z9"]),
        prop::sample::select(vec!["lock", "lock", "confirm", "unlock"]),
    )
        .prop_map(|(seat, action)| format!("/events/SEATED/seats/{seat}/{action}"));
    let demo_path = (
        prop::sample::select(vec!["/lock", "/confirm", "/unlock", "/release"]),
        0u32..12,
    )
        .prop_map(|(route, seat)| format!("{route}/{seat}?user=alice"));
    let demo_confirm = (
        prop::sample::select(vec!["1", "2", "3"]),
        prop::sample::select(vec!["alice", "bob"]),
    )
        .prop_map(|(s, u)| serde_json::json!({ "seatId": s, "userId": u }));
    let shaped = prop_oneof![
        3 => booking.prop_map(|b| ("/book".to_owned(), b)),
        1 => seat_body.prop_map(|b| ("/lock".to_owned(), b)),
        1 => demo_confirm.prop_map(|b| ("/confirm".to_owned(), b)),
        2 => (seat_path, user_body.clone()),
        1 => (demo_path, user_body),
        1 => new_event.prop_map(|b| ("/events".to_owned(), b)),
    ];
    (
        shaped,
        prop::option::weighted(0.2, ("[a-zA-Z]{1,10}", json_value())),
    )
        .prop_map(|((path, mut body), swap)| {
            if let (Some((field, value)), Some(object)) = (swap, body.as_object_mut()) {
                let key = object
                    .keys()
                    .find(|k| k.starts_with(&field[..1]))
                    .cloned()
                    .unwrap_or(field);
                object.insert(key, value);
            }
            (path, body)
        })
}

fn case() -> impl Strategy<Value = Case> {
    let content_type = prop_oneof![
        4 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => prop::sample::select(vec![
            "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8",
            "application/problem+json", "json", "application/", "*/*",
        ])
        .prop_map(|s| Some(s.to_owned())),
    ];
    let key = prop_oneof![
        4 => Just(None),
        1 => "[A-Za-z0-9-]{1,40}".prop_map(Some),
        1 => "[ -~]{0,300}".prop_map(Some),
    ];
    let body = prop_oneof![
        2 => Just(None),
        3 => plausible_body().prop_map(|v| Some(v.to_string().into_bytes())),
        2 => json_value().prop_map(|v| Some(v.to_string().into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Some),
        1 => (0usize..3).prop_map(|n| Some(vec![b'['; 65_536 + n])),
    ];
    let random = (route(), content_type, key.clone(), body).prop_map(
        |((method, path), content_type, idempotency_key, body)| Case {
            method,
            path,
            content_type,
            idempotency_key,
            body,
        },
    );
    let aimed = (targeted(), key).prop_map(|((path, body), idempotency_key)| Case {
        method: Method::POST,
        path,
        content_type: Some("application/json".to_owned()),
        idempotency_key,
        body: Some(body.to_string().into_bytes()),
    });
    prop_oneof![3 => random, 2 => aimed]
}

/// Digest of every inventory key: events, sections, seats, locks, bookings. Per-user
/// bookkeeping is left out: a refused booking may claim its Idempotency-Key and index the event
/// among the user's (`bo:{u:<user>}:...`), which sells nothing. An event's outbox counts by the
/// entries ever added to it: the replicas' webhook fan-out reads, acknowledges and trims it in
/// the background, but only a change adds to it.
pub(crate) fn inventory_digest(conn: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("bo:*").query(conn).expect("KEYS");
    keys.retain(|k| !k.contains(":idem:") && !k.starts_with("bo:{u:"));
    let (outboxes, keys): (Vec<String>, Vec<String>) =
        keys.into_iter().partition(|k| k.ends_with(":outbox"));
    let mut digest = BTreeMap::new();
    for outbox in outboxes {
        let info: Vec<redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&outbox)
            .query(conn)
            .expect("XINFO STREAM");
        let added = info
            .chunks(2)
            .find_map(|pair| match pair {
                [redis::Value::BulkString(name), redis::Value::Int(n)]
                    if name.as_slice() == b"entries-added" =>
                {
                    Some(*n)
                }
                _ => None,
            })
            .expect("entries-added");
        digest.insert(outbox, format!("entries-added {added}"));
    }
    if keys.is_empty() {
        return digest;
    }
    let digests: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg(&keys)
        .query(conn)
        .expect("DEBUG DIGEST-VALUE");
    digest.extend(keys.into_iter().zip(digests));
    digest
}

fn substitute(path: &str, fixtures: &Fixtures) -> String {
    path.replace("SEATED", &fixtures.seated)
        .replace("GA", &fixtures.ga)
        .replace("BOOKING", &fixtures.booking)
}

async fn send(http: &Http, case: &Case, fixtures: &Fixtures) -> Option<(u16, String, String)> {
    let url = format!("{}{}", http.base, substitute(&case.path, fixtures));
    let url = reqwest::Url::parse(&url).ok()?;
    let mut request = http.client.request(case.method.clone(), url);
    // Who sends it, chosen from the case itself (so a failing case replays the same way): no
    // token, an organizer, a buyer, or something that is not a token.
    let authorization = match (case.path.len() + case.body.as_ref().map_or(0, Vec::len)) % 4 {
        0 => None,
        1 => Some(organizer()),
        2 => Some(bearer("fuzzer")),
        _ => Some("Bearer not.a.token".to_owned()),
    };
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(content_type) = &case.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(key) = &case.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = &case.body {
        let body = String::from_utf8_lossy(body).into_owned();
        request = request.body(substitute(&body, fixtures));
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = if content_type.starts_with("text/event-stream") {
        // A live stream never ends: its first event is the answer to check.
        let mut response = response;
        tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
            .map(|chunk| String::from_utf8_lossy(&chunk).into_owned())
            .unwrap_or_default()
    } else {
        response.text().await.unwrap_or_default()
    };
    Some((status, content_type, text))
}

#[test]
fn random_requests_never_fail_the_server_and_refusals_change_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redis = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let (app, fixtures) = runtime.block_on(async {
        let app = TestApp::spawn_with(test_settings(&redis.url())).await;
        // The demo event is created beside start-up; make sure that happened before any
        // inventory digest is taken (its creation is not a refused request's doing).
        app.get("/seats").await.assert_status(200);
        let ga = app.create_ga_event(50).await;
        let seated = app
            .create_seated_event(&["A1", "A2", "A3", "A4", "A5"])
            .await;
        let booking = app.book(&ga, "s1", 2, "fixture").await;
        let booking = booking.body["id"].as_str().unwrap().to_owned();
        (
            app,
            Fixtures {
                ga,
                seated,
                booking,
            },
        )
    });
    let conn = Mutex::new(redis.connection());
    let statuses: Mutex<BTreeMap<String, usize>> = Mutex::default();

    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&case(), |case| {
        let before = inventory_digest(&mut conn.lock().unwrap());
        let Some((status, content_type, text)) =
            runtime.block_on(send(&app.http, &case, &fixtures))
        else {
            return Ok(()); // not even a valid URL, or refused at the socket: nothing to check
        };
        let after = inventory_digest(&mut conn.lock().unwrap());
        prop_assert!(status < 500, "{status} for {case:?}: {text}");
        let code = if status >= 400 {
            let body: Value = serde_json::from_str(&text).map_err(|_| {
                TestCaseError::fail(format!("non-JSON {status} for {case:?}: {text}"))
            })?;
            prop_assert!(
                content_type.starts_with("application/json"),
                "{content_type} for {case:?}"
            );
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            prop_assert!(!code.is_empty(), "no error code for {case:?}: {text}");
            prop_assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "no message for {case:?}: {text}"
            );
            prop_assert_eq!(
                &before,
                &after,
                "a refused request ({}) changed inventory: {:?}",
                code,
                case
            );
            code
        } else {
            String::new()
        };
        *statuses
            .lock()
            .unwrap()
            .entry(format!("{status} {code}"))
            .or_default() += 1;
        Ok(())
    });
    let statuses = statuses.into_inner().unwrap();
    eprintln!("fuzz: {cases} cases, outcomes: {statuses:?}");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // Enough of the cases reached the handlers rather than stopping at routing.
    let deep: usize = statuses
        .iter()
        .filter(|(k, _)| !k.contains("ROUTE_NOT_FOUND") && !k.contains("METHOD_NOT_ALLOWED"))
        .map(|(_, n)| n)
        .sum();
    assert!(deep > cases as usize / 3, "{statuses:?}");
    crate::harness::assert_audit_clean(&redis.url());
    drop(app);
}
