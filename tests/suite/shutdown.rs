//! SIGTERM: stop accepting, finish what is in flight, exit 0; nginx then sends everything to
//! the replicas still running.

use crate::harness::{
    Nginx, RedisProxy, RedisServer, ServerProcess, assert_audit_clean, eventually, script_name,
};
use futures_util::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let redis = RedisServer::start();
    let proxy = RedisProxy::start(redis.port()).await;
    // No demo event: its creation in the background could be the first reply held.
    let mut server = ServerProcess::spawn(&proxy.url(), "api-1", &[("DEMO_SEATS", "0")]);
    let event = server.create_ga_event(100).await;
    server
        .book(&event, "s1", 1, "warmup")
        .await
        .assert_status(201);

    // Hold 20 bookings in flight: their scripts run in Redis, the answers are held back.
    let scripts = boxoffice::store::Scripts::new();
    let (register, booking) = (
        script_name(&scripts.register_booking.script),
        script_name(&scripts.book.script),
    );
    proxy.hold_replies_from(std::slice::from_ref(&booking));
    let before = proxy.counts();
    let http = server.http.clone();
    let in_flight = tokio::spawn({
        let event = event.clone();
        async move {
            let users: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
            join_all(users.iter().map(|user| http.book(&event, "s1", 1, user))).await
        }
    });
    // In flight: all 20 reached Redis (their first step), each one whose first step was
    // answered has sent its booking script, and Redis has answered everything.
    eventually("20 bookings in flight", || {
        let now = proxy.counts();
        let started = now.forwarded(&register) - before.forwarded(&register);
        let answered = now.delivered(&register) - before.delivered(&register);
        let scripts = now.forwarded(&booking) - before.forwarded(&booking);
        let ready = started == 20 && scripts == answered && now.all_answered();
        async move { ready }
    })
    .await;

    let port = server.port;
    let terminating = std::thread::spawn(move || {
        let outcome = server.terminate();
        (outcome, server)
    });
    // The replica closes its listening socket as soon as SIGTERM arrives: then let the
    // answers through.
    eventually("the replica stops accepting", || async move {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    })
    .await;
    proxy.release();

    let replies = in_flight.await.unwrap();
    let ((code, took), server) = terminating.join().unwrap();
    assert!(
        replies.iter().all(|r| r.status == 201),
        "in-flight requests complete: {replies:?}"
    );
    assert_eq!(code, Some(0), "exit code; log:\n{}", server.log());
    eprintln!("SIGTERM with 20 requests in flight: all answered 201, exit 0 after {took:?}");
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .send()
        .await;
    assert!(refused.is_err(), "no longer accepting");
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn an_idle_replica_exits_without_waiting_for_its_idle_connections() {
    let redis = RedisServer::start();
    // A grace period of ten minutes: a replica that waited for its idle keep-alive
    // connection would be killed by `terminate` (after two minutes), not exit 0.
    let mut server =
        ServerProcess::spawn(&redis.url(), "api-1", &[("SHUTDOWN_GRACE_MS", "600000")]);
    server.get("/healthz").await.assert_status(200); // leaves a keep-alive connection open
    let (code, took) = server.terminate();
    assert_eq!(code, Some(0), "exited by itself after {took:?}");
    eprintln!("idle replica: exit 0 after {took:?}");
    assert_audit_clean(&redis.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nginx_stops_sending_to_a_replica_that_stopped() {
    let redis = RedisServer::start();
    let mut replicas = vec![
        ServerProcess::spawn(&redis.url(), "api-1", &[]),
        ServerProcess::spawn(&redis.url(), "api-2", &[]),
    ];
    let nginx = Nginx::start(&replicas.iter().map(|r| r.port).collect::<Vec<_>>());
    let event = replicas[1].create_ga_event(1_000_000).await;

    // Eight clients book through nginx until each has sent 25 bookings after api-1 stopped;
    // api-1 is stopped once it has served 50 of them.
    let stopped = Arc::new(AtomicBool::new(false));
    let served_by_api1 = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (http, event) = (nginx.http.clone(), event.clone());
            let (stopped, served_by_api1) = (stopped.clone(), served_by_api1.clone());
            tokio::spawn(async move {
                let mut after_stop = Vec::new();
                let mut during = Vec::new();
                while after_stop.len() < 25 {
                    let sent_after_stop = stopped.load(Ordering::SeqCst);
                    let reply = http.book(&event, "s1", 1, &format!("c{c}")).await;
                    let served_by = reply.header("x-instance-id").unwrap_or("-").to_owned();
                    if served_by == "api-1" {
                        served_by_api1.fetch_add(1, Ordering::SeqCst);
                    }
                    if sent_after_stop {
                        after_stop.push((reply.status, served_by));
                    } else {
                        during.push(reply.status);
                    }
                }
                (during, after_stop)
            })
        })
        .collect();

    eventually("api-1 serves bookings", || {
        let served = served_by_api1.load(Ordering::SeqCst);
        async move { served >= 50 }
    })
    .await;
    let (code, took) = replicas[0].terminate();
    stopped.store(true, Ordering::SeqCst);
    assert_eq!(code, Some(0), "api-1 exits cleanly after {took:?}");

    let mut before_or_during = Vec::new();
    let mut after = Vec::new();
    for client in join_all(clients).await {
        let (during, after_stop) = client.unwrap();
        before_or_during.extend(during);
        after.extend(after_stop);
    }
    let failed_during = before_or_during.iter().filter(|s| **s != 201).count();
    eprintln!(
        "api-1 stopped after {took:?}: {} requests before/while stopping ({failed_during} not 201), {} after",
        before_or_during.len(),
        after.len()
    );
    // Stopping is lame-duck style (refuse new connections, close each pooled connection after
    // its response): not a single booking fails while the replica goes away.
    assert_eq!(failed_during, 0, "nginx log:\n{}", nginx.log());
    assert!(
        after
            .iter()
            .all(|(status, by)| *status == 201 && by == "api-2"),
        "after api-1 stopped, everything goes to api-2: {:?}",
        after
            .iter()
            .filter(|(s, by)| *s != 201 || by != "api-2")
            .take(5)
            .collect::<Vec<_>>()
    );
    drop(replicas);
    assert_audit_clean(&redis.url());
}
