//! Outgoing webhooks (docs/webhooks.md): every booking, cancellation and sell-out reaches a
//! real receiver, signed by Standard Webhooks v1, with one `webhook-id` per message however
//! often it is sent; failures are retried on the schedule, `Retry-After` is honoured, 410
//! disables, secrets rotate with an overlap, private addresses are refused without the flag.
//! (scripts/webhooks-check verifies the same messages with the `standardwebhooks` library.)

use crate::both;
use crate::harness::receiver::{Received, Receiver};
use crate::harness::{Backend, Http, TestApp, eventually, token};
use boxoffice::domain::role::Role;
use boxoffice::domain::webhook;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// An app that delivers to 127.0.0.1 and looks at the outboxes every 50 ms, with the retry
/// schedule `schedule`.
async fn app(backend: &Backend, schedule: &[u64]) -> TestApp {
    let mut settings = backend.settings();
    settings.webhooks.allow_private = true;
    settings.webhooks.poll_ms = 50;
    settings.webhooks.retry_schedule_ms = schedule.to_vec();
    TestApp::spawn_with(settings).await
}

fn admin() -> String {
    format!("Bearer {}", token("root", Role::Admin))
}

/// Registers `url` for `types` of `event` as the organizer `tester`; returns (id, secret).
async fn register(app: &Http, url: &str, types: Value, event: &str) -> (String, String) {
    let reply = app
        .post(
            "/webhooks",
            json!({ "url": url, "types": types, "eventId": event }),
        )
        .await;
    reply.assert_status(201);
    let secret = reply.body["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (reply.body["id"].as_str().expect("id").to_owned(), secret)
}

/// Whether `received` carries a valid signature made with `secret`.
fn signed_with(received: &Received, secret: &str) -> bool {
    let expected = webhook::signature(
        std::iter::once(secret),
        &received.id,
        received.timestamp,
        received.body.as_bytes(),
    );
    received.signature.split(' ').any(|s| s == expected)
}

/// The distinct messages received so far, by `webhook-id`.
fn distinct(receiver: &Receiver) -> BTreeMap<String, Received> {
    receiver
        .received()
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect()
}

async fn wait_for_messages(receiver: &Receiver, count: usize) -> BTreeMap<String, Received> {
    eventually(&format!("{count} distinct messages"), || async {
        distinct(receiver).len() >= count
    })
    .await;
    distinct(receiver)
}

async fn messages(app: &Http, endpoint: &str, status: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/webhooks/{endpoint}/messages?status={status}"))
        .await;
    reply.assert_status(200);
    reply.body["messages"].as_array().expect("messages").clone()
}

both!(
    /// Three bookings sell the section out and one is cancelled: exactly five messages, each
    /// signed with the endpoint's secret, with the bookings as the API shows them; the
    /// endpoint's message list says each was delivered at the first attempt.
    async fn bookings_and_cancellations_reach_the_receiver_signed(backend) {
        let app = app(backend, &[0, 1000]).await;
        let receiver = Receiver::start().await;
        let event = app.create_ga_event(3).await;
        let (endpoint, secret) = register(&app, &receiver.url, json!(["*"]), &event).await;
        let mut booked = BTreeSet::new();
        for user in ["alice", "bob", "carol"] {
            let reply = app.book(&event, "s1", 1, user).await;
            reply.assert_status(201);
            booked.insert(reply.body["id"].as_str().expect("id").to_owned());
        }
        let alice = booked.iter().next().expect("a booking").clone();
        let owner = app.get(&format!("/bookings/{alice}")).await.body["userId"].clone();
        let cancelled = app
            .send(
                Method::DELETE,
                &format!("/bookings/{alice}"),
                None,
                &[("authorization", &crate::harness::bearer(owner.as_str().expect("user")))],
            )
            .await;
        cancelled.assert_status(200);

        let got = wait_for_messages(&receiver, 5).await;
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for message in got.values() {
            assert!(signed_with(message, &secret), "{message:?}");
            assert!(message.id.starts_with(&format!("msg_{event}_")), "{}", message.id);
            let now = boxoffice::domain::time::now_ms() / 1000;
            assert!((now - message.timestamp).abs() < 300, "{message:?}");
            let body = message.json();
            let kind = body["type"].as_str().expect("type").to_owned();
            assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
            match kind.as_str() {
                "booking.created" => {
                    assert!(booked.contains(body["data"]["id"].as_str().expect("id")), "{body}");
                    assert_eq!(body["data"]["status"], "confirmed");
                    assert!(body["data"]["createdAt"].is_string(), "times as the API shows them: {body}");
                }
                "booking.cancelled" => {
                    assert_eq!(body["data"]["id"], alice.as_str());
                    assert_eq!(body["data"]["status"], "cancelled");
                }
                "event.sold_out" => {
                    assert_eq!(body["data"], json!({ "eventId": event, "sectionId": "s1" }));
                }
                other => panic!("unexpected {other}: {body}"),
            }
            *kinds.entry(kind).or_default() += 1;
        }
        assert_eq!(
            kinds,
            BTreeMap::from([
                ("booking.created".to_owned(), 3),
                ("booking.cancelled".to_owned(), 1),
                ("event.sold_out".to_owned(), 1),
            ])
        );
        // The receiver answered; the replica records each answer after it.
        eventually("five messages recorded delivered", || async {
            messages(&app, &endpoint, "delivered").await.len() == 5
        })
        .await;
        let delivered = messages(&app, &endpoint, "delivered").await;
        for message in &delivered {
            assert!(got.contains_key(message["id"].as_str().expect("id")), "{message}");
            assert_eq!(message["attempts"][0]["responseStatus"], 200, "{message}");
        }
        assert!(messages(&app, &endpoint, "pending").await.is_empty());
    }
);

both!(
    /// The replica that makes a change fans it out at once, not at its next sweep of every
    /// event: with sweeps 10 minutes apart (the first one at start, before any endpoint), the
    /// endpoint registered through it and the two bookings made through it reach the receiver
    /// (the sweep would be after the wait below gives up).
    async fn a_replica_delivers_its_own_writes_without_waiting_for_a_sweep(backend) {
        let mut settings = backend.settings();
        settings.webhooks.allow_private = true;
        settings.webhooks.poll_ms = 600_000;
        let app = TestApp::spawn_with(settings).await;
        let receiver = Receiver::start().await;
        let event = app.create_ga_event(5).await;
        let (endpoint, _) = register(&app, &receiver.url, json!(["booking.created"]), &event).await;
        let mut booked = BTreeSet::new();
        for user in ["alice", "bob"] {
            let reply = app.book(&event, "s1", 1, user).await;
            reply.assert_status(201);
            booked.insert(reply.body["id"].as_str().expect("id").to_owned());
        }
        let got = wait_for_messages(&receiver, 2).await;
        let told: BTreeSet<String> = got
            .values()
            .map(|m| m.json()["data"]["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(told, booked);
        eventually("both recorded delivered", || async {
            messages(&app, &endpoint, "delivered").await.len() == 2
        })
        .await;
    }
);

/// A receiver that fails gets the same message (same id, same bytes) on every attempt of the
/// schedule; then the message has failed with every attempt listed. A retry asked for sends
/// it again, and it is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_endpoint_gets_every_attempt_of_the_schedule_then_a_retry() {
    let backend = Backend::single();
    let app = app(&backend, &[0, 50, 50]).await;
    let receiver = Receiver::start().await;
    receiver.answer(500, None);
    let event = app.create_ga_event(10).await;
    let (endpoint, _) = register(&app, &receiver.url, json!(["booking.created"]), &event).await;
    app.book(&event, "s1", 1, "alice").await.assert_status(201);
    eventually("the message fails", || async {
        messages(&app, &endpoint, "failed").await.len() == 1
    })
    .await;
    let failed = messages(&app, &endpoint, "failed").await;
    let attempts = failed[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "{failed:?}");
    assert!(
        attempts.iter().all(|a| a["responseStatus"] == 500),
        "{failed:?}"
    );
    let sent = receiver.received();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent.iter()
            .all(|r| r.id == sent[0].id && r.body == sent[0].body)
    );

    receiver.answer(200, None);
    let id = failed[0]["id"].as_str().expect("id");
    let retried = app
        .post(
            &format!("/webhooks/{endpoint}/messages/{id}/retry"),
            json!({}),
        )
        .await;
    retried.assert_status(202);
    eventually("the retried message is delivered", || async {
        messages(&app, &endpoint, "delivered").await.len() == 1
    })
    .await;
    let delivered = messages(&app, &endpoint, "delivered").await;
    assert_eq!(
        delivered[0]["attempts"].as_array().expect("attempts").len(),
        4
    );
    app.post(
        &format!("/webhooks/{endpoint}/messages/msg_nope/retry"),
        json!({}),
    )
    .await
    .assert_error(404, "MESSAGE_NOT_FOUND");
}

/// A 429 with `Retry-After: 2` puts the next attempt at least 2 s after the first, whatever
/// the schedule says; a 410 disables the endpoint, which then gets no new message (a second
/// endpoint on the same event shows the fan-out happened).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_is_honoured_and_410_disables_the_endpoint() {
    let backend = Backend::single();
    let app = app(&backend, &[0, 10, 10]).await;
    let receiver = Receiver::start().await;
    receiver.answer(429, Some("2"));
    let event = app.create_ga_event(10).await;
    let (endpoint, _) = register(&app, &receiver.url, json!(["*"]), &event).await;
    app.book(&event, "s1", 1, "alice").await.assert_status(201);
    eventually("a first attempt", || async {
        messages(&app, &endpoint, "pending")
            .await
            .first()
            .is_some_and(|m| m["attempts"].as_array().is_some_and(|a| !a.is_empty()))
    })
    .await;
    let pending = messages(&app, &endpoint, "pending").await;
    let at = |m: &Value, field: &str| {
        boxoffice::domain::time::parse_rfc3339_ms(m[field].as_str().expect("a time")).expect("ms")
    };
    let first = at(&pending[0]["attempts"][0], "at");
    let next = at(&pending[0], "nextAttemptAt");
    assert!(
        next - first >= 2000,
        "next attempt {next} only {} ms after {first}",
        next - first
    );

    receiver.answer(410, None);
    eventually("the endpoint is disabled", || async {
        app.get(&format!("/webhooks/{endpoint}")).await.body["disabled"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("410"))
    })
    .await;
    let witness = Receiver::start().await;
    let (other, _) = register(&app, &witness.url, json!(["*"]), &event).await;
    app.book(&event, "s1", 1, "bob").await.assert_status(201);
    wait_for_messages(&witness, 1).await;
    let kept = app
        .get(&format!("/webhooks/{endpoint}/messages"))
        .await
        .body["messages"]
        .as_array()
        .expect("messages")
        .len();
    assert_eq!(kept, 1, "the disabled endpoint got nothing new");
    eventually("the witness's message recorded delivered", || async {
        messages(&app, &other, "delivered").await.len() == 1
    })
    .await;
}

/// After a rotation both secrets sign every message (two `v1,` signatures); the old one
/// alone no longer does once its overlap is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_secret_signs_beside_the_new_one_during_the_overlap() {
    let backend = Backend::single();
    let app = app(&backend, &[0, 1000]).await;
    let receiver = Receiver::start().await;
    let event = app.create_ga_event(10).await;
    let (endpoint, old) = register(&app, &receiver.url, json!(["booking.created"]), &event).await;
    let rotated = app
        .post(&format!("/webhooks/{endpoint}/rotate-secret"), json!({}))
        .await;
    rotated.assert_status(200);
    let new = rotated.body["secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    assert_ne!(new, old);
    app.book(&event, "s1", 1, "alice").await.assert_status(201);
    let got = wait_for_messages(&receiver, 1).await;
    let message = got.values().next().expect("a message");
    assert_eq!(message.signature.split(' ').count(), 2, "{message:?}");
    assert!(
        signed_with(message, &old) && signed_with(message, &new),
        "{message:?}"
    );
    // The secret is shown once: never in a read.
    let shown = app.get(&format!("/webhooks/{endpoint}")).await;
    assert!(shown.body.get("secret").is_none(), "{}", shown.text);
}

/// Who may manage endpoints: not buyers; an organizer only for events they manage, and sees
/// only their own; admins every event and every endpoint. Bad input gets 400 with what is
/// wrong, a private address 400 unless WEBHOOK_ALLOW_PRIVATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_are_checked_and_kept_to_whoever_manages_them() {
    let backend = Backend::single();
    let strict = TestApp::spawn_with(backend.settings()).await;
    let event = strict.create_ga_event(10).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://10.0.0.1/",
    ] {
        let refused = strict
            .post(
                "/webhooks",
                json!({ "url": url, "types": ["*"], "eventId": event }),
            )
            .await;
        refused.assert_error(400, "INVALID_REQUEST");
        assert!(refused.text.contains("private"), "{url}: {}", refused.text);
    }
    for (body, says) in [
        (
            json!({ "url": "ftp://example.com/", "types": ["*"], "eventId": event }),
            "http or https",
        ),
        (
            json!({ "url": "https://example.com/", "types": [], "eventId": event }),
            "at least one",
        ),
        (
            json!({ "url": "https://example.com/", "types": ["order.nope"], "eventId": event }),
            "not a message type",
        ),
        (
            json!({ "url": "https://example.com/", "types": ["*"], "eventId": event, "x": 1 }),
            "unknown field",
        ),
    ] {
        let refused = strict.post("/webhooks", body).await;
        refused.assert_error(400, "INVALID_REQUEST");
        assert!(refused.text.contains(says), "{}", refused.text);
    }
    let public = json!({ "url": "https://hooks.example.com/in", "types": ["*"], "eventId": event });
    let buyer = crate::harness::bearer("alice");
    strict
        .send(
            Method::POST,
            "/webhooks",
            Some(public.clone()),
            &[("authorization", &buyer)],
        )
        .await
        .assert_error(403, "FORBIDDEN");
    let stranger = format!("Bearer {}", token("stranger", Role::Organizer));
    strict
        .send(
            Method::POST,
            "/webhooks",
            Some(public.clone()),
            &[("authorization", &stranger)],
        )
        .await
        .assert_error(403, "FORBIDDEN");
    strict
        .post(
            "/webhooks",
            json!({ "url": "https://hooks.example.com/in", "types": ["*"] }),
        )
        .await
        .assert_error(403, "FORBIDDEN");
    let mine = strict.post("/webhooks", public).await;
    mine.assert_status(201);
    let id = mine.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        mine.header("location"),
        Some(format!("/webhooks/{id}").as_str())
    );
    let everywhere = strict
        .send(
            Method::POST,
            "/webhooks",
            Some(json!({ "url": "https://hooks.example.com/all", "types": ["order.paid"] })),
            &[("authorization", &admin())],
        )
        .await;
    everywhere.assert_status(201);

    strict
        .send(
            Method::GET,
            &format!("/webhooks/{id}"),
            None,
            &[("authorization", &stranger)],
        )
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");
    let theirs = strict
        .send(
            Method::GET,
            "/webhooks",
            None,
            &[("authorization", &stranger)],
        )
        .await;
    assert_eq!(theirs.body["webhooks"], json!([]));
    let listed = strict.get("/webhooks").await;
    assert_eq!(
        listed.body["webhooks"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    let all = strict
        .send(
            Method::GET,
            "/webhooks",
            None,
            &[("authorization", &admin())],
        )
        .await;
    assert_eq!(
        all.body["webhooks"].as_array().map(Vec::len),
        Some(2),
        "{}",
        all.text
    );
    strict
        .get("/webhooks/not-a-uuid")
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");

    strict
        .send(
            Method::DELETE,
            &format!("/webhooks/{id}"),
            None,
            &[("authorization", &stranger)],
        )
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");
    strict
        .delete(&format!("/webhooks/{id}"))
        .await
        .assert_status(204);
    strict
        .get(&format!("/webhooks/{id}"))
        .await
        .assert_error(404, "WEBHOOK_NOT_FOUND");
}

both!(
    /// An order nobody pays is written `expired` once its deadline passes on Redis's clock,
    /// and told as `order.expired` (after its `order.created`), with the order as the API
    /// shows it.
    async fn an_unpaid_order_is_told_expired_after_its_deadline(backend) {
        let mut settings = backend.settings();
        settings.webhooks.allow_private = true;
        settings.webhooks.poll_ms = 50;
        settings.order_payment_ttl_ms = 300;
        let app = TestApp::spawn_with(settings).await;
        let receiver = Receiver::start().await;
        let created = app
            .post(
                "/events",
                json!({ "name": "Paid", "payment": "required", "currency": "EUR",
                        "sections": [{ "name": "Floor", "price": 10, "capacity": 5 }] }),
            )
            .await;
        created.assert_status(201);
        let event = created.body["id"].as_str().expect("event").to_owned();
        let (_, secret) = register(
            &app,
            &receiver.url,
            json!(["order.created", "order.expired"]),
            &event,
        )
        .await;
        let hold = app
            .post(
                &format!("/events/{event}/holds"),
                json!({ "sectionId": "s1", "qty": 2, "userId": "alice" }),
            )
            .await;
        hold.assert_status(201);
        let hold = hold.body["id"].as_str().expect("hold");
        let order = app
            .post(&format!("/events/{event}/holds/{hold}/order"), json!({ "userId": "alice" }))
            .await;
        order.assert_status(201);
        let order = order.body["id"].as_str().expect("order").to_owned();

        let got = wait_for_messages(&receiver, 2).await;
        let by_kind: BTreeMap<String, Value> = got
            .values()
            .inspect(|m| assert!(signed_with(m, &secret), "{m:?}"))
            .map(|m| {
                let body = m.json();
                (body["type"].as_str().expect("type").to_owned(), body["data"].clone())
            })
            .collect();
        assert_eq!(by_kind["order.created"]["status"], "pending_payment");
        let expired = &by_kind["order.expired"];
        assert_eq!(expired["id"], order.as_str());
        assert_eq!(expired["status"], "expired");
        assert_eq!(expired["amount"].to_string(), "20.00", "{expired}");
        // What the store holds: the order written expired, and its tickets back on sale.
        assert_eq!(app.get(&format!("/orders/{order}")).await.body["status"], "expired");
        let shown = app.get(&format!("/events/{event}")).await;
        assert_eq!(shown.body["sections"][0]["remaining"], 5, "{}", shown.text);
    }
);

/// `boxoffice audit` reports an endpoint whose messages are pending past their schedule (here:
/// one due two minutes ago, and no replica running to deliver it), without calling it a
/// violation of the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_reports_messages_pending_past_their_schedule() {
    let backend = Backend::single();
    let app = app(&backend, &[0, 1000]).await;
    let event = app.create_ga_event(5).await;
    let (endpoint, _) = register(&app, "https://hooks.example.com/in", json!(["*"]), &event).await;
    let (code, out) = backend.audit();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("LATE:"), "{out}");
    app.stop().await;
    let due = format!("bo:{{wh:{endpoint}}}:due");
    let two_minutes_ago = (backend.now_ms() - 120_000).to_string();
    let added: i64 = backend.query(&["ZADD", &due, &two_minutes_ago, "msg_stuck"]);
    assert_eq!(added, 1);
    let (code, out) = backend.audit();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK: every invariant holds"), "{out}");
    assert!(
        out.contains(&format!(
            "LATE: webhook endpoint {endpoint}: 1 message(s) pending"
        )),
        "{out}"
    );
}
