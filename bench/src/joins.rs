//! `--joins N`: a crowd joins one waiting room. `N` distinct users (`j0`, `j1`, ...; open mode:
//! the body names the user) each send `POST /events/{id}/queue` once, as fast as
//! `--connections` keep-alive connections spread over the targets allow. The room admits one
//! at a time (`maxActive` 1), so everyone waits: what is measured is the joins alone.
//!
//! Reports the time from the first join to the last answer, joins per second, latency, the
//! status mix and errors (transport errors and 5xx: must be 0), the event (so that the caller
//! can count what the store holds) and, with `--replica-pid`, the replicas' CPU per join.

use crate::client::{Connection, Failure};
use crate::cpu::CpuClock;
use crate::record::error_code;
use crate::scenarios::create_event;
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub async fn run(
    joins: u64,
    connections: usize,
    targets: &[String],
    replica_pids: &[u32],
) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let room = json!({ "enabled": true, "maxActive": 1 });
    let event = create_event(
        &http,
        &targets[0],
        json!({ "waitingRoom": room, "sections": [{ "name": "GA", "price": 10, "capacity": 1000 }] }),
    )
    .await?;
    let mut open = Vec::with_capacity(connections);
    for i in 0..connections {
        open.push(Connection::open(&targets[i % targets.len()]).await?);
    }
    let path = Arc::new(format!("/events/{event}/queue"));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clock = CpuClock::start(replica_pids);
    let workers: Vec<_> = open
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let (next, path) = (next.clone(), path.clone());
            let target = targets[i % targets.len()].clone();
            tokio::spawn(async move {
                let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                    .map_err(|e| e.to_string())?;
                let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
                let mut first_error = None;
                loop {
                    let user = next.fetch_add(1, Ordering::Relaxed);
                    if user >= joins {
                        return Ok::<_, String>((latency, outcomes, first_error));
                    }
                    let body = Bytes::from(format!(r#"{{"userId":"j{user}"}}"#));
                    let sent = Instant::now();
                    let mut answer = conn
                        .send(Method::POST, &path, Some(body.clone()), None)
                        .await;
                    if matches!(answer, Err(Failure::NotSent)) {
                        conn = Connection::open(&target).await?;
                        answer = conn.send(Method::POST, &path, Some(body), None).await;
                    }
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let _ = latency.record(micros.max(1));
                    let outcome = match &answer {
                        Ok(a) if a.status == 200 => "200".to_owned(),
                        Ok(a) => {
                            if first_error.is_none() {
                                first_error = Some(format!(
                                    "{} {}",
                                    a.status,
                                    String::from_utf8_lossy(&a.body)
                                ));
                            }
                            format!("{} {}", a.status, error_code(&a.body))
                        }
                        Err(failure) => {
                            if first_error.is_none() {
                                first_error = Some(format!("{failure:?}"));
                            }
                            conn = Connection::open(&target).await?;
                            "lost".to_owned()
                        }
                    };
                    *outcomes.entry(outcome).or_default() += 1;
                }
            })
        })
        .collect();
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_error = None;
    for worker in workers {
        let (l, o, e) = worker.await.map_err(|e| e.to_string())??;
        latency.add(l).map_err(|e| e.to_string())?;
        for (k, v) in o {
            *outcomes.entry(k).or_default() += v;
        }
        first_error = first_error.or(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "scenario": "Joins",
        "event": event,
        "targets": targets,
        "connections": connections,
        "joins": joins,
        "seconds": seconds,
        "joinsPerSecond": (joins as f64 / seconds).round(),
        "latencyMs": { "p50": ms(0.5), "p99": ms(0.99), "max": latency.max() as f64 / 1000.0 },
        "outcomes": outcomes,
        "replicaCpu": clock.per_request(joins),
        "firstError": first_error,
    }))
}
