//! The seat-map page (`GET /`) in a real headless Chromium: two browser sessions, served by
//! two replicas behind the project's nginx. One holds and books seats; the other sees each
//! change without reloading. Keyboard use works. The test saves a screenshot
//! (`target/screenshots/seat-map.png`). Then the door page (`GET /checkin`), with the code the
//! buyer's page shows (`target/screenshots/checkin.png`).

use crate::harness::browser::{Browser, Session};
use crate::harness::{Backend, Nginx, ServerProcess, eventually, token};
use boxoffice::auth::Role;
use serde_json::{Value, json};

/// A replica's open streams, from its own `/metrics`.
async fn subscribers(replica: &ServerProcess) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", replica.metrics_port))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("boxoffice_stream_subscribers "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The status a session's page shows for a seat (`data-status`).
const SEAT_STATUS: &str = "const b = document.querySelector(`[data-seat=\"${arguments[0]}\"]`); \
    return b ? b.dataset.status : null;";

/// Opens the page for `event`, signed in with `token`, and waits until it is live.
async fn open(session: &Session<'_>, base: &str, event: &str, token: &str) {
    session.goto(&format!("{base}/#event={event}")).await;
    if !token.is_empty() {
        session.type_into("#identity", token).await;
    }
    session
        .wait_for(
            "the map is drawn and live",
            "return document.querySelectorAll('[data-seat]').length === 12 \
             && document.getElementById('live').dataset.state === 'live';",
            json!([]),
        )
        .await;
    // Set once: still there later means the page never reloaded.
    session
        .eval("window.sameLoad = true; return true;", json!([]))
        .await;
}

async fn seat_shown(session: &Session<'_>, seat: &str) -> Value {
    session.eval(SEAT_STATUS, json!([seat])).await
}

async fn remaining_shown(session: &Session<'_>, section: &str) -> Value {
    session
        .eval(
            "const n = document.querySelector(`[data-section=\"${arguments[0]}\"] .remaining`); \
             return n ? Number(n.textContent) : null;",
            json!([section]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_buyers_on_two_replicas_see_each_others_holds_and_sales_live() {
    let backend = Backend::single();
    // Keep-alives every second: a stream whose page went away is noticed within one.
    let env = [("STREAM_KEEPALIVE_MS", "1000")];
    let one = ServerProcess::on(&backend, "api-1", &env);
    let two = ServerProcess::on(&backend, "api-2", &env);
    let nginx = Nginx::start(&[one.port, two.port]);
    let event = one
        .http
        .create_event(json!([
            { "name": "Stalls", "price": 45,
              "rows": [{ "name": "A", "count": 6 }, { "name": "B", "count": 6 }] },
            { "name": "Standing", "price": 20, "capacity": 100 },
        ]))
        .await;
    let event = event["id"].as_str().expect("event id").to_owned();
    let token = |user: &str| token(user, Role::Buyer);

    let browser = Browser::start();
    let alice = browser.session("alice").await;
    let bob = browser.session("bob").await;
    open(&alice, &nginx.http.base, &event, &token("alice")).await;
    open(&bob, &nginx.http.base, &event, &token("bob")).await;
    // Bob's stream on the other replica than Alice's. nginx picks a replica per request (each
    // of its workers in turn), so while both streams are on one replica, Bob's page opens its
    // stream again; its old one goes away (its replica notices at the next keep-alive).
    let mut attempts = 0;
    loop {
        eventually("two streams open", || async {
            subscribers(&one).await + subscribers(&two).await == 2.0
        })
        .await;
        if subscribers(&one).await == 1.0 {
            eprintln!("bob's stream is on the other replica after {attempts} reconnects");
            break;
        }
        attempts += 1;
        assert!(attempts < 100, "bob's stream stays on alice's replica");
        bob.eval(
            "state.source.close(); live(state.event.id); return true;",
            json!([]),
        )
        .await;
        bob.wait_for(
            "bob's page is live again",
            "return document.getElementById('live').dataset.state === 'live';",
            json!([]),
        )
        .await;
    }

    // Alice picks A3 and A4, one with the mouse, one with the keyboard, and holds them.
    alice.click("[data-seat=\"A3\"]").await;
    alice.type_into("[data-seat=\"A4\"]", " ").await;
    alice
        .wait_for(
            "both seats are selected",
            "return document.querySelectorAll('[aria-pressed=\"true\"][data-seat]').length === 2;",
            json!([]),
        )
        .await;
    alice.click("#hold").await;
    alice
        .wait_for(
            "alice's hold counts down",
            "return !document.getElementById('holding').hidden \
             && /left$/.test(document.getElementById('countdown').textContent);",
            json!([]),
        )
        .await;
    assert_eq!(seat_shown(&alice, "A3").await, "mine");

    // Bob sees them taken, without reloading.
    for seat in ["A3", "A4"] {
        eventually("bob sees alice's hold", || async {
            seat_shown(&bob, seat).await == "locked"
        })
        .await;
    }
    let label = bob
        .eval(
            "return document.querySelector('[data-seat=\"A3\"]').getAttribute('aria-label');",
            json!([]),
        )
        .await;
    assert_eq!(label, "Seat A3, held by someone, 45.00", "not colour alone");
    assert_eq!(
        bob.eval("return window.sameLoad === true;", json!([]))
            .await,
        true
    );

    // Alice books; Bob sees the seats sold and the section's count drop.
    alice.click("#confirm").await;
    alice
        .wait_for(
            "alice's booking is confirmed",
            "return /^Booked: A3, A4/.test(document.getElementById('message').textContent);",
            json!([]),
        )
        .await;
    bob.wait_for(
        "bob sees the seats sold",
        "const s = (id) => document.querySelector(`[data-seat=\"${id}\"]`).dataset.status; \
         return s('A3') === 'booked' && s('A4') === 'booked';",
        json!([]),
    )
    .await;
    assert_eq!(remaining_shown(&bob, "s1").await, 10);

    // Bob holds standing tickets; Alice's count drops.
    bob.type_into("#qty-s2", "\u{E003}3").await; // Backspace, then 3
    bob.click("[data-section=\"s2\"] button").await;
    bob.wait_for(
        "bob's hold counts down",
        "return !document.getElementById('holding').hidden;",
        json!([]),
    )
    .await;
    eventually("alice sees standing drop to 97", || async {
        remaining_shown(&alice, "s2").await == 97
    })
    .await;
    assert_eq!(
        alice
            .eval("return window.sameLoad === true;", json!([]))
            .await,
        true
    );

    // What the store holds agrees with what the pages show.
    let a3 = one.http.seat_status(&event, "A3").await;
    assert_eq!(a3["status"], "booked");
    assert_eq!(one.http.remaining(&event, "s2").await, 97);

    let shot =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/seat-map.png");
    bob.screenshot(&shot).await;
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    alice.quit().await;
    bob.quit().await;
}

/// The waiting room on the page: with `maxActive` 1, Alice is admitted and Bob waits; Bob's
/// hold is refused; once Alice has booked, Bob's page says it is his turn (without reloading)
/// and his hold goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_queues_a_buyer_until_his_turn() {
    let backend = Backend::single();
    let one = ServerProcess::on(&backend, "api-1", &[]);
    let two = ServerProcess::on(&backend, "api-2", &[]);
    let nginx = Nginx::start(&[one.port, two.port]);
    let created = one
        .http
        .post(
            "/events",
            json!({ "name": "On-sale", "waitingRoom": { "enabled": true, "maxActive": 1 },
            "sections": [
                { "name": "Stalls", "price": 45,
                  "rows": [{ "name": "A", "count": 6 }, { "name": "B", "count": 6 }] },
                { "name": "Standing", "price": 20, "capacity": 100 },
            ]}),
        )
        .await;
    created.assert_status(201);
    let event = created.body["id"].as_str().expect("event id").to_owned();
    let browser = Browser::start();
    let alice = browser.session("alice").await;
    let bob = browser.session("bob").await;
    let queue_state = "return document.getElementById('queue-status').dataset.state || null;";
    // Alice signs in first, then Bob: each waits for the state the page shows.
    for (session, user, state) in [(&alice, "alice", "admitted"), (&bob, "bob", "waiting")] {
        open(session, &nginx.http.base, &event, "").await;
        // Signing in (the field's change: Tab away) joins the queue.
        session
            .type_into(
                "#identity",
                &format!("{}\u{E004}", token(user, Role::Buyer)),
            )
            .await;
        session
            .wait_for(
                &format!("{user}'s queue panel says {state}"),
                "return document.getElementById('queue-status').dataset.state === arguments[0];",
                json!([state]),
            )
            .await;
    }
    bob.wait_for(
        "bob's page says he is next",
        "return document.getElementById('queue-status').textContent === arguments[0];",
        json!(["You are in the queue: 0 ahead of you."]),
    )
    .await;

    // Bob cannot hold yet.
    bob.click("[data-seat=\"B1\"]").await;
    bob.click("#hold").await;
    bob.wait_for(
        "bob's hold is refused",
        "return /ADMISSION_REQUIRED/.test(document.getElementById('message').textContent);",
        json!([]),
    )
    .await;
    // Alice holds and books; her admission is used, and Bob's turn comes.
    alice.click("[data-seat=\"A1\"]").await;
    alice.click("#hold").await;
    alice
        .wait_for(
            "alice holds A1",
            "return !document.getElementById('holding').hidden;",
            json!([]),
        )
        .await;
    alice.click("#confirm").await;
    eventually("bob's page says it is his turn", || async {
        bob.eval(queue_state, json!([])).await == "admitted"
    })
    .await;
    assert_eq!(
        bob.eval("return window.sameLoad === true;", json!([]))
            .await,
        true
    );
    bob.click("#hold").await;
    bob.wait_for(
        "bob holds B1",
        "return !document.getElementById('holding').hidden;",
        json!([]),
    )
    .await;
    assert_eq!(seat_shown(&bob, "B1").await, "mine");
    assert_eq!(one.http.seat_status(&event, "A1").await["status"], "booked");
    alice.quit().await;
    bob.quit().await;
}

/// The door page (`GET /checkin`) in Chromium, keyboard only: a staff member signs in, the
/// page is on the event, and the code the buyer's seat-map page shows (with its QR code) is
/// typed and Enter pressed: `OK`, then `ALREADY USED` naming the first door, a garbage code
/// `INVALID`; the field is cleared and focused for the next scan, and the counts follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_door_page_checks_in_the_code_the_buyers_page_shows() {
    let backend = Backend::single();
    let one = ServerProcess::on(&backend, "api-1", &[]);
    let created = one
        .http
        .post(
            "/events",
            json!({ "name": "Door night", "sections": [{ "name": "Floor", "price": 20, "capacity": 50 }] }),
        )
        .await;
    created.assert_status(201);
    let event = created.body["id"].as_str().expect("event id").to_owned();
    one.http
        .book(&event, "s1", 2, "alice")
        .await
        .assert_status(201);

    let browser = Browser::start();
    // The buyer's page lists her two tickets, each with a QR code drawn inline.
    let alice = browser.session("alice").await;
    alice
        .goto(&format!("{}/#event={event}", one.http.base))
        .await;
    alice
        .type_into(
            "#identity",
            &format!("{}\u{E004}", token("alice", Role::Buyer)),
        )
        .await;
    alice
        .wait_for(
            "her tickets are shown",
            "return !document.getElementById('tickets').hidden \
             && document.querySelectorAll('#ticket-list li svg').length === 2;",
            json!([]),
        )
        .await;
    let code = alice
        .eval(
            "return document.querySelector('#ticket-list li').dataset.code;",
            json!([]),
        )
        .await;
    let code = code.as_str().expect("a code on the page").to_owned();

    let door = browser.session("door").await;
    door.goto(&format!("{}/checkin#event={event}", one.http.base))
        .await;
    door.type_into(
        "#identity",
        &format!("{}\u{E004}", token("door-staff", Role::Staff)),
    )
    .await;
    door.wait_for(
        "the event is picked and its counts shown",
        "return document.getElementById('event').value === arguments[0] \
         && document.getElementById('counts').textContent === '0 checked in of 2 sold';",
        json!([event]),
    )
    .await;
    let result = "const r = document.getElementById('result'); \
        return [r.dataset.result, r.querySelector('.what').textContent, \
                r.querySelector('.detail').textContent, document.activeElement.id, \
                document.getElementById('code').value];";
    door.type_into("#code", &format!("{code}\u{E007}")).await;
    door.wait_for(
        "OK",
        "return document.getElementById('result').dataset.result === 'ok';",
        json!([]),
    )
    .await;
    assert_eq!(
        door.eval(result, json!([])).await,
        json!(["ok", "Section s1", "", "code", ""])
    );
    door.type_into("#code", &format!("{code}\u{E007}")).await;
    door.wait_for(
        "already used",
        "return document.getElementById('result').dataset.result === 'already_redeemed';",
        json!([]),
    )
    .await;
    let shown = door.eval(result, json!([])).await;
    let scanner = door
        .eval(
            "return document.getElementById('scanner').value;",
            json!([]),
        )
        .await;
    assert!(
        shown[2]
            .as_str()
            .is_some_and(|d| d.starts_with("First checked in")
                && d.ends_with(scanner.as_str().unwrap_or("?"))),
        "{shown}"
    );
    door.type_into("#code", "not-a-ticket\u{E007}").await;
    door.wait_for(
        "invalid",
        "return document.getElementById('result').dataset.result === 'invalid';",
        json!([]),
    )
    .await;
    door.wait_for(
        "the counts follow",
        "return document.getElementById('counts').textContent === '1 checked in of 2 sold';",
        json!([]),
    )
    .await;
    let shot =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/checkin.png");
    door.screenshot(&shot).await;
    alice.quit().await;
    door.quit().await;
}
