//! Tickets and check-in (docs/tickets.md): every ticket of a booking has a signed code that
//! verifies with the published key; of any number of scans of one ticket exactly one is `ok`;
//! a scan sent again changes nothing; a cancelled booking's tickets are revoked (and listed
//! for offline scanners); forged, altered and foreign codes are refused without Redis.

use crate::both;
use crate::harness::{Http, bearer, token};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use boxoffice::domain::role::Role;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

fn staff() -> String {
    format!("Bearer {}", token("door-staff", Role::Staff))
}

async fn tickets(app: &Http, booking: &str, user: &str) -> Vec<Value> {
    let reply = app
        .send(
            Method::GET,
            &format!("/bookings/{booking}/tickets"),
            None,
            &[("authorization", &bearer(user))],
        )
        .await;
    reply.assert_status(200);
    reply.body["tickets"].as_array().expect("tickets").clone()
}

async fn scan(app: &Http, event: &str, code: &str, scanner: &str, nonce: &str) -> Value {
    let reply = app
        .send(
            Method::POST,
            &format!("/events/{event}/checkins"),
            Some(json!({ "code": code, "scannerId": scanner, "nonce": nonce })),
            &[("authorization", &staff())],
        )
        .await;
    reply.assert_status(200);
    reply.body
}

async fn stats(app: &Http, event: &str) -> Value {
    let reply = app
        .send(
            Method::GET,
            &format!("/events/{event}/checkins/stats"),
            None,
            &[("authorization", &staff())],
        )
        .await;
    reply.assert_status(200);
    reply.body
}

both!(
    /// A booking of 3 has 3 tickets, each with a code that verifies with the key of
    /// `GET /tickets/keys` (checked here with ed25519-dalek from the JWK alone), short enough
    /// for a QR code, and a QR image; a seat booking's ticket names its seat.
    async fn tickets_carry_codes_signed_by_the_published_key(backend) {
        let served = crate::harness::TestApp::on(backend).await;
        let app = served.http.clone();
        let event = app.create_ga_event(10).await;
        let booked = app.book(&event, "s1", 3, "alice").await;
        booked.assert_status(201);
        let booking = booked.body["id"].as_str().expect("id").to_owned();
        let listed = tickets(&app, &booking, "alice").await;
        assert_eq!(listed.len(), 3);
        let keys = app.anonymous().get("/tickets/keys").await;
        keys.assert_status(200);
        let jwk = &keys.body["keys"][0];
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().expect("x"))
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&x).expect("a key");
        for (n, ticket) in listed.iter().enumerate() {
            assert_eq!(ticket["id"], format!("{booking}.{}", n + 1));
            assert_eq!(ticket["sectionId"], "s1");
            let code = ticket["code"].as_str().expect("code");
            assert!(code.len() <= 200, "{} characters", code.len());
            let bytes = URL_SAFE_NO_PAD.decode(code).expect("base64url");
            let (signed, signature) = bytes.split_at(bytes.len() - 64);
            let signature = ed25519_dalek::Signature::from_slice(signature).expect("signature");
            key.verify_strict(signed, &signature).expect("verifies with the published key");
            assert_eq!(&signed[1..5], &URL_SAFE_NO_PAD.decode(jwk["kid"].as_str().expect("kid")).expect("kid")[..]);
        }
        // The same codes on every call (Ed25519 signatures are deterministic).
        assert_eq!(tickets(&app, &booking, "alice").await, listed);
        let qr = app
            .send(
                Method::GET,
                &format!("/bookings/{booking}/tickets/{booking}.2/qr.svg"),
                None,
                &[("authorization", &bearer("alice"))],
            )
            .await;
        qr.assert_status(200);
        assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
        assert!(qr.text.starts_with("<?xml") && qr.text.contains("<svg"), "{}", &qr.text[..80]);
        let missing = app
            .send(
                Method::GET,
                &format!("/bookings/{booking}/tickets/{booking}.4/qr.svg"),
                None,
                &[("authorization", &bearer("alice"))],
            )
            .await;
        missing.assert_error(404, "TICKET_NOT_FOUND");
        // Someone else's tickets do not exist for a buyer; staff see them.
        let other = app
            .send(Method::GET, &format!("/bookings/{booking}/tickets"), None,
                &[("authorization", &bearer("mallory"))])
            .await;
        other.assert_error(404, "BOOKING_NOT_FOUND");
        let seen = app
            .send(Method::GET, &format!("/bookings/{booking}/tickets"), None,
                &[("authorization", &staff())])
            .await;
        seen.assert_status(200);

        let seated = app.create_seated_event(&["A1", "A2"]).await;
        app.seat_action(&seated, "A2", "lock", "bob").await.assert_status(200);
        let confirmed = app.seat_action(&seated, "A2", "confirm", "bob").await;
        confirmed.assert_status(201);
        let seat_booking = confirmed.body["id"].as_str().expect("id");
        let seat_tickets = tickets(&app, seat_booking, "bob").await;
        assert_eq!(seat_tickets.len(), 1);
        assert_eq!(seat_tickets[0]["seat"], "A2");
    }
);

both!(
    /// 40 scans of one ticket at once, by 8 scanners: exactly one `ok`, 39 `already_redeemed`
    /// naming it; the counts say 1 checked in of 2 sold. The same scanner and nonce again
    /// gets the same answer and changes nothing.
    async fn of_many_scans_of_one_ticket_exactly_one_is_ok(backend) {
        let served = crate::harness::TestApp::on(backend).await;
        let app = served.http.clone();
        let event = app.create_ga_event(10).await;
        let booked = app.book(&event, "s1", 2, "alice").await;
        booked.assert_status(201);
        let booking = booked.body["id"].as_str().expect("id").to_owned();
        let listed = tickets(&app, &booking, "alice").await;
        let code = listed[0]["code"].as_str().expect("code").to_owned();
        let answers = join_all((0..40).map(|i| {
            let (app, event, code) = (app.clone(), event.clone(), code.clone());
            async move { scan(&app, &event, &code, &format!("door-{}", i % 8), &format!("n{i}")).await }
        }))
        .await;
        let ok: Vec<&Value> = answers.iter().filter(|a| a["result"] == "ok").collect();
        assert_eq!(ok.len(), 1, "{answers:?}");
        let first = &ok[0]["firstCheckin"];
        for answer in &answers {
            assert_eq!(answer["ticket"]["id"], format!("{booking}.1"));
            if answer["result"] != "ok" {
                assert_eq!(answer["result"], "already_redeemed", "{answer}");
                assert_eq!(&answer["firstCheckin"], first, "{answer}");
            }
        }
        let counts = stats(&app, &event).await;
        assert_eq!(counts["checkedIn"], 1, "{counts}");
        assert_eq!(counts["sold"], 2, "{counts}");
        assert_eq!(counts["sections"][0], json!({ "sectionId": "s1", "checkedIn": 1, "sold": 2 }));

        // A retried scan: the same answer, nothing changes.
        let nonce = ok[0]["scan"]["nonce"].as_str().expect("nonce");
        let scanner = ok[0]["scan"]["scannerId"].as_str().expect("scanner");
        let again = scan(&app, &event, &code, scanner, nonce).await;
        assert_eq!(&again, ok[0]);
        assert_eq!(stats(&app, &event).await["checkedIn"], 1);
    }
);

both!(
    /// A cancelled booking's tickets are `revoked` and listed since the version before; a
    /// forged or altered code is `invalid`, another event's `wrong_event`; none of them counts.
    /// A batch uploaded twice gets the same answers and changes nothing; a ticket another
    /// scanner let in first is reported with both check-ins.
    async fn revoked_forged_foreign_and_batches(backend) {
        let served = crate::harness::TestApp::on(backend).await;
        let app = served.http.clone();
        let event = app.create_ga_event(10).await;
        let other_event = app.create_ga_event(10).await;
        let kept = app.book(&event, "s1", 2, "alice").await;
        kept.assert_status(201);
        let kept = kept.body["id"].as_str().expect("id").to_owned();
        let gone = app.book(&event, "s1", 1, "bob").await;
        gone.assert_status(201);
        let gone = gone.body["id"].as_str().expect("id").to_owned();
        let foreign = app.book(&other_event, "s1", 1, "carol").await;
        foreign.assert_status(201);
        let foreign = foreign.body["id"].as_str().expect("id").to_owned();
        let kept_codes: Vec<String> = tickets(&app, &kept, "alice").await.iter()
            .map(|t| t["code"].as_str().expect("code").to_owned()).collect();
        let gone_code = tickets(&app, &gone, "bob").await[0]["code"].as_str().expect("code").to_owned();
        let foreign_code = tickets(&app, &foreign, "carol").await[0]["code"].as_str().expect("code").to_owned();

        let revoked_since = |since: u64| {
            let app = app.clone();
            let event = event.clone();
            async move {
                let reply = app.send(Method::GET, &format!("/events/{event}/checkins/revoked?since={since}"),
                    None, &[("authorization", &staff())]).await;
                reply.assert_status(200);
                reply.body
            }
        };
        let before = revoked_since(0).await;
        assert_eq!(before["revoked"], json!([]));
        let version = before["version"].as_u64().expect("version");
        app.send(Method::DELETE, &format!("/bookings/{gone}"), None, &[("authorization", &bearer("bob"))])
            .await
            .assert_status(200);
        let after = revoked_since(version).await;
        assert_eq!(after["revoked"].as_array().map(Vec::len), Some(1), "{after}");
        assert_eq!(after["revoked"][0]["ticketId"], format!("{gone}.1"));
        assert!(revoked_since(after["version"].as_u64().expect("v")).await["revoked"] == json!([]));
        // Its tickets are gone from the booking, and scanning one says revoked.
        assert!(tickets(&app, &gone, "bob").await.is_empty());
        let revoked = scan(&app, &event, &gone_code, "door-1", "r1").await;
        assert_eq!(revoked["result"], "revoked", "{revoked}");
        assert!(revoked["revokedAt"].is_string(), "{revoked}");

        // Forged: a seat changed (signature no longer matches); garbage; another event's.
        let mut bytes = URL_SAFE_NO_PAD.decode(&kept_codes[0]).expect("base64url");
        let last_signed = bytes.len() - 65;
        bytes[last_signed] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(scan(&app, &event, &altered, "door-1", "f1").await["result"], "invalid");
        assert_eq!(scan(&app, &event, "hello", "door-1", "f2").await["result"], "invalid");
        let wrong = scan(&app, &event, &foreign_code, "door-1", "f3").await;
        assert_eq!(wrong["result"], "wrong_event", "{wrong}");
        assert_eq!(stats(&app, &event).await["checkedIn"], 0);

        // Offline: door-2 let ticket 1 in first; door-3 uploads both tickets, twice.
        assert_eq!(scan(&app, &event, &kept_codes[0], "door-2", "x1").await["result"], "ok");
        let batch = json!({ "scans": [
            { "code": kept_codes[0], "scannerId": "door-3", "nonce": "b1", "scannedAt": "2026-12-05T18:00:00Z" },
            { "code": kept_codes[1], "scannerId": "door-3", "nonce": "b2", "scannedAt": "2026-12-05T18:00:05Z" },
            { "code": "forged", "scannerId": "door-3", "nonce": "b3" },
        ]});
        let upload = || {
            let app = app.clone();
            let (event, batch) = (event.clone(), batch.clone());
            async move {
                let reply = app.send(Method::POST, &format!("/events/{event}/checkins/batch"),
                    Some(batch), &[("authorization", &staff())]).await;
                reply.assert_status(200);
                reply.body
            }
        };
        let first = upload().await;
        let results: Vec<&str> = first["answers"].as_array().expect("answers").iter()
            .map(|a| a["result"].as_str().expect("result")).collect();
        assert_eq!(results, ["already_redeemed", "ok", "invalid"], "{first}");
        assert_eq!(first["answers"][1]["scan"]["scannedAt"], "2026-12-05T18:00:05.000Z");
        assert_eq!(first["conflicts"].as_array().map(Vec::len), Some(1), "{first}");
        assert_eq!(first["conflicts"][0]["firstCheckin"]["scannerId"], "door-2");
        assert_eq!(first["conflicts"][0]["scan"]["scannerId"], "door-3");
        let second = upload().await;
        assert_eq!(second, first, "the same batch again: the same answers");
        let counts = stats(&app, &event).await;
        assert_eq!((counts["checkedIn"].as_u64(), counts["sold"].as_u64()), (Some(2), Some(2)), "{counts}");
    }
);

/// Who may scan: staff and admins anywhere, organizers at their own events, buyers never;
/// bad input is a 400 that says what was wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scanning_needs_staff_and_valid_input() {
    let redis = crate::harness::RedisServer::start();
    let served = crate::harness::TestApp::spawn(&redis).await;
    let app = served.http.clone();
    let event = app.create_ga_event(10).await;
    let body = json!({ "code": "x", "scannerId": "door-1", "nonce": "n1" });
    let path = format!("/events/{event}/checkins");
    let as_buyer = app
        .send(
            Method::POST,
            &path,
            Some(body.clone()),
            &[("authorization", &bearer("alice"))],
        )
        .await;
    as_buyer.assert_error(403, "FORBIDDEN");
    let stranger = format!("Bearer {}", token("stranger", Role::Organizer));
    let as_other_organizer = app
        .send(
            Method::POST,
            &path,
            Some(body.clone()),
            &[("authorization", &stranger)],
        )
        .await;
    as_other_organizer.assert_error(403, "FORBIDDEN");
    // The event's own organizer (the harness's `tester`) may.
    app.post(&path, body.clone()).await.assert_status(200);
    for (bad, says) in [
        (
            json!({ "code": "x", "scannerId": "door 1", "nonce": "n1" }),
            "scannerId",
        ),
        (
            json!({ "code": "x", "scannerId": "door-1", "nonce": "" }),
            "nonce",
        ),
        (
            json!({ "code": "", "scannerId": "door-1", "nonce": "n1" }),
            "code",
        ),
        (
            json!({ "code": "x", "scannerId": "door-1", "nonce": "n1", "scannedAt": "yesterday" }),
            "scannedAt",
        ),
        (json!({ "code": "x", "scannerId": "door-1" }), "nonce"),
    ] {
        let reply = app
            .send(
                Method::POST,
                &path,
                Some(bad.clone()),
                &[("authorization", &staff())],
            )
            .await;
        reply.assert_error(400, "INVALID_REQUEST");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{bad}: {}",
            reply.body
        );
    }
    let empty = app
        .send(
            Method::POST,
            &format!("{path}/batch"),
            Some(json!({ "scans": [] })),
            &[("authorization", &staff())],
        )
        .await;
    empty.assert_error(400, "INVALID_REQUEST");
    let missing = app
        .send(
            Method::POST,
            "/events/no-such-event/checkins",
            Some(body),
            &[("authorization", &staff())],
        )
        .await;
    missing.assert_error(404, "EVENT_NOT_FOUND");
}

/// A check-in is told downstream: the `ok` scan's `checkin.redeemed` reaches a webhook
/// receiver with the ticket and the check-in; the `already_redeemed` one adds no message (a
/// later check-in's message is queued after anything it would have added: fan-out reads the
/// outbox in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkin_is_a_webhook_message() {
    use crate::harness::receiver::Receiver;
    let redis = crate::harness::RedisServer::start();
    let mut settings = crate::harness::app::test_settings(&redis.url());
    settings.webhooks.allow_private = true;
    settings.webhooks.poll_ms = 50;
    let served = crate::harness::TestApp::spawn_with(settings).await;
    let app = served.http.clone();
    let receiver = Receiver::start().await;
    let event = app.create_ga_event(10).await;
    let booked = app.book(&event, "s1", 2, "alice").await;
    booked.assert_status(201);
    let booking = booked.body["id"].as_str().expect("id").to_owned();
    let endpoint = app
        .post(
            "/webhooks",
            json!({ "url": receiver.url, "types": ["checkin.redeemed"], "eventId": event }),
        )
        .await;
    endpoint.assert_status(201);
    let endpoint = endpoint.body["id"].as_str().expect("id").to_owned();
    let listed = tickets(&app, &booking, "alice").await;
    let code = |i: usize| listed[i]["code"].as_str().expect("code").to_owned();
    assert_eq!(
        scan(&app, &event, &code(0), "door-1", "a").await["result"],
        "ok"
    );
    assert_eq!(
        scan(&app, &event, &code(0), "door-2", "b").await["result"],
        "already_redeemed"
    );
    assert_eq!(
        scan(&app, &event, &code(1), "door-2", "c").await["result"],
        "ok"
    );
    let delivered = || {
        let app = app.clone();
        let endpoint = endpoint.clone();
        async move {
            let reply = app
                .get(&format!("/webhooks/{endpoint}/messages?status=delivered"))
                .await;
            reply.assert_status(200);
            reply.body["messages"].as_array().expect("messages").len()
        }
    };
    crate::harness::eventually("the later check-in's message delivered", || async {
        delivered().await >= 2
    })
    .await;
    assert_eq!(delivered().await, 2);
    let pending = app
        .get(&format!("/webhooks/{endpoint}/messages?status=pending"))
        .await;
    assert_eq!(pending.body["messages"], json!([]), "{}", pending.body);
    let mut got: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    got.sort_by_key(|b| b["data"]["ticket"]["id"].as_str().map(str::to_owned));
    got.dedup();
    assert_eq!(got.len(), 2, "{got:?}");
    for (i, body) in got.iter().enumerate() {
        assert_eq!(body["type"], "checkin.redeemed");
        assert_eq!(body["data"]["ticket"]["id"], format!("{booking}.{}", i + 1));
        assert_eq!(body["data"]["userId"], "alice");
        assert!(body["data"]["checkin"]["at"].is_string(), "{body}");
    }
    assert_eq!(got[0]["data"]["checkin"]["scannerId"], "door-1");
}

both!(
    /// A ticket exists once its order is paid; cancelling the paid order (the organizer does)
    /// revokes it in the same step: scanned, it is `revoked`, and offline scanners find it in
    /// the revoked list.
    async fn a_paid_orders_tickets_are_revoked_with_the_order(backend) {
        use crate::orders::{SECRET, deliver, stripe_event};
        let mut settings = backend.settings();
        settings.stripe_webhook_secret = Some(SECRET.to_owned());
        let served = crate::harness::TestApp::spawn_with(settings).await;
        let app = served.http.clone();
        let created = app
            .post(
                "/events",
                json!({ "name": "Paid", "payment": "required", "currency": "EUR",
                        "sections": [{ "name": "Floor", "price": 25.5, "capacity": 10 }] }),
            )
            .await;
        created.assert_status(201);
        let event = created.body["id"].as_str().expect("event id").to_owned();
        let hold = app
            .post(
                &format!("/events/{event}/holds"),
                json!({ "userId": "ann", "sectionId": "s1", "qty": 2 }),
            )
            .await;
        hold.assert_status(201);
        let hold = hold.body["id"].as_str().expect("hold id");
        let order = app
            .post(
                &format!("/events/{event}/holds/{hold}/order"),
                json!({ "userId": "ann" }),
            )
            .await;
        order.assert_status(201);
        let order = order.body["id"].as_str().expect("order id").to_owned();
        let paid = deliver(
            &app.base,
            &stripe_event("t1", "payment_intent.succeeded", &order, 5100, "eur"),
            SECRET,
            0,
        )
        .await;
        paid.assert_status(200);
        let shown = app.get(&format!("/orders/{order}?user=ann")).await;
        let booking = shown.body["bookingId"].as_str().expect("a booking").to_owned();
        let listed = tickets(&app, &booking, "ann").await;
        assert_eq!(listed.len(), 2);
        let version = app
            .send(Method::GET, &format!("/events/{event}/checkins/revoked"), None,
                &[("authorization", &staff())])
            .await
            .body["version"]
            .as_u64()
            .expect("version");
        app.send(Method::DELETE, &format!("/orders/{order}"), None, &[])
            .await
            .assert_status(200);
        let code = listed[0]["code"].as_str().expect("code");
        assert_eq!(scan(&app, &event, code, "door-1", "p1").await["result"], "revoked");
        let revoked = app
            .send(Method::GET, &format!("/events/{event}/checkins/revoked?since={version}"), None,
                &[("authorization", &staff())])
            .await;
        let ids: Vec<&str> = revoked.body["revoked"]
            .as_array()
            .expect("revoked")
            .iter()
            .filter_map(|r| r["ticketId"].as_str())
            .collect();
        assert_eq!(ids, [format!("{booking}.1"), format!("{booking}.2")], "{}", revoked.body);
    }
);

/// Keys rotate: a replica that signs with a new key (TICKET_SIGNING_KEY_FILE) and keeps the
/// old one in TICKET_RETIRED_KEY_FILES lists both in its JWKS, signs new codes with the new
/// key, and checks in a code the old key signed. Keys are written by `boxoffice keygen`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retired_key_still_verifies_the_codes_it_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keygen = |name: &str| {
        let path = dir.path().join(name);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .args(["keygen", "--out"])
            .arg(&path)
            .status()
            .expect("run keygen");
        assert!(status.success());
        path
    };
    let (old, new) = (keygen("old.pem"), keygen("new.pem"));
    // keygen never overwrites a key.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["keygen", "--out"])
        .arg(&old)
        .output()
        .expect("run keygen");
    assert_eq!(again.status.code(), Some(2));
    let redis = crate::harness::RedisServer::start();
    let mut settings = crate::harness::app::test_settings(&redis.url());
    settings.ticket_signing_key_file = Some(old.clone());
    let before = crate::harness::TestApp::spawn_with(settings.clone()).await;
    let event = before.create_ga_event(10).await;
    let booked = before.book(&event, "s1", 1, "alice").await;
    booked.assert_status(201);
    let booking = booked.body["id"].as_str().expect("id").to_owned();
    let old_code = tickets(&before.http, &booking, "alice").await[0]["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let old_jwks = before.anonymous().get("/tickets/keys").await.body;

    settings.ticket_signing_key_file = Some(new);
    settings.ticket_retired_key_files = vec![old];
    let after = crate::harness::TestApp::spawn_with(settings).await;
    let jwks = after.anonymous().get("/tickets/keys").await.body;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert_eq!(
        kids[1], old_jwks["keys"][0]["kid"],
        "the retired key comes second"
    );
    let new_code = tickets(&after.http, &booking, "alice").await[0]["code"]
        .as_str()
        .expect("code")
        .to_owned();
    assert_ne!(new_code, old_code, "new codes are signed with the new key");
    let answer = scan(&after.http, &event, &old_code, "door-1", "k1").await;
    assert_eq!(answer["result"], "ok", "{answer}");
    let answer = scan(&after.http, &event, &new_code, "door-1", "k2").await;
    assert_eq!(
        answer["result"], "already_redeemed",
        "the same ticket: {answer}"
    );
}

/// A signing key file that is missing or not an Ed25519 PKCS#8 key stops the replica at start
/// with one line naming the setting and the file.
#[test]
fn a_bad_signing_key_file_stops_the_replica() {
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").expect("write");
    for path in [dir.path().join("missing.pem"), garbage] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .env("TICKET_SIGNING_KEY_FILE", &path)
            .env("AUTH_MODE", "open")
            .env(
                "BIND_ADDR",
                format!("127.0.0.1:{}", crate::harness::free_port()),
            )
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .output()
            .expect("run boxoffice");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("TICKET_SIGNING_KEY_FILE") && stderr.contains(&*path.to_string_lossy()),
            "{stderr}"
        );
    }
}

/// Without TICKET_SIGNING_KEY_FILE: two replicas with the same AUTH_JWT_SECRET publish the same
/// key (derived from it), another secret gives another key, and open mode without a secret
/// signs with a fixed demo key and says so in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_key_file_the_key_is_derived_from_the_identity_secret() {
    async fn keys_of(env: &[(&str, &str)]) -> (serde_json::Value, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("log");
        let (mut child, port) = crate::harness::start_listening(
            "boxoffice",
            |port| {
                std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"))
                    .env_clear()
                    .env("BIND_ADDR", format!("127.0.0.1:{port}"))
                    .env("METRICS_ADDR", "off")
                    .env("REDIS_URL", "redis://127.0.0.1:1")
                    .env("RUST_LOG", "warn")
                    .envs(env.iter().copied())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::fs::File::create(&log).expect("log"))
                    .spawn()
                    .expect("spawn boxoffice")
            },
            &log,
        );
        let jwks = reqwest::get(format!("http://127.0.0.1:{port}/tickets/keys"))
            .await
            .expect("the replica answered")
            .json::<serde_json::Value>()
            .await
            .ok();
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (jwks.expect("a JWKS document"), text)
    }
    let secret = "a-secret-of-at-least-thirty-two-bytes-0001";
    let (one, _) = keys_of(&[("AUTH_JWT_SECRET", secret)]).await;
    let (two, _) = keys_of(&[("AUTH_JWT_SECRET", secret)]).await;
    let (other, _) = keys_of(&[(
        "AUTH_JWT_SECRET",
        "another-secret-of-at-least-thirty-two-bytes",
    )])
    .await;
    assert_eq!(one, two, "the same secret, the same key");
    assert_ne!(one["keys"][0]["x"], other["keys"][0]["x"]);
    let (demo, log) = keys_of(&[("AUTH_MODE", "open")]).await;
    assert_eq!(demo["keys"][0]["crv"], "Ed25519");
    assert!(log.contains("fixed demo key"), "{log}");
}
