//! SIGTERM: stop accepting, finish what is in flight, exit 0 within 10 s; nginx then sends
//! everything to the replicas still running.

mod common;

use common::{Nginx, RedisServer, ServerProcess, assert_audit_clean};
use futures_util::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let redis = RedisServer::start();
    let mut server = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let event = server.create_ga_event(100).await;

    // Hold 20 bookings in flight: Redis is paused, so they wait for it.
    redis.pause();
    let http = server.http.clone();
    let in_flight = tokio::spawn({
        let event = event.clone();
        async move {
            let users: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
            join_all(users.iter().map(|user| http.book(&event, "s1", 1, user))).await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;

    let terminating = std::thread::spawn(move || {
        let outcome = server.terminate(Duration::from_secs(15));
        (outcome, server)
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    redis.resume();

    let replies = in_flight.await.unwrap();
    let ((code, took), server) = terminating.join().unwrap();
    assert!(
        replies.iter().all(|r| r.status == 201),
        "in-flight requests complete: {replies:?}"
    );
    assert_eq!(code, Some(0), "exit code; log:\n{}", server.log());
    assert!(took < Duration::from_secs(10), "exited after {took:?}");
    eprintln!("SIGTERM with 20 requests in flight: all answered 201, exit 0 after {took:?}");
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .send()
        .await;
    assert!(refused.is_err(), "no longer accepting");
    assert_audit_clean(&redis.url());
}

#[tokio::test]
async fn an_idle_replica_exits_at_once() {
    let redis = RedisServer::start();
    let mut server = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    server.get("/healthz").await.assert_status(200); // leaves a keep-alive connection open
    let (code, took) = server.terminate(Duration::from_secs(15));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(2), "idle shutdown took {took:?}");
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

    // Eight clients book through nginx throughout; api-1 is stopped in the middle.
    let stopped = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (http, event, stopped) = (nginx.http.clone(), event.clone(), stopped.clone());
            tokio::spawn(async move {
                let mut after_stop = Vec::new();
                let mut during = Vec::new();
                for _ in 0..400 {
                    let sent_after_stop = stopped.load(Ordering::SeqCst);
                    let reply = http.book(&event, "s1", 1, &format!("c{c}")).await;
                    let served_by = reply.header("x-instance-id").unwrap_or("-").to_owned();
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

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, took) = replicas[0].terminate(Duration::from_secs(15));
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
    assert!(after.len() > 100, "load continued after the stop");
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
