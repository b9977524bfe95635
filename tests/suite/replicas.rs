//! Correctness across replicas: several real `boxoffice` processes on one redis-server, called
//! directly (round-robin) and through nginx. Nothing is shared between them but Redis.

use crate::harness::{
    Http, Nginx, PATIENCE, RedisProxy, RedisServer, ServerProcess, assert_audit_clean, bearer,
    eventually, instances_with_successes, run_race, script_name,
};
use futures_util::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

fn three_replicas(redis: &RedisServer, env: &[(&str, &str)]) -> Vec<ServerProcess> {
    ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::spawn(&redis.url(), id, env))
        .collect()
}

fn urls(replicas: &[ServerProcess]) -> Vec<String> {
    replicas.iter().map(|r| r.base.clone()).collect()
}

/// Races 1000 buyers for 5 tickets until the successes came from more than one replica (which
/// one wins is luck: five winners all on one of three replicas happens about 1 time in 80).
/// Every race must sell exactly 5.
fn race_until_spread(targets: &[String]) -> Vec<serde_json::Value> {
    let mut reports = Vec::new();
    for _ in 0..4 {
        let (report, code) = run_race(targets, &["--capacity", "5", "--requests", "1000"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["succeeded"], 5, "{report}");
        assert_eq!(report["remaining"], 0, "{report}");
        assert_eq!(report["bookedQty"], 5, "{report}");
        assert_eq!(
            report["rejected"]["INSUFFICIENT_INVENTORY"], 995,
            "{report}"
        );
        let spread = instances_with_successes(&report).len() > 1;
        reports.push(report);
        if spread {
            return reports;
        }
    }
    panic!("four races, each won on a single replica: {reports:?}");
}

#[test]
fn three_replicas_sell_exactly_five_of_a_thousand() {
    let redis = RedisServer::start();
    let replicas = three_replicas(&redis, &[]);
    let reports = race_until_spread(&urls(&replicas));
    let last = reports.last().unwrap();
    for replica in &replicas {
        let served = &last["perInstance"][&replica.instance]["requests"];
        assert!(served.as_u64().unwrap() >= 333, "round-robin: {last}");
    }
    assert_audit_clean(&redis.url());
}

#[test]
fn three_replicas_behind_nginx_sell_exactly_five_of_a_thousand() {
    let redis = RedisServer::start();
    let replicas = three_replicas(&redis, &[]);
    let nginx = Nginx::start(&replicas.iter().map(|r| r.port).collect::<Vec<_>>());
    let reports = race_until_spread(&[nginx.url()]);
    let last = reports.last().unwrap();
    let served: Vec<&String> = last["perInstance"].as_object().unwrap().keys().collect();
    assert_eq!(
        served,
        ["api-1", "api-2", "api-3"],
        "nginx spreads over all: {last}"
    );
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn a_seat_lock_is_seen_by_every_replica_until_it_expires() {
    let redis = RedisServer::start();
    let replicas = three_replicas(&redis, &[]);
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let event = a.create_seated_event(&["A1", "A2"]).await;

    a.seat_action(&event, "A1", "lock", "alice")
        .await
        .assert_status(200);
    let refused = b.seat_action(&event, "A1", "lock", "bob").await;
    refused.assert_error(423, "SEAT_LOCKED");
    assert_eq!(refused.header("x-instance-id"), Some("api-2"));
    b.seat_action(&event, "A1", "confirm", "bob")
        .await
        .assert_error(403, "LOCK_NOT_OWNED");
    let confirmed = c.seat_action(&event, "A1", "confirm", "alice").await;
    confirmed.assert_status(201);
    assert_eq!(confirmed.header("x-instance-id"), Some("api-3"));
    for replica in &replicas {
        assert_eq!(replica.seat_status(&event, "A1").await["status"], "booked");
    }

    // A lock taken on one replica is seen by all of them, with the same expiry.
    let lock = b.seat_action(&event, "A2", "lock", "carol").await;
    lock.assert_status(200);
    for replica in &replicas {
        let seat = replica.seat_status(&event, "A2").await;
        assert_eq!(seat["status"], "locked");
        assert_eq!(seat["lockExpiresAt"], lock.body["expiresAt"]);
    }
    b.seat_action(&event, "A2", "unlock", "carol")
        .await
        .assert_status(200);

    // A lock expires on Redis's clock, for all replicas at once: one taken through a replica
    // with a short LOCK_TTL_MS is gone for every replica once Redis has expired its key.
    let short = ServerProcess::spawn(&redis.url(), "api-short", &[("LOCK_TTL_MS", "300")]);
    short
        .seat_action(&event, "A2", "lock", "carol")
        .await
        .assert_status(200);
    redis.wait_until_gone(&format!("bo:{{{event}}}:lock:A2"));
    for replica in &replicas {
        assert_eq!(
            replica.seat_status(&event, "A2").await["status"],
            "available"
        );
        replica
            .seat_action(&event, "A2", "confirm", "carol")
            .await
            .assert_error(409, "SEAT_NOT_LOCKED");
    }
    a.seat_action(&event, "A2", "lock", "dave")
        .await
        .assert_status(200);
    assert_audit_clean(&redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_replica_mid_race_leaves_the_others_selling_and_nothing_oversold() {
    let redis = RedisServer::start();
    let mut replicas = three_replicas(&redis, &[]);
    let capacity = 3000;
    let event = replicas[0].create_ga_event(capacity).await;
    let clients: Vec<Http> = replicas.iter().map(|r| r.http.clone()).collect();

    // 48 buyers loop over the replicas round-robin until the section is sold out.
    let killed = Arc::new(AtomicBool::new(false));
    let after_kill: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let buyers = (0..48).map(|buyer| {
        let (clients, event) = (clients.clone(), event.clone());
        let (killed, after_kill, acknowledged) =
            (killed.clone(), after_kill.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + PATIENCE;
            for attempt in 0.. {
                assert!(Instant::now() < deadline, "the race did not sell out");
                let which = (buyer + attempt) % 3;
                // Sent after the kill completed: the dead replica cannot have answered it.
                let sent_after_kill = killed.load(Ordering::SeqCst);
                let request = clients[which]
                    .client
                    .post(format!("{}/book", clients[which].base))
                    .header("authorization", bearer(&format!("b{buyer}")));
                let body = serde_json::json!({ "eventId": event, "sectionId": "s1", "qty": 1 });
                let Ok(response) = request.json(&body).send().await else {
                    continue; // the killed replica: connection refused or cut
                };
                let status = response.status().as_u16();
                let reply: serde_json::Value = response.json().await.unwrap_or_default();
                match status {
                    201 => {
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                        if sent_after_kill {
                            after_kill[which].fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    409 if reply["error"]["remaining"] == 0 => return,
                    other => panic!("unexpected {other}: {reply}"),
                }
            }
        })
    });
    let buyers: Vec<_> = buyers.collect();

    // Kill api-2 once the race is under way (100 tickets sold), not after some time.
    eventually("the race is under way", || {
        let sold = acknowledged.load(Ordering::SeqCst);
        async move { sold >= 100 }
    })
    .await;
    replicas[1].kill();
    killed.store(true, Ordering::SeqCst);
    for result in join_all(buyers).await {
        result.expect("buyer");
    }

    let survivors_kept_selling = [&after_kill[0], &after_kill[2]]
        .iter()
        .all(|n| n.load(Ordering::SeqCst) > 0);
    assert!(survivors_kept_selling, "{after_kill:?}");
    assert_eq!(after_kill[1].load(Ordering::SeqCst), 0);
    assert_eq!(replicas[0].remaining(&event, "s1").await, 0);
    // Every ticket sold exactly once. A booking whose replica died before answering is sold
    // but unacknowledged (at most one per buyer in flight); never the other way round.
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    assert!(acknowledged <= capacity as usize, "{acknowledged}");
    assert!(acknowledged + 48 >= capacity as usize, "{acknowledged}");
    assert_audit_clean(&redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_buyer_retrying_with_its_key_through_another_replica_is_booked_exactly_once() {
    let redis = RedisServer::start();
    // api-2 reaches Redis through a proxy that, once armed, keeps Redis's answers to booking
    // scripts (and everything after them) from api-2: its bookings run in Redis, their
    // answers never come back. Killing api-2 in that state loses the answers of bookings
    // that were made.
    let proxy = RedisProxy::start(redis.port()).await;
    let mut replicas = [
        ServerProcess::spawn(&redis.url(), "api-1", &[]),
        // No demo event: its creation in the background could be the first reply held.
        ServerProcess::spawn(&proxy.url(), "api-2", &[("DEMO_SEATS", "0")]),
        ServerProcess::spawn(&redis.url(), "api-3", &[]),
    ];
    let capacity = 1000;
    let event = replicas[0].create_ga_event(capacity).await;
    // api-2 is connected and has run the booking script once (on another event) before the
    // proxy is armed.
    let warmup = replicas[1].create_ga_event(1).await;
    replicas[1]
        .book(&warmup, "s1", 1, "warmup")
        .await
        .assert_status(201);
    let scripts = boxoffice::store::Scripts::new();
    let (claim, booking) = (
        script_name(&scripts.register_booking.script),
        script_name(&scripts.book.script),
    );
    proxy.hold_replies_from(std::slice::from_ref(&booking));
    let before = proxy.counts();

    let clients: Vec<Http> = replicas.iter().map(|r| r.http.clone()).collect();
    let buyers = 300usize;
    // Each buyer books once with its own key, starting on replica buyer % 3 and moving on to
    // the next replica whenever one fails to answer.
    let tasks: Vec<_> = (0..buyers)
        .map(|buyer| {
            let (clients, event) = (clients.clone(), event.clone());
            tokio::spawn(async move {
                let key = format!("order-{buyer}");
                let body = serde_json::json!({
                    "eventId": event, "sectionId": "s1", "qty": 1 + buyer % 3,
                    "userId": format!("buyer{buyer}"),
                });
                for attempt in 0..10 {
                    let via = &clients[(buyer + attempt) % 3];
                    let sent = via
                        .client
                        .post(format!("{}/book", via.base))
                        .header("authorization", bearer(&format!("buyer{buyer}")))
                        .header("idempotency-key", &key)
                        .json(&body)
                        .send()
                        .await;
                    let Ok(response) = sent else { continue }; // died mid-request: retry
                    let replayed = response.headers().contains_key("idempotent-replayed");
                    let status = response.status().as_u16();
                    let reply: serde_json::Value = response.json().await.unwrap_or_default();
                    assert_eq!(status, 201, "buyer {buyer}: {reply}");
                    return (reply["id"].as_str().unwrap().to_owned(), attempt, replayed);
                }
                panic!("buyer {buyer} never got an answer")
            })
        })
        .collect();

    // The state to kill api-2 in: all 100 of its buyers' key claims reached Redis; every
    // buyer whose claim was answered has sent its booking script; Redis has answered
    // everything it was sent. Those scripts ran; api-2 never heard back.
    let on_api2 = buyers / 3;
    eventually("api-2's bookings ran in Redis, unanswered", || {
        let now = proxy.counts();
        let claims_sent = now.forwarded(&claim) - before.forwarded(&claim);
        let claims_answered = now.delivered(&claim) - before.delivered(&claim);
        let scripts_sent = now.forwarded(&booking) - before.forwarded(&booking);
        async move { claims_sent == on_api2 && scripts_sent == claims_answered && now.all_answered() }
    })
    .await;
    let unanswered = proxy.counts().held(&booking);
    assert!(unanswered > 0, "at least one booking ran unanswered");
    replicas[1].kill();

    let mut outcomes = Vec::new();
    for task in join_all(tasks).await {
        outcomes.push(task.expect("buyer"));
    }
    let retried = outcomes
        .iter()
        .filter(|(_, attempt, _)| *attempt > 0)
        .count();
    let replayed = outcomes.iter().filter(|(_, _, replayed)| *replayed).count();
    eprintln!(
        "{buyers} buyers: {retried} lost api-2 mid-request and retried with their key elsewhere; \
         {unanswered} bookings api-2 had made were found by their buyers (replayed), none booked twice"
    );
    assert_eq!(
        retried, on_api2,
        "every buyer that started on api-2 retried"
    );
    assert_eq!(
        replayed, unanswered,
        "each booking made for the dead replica was replayed, not redone"
    );

    // Exactly one booking per buyer: the very one each buyer was told about.
    let listed = replicas[0]
        .get(&format!("/bookings?eventId={event}&limit=500"))
        .await;
    let bookings = listed.body["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), buyers, "one booking per buyer");
    let mut told: Vec<&str> = outcomes.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut stored: Vec<&str> = bookings.iter().map(|b| b["id"].as_str().unwrap()).collect();
    told.sort_unstable();
    stored.sort_unstable();
    assert_eq!(told, stored);
    let sold: i64 = (0..buyers as i64).map(|b| 1 + b % 3).sum();
    assert_eq!(
        replicas[0].remaining(&event, "s1").await,
        capacity as i64 - sold
    );
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn large_bodies_pass_through_nginx_both_ways() {
    // A 5000-seat event is ~40 KB in and its seat map ~275 KB out: more than nginx keeps in
    // its default buffers. Found by scripts/bench (read-seats through nginx).
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let nginx = Nginx::start(&[replica.port]);
    let seats: Vec<String> = (1..=5000).map(|n| format!("S{n:04}")).collect();
    let event = nginx
        .http
        .create_seated_event(&seats.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let map = nginx.http.get(&format!("/events/{event}/seats")).await;
    map.assert_status(200);
    assert!(map.text.len() > 200_000, "{} bytes", map.text.len());
    assert_eq!(map.body["seats"].as_array().unwrap().len(), 5000);
    let details = nginx.http.get(&format!("/events/{event}")).await;
    assert_eq!(
        details.body["sections"][0]["seats"]
            .as_array()
            .unwrap()
            .len(),
        5000
    );
    assert!(!nginx.log().contains("temporary file"), "{}", nginx.log());
}
