//! What only a Redis Cluster has: events spread over primaries, a primary that dies, an audit
//! that must look at every primary. (Every route test also runs on a cluster: see `both!`.)

use crate::harness::{
    Backend, Http, RedisCluster, ServerProcess, TestApp, eventually, run_race, wait_until,
};
use boxoffice::store::keys;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events hash to slots all over the key space: with a few dozen of them, every primary holds
/// some (each primary's keys counted on that primary).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_land_on_every_primary() {
    let backend = Backend::cluster();
    let app = TestApp::on(&backend).await;
    for _ in 0..30 {
        let event = app.create_ga_event(10).await;
        app.book(&event, "s1", 1, "alice").await.assert_status(201);
    }
    let Backend::Cluster(cluster) = &backend else {
        unreachable!()
    };
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3);
    for primary in primaries {
        let events: Vec<String> = primary.query(&["KEYS", "bo:{*}:event"]);
        assert!(
            !events.is_empty(),
            "primary {} holds no event",
            primary.port()
        );
        eprintln!("primary {}: {} events", primary.port(), events.len());
    }
    backend.assert_audit_clean();
}

/// 1000 buyers for 5 tickets, round-robin over three replicas on a cluster: exactly 5.
#[test]
fn three_replicas_on_a_cluster_sell_exactly_five_of_a_thousand() {
    let backend = Backend::cluster();
    let replicas: Vec<ServerProcess> = ["api-1", "api-2", "api-3"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &[]))
        .collect();
    let targets: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let (report, code) = run_race(&targets, &["--capacity", "5", "--requests", "1000"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["succeeded"], 5, "{report}");
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(report["bookedQty"], 5, "{report}");
    assert_eq!(
        report["rejected"]["INSUFFICIENT_INVENTORY"], 995,
        "{report}"
    );
    backend.assert_audit_clean();
}

/// The audit reads every primary: a corruption on a primary other than the first seed's is
/// found too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_finds_a_corruption_on_any_primary() {
    let backend = Backend::cluster();
    let app = TestApp::on(&backend).await;
    let Backend::Cluster(cluster) = &backend else {
        unreachable!()
    };
    // An event whose slot is not served by the first node.
    let first = cluster.nodes[0].port();
    let event = loop {
        let event = app.create_ga_event(10).await;
        let slot = keys::key_slot(event.as_bytes());
        if cluster.primary_of(slot).port() != first {
            break event;
        }
    };
    app.book(&event, "s1", 3, "alice").await.assert_status(201);
    backend.assert_audit_clean();
    let _: i64 = backend.query(&[
        "HINCRBY",
        &format!("bo:{{{event}}}:sections"),
        "s1:remaining",
        "1",
    ]);
    let (code, out) = backend.audit();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "event {event}: section s1: remaining 8 + held 0 + booked 3 != capacity 10"
        )),
        "{out}"
    );
}

/// A replica that starts while a shard has no primary still serves the events of the other
/// shards, and the events of the dead shard answer 503, not 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_starting_while_a_shard_is_down_serves_the_other_shards() {
    let mut backend = Backend::cluster();
    let app = TestApp::on(&backend).await;
    let slots_of = |port: u16, cluster: &RedisCluster, event: &str| {
        cluster.primary_of(keys::key_slot(event.as_bytes())).port() == port
    };
    // One primary and its replica will be killed: that shard has no node left. Events are
    // created until at least 3 are on that shard and 3 on the others (ids are random: a fixed
    // number of them could all land on the live shards).
    let Backend::Cluster(cluster) = &backend else {
        unreachable!()
    };
    let victim = cluster.primaries()[0].port();
    let (mut dead, mut alive) = (Vec::new(), Vec::new());
    for _ in 0..500 {
        if dead.len() >= 3 && alive.len() >= 3 {
            break;
        }
        let event = app.create_ga_event(100).await;
        if slots_of(victim, cluster, &event) {
            dead.push(event);
        } else {
            alive.push(event);
        }
    }
    app.stop().await;
    let Backend::Cluster(cluster) = &mut backend else {
        unreachable!()
    };
    // A booking also writes in its user's slot (the user's index of events): a user whose
    // slot is on a live shard.
    let user = (0..)
        .map(|n| format!("user{n}"))
        .find(|u| !slots_of(victim, cluster, &format!("u:{u}")))
        .expect("a user on a live shard");
    assert!(
        dead.len() >= 3 && alive.len() >= 3,
        "events on the dead shard and on the live ones"
    );
    let replica_of_victim: Vec<u16> = cluster
        .nodes
        .iter()
        .filter(|n| {
            let role: Vec<redis::Value> = n.query(&["ROLE"]);
            matches!(role.get(2), Some(redis::Value::Int(port)) if *port as u16 == victim)
        })
        .map(|n| n.port())
        .collect();
    for node in cluster.nodes.iter_mut() {
        if node.port() == victim || replica_of_victim.contains(&node.port()) {
            node.kill();
        }
    }

    let fresh = ServerProcess::on(&backend, "late", &[]);
    for event in &alive {
        fresh.book(event, "s1", 1, &user).await.assert_status(201);
    }
    for event in &dead {
        fresh
            .book(event, "s1", 1, &user)
            .await
            .assert_error(503, "STORE_UNAVAILABLE");
    }
}

/// What a failover does to a booking storm: the primary that owns the hot event is killed
/// (SIGKILL) mid-storm. Returns (bookings acknowledged before the kill, of which found after
/// the failover, time from the kill to the first booking made again).
///
/// With `REDIS_MIN_REPLICAS_ACK=1`, the promoted replica has no replica of its own: bookings
/// are made but not acknowledged (503 NOT_REPLICATED) until the killed node is restarted and
/// rejoins as its replica, which the test then does, and waits for acknowledged bookings.
async fn storm_through_a_failover(min_replicas_ack: &str) -> (usize, usize, Duration) {
    let mut backend = Backend::cluster();
    // The product's deadlines: during the failover requests must fail fast (503).
    let deadlines = [
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("REDIS_RESPONSE_TIMEOUT_MS", "500"),
        ("REDIS_REQUEST_TIMEOUT_MS", "1000"),
        ("REDIS_MIN_REPLICAS_ACK", min_replicas_ack),
    ];
    let replicas: Vec<ServerProcess> = ["api-1", "api-2"]
        .into_iter()
        .map(|id| ServerProcess::on(&backend, id, &deadlines))
        .collect();
    let event = replicas[0].create_ga_event(1_000_000).await;
    let clients: Vec<Http> = replicas.iter().map(|r| r.http.clone()).collect();
    // The test is about bookings lost in a failover, not the event: every node holds the
    // event (its replica too) before the storm. On a busy machine replication can lag.
    if let Backend::Cluster(cluster) = &backend {
        let event_key = format!("bo:{{{event}}}:event");
        let slot = keys::key_slot(event.as_bytes());
        let primary = cluster.primary_of(slot).port();
        for node in &cluster.nodes {
            let mut conn = node.connection();
            let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut conn).expect("ROLE");
            let follows =
                |v: &redis::Value| matches!(v, redis::Value::Int(p) if *p == i64::from(primary));
            if node.port() != primary && !role.get(2).is_some_and(follows) {
                continue;
            }
            wait_until("the event is on the node and its replica", || {
                let mut pipe = redis::pipe();
                pipe.cmd("READONLY").ignore().cmd("EXISTS").arg(&event_key);
                pipe.query::<(i64,)>(&mut conn).is_ok_and(|(n,)| n == 1)
            });
        }
    }

    #[derive(Default)]
    struct Seen {
        acknowledged_before_kill: Vec<String>,
        statuses: HashMap<String, usize>,
        /// A booking made (acknowledged, or NOT_REPLICATED) for a request sent after the kill.
        first_made_after_kill: Option<Instant>,
        /// Acknowledged, for a request sent after the killed node was back.
        first_acked_after_restart: Option<Instant>,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let restarted_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let buyers: Vec<_> = (0..24)
        .map(|buyer| {
            let (clients, event) = (clients.clone(), event.clone());
            let (seen, killed_at, stop) = (seen.clone(), killed_at.clone(), stop.clone());
            let restarted_at = restarted_at.clone();
            tokio::spawn(async move {
                for attempt in 0usize.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let sent_at = Instant::now();
                    let reply = clients[(buyer + attempt) % 2]
                        .book(&event, "s1", 1, &format!("b{buyer}"))
                        .await;
                    let kill = *killed_at.lock().unwrap();
                    let restart = *restarted_at.lock().unwrap();
                    let code = reply.body["error"]["code"].as_str().unwrap_or("");
                    let mut seen = seen.lock().unwrap();
                    *seen
                        .statuses
                        .entry(format!("{} {code}", reply.status))
                        .or_default() += 1;
                    let after_kill = kill.is_some_and(|kill| sent_at > kill);
                    match (reply.status, code) {
                        (201, _) if kill.is_none() => seen
                            .acknowledged_before_kill
                            .push(reply.body["id"].as_str().unwrap().to_owned()),
                        (201, _) | (503, "NOT_REPLICATED") if after_kill => {
                            seen.first_made_after_kill.get_or_insert(Instant::now());
                            if reply.status == 201 && restart.is_some_and(|r| sent_at > r) {
                                seen.first_acked_after_restart.get_or_insert(Instant::now());
                            }
                        }
                        (201 | 503, _) => {} // 503: outcome unknown, as documented
                        (other, _) => panic!("unexpected {other}: {}", reply.text),
                    }
                }
            })
        })
        .collect();

    // Kill the hot event's primary once the storm is under way.
    eventually("the storm is under way", || {
        let n = seen.lock().unwrap().acknowledged_before_kill.len();
        async move { n >= 200 }
    })
    .await;
    let Backend::Cluster(cluster) = &mut backend else {
        unreachable!()
    };
    let victim = cluster.primary_of(keys::key_slot(event.as_bytes())).port();
    let kill = Instant::now();
    *killed_at.lock().unwrap() = Some(kill);
    for node in cluster.nodes.iter_mut().filter(|n| n.port() == victim) {
        node.kill();
    }
    // The replica is promoted; the storm books again, without restarting any replica.
    eventually("bookings are made again after the failover", || {
        let again = seen.lock().unwrap().first_made_after_kill.is_some();
        async move { again }
    })
    .await;
    let mut rejoined = None;
    if min_replicas_ack != "0" {
        // The killed node comes back (as its supervisor would restart it) and rejoins as the
        // new primary's replica: bookings are acknowledged again.
        let restart = Instant::now();
        *restarted_at.lock().unwrap() = Some(restart);
        for node in cluster.nodes.iter_mut().filter(|n| n.port() == victim) {
            node.restart();
        }
        eventually("bookings are acknowledged again", || {
            let again = seen.lock().unwrap().first_acked_after_restart.is_some();
            async move { again }
        })
        .await;
        rejoined = seen
            .lock()
            .unwrap()
            .first_acked_after_restart
            .map(|t| t - restart);
    }
    stop.store(true, Ordering::SeqCst);
    for buyer in buyers {
        buyer.await.expect("buyer");
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let recovered = seen.first_made_after_kill.expect("recovered") - kill;
    assert!(
        !seen.statuses.keys().any(|s| s.starts_with("500")),
        "{:?}",
        seen.statuses
    );

    let mut found = 0;
    for id in &seen.acknowledged_before_kill {
        let reply = replicas[0].get(&format!("/bookings/{id}")).await;
        match reply.status {
            200 => found += 1,
            404 => {}
            other => panic!("GET booking {id}: {other} {}", reply.text),
        }
    }
    eprintln!(
        "failover with REDIS_MIN_REPLICAS_ACK={min_replicas_ack}: {} bookings acknowledged before \
         the kill, {found} found after; bookings made again {recovered:?} after the kill{}; \
         answers {:?}",
        seen.acknowledged_before_kill.len(),
        rejoined.map_or(String::new(), |t| format!(
            ", acknowledged again {t:?} after the killed node was restarted"
        )),
        seen.statuses
    );
    backend.assert_audit_clean();
    (seen.acknowledged_before_kill.len(), found, recovered)
}

/// With `REDIS_MIN_REPLICAS_ACK=1`, a booking is answered only once a replica has it: none
/// acknowledged before the primary died is lost when its replica takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_loses_no_booking_acknowledged_with_a_replica_ack() {
    let (acknowledged, found, _) = storm_through_a_failover("1").await;
    assert_eq!(found, acknowledged);
}

/// Without it, the primary answers at once and a failover may lose what its replica had not
/// copied yet: the figure this prints is the point of the setting (it may be zero, or not).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_without_replica_acks_reports_what_it_lost() {
    let (acknowledged, found, _) = storm_through_a_failover("0").await;
    assert!(found <= acknowledged);
}

/// Both topologies take their credentials from REDIS_PASSWORD (and REDIS_USERNAME).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_work_on_both_topologies() {
    let cluster = RedisCluster::start_with_password("s3cret-cluster");
    let single = crate::harness::RedisServer::start_with_password("s3cret-single");
    let targets = [
        ("REDIS_CLUSTER_NODES", cluster.seeds(), "s3cret-cluster"),
        (
            "REDIS_URL",
            format!("redis://127.0.0.1:{}", single.port()),
            "s3cret-single",
        ),
    ];
    for (variable, value, password) in targets {
        let with = ServerProcess::spawn(
            "",
            "api-1",
            &[(variable, &value), ("REDIS_PASSWORD", password)],
        );
        let event = with.create_ga_event(5).await;
        with.book(&event, "s1", 2, "alice").await.assert_status(201);
        let without = ServerProcess::spawn("", "api-2", &[(variable, &value)]);
        let refused = without.get("/readyz").await;
        refused.assert_error(503, "STORE_UNAVAILABLE");
        assert!(
            refused.body["error"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("authentication") || r.contains("NOAUTH")),
            "{}",
            refused.text
        );
        assert!(!with.log().contains(password) && !refused.text.contains(password));
    }
}
