//! With AOF and `appendfsync always` (as docker-compose.yml runs Redis), a booking answered 201
//! was on disk before the answer left: Redis is killed -9 in the middle of a booking storm,
//! restarted from its AOF, and every acknowledged booking is still there.

use crate::harness::{RedisServer, TestApp, assert_audit_clean, eventually};
use std::sync::{Arc, Mutex};

/// Books from 32 buyers until Redis is killed -9 mid-storm, restarts it, and returns
/// (bookings acknowledged before the crash, of which found after the restart).
async fn storm_crash_restart(redis: &mut RedisServer) -> (usize, usize) {
    let app = TestApp::spawn(redis).await;
    let ga = app.create_ga_event(100_000).await;
    let seated: Vec<String> = (1..=400).map(|n| format!("S{n}")).collect();
    let seated_event = app
        .create_seated_event(&seated.iter().map(String::as_str).collect::<Vec<_>>())
        .await;

    // 32 buyers book until their first failure (the crash).
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let buyers: Vec<_> = (0..32)
        .map(|buyer| {
            let (http, ga, seated_event, acknowledged) = (
                app.http.clone(),
                ga.clone(),
                seated_event.clone(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                for round in 0.. {
                    // Mostly general admission, every fourth a reserved seat by quantity.
                    let reply = if round % 4 == 3 {
                        http.book(&seated_event, "s1", 1, &format!("b{buyer}"))
                            .await
                    } else {
                        http.book(&ga, "s1", 1 + round % 3, &format!("b{buyer}"))
                            .await
                    };
                    match reply.status {
                        201 => acknowledged
                            .lock()
                            .unwrap()
                            .push(reply.body["id"].as_str().unwrap().to_owned()),
                        409 => {} // the seated section sold out
                        _ => return reply.status,
                    }
                }
                unreachable!()
            })
        })
        .collect();

    // Crash once the storm has acknowledged 100 bookings (a state, not a time).
    eventually("100 bookings acknowledged", || {
        let acknowledged = acknowledged.lock().unwrap().len();
        async move { acknowledged >= 100 }
    })
    .await;
    redis.kill();
    for buyer in buyers {
        let status = buyer.await.unwrap();
        assert_eq!(status, 503, "after the crash, buyers get 503");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    redis.restart();
    eventually("the replica is ready again", || async {
        app.get("/readyz").await.status == 200
    })
    .await;
    let mut found = 0;
    for id in &acknowledged {
        let booking = app.get(&format!("/bookings/{id}")).await;
        if booking.status == 200 {
            assert_eq!(booking.body["status"], "confirmed");
            found += 1;
        }
    }
    (acknowledged.len(), found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_booking_survives_a_redis_crash() {
    let mut redis = RedisServer::start_durable();
    let (acknowledged, found) = storm_crash_restart(&mut redis).await;
    eprintln!(
        "durability: {acknowledged} bookings acknowledged before Redis was killed -9, {found} found after restart"
    );
    assert_eq!(found, acknowledged);
    // remaining + booked == capacity for every section, seats held by exactly one booking.
    assert_audit_clean(&redis.url());
}

/// The control: the same storm without persistence loses the bookings, so the check above can
/// fail, and it is the AOF that makes it pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_persistence_the_same_crash_loses_them() {
    let mut redis = RedisServer::start_with(&["--appendonly", "no"]);
    let (acknowledged, found) = storm_crash_restart(&mut redis).await;
    eprintln!("control (no AOF): {acknowledged} acknowledged, {found} found after restart");
    assert_eq!(found, 0);
    // Lost, but consistently so: nothing half-there.
    assert_audit_clean(&redis.url());
}
