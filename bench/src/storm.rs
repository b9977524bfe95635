//! `--storm BUYERS`: an on-sale. One section of `--storm-tickets` tickets; `BUYERS` buyers
//! (each their own user) arrive evenly over `--storm-arrival` and each presses "Book" once
//! (`POST /book`, qty 1), over `--connections` keep-alive connections spread over the targets.
//! A buyer's latency counts from their arrival time, not from when a connection was free to
//! send (a buyer kept waiting by a busy load generator is still kept waiting).
//!
//! Reports how long after the first arrival the last ticket was sold, the latency of bookings
//! and of refusals, the status mix, errors (transport errors and 5xx: must be 0), and checks
//! what the store holds afterwards: exactly `tickets` bookings answered 201 and the section's
//! `remaining` 0.

use crate::client::{Connection, Failure};
use crate::cpu::CpuClock;
use crate::record::error_code;
use crate::scenarios::{create_event, get_as, organizer_auth};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Storm {
    pub buyers: usize,
    pub tickets: u32,
    pub arrival: Duration,
    pub connections: usize,
    pub jwt_secret: Option<String>,
}

#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<String, u64>,
    /// When the last 201 was answered, from the first arrival.
    last_sale: Option<Duration>,
    first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// The storm against `targets`; with `replica_pids`, their CPU time from the first arrival until
/// every buyer has an answer, per buyer.
pub async fn run(storm: &Storm, targets: &[String], replica_pids: &[u32]) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let base = &targets[0];
    let event = create_event(
        &http,
        base,
        json!([{ "name": "On sale", "price": 95, "capacity": storm.tickets }]),
    )
    .await?;
    // Every buyer is a user of their own, with their own token in jwt mode (signed before).
    let tokens: Option<Vec<String>> = match &storm.jwt_secret {
        Some(secret) => Some(
            (0..storm.buyers)
                .map(|b| {
                    boxoffice::auth::mint(
                        secret,
                        &format!("buyer{b}"),
                        boxoffice::auth::Role::Buyer,
                        Duration::from_secs(3600),
                        None,
                        None,
                    )
                    .map(|t| format!("Bearer {t}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let tokens = Arc::new(tokens);
    let mut connections = Vec::with_capacity(storm.connections);
    for i in 0..storm.connections {
        connections.push(Connection::open(&targets[i % targets.len()]).await?);
    }

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let step = storm.arrival.as_secs_f64() / storm.buyers as f64;
    let workers: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let (next, tokens, event) = (next.clone(), tokens.clone(), event.clone());
            let target = targets[i % targets.len()].clone();
            let buyers = storm.buyers;
            tokio::spawn(async move {
                let (mut booked, mut refused, mut tally) =
                    (histogram(), histogram(), Tally::default());
                loop {
                    let buyer = next.fetch_add(1, Ordering::Relaxed);
                    if buyer >= buyers {
                        return (booked, refused, tally);
                    }
                    let arrives = start + Duration::from_secs_f64(step * buyer as f64);
                    tokio::time::sleep_until(arrives.into()).await;
                    let body = Bytes::from(
                        json!({ "eventId": event, "sectionId": "s1", "qty": 1,
                                "userId": format!("buyer{buyer}") })
                        .to_string(),
                    );
                    let auth = tokens.as_ref().as_ref().map(|t| t[buyer].as_str());
                    let mut answer = conn
                        .send(Method::POST, "/book", Some(body.clone()), auth)
                        .await;
                    if matches!(answer, Err(Failure::NotSent)) {
                        // The server closed this keep-alive connection between requests.
                        if let Ok(fresh) = Connection::open(&target).await {
                            conn = fresh;
                            answer = conn.send(Method::POST, "/book", Some(body), auth).await;
                        }
                    }
                    let took = arrives.elapsed();
                    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
                    let outcome = match &answer {
                        Ok(a) if a.status == 201 => {
                            let _ = booked.record(micros);
                            let sold = Instant::now() - start;
                            tally.last_sale = Some(tally.last_sale.map_or(sold, |s| s.max(sold)));
                            "201".to_owned()
                        }
                        Ok(a) => {
                            if a.status < 500 {
                                let _ = refused.record(micros);
                            } else if tally.first_error.is_none() {
                                let text = String::from_utf8_lossy(&a.body);
                                tally.first_error = Some(format!("{} {text}", a.status));
                            }
                            format!("{} {}", a.status, error_code(&a.body))
                        }
                        Err(failure) => {
                            if tally.first_error.is_none() {
                                tally.first_error = Some(format!("{failure:?}"));
                            }
                            if let Ok(fresh) = Connection::open(&target).await {
                                conn = fresh;
                            }
                            "transport error".to_owned()
                        }
                    };
                    *tally.outcomes.entry(outcome).or_default() += 1;
                }
            })
        })
        .collect();

    // The replicas' CPU from the first arrival: not the setup above.
    tokio::time::sleep_until(start.into()).await;
    let cpu = CpuClock::start(replica_pids);
    let (mut booked, mut refused, mut total) = (histogram(), histogram(), Tally::default());
    for worker in workers {
        let (b, r, t) = worker.await.map_err(|e| e.to_string())?;
        let _ = booked.add(&b);
        let _ = refused.add(&r);
        for (outcome, n) in t.outcomes {
            *total.outcomes.entry(outcome).or_default() += n;
        }
        total.last_sale = total.last_sale.max(t.last_sale);
        total.first_error = total.first_error.or(t.first_error);
    }
    let finished = Instant::now() - start;
    let replica_cpu = cpu.per_request(storm.buyers as u64);

    // What the store holds: the section's remaining, as every replica reads it.
    let stored = get_as(&http, format!("{base}/events/{event}"), organizer_auth()).await?;
    let remaining = stored["sections"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(|s| s["remaining"].as_i64());

    let sold = total.outcomes.get("201").copied().unwrap_or(0);
    let errors: u64 = total
        .outcomes
        .iter()
        .filter(|(outcome, _)| *outcome == "transport error" || outcome.starts_with('5'))
        .map(|(_, n)| n)
        .sum();
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "scenario": "Storm",
        "targets": targets,
        "connections": storm.connections,
        "buyers": storm.buyers,
        "tickets": storm.tickets,
        "arrivalSecs": storm.arrival.as_secs_f64(),
        "sold": sold,
        "remainingAfter": remaining,
        // Exactly the tickets were sold, and the store agrees none remain.
        "storeAgrees": sold == u64::from(storm.tickets) && remaining == Some(0),
        "lastTicketSoldSecs": total.last_sale.map(|d| d.as_secs_f64()),
        "finishedSecs": finished.as_secs_f64(),
        "bookedLatencyMs": { "p50": ms(&booked, 0.5), "p99": ms(&booked, 0.99), "max": booked.max() as f64 / 1000.0 },
        "refusedLatencyMs": { "p50": ms(&refused, 0.5), "p99": ms(&refused, 0.99), "max": refused.max() as f64 / 1000.0 },
        "errors": errors,
        "replicaCpu": replica_cpu,
        "outcomes": total.outcomes,
        "firstError": total.first_error,
    }))
}
