//! Orders and payment (docs/orders.md): a hold becomes an order, a signed Stripe webhook pays
//! it once, an unpaid order gives everything back on Redis's clock, a late payment revives the
//! order or is owed back, cancellations return inventory and say what is owed; on a single
//! Redis and on a cluster, through several real replicas.

use crate::both;
use crate::harness::{Backend, Reply, ServerProcess, TestApp, eventually};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const SECRET: &str = "whsec_boxoffice_test";

/// Settings with payments: the test secret, and orders that wait `ttl_ms` for payment.
fn payment_settings(backend: &Backend, ttl_ms: u64) -> boxoffice::config::Settings {
    let mut settings = backend.settings();
    settings.stripe_webhook_secret = Some(SECRET.to_owned());
    settings.order_payment_ttl_ms = ttl_ms;
    settings
}

/// An event that requires payment: GA `s1` (capacity, 25.50) and row A of 4 seats `s2` (40).
async fn paid_event(app: &crate::harness::Http, capacity: u32, extra: Value) -> String {
    let mut body = json!({
        "name": "Paid", "payment": "required", "currency": "EUR",
        "sections": [
            { "name": "Floor", "price": 25.5, "capacity": capacity },
            { "name": "Stalls", "price": 40, "rows": [{ "name": "A", "count": 4 }] },
        ],
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let reply = app.post("/events", body).await;
    reply.assert_status(201);
    reply.body["id"].as_str().expect("event id").to_owned()
}

async fn hold(app: &crate::harness::Http, event: &str, body: Value) -> String {
    let reply = app.post(&format!("/events/{event}/holds"), body).await;
    reply.assert_status(201);
    reply.body["id"].as_str().expect("hold id").to_owned()
}

async fn order(app: &crate::harness::Http, event: &str, hold: &str, user: &str) -> Reply {
    app.post(
        &format!("/events/{event}/holds/{hold}/order"),
        json!({ "userId": user }),
    )
    .await
}

/// A Stripe event of `kind` paying `order` `amount` (smallest unit) in `currency`.
pub fn stripe_event(id: &str, kind: &str, order: &str, amount: i64, currency: &str) -> String {
    let object = match kind {
        "payment_intent.succeeded" => json!({
            "id": format!("pi_{id}"), "object": "payment_intent", "amount_received": amount,
            "currency": currency, "metadata": { "orderId": order },
        }),
        _ => json!({
            "id": format!("cs_{id}"), "object": "checkout.session", "amount_total": amount,
            "currency": currency, "payment_status": "paid", "payment_intent": format!("pi_{id}"),
            "metadata": { "orderId": order },
        }),
    };
    json!({ "id": format!("evt_{id}"), "object": "event", "type": kind,
            "data": { "object": object } })
    .to_string()
}

/// Posts `body` to the webhook with a signature made now with `secret` (shifted by
/// `age_s` into the past).
pub async fn deliver(base: &str, body: &str, secret: &str, age_s: i64) -> Reply {
    let now = boxoffice::domain::time::now_ms() / 1000;
    let signature = boxoffice::domain::stripe::sign(body.as_bytes(), secret, now - age_s);
    let response = reqwest::Client::new()
        .post(format!("{base}/payments/stripe/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("webhook delivered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn order_key(backend: &Backend, order: &str) -> Value {
    let id = boxoffice::domain::ids::OrderId::parse(order).expect("an order id");
    let key = boxoffice::store::keys::order(&id);
    let raw: Option<String> = backend.query(&["GET", &key]);
    serde_json::from_str(&raw.expect("the order is stored")).expect("json")
}

fn booking_key(backend: &Backend, booking: &str) -> Option<Value> {
    let id = boxoffice::domain::ids::BookingId::parse(booking)?;
    let raw: Option<String> = backend.query(&["GET", &boxoffice::store::keys::booking(&id)]);
    raw.map(|raw| serde_json::from_str(&raw).expect("json"))
}

both!(
    /// On an event that requires payment, the direct routes refuse buyers with 402 and serve
    /// whoever manages the event (box office sales).
    async fn buyers_book_a_paid_event_only_through_an_order(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({})).await;
        app.book(&event, "s1", 1, "ann").await.assert_error(402, "PAYMENT_REQUIRED");
        app.seat_action(&event, "A1", "lock", "ann").await.assert_status(200);
        app.seat_action(&event, "A1", "confirm", "ann").await.assert_error(402, "PAYMENT_REQUIRED");
        let held = hold(&app, &event, json!({ "userId": "ann", "sectionId": "s1", "qty": 2 })).await;
        app.post(&format!("/events/{event}/holds/{held}/confirm"), json!({ "userId": "ann" }))
            .await
            .assert_error(402, "PAYMENT_REQUIRED");
        // Nothing was sold; the organizer (the harness's default caller) books directly.
        assert_eq!(app.remaining(&event, "s1").await, 8);
        let direct = app.post("/book", json!({ "eventId": event, "sectionId": "s1", "qty": 1 })).await;
        direct.assert_status(201);
        let shown = app.get(&format!("/events/{event}")).await;
        assert_eq!(shown.body["payment"], "required");
        assert_eq!(shown.body["currency"], "EUR");
    }
);

both!(
    /// A hold becomes an order with its amount computed from the prices; a signed webhook pays
    /// it and makes its booking; the same payment again (replayed, or told by the other event
    /// type) changes nothing; a bad or old signature changes nothing.
    async fn a_signed_webhook_pays_an_order_once(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({})).await;
        let held = hold(&app, &event, json!({ "userId": "ann", "sectionId": "s1", "qty": 2 })).await;
        let made = order(&app, &event, &held, "ann").await;
        made.assert_status(201);
        let order_id = made.body["id"].as_str().expect("order id").to_owned();
        assert_eq!(made.body["status"], "pending_payment");
        assert_eq!(made.body["amount"].as_f64(), Some(51.0));
        assert_eq!(made.body["currency"], "EUR");
        assert_eq!(made.body["items"][0]["sectionId"], "s1");
        assert_eq!(made.body["items"][0]["qty"], 2);
        assert_eq!(made.body["items"][0]["unitPrice"].as_f64(), Some(25.5));
        assert_eq!(made.header("location"), Some(format!("/orders/{order_id}").as_str()));
        // The hold is the order's now: it can no longer be confirmed or released.
        app.post(&format!("/events/{event}/holds/{held}/confirm"), json!({ "userId": "ann" }))
            .await
            .assert_error(404, "HOLD_NOT_FOUND");
        assert_eq!(app.remaining(&event, "s1").await, 8);

        let body = stripe_event("1", "checkout.session.completed", &order_id, 5100, "eur");
        deliver(&app.base, &body, "whsec_wrong", 0).await.assert_error(400, "INVALID_SIGNATURE");
        deliver(&app.base, &body, SECRET, 301).await.assert_error(400, "INVALID_SIGNATURE");
        assert_eq!(order_key(backend, &order_id)["status"], "pending_payment");

        let paid = deliver(&app.base, &body, SECRET, 0).await;
        paid.assert_status(200);
        assert_eq!(paid.body["result"], "paid");
        assert_eq!(paid.body["status"], "paid");
        assert_eq!(paid.body["replayed"], false);
        let stored = order_key(backend, &order_id);
        let booking_id = stored["bookingId"].as_str().expect("a booking").to_owned();
        let booking = booking_key(backend, &booking_id).expect("the booking is stored");
        assert_eq!(booking["orderId"], order_id.as_str());
        assert_eq!(booking["qty"], 2);
        assert_eq!(booking["status"], "confirmed");

        // Again, and as the payment intent's own event: the same payment, applied once.
        let again = deliver(&app.base, &body, SECRET, 0).await;
        again.assert_status(200);
        assert_eq!(again.body["replayed"], true);
        let intent = stripe_event("1", "payment_intent.succeeded", &order_id, 5100, "eur");
        let told_twice = deliver(&app.base, &intent, SECRET, 0).await;
        assert_eq!(told_twice.body["replayed"], true);
        let stored = order_key(backend, &order_id);
        assert_eq!(stored["payments"].as_array().map(Vec::len), Some(1));
        assert!(stored.get("refund").is_none());
        assert_eq!(app.remaining(&event, "s1").await, 8);
        let bookings: Vec<String> =
            backend.query(&["ZRANGE", &format!("bo:{{{event}}}:bookings"), "0", "-1"]);
        assert_eq!(bookings, vec![booking_id.clone()]);

        // The buyer sees the order, another buyer does not.
        let shown = app.get(&format!("/orders/{order_id}?user=ann")).await;
        assert_eq!(shown.body["status"], "paid");
        let other = app
            .send(Method::GET, &format!("/orders/{order_id}"), None,
                  &[("authorization", &crate::harness::bearer("bob"))])
            .await;
        other.assert_error(404, "ORDER_NOT_FOUND");
        // An event that is not a payment, or for no order of ours: acknowledged, ignored.
        let other_kind = json!({ "id": "evt_x", "type": "customer.created",
                                 "data": { "object": {} } }).to_string();
        let ignored = deliver(&app.base, &other_kind, SECRET, 0).await;
        ignored.assert_status(200);
        assert_eq!(ignored.body["result"], "ignored");
        backend.assert_audit_clean();
    }
);

both!(
    /// A payment with another amount or currency pays nothing: the order is flagged and keeps
    /// its inventory; the right payment then pays it.
    async fn a_wrong_amount_pays_nothing_and_is_kept_for_a_person(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({})).await;
        let held = hold(&app, &event, json!({ "userId": "ann", "seats": ["A1", "A2"] })).await;
        let made = order(&app, &event, &held, "ann").await;
        let order_id = made.body["id"].as_str().expect("order id").to_owned();
        assert_eq!(made.body["amount"].as_f64(), Some(80.0));

        let short = stripe_event("2", "payment_intent.succeeded", &order_id, 7900, "eur");
        let flagged = deliver(&app.base, &short, SECRET, 0).await;
        assert_eq!(flagged.body["result"], "mismatch");
        assert_eq!(flagged.body["status"], "payment_mismatch");
        let dollars = stripe_event("3", "payment_intent.succeeded", &order_id, 8000, "usd");
        assert_eq!(deliver(&app.base, &dollars, SECRET, 0).await.body["result"], "mismatch");
        assert_eq!(app.seat_status(&event, "A1").await["status"], "locked");
        assert!(order_key(backend, &order_id).get("bookingId").is_none());

        let right = stripe_event("4", "payment_intent.succeeded", &order_id, 8000, "eur");
        let paid = deliver(&app.base, &right, SECRET, 0).await;
        assert_eq!(paid.body["result"], "paid");
        assert_eq!(app.seat_status(&event, "A1").await["status"], "booked");
        assert_eq!(app.seat_status(&event, "A2").await["status"], "booked");
        let stored = order_key(backend, &order_id);
        assert_eq!(stored["payments"].as_array().map(Vec::len), Some(3));
        backend.assert_audit_clean();
    }
);

both!(
    /// Unpaid past its deadline, an order gives everything back on Redis's clock; paid late,
    /// it is revived when everything is still free, and owed back when something was sold.
    async fn an_unpaid_order_expires_and_a_late_payment_revives_it_or_is_owed_back(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 1_000)).await;
        let event = paid_event(&app, 3, json!({})).await;
        let first = hold(&app, &event, json!({ "userId": "ann", "sectionId": "s1", "qty": 2 })).await;
        let first = order(&app, &event, &first, "ann").await.body["id"].as_str().expect("id").to_owned();
        let seats = hold(&app, &event, json!({ "userId": "bob", "seats": ["A1"] })).await;
        let second = order(&app, &event, &seats, "bob").await.body["id"].as_str().expect("id").to_owned();
        assert_eq!(app.remaining(&event, "s1").await, 1);

        eventually("both orders expired", || async {
            let a = app.get(&format!("/orders/{first}?user=ann")).await;
            let b = app.get(&format!("/orders/{second}?user=bob")).await;
            a.body["status"] == "expired" && b.body["status"] == "expired"
        })
        .await;
        // Everything is back, as reads see it at once.
        assert_eq!(app.remaining(&event, "s1").await, 3);
        assert_eq!(app.seat_status(&event, "A1").await["status"], "available");
        // Cancelling an expired order is refused.
        app.send(Method::DELETE, &format!("/orders/{first}"), None,
                 &[("authorization", &crate::harness::bearer("ann"))])
            .await
            .assert_error(409, "ORDER_NOT_CANCELLABLE");

        // Someone else takes the seat A1 meanwhile (the organizer sells it at the box office).
        for action in ["lock", "confirm"] {
            let path = format!("/events/{event}/seats/A1/{action}");
            let reply = app.send(Method::POST, &path, None, &[]).await;
            assert!(reply.status == 200 || reply.status == 201, "{action}: {}", reply.text);
        }

        let late = stripe_event("5", "checkout.session.completed", &first, 5100, "eur");
        let revived = deliver(&app.base, &late, SECRET, 0).await;
        assert_eq!(revived.body["result"], "revived");
        assert_eq!(revived.body["status"], "paid");
        assert_eq!(app.remaining(&event, "s1").await, 1);
        let stored = order_key(backend, &first);
        let booking = booking_key(backend, stored["bookingId"].as_str().expect("a booking"));
        assert_eq!(booking.expect("booked")["qty"], 2);

        let too_late = stripe_event("6", "checkout.session.completed", &second, 4000, "eur");
        let owed = deliver(&app.base, &too_late, SECRET, 0).await;
        assert_eq!(owed.body["result"], "refund_required");
        let stored = order_key(backend, &second);
        assert_eq!(stored["status"], "refund_required");
        assert_eq!(stored["refund"], json!({ "amount": 4000, "status": "owed" }));
        assert!(stored.get("bookingId").is_none());
        backend.assert_audit_clean();
    }
);

both!(
    /// Its user cancels an open order: everything back at once. A paid order: its buyer only
    /// until `cancellableUntil`, an organizer always; the booking is cancelled and the refund
    /// is the amount minus the fee.
    async fn cancelling_an_order_returns_its_inventory_and_says_what_is_owed(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let terms = json!({ "cancellableUntil": "2020-01-01T00:00:00Z", "cancellationFeePercent": 10 });
        let event = paid_event(&app, 10, terms).await;
        let ann = crate::harness::bearer("ann");
        let held = hold(&app, &event, json!({ "userId": "ann", "seats": ["A1", "A2"] })).await;
        let open = order(&app, &event, &held, "ann").await.body["id"].as_str().expect("id").to_owned();
        let cancelled = app
            .send(Method::DELETE, &format!("/orders/{open}"), None, &[("authorization", &ann)])
            .await;
        cancelled.assert_status(200);
        assert_eq!(cancelled.body["status"], "cancelled");
        assert_eq!(app.seat_status(&event, "A1").await["status"], "available");

        let held = hold(&app, &event, json!({ "userId": "ann", "sectionId": "s1", "qty": 4 })).await;
        let paid = order(&app, &event, &held, "ann").await.body["id"].as_str().expect("id").to_owned();
        let body = stripe_event("7", "payment_intent.succeeded", &paid, 10_200, "eur");
        assert_eq!(deliver(&app.base, &body, SECRET, 0).await.body["result"], "paid");
        assert_eq!(app.remaining(&event, "s1").await, 6);
        // The buyer's window closed in 2020.
        app.send(Method::DELETE, &format!("/orders/{paid}"), None, &[("authorization", &ann)])
            .await
            .assert_error(409, "ORDER_NOT_CANCELLABLE");
        // Its booking cannot be cancelled around the order.
        let booking_id = order_key(backend, &paid)["bookingId"].as_str().expect("booking").to_owned();
        app.delete(&format!("/bookings/{booking_id}")).await.assert_error(409, "BOOKING_HAS_ORDER");
        let by_organizer = app.delete(&format!("/orders/{paid}")).await;
        by_organizer.assert_status(200);
        assert_eq!(by_organizer.body["status"], "cancelled");
        assert_eq!(by_organizer.body["refund"]["amount"].as_f64(), Some(91.8));
        assert_eq!(by_organizer.body["refund"]["status"], "owed");
        assert_eq!(app.remaining(&event, "s1").await, 10);
        assert_eq!(booking_key(backend, &booking_id).expect("booking")["status"], "cancelled");
        app.delete(&format!("/orders/{paid}")).await.assert_error(409, "ORDER_NOT_CANCELLABLE");

        // The buyer lists their orders; the organizer lists the event's.
        let mine = app.get("/orders?user=ann").await;
        assert_eq!(mine.body["orders"].as_array().map(Vec::len), Some(2));
        let all = app.get(&format!("/orders?eventId={event}&status=cancelled")).await;
        assert_eq!(all.body["orders"].as_array().map(Vec::len), Some(2));
        let hers = app.get(&format!("/orders?eventId={event}&user=ann&status=paid")).await;
        assert_eq!(hers.body["orders"].as_array().map(Vec::len), Some(0));
        let first = app.get(&format!("/orders?eventId={event}&limit=1")).await;
        assert_eq!(first.body["orders"][0]["id"], open.as_str());
        let cursor = first.body["nextCursor"].as_str().expect("a next page");
        let next = app.get(&format!("/orders?eventId={event}&limit=1&cursor={cursor}")).await;
        assert_eq!(next.body["orders"][0]["id"], paid.as_str());
        backend.assert_audit_clean();
    }
);

both!(
    /// An admin records a payment received by other means, once per provider reference; an
    /// open order counts against the buyer's maxPerUser; a currency without cents takes whole
    /// prices only.
    async fn an_admin_records_a_payment_once_and_open_orders_count_as_held(backend) {
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({ "maxPerUser": 3 })).await;
        let held = hold(&app, &event, json!({ "userId": "ann", "sectionId": "s1", "qty": 2 })).await;
        let id = order(&app, &event, &held, "ann").await.body["id"].as_str().expect("id").to_owned();
        let over = app.post(&format!("/events/{event}/holds"),
                            json!({ "userId": "ann", "sectionId": "s1", "qty": 2 })).await;
        over.assert_error(409, "USER_LIMIT_REACHED");

        let admin = format!("Bearer {}", crate::harness::token("root", boxoffice::domain::role::Role::Admin));
        let payment = json!({ "provider": "bank-transfer", "reference": "TX-1", "amount": 51.00, "currency": "EUR" });
        let path = format!("/orders/{id}/payments");
        // Organizers may not; an admin may.
        app.post(&path, payment.clone()).await.assert_error(403, "FORBIDDEN");
        let paid = app.send(Method::POST, &path, Some(payment.clone()), &[("authorization", &admin)]).await;
        paid.assert_status(200);
        assert_eq!(paid.body["result"], "paid");
        assert_eq!(paid.body["order"]["status"], "paid");
        let again = app.send(Method::POST, &path, Some(payment), &[("authorization", &admin)]).await;
        assert_eq!(again.body["replayed"], true);
        assert_eq!(order_key(backend, &id)["payments"].as_array().map(Vec::len), Some(1));
        assert_eq!(app.remaining(&event, "s1").await, 8);

        let yen = app.post("/events", json!({ "name": "Yen", "currency": "JPY",
            "sections": [{ "name": "Floor", "price": 20.5, "capacity": 5 }] })).await;
        yen.assert_error(400, "INVALID_REQUEST");
        backend.assert_audit_clean();
    }
);

/// A small deterministic generator: the run's choices are the same every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// What the run does with one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    PaidInTime,
    NeverPaid,
    PaidLate,
    Cancelled,
    /// Cancelled by its buyer, then paid all the same.
    CancelledThenPaid,
    /// First a payment of the wrong amount, then the right one in time.
    WrongThenRight,
}

struct Placed {
    id: String,
    event: String,
    /// In cents, as the provider would send it.
    amount: i64,
    fate: Fate,
}

/// One webhook delivery: the body, the replica, and whether its signature is wrong.
struct Delivery {
    body: String,
    target: usize,
    forged: bool,
}

both!(
    /// 2000 orders through three replicas, each with a random fate; every payment told twice
    /// (as both of Stripe's event types), all deliveries shuffled, some forged, some with a
    /// wrong amount; box-office sales take inventory that expired orders gave back. Then the
    /// store holds: the audit passes; every paid order has its confirmed booking and every
    /// booking made by an order belongs to a paid one; no seat is sold twice; an order never
    /// paid is expired with nothing booked; a payment counted `paid` arrived before the
    /// deadline, a late one revived the order or is owed back.
    async fn two_thousand_orders_with_random_fates_keep_every_rule(backend) {
        const ORDERS: usize = 2000;
        let env = [
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("ORDER_PAYMENT_TTL_MS", "10000"),
            ("MAX_TICKETS_HELD_PER_USER", "0"),
            ("MAX_LOCKS_PER_USER", "0"),
        ];
        let replicas: Vec<ServerProcess> = (0..3)
            .map(|i| ServerProcess::on(backend, &format!("api-{i}"), &env))
            .collect();
        let bases: Vec<String> = replicas.iter().map(|r| r.http.base.clone()).collect();
        let app = &replicas[0].http;
        // Two general admission events and two of rows: fewer tickets than the orders want.
        let mut events = Vec::new();
        for i in 0..4 {
            let section = if i % 2 == 0 {
                json!({ "name": "Floor", "price": 12.5, "capacity": 900 })
            } else {
                json!({ "name": "Stalls", "price": 30, "rows": (b'A'..=b'O').map(|r| json!({ "name": (r as char).to_string(), "count": 40 })).collect::<Vec<_>>() })
            };
            let reply = app
                .post("/events", json!({ "name": format!("Sale {i}"), "payment": "required",
                                         "sections": [section] }))
                .await;
            reply.assert_status(201);
            events.push(reply.body["id"].as_str().expect("id").to_owned());
        }
        let mut dice = Dice(0x005E_ED0F_0DE5);
        let plans: Vec<(usize, String, u32, Fate)> = (0..ORDERS)
            .map(|i| {
                let fate = match dice.below(100) {
                    0..35 => Fate::PaidInTime,
                    35..55 => Fate::NeverPaid,
                    55..75 => Fate::PaidLate,
                    75..85 => Fate::Cancelled,
                    85..90 => Fate::CancelledThenPaid,
                    _ => Fate::WrongThenRight,
                };
                let event = dice.below(events.len() as u64) as usize;
                (event, format!("buyer-{i}"), 1 + dice.below(3) as u32, fate)
            })
            .collect();

        // Phase 1: holds and orders, concurrently over the replicas.
        let placed: Vec<Option<Placed>> = futures_util::stream::iter(plans.iter().enumerate())
            .map(|(i, (event, user, qty, fate))| {
                let base = bases[i % bases.len()].clone();
                let event = events[*event].clone();
                async move {
                    let http = crate::harness::Http::new(base);
                    let held = http
                        .post(&format!("/events/{event}/holds"),
                              json!({ "userId": user, "sectionId": "s1", "qty": qty }))
                        .await;
                    if held.status != 201 {
                        assert_eq!(held.status, 409, "{}", held.text);
                        return None;
                    }
                    let hold_id = held.body["id"].as_str().expect("hold id");
                    let made = order(&http, &event, hold_id, user).await;
                    made.assert_status(201);
                    let amount = (made.body["amount"].as_f64().expect("amount") * 100.0).round() as i64;
                    Some(Placed { id: made.body["id"].as_str().expect("id").to_owned(), event, amount, fate: *fate })
                }
            })
            .buffer_unordered(48)
            .collect()
            .await;
        let mut placed: Vec<Placed> = placed.into_iter().flatten().collect();
        assert!(placed.len() > ORDERS / 2, "most orders were placed ({})", placed.len());

        // Cancellations by their buyers.
        let cancelling: Vec<(String, String)> = placed
            .iter()
            .filter(|o| matches!(o.fate, Fate::Cancelled | Fate::CancelledThenPaid))
            .map(|o| (o.id.clone(), order_key(backend, &o.id)["userId"].as_str().expect("user").to_owned()))
            .collect();
        let too_late: Vec<String> = futures_util::stream::iter(cancelling)
            .map(|(id, user)| {
                let http = crate::harness::Http::new(bases[1].clone());
                async move {
                    let reply = http
                        .send(Method::DELETE, &format!("/orders/{id}"), None,
                              &[("authorization", &crate::harness::bearer(&user))])
                        .await;
                    if reply.status == 409 {
                        reply.assert_error(409, "ORDER_NOT_CANCELLABLE");
                        return Some(id);
                    }
                    reply.assert_status(200);
                    None
                }
            })
            .buffer_unordered(16)
            .filter_map(|late| async move { late })
            .collect()
            .await;
        // Cancelled in time unless this machine was slower than the deadline: then the order
        // had expired (the store says so), and its fate is that of an order never paid, or
        // paid late.
        for order in placed.iter_mut().filter(|o| too_late.contains(&o.id)) {
            let deadline = order_key(backend, &order.id)["paymentDeadline"].as_i64().expect("deadline");
            assert!(deadline <= backend.now_ms(), "{}: refused before its deadline", order.id);
            order.fate = if order.fate == Fate::Cancelled { Fate::NeverPaid } else { Fate::PaidLate };
        }

        // Each payment as both event types, to two replicas; a forged copy now and then.
        let payments = |orders: &mut dyn Iterator<Item = &Placed>, dice: &mut Dice, tag: &str| {
            let mut deliveries = Vec::new();
            for order in orders {
                let mut amounts = vec![order.amount];
                if order.fate == Fate::WrongThenRight {
                    amounts.insert(0, order.amount + 1);
                }
                for (n, amount) in amounts.into_iter().enumerate() {
                    let reference = format!("{tag}{n}_{}", order.id);
                    for kind in ["checkout.session.completed", "payment_intent.succeeded"] {
                        let body = stripe_event(&reference, kind, &order.id, amount, "eur");
                        let target = dice.below(3) as usize;
                        if dice.below(20) == 0 {
                            deliveries.push(Delivery { body: body.clone(), target, forged: true });
                        }
                        deliveries.push(Delivery { body, target, forged: false });
                    }
                }
            }
            dice.shuffle(&mut deliveries);
            deliveries
        };
        let deliver_all = |deliveries: Vec<Delivery>| {
            let bases = bases.clone();
            async move {
                futures_util::stream::iter(deliveries)
                    .map(|d| {
                        let base = bases[d.target].clone();
                        async move {
                            let secret = if d.forged { "whsec_forged" } else { SECRET };
                            let reply = deliver(&base, &d.body, secret, 0).await;
                            if d.forged {
                                reply.assert_error(400, "INVALID_SIGNATURE");
                            } else {
                                reply.assert_status(200);
                            }
                        }
                    })
                    .buffer_unordered(32)
                    .collect::<Vec<()>>()
                    .await;
            }
        };
        // Phase 2: the payments in time (and the wrong amounts before the right ones).
        let in_time: Vec<&Placed> = placed
            .iter()
            .filter(|o| matches!(o.fate, Fate::PaidInTime | Fate::WrongThenRight))
            .collect();
        let wrong_first: Vec<Delivery> = payments(
            &mut in_time.iter().copied().filter(|o| o.fate == Fate::WrongThenRight), &mut dice, "w")
            .into_iter()
            .filter(|d| d.body.contains("w0_"))
            .collect();
        deliver_all(wrong_first).await;
        deliver_all(payments(&mut in_time.iter().copied(), &mut dice, "p")).await;

        // Phase 3: every deadline passes; the box office sells some of what came back.
        let last = placed.iter().map(|o| order_key(backend, &o.id)["paymentDeadline"].as_i64().expect("deadline")).max().expect("orders");
        eventually("every deadline passed", || async { backend.now_ms() > last }).await;
        // On the first two events the box office sells everything that came back; on the
        // other two, nothing: late payments there find their tickets free.
        for event in &events[..2] {
            for qty in [10, 1] {
                loop {
                    let reply = app.post("/book", json!({ "eventId": event, "sectionId": "s1", "qty": qty })).await;
                    if reply.status == 409 {
                        break;
                    }
                    reply.assert_status(201);
                }
            }
        }
        // Phase 4: the late payments, and those of cancelled orders.
        let late: Vec<&Placed> = placed
            .iter()
            .filter(|o| matches!(o.fate, Fate::PaidLate | Fate::CancelledThenPaid))
            .collect();
        deliver_all(payments(&mut late.iter().copied(), &mut dice, "l")).await;

        // Every replica's webhook round writes `expired` on the orders nobody paid.
        let never_paid: Vec<&Placed> = placed.iter().filter(|o| o.fate == Fate::NeverPaid).collect();
        eventually("every unpaid order written expired", || async {
            never_paid.iter().all(|o| order_key(backend, &o.id)["status"] == "expired")
        })
        .await;

        // What the store holds.
        backend.assert_audit_clean();
        let mut sold_seats: HashMap<String, String> = HashMap::new();
        let mut paid_orders = std::collections::HashSet::new();
        for order in &placed {
            let stored = order_key(backend, &order.id);
            let status = stored["status"].as_str().expect("status");
            let deadline = stored["paymentDeadline"].as_i64().expect("deadline");
            let results: Vec<(&str, i64)> = stored["payments"]
                .as_array()
                .map(|p| p.iter().map(|p| (p["result"].as_str().unwrap_or(""), p["receivedAt"].as_i64().unwrap_or(0))).collect())
                .unwrap_or_default();
            for (result, at) in &results {
                match *result {
                    "paid" => assert!(*at < deadline, "{}: paid after its deadline", order.id),
                    "revived" | "refund_required" => assert!(*at >= deadline || order.fate == Fate::CancelledThenPaid, "{}: {result} in time", order.id),
                    _ => {}
                }
            }
            match order.fate {
                Fate::NeverPaid | Fate::Cancelled => {
                    assert!(stored.get("bookingId").is_none(), "{}: {stored}", order.id);
                    assert!(results.is_empty());
                    assert_eq!(status, if order.fate == Fate::Cancelled { "cancelled" } else { "expired" });
                    assert!(backend.now_ms() > deadline || order.fate == Fate::Cancelled);
                }
                Fate::PaidLate | Fate::CancelledThenPaid => {
                    assert!(status == "paid" || status == "refund_required", "{}: {status}", order.id);
                }
                Fate::PaidInTime | Fate::WrongThenRight => {
                    // In time unless this machine was slower than the deadline: then late.
                    assert!(status == "paid" || status == "refund_required", "{}: {status}", order.id);
                }
            }
            if status == "refund_required" {
                assert!(stored.get("bookingId").is_none());
                assert!(stored["refund"]["amount"].as_i64().unwrap_or(0) >= order.amount);
            }
            if status == "paid" {
                let booking = booking_key(backend, stored["bookingId"].as_str().expect("booking"))
                    .expect("a paid order's booking is stored");
                assert_eq!(booking["orderId"], order.id.as_str());
                assert_eq!(booking["status"], "confirmed");
                assert_eq!(booking["qty"], stored["items"][0]["qty"]);
                for seat in booking["seats"].as_array().into_iter().flatten() {
                    let seat = format!("{}:{}", order.event, seat.as_str().unwrap_or(""));
                    let first = sold_seats.insert(seat.clone(), order.id.clone());
                    assert!(first.is_none(), "{seat} sold twice");
                }
                paid_orders.insert(order.id.clone());
            }
        }
        // Every booking an order made belongs to a paid order.
        for event in &events {
            let ids: Vec<String> = backend.query(&["ZRANGE", &format!("bo:{{{event}}}:bookings"), "0", "-1"]);
            for id in ids {
                let booking = booking_key(backend, &id).expect("indexed booking is stored");
                if let Some(order) = booking["orderId"].as_str() {
                    assert!(paid_orders.contains(order), "booking {id} of unpaid order {order}");
                }
            }
        }
        let outcomes = placed.iter().fold(HashMap::<String, usize>::new(), |mut counts, o| {
            let stored = order_key(backend, &o.id);
            *counts.entry(stored["status"].as_str().unwrap_or("").to_owned()).or_default() += 1;
            counts
        });
        eprintln!("{} orders placed: {outcomes:?}", placed.len());
        assert!(outcomes.get("refund_required").copied().unwrap_or(0) > 0, "some late payments found their tickets sold");
        let revived = placed.iter().filter(|o| {
            order_key(backend, &o.id)["payments"].as_array().into_iter().flatten().any(|p| p["result"] == "revived")
        }).count();
        assert!(revived > 0, "some late payments found their tickets free");
        assert!(outcomes.get("paid").copied().unwrap_or(0) > ORDERS / 4);
    }
);

/// `boxoffice audit` reports an order and a booking that disagree: a paid order whose booking
/// was made for another, a confirmed booking whose order is not paid.
#[tokio::test]
async fn the_audit_reports_orders_and_bookings_that_disagree() {
    let cases = [
        (
            "order {o} is paid with booking {b}, made for another order",
            "booking",
            "orderId",
            "\"01a20000-0000-7000-8000-000000000000\"",
        ),
        (
            "booking {b} is confirmed, but its order {o} is not paid",
            "order",
            "status",
            "\"pending_payment\"",
        ),
        (
            "order {o} is paid but has no booking",
            "order",
            "bookingId",
            "null",
        ),
    ];
    for (expected, which, field, value) in cases {
        let backend = Backend::single();
        let app = TestApp::spawn_with(payment_settings(&backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({})).await;
        let held = hold(
            &app,
            &event,
            json!({ "userId": "ann", "sectionId": "s1", "qty": 1 }),
        )
        .await;
        let order_id = order(&app, &event, &held, "ann").await.body["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let body = stripe_event("9", "payment_intent.succeeded", &order_id, 2550, "eur");
        assert_eq!(
            deliver(&app.base, &body, SECRET, 0).await.body["result"],
            "paid"
        );
        backend.assert_audit_clean();
        let booking_id = order_key(&backend, &order_id)["bookingId"]
            .as_str()
            .expect("booking")
            .to_owned();
        let key = if which == "order" {
            boxoffice::store::keys::order(
                &boxoffice::domain::ids::OrderId::parse(&order_id).expect("id"),
            )
        } else {
            boxoffice::store::keys::booking(
                &boxoffice::domain::ids::BookingId::parse(&booking_id).expect("id"),
            )
        };
        let script = format!(
            "local d = cjson.decode(redis.call('GET', KEYS[1])) d.{field} = cjson.decode('{value}') \
             if d.{field} == cjson.null then d.{field} = nil end \
             return redis.call('SET', KEYS[1], cjson.encode(d))"
        );
        let _: String = backend.query(&["EVAL", &script, "1", &key]);
        let (code, out) = backend.audit();
        let expected = expected
            .replace("{o}", &order_id)
            .replace("{b}", &booking_id);
        assert_eq!(code, 1, "{expected}: {out}");
        assert!(out.contains(&expected), "expected {expected:?} in:\n{out}");
    }
}

/// Without a secret (unset, or empty as docker-compose passes an unset one) every payment
/// webhook is refused, even one signed with the empty key.
#[tokio::test]
async fn without_a_secret_every_webhook_is_refused() {
    let backend = Backend::single();
    for secret in [None, Some(String::new())] {
        let mut settings = backend.settings();
        settings.stripe_webhook_secret = secret;
        let app = TestApp::spawn_with(settings).await;
        let body = stripe_event("0", "payment_intent.succeeded", "x", 1, "eur");
        let refused = deliver(&app.base, &body, "", 0).await;
        refused.assert_error(400, "INVALID_SIGNATURE");
        assert!(
            refused.text.contains("STRIPE_WEBHOOK_SECRET"),
            "{}",
            refused.text
        );
    }
}

both!(
    /// The live stream tells every change of availability an order makes: its seats stay
    /// `locked` until the payment deadline, then `booked` when paid; a cancelled order's seats
    /// are `available` again.
    async fn the_live_stream_tells_what_orders_do_to_availability(backend) {
        use crate::harness::sse::EventStream;
        let app = TestApp::spawn_with(payment_settings(backend, 60_000)).await;
        let event = paid_event(&app, 10, json!({})).await;
        let mut stream = EventStream::open(&app.base, &format!("/events/{event}/stream"), None).await;
        assert_eq!(stream.next().await.expect("ready").event, "ready");
        let held = hold(&app, &event, json!({ "userId": "ann", "seats": ["A1"] })).await;
        let made = order(&app, &event, &held, "ann").await;
        let order_id = made.body["id"].as_str().expect("id").to_owned();
        let body = stripe_event("s", "payment_intent.succeeded", &order_id, 4000, "eur");
        assert_eq!(deliver(&app.base, &body, SECRET, 0).await.body["result"], "paid");
        let other = hold(&app, &event, json!({ "userId": "bob", "seats": ["A2"] })).await;
        let cancelled = order(&app, &event, &other, "bob").await.body["id"].as_str().expect("id").to_owned();
        app.delete(&format!("/orders/{cancelled}")).await.assert_status(200);

        let changes: Vec<Value> = stream.take(6).await.iter().map(|e| e.json()).collect();
        let seen: Vec<(String, String)> = changes
            .iter()
            .map(|c| (c["seats"][0].as_str().unwrap_or("").to_owned(), c["status"].as_str().unwrap_or("").to_owned()))
            .collect();
        let expected = [("A1", "locked"), ("A1", "locked"), ("A1", "booked"), ("A2", "locked"), ("A2", "locked"), ("A2", "available")];
        assert_eq!(seen, expected.map(|(s, t)| (s.to_owned(), t.to_owned())).to_vec());
        // The order's lock runs to the payment deadline.
        assert_eq!(changes[1]["expiresAt"], made.body["paymentDeadline"]);
    }
);
