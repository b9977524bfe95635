//! Live stream delivery: `subscribers` streams (`GET /events/{id}/stream`) open on one replica,
//! changes made through another at a steady pace, one at a time; for every change and every
//! subscriber, the time from sending the write to the subscriber reading its event.
//!
//! The writes are paced (not a throughput test): each is one booking of one ticket, so change
//! `i` is version `start + 1 + i` of a fresh event nobody else writes to.

use crate::scenarios::{create_event, organizer_auth, post_as, user_auth};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// What one subscriber saw: each id read, and when.
type Seen = Vec<(u64, Instant)>;

/// Opens a stream with a plain socket and reads until it has seen version `last`, noting when
/// each `id:` line arrived. The first id (the `ready` event's) is the start version.
async fn subscribe(
    host: String,
    path: String,
    ready: Arc<Barrier>,
    start: Arc<tokio::sync::OnceCell<u64>>,
    changes: u64,
    patience: Duration,
) -> Result<Seen, String> {
    let mut stream = TcpStream::connect(&host).await.map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = Seen::new();
    let mut text = String::new();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut first = None;
    let deadline = Instant::now() + patience;
    loop {
        let n = tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer))
            .await
            .map_err(|_| "a subscriber waited too long".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("a stream ended".into());
        }
        let now = Instant::now();
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            let Some(id) = line.trim_end().strip_prefix("id: ") else {
                continue;
            };
            let Ok(id) = id.parse::<u64>() else { continue };
            match first {
                None => {
                    first = Some(id);
                    let _ = start.set(id);
                    ready.wait().await;
                }
                Some(s) => {
                    seen.push((id, now));
                    if id >= s + changes {
                        return Ok(seen);
                    }
                }
            }
        }
    }
}

pub async fn run(
    write_target: &str,
    read_target: &str,
    subscribers: usize,
    changes: u64,
    interval: Duration,
) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let capacity = u32::try_from(changes + 10).map_err(|e| e.to_string())?;
    let event = create_event(
        &http,
        write_target,
        json!([{ "name": "GA", "price": 10, "capacity": capacity }]),
    )
    .await?;
    let host = read_target
        .strip_prefix("http://")
        .ok_or("only http:// targets")?
        .trim_end_matches('/')
        .to_owned();
    let path = format!("/events/{event}/stream");
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let start = Arc::new(tokio::sync::OnceCell::new());
    let patience = Duration::from_secs(60) + interval * changes as u32;
    let readers: Vec<_> = (0..subscribers)
        .map(|_| {
            tokio::spawn(subscribe(
                host.clone(),
                path.clone(),
                ready.clone(),
                start.clone(),
                changes,
                patience,
            ))
        })
        .collect();
    ready.wait().await;
    let start = *start.get().ok_or("no subscriber started")?;

    let mut sent = Vec::with_capacity(changes as usize);
    let mut next = Instant::now();
    for i in 0..changes {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let user = i as u32;
        sent.push(Instant::now());
        post_as(
            &http,
            format!("{write_target}/book"),
            json!({ "eventId": event, "sectionId": "s1", "qty": 1, "userId": format!("u{user}") }),
            user_auth(user).or(organizer_auth()),
        )
        .await?;
    }

    let mut latency = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut deliveries = 0u64;
    for reader in readers {
        let seen = reader.await.map_err(|e| e.to_string())??;
        for (id, at) in seen {
            let Some(index) = id.checked_sub(start + 1) else {
                continue;
            };
            let Some(sent_at) = sent.get(index as usize) else {
                continue;
            };
            let micros = at.saturating_duration_since(*sent_at).as_micros() as u64;
            latency.record(micros.max(1)).map_err(|e| e.to_string())?;
            deliveries += 1;
        }
    }
    let expected = subscribers as u64 * changes;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "scenario": "stream-delivery",
        "writeTarget": write_target,
        "readTarget": read_target,
        "subscribers": subscribers,
        "changes": changes,
        "intervalMs": interval.as_millis() as u64,
        "deliveries": deliveries,
        "missing": expected - deliveries.min(expected),
        "latencyMs": {
            "p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99),
            "max": latency.max() as f64 / 1000.0,
        },
    }))
}
