//! `race`: many buyers, few tickets, any number of replicas. Creates its own event through
//! the API, fires every request at once (round-robin over the targets), then checks from the
//! server's own numbers that nothing was oversold. Exits 1 if anything was.
//!
//! ```text
//! cargo run --release --bin race -- --target http://127.0.0.1:8080 --capacity 5 --requests 1000
//! ```

use clap::{Parser, ValueEnum};
use reqwest::Client;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, Semaphore};

#[derive(Parser, Debug)]
#[command(about = "Fire concurrent bookings at one or more replicas and check for overselling")]
struct Args {
    /// Base URL of a replica or load balancer; repeat for several.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Tickets (or seats) on sale.
    #[arg(long, default_value_t = 5)]
    capacity: u32,
    /// Booking attempts.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Tickets per attempt (section mode).
    #[arg(long, default_value_t = 1)]
    qty: u32,
    /// `section`: POST /book on a general admission section. `seat`: each buyer locks a seat
    /// (buyer i wants seat i mod capacity) and confirms it.
    #[arg(long, value_enum, default_value_t = Mode::Section)]
    mode: Mode,
    /// Requests in flight at once (default: all of them).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Per-request timeout, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Retry each booking up to N times, on the next target, when it got no answer or a
    /// 502/503/504 (after 100 ms, doubling up to 2 s); every buyer then sends an
    /// Idempotency-Key, so a retry never books twice.
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// The secret the replicas verify tokens with (AUTH_MODE=jwt): race then signs a token
    /// for each buyer (`buyer<i>`) and an organizer's to create its event. Without it, it
    /// sends no token (AUTH_MODE=open).
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

/// The Authorization header value for `user` with `role`, when race signs tokens.
fn authorization(
    secret: Option<&str>,
    user: &str,
    role: boxoffice::auth::Role,
) -> Result<Option<String>, String> {
    secret
        .map(|secret| {
            boxoffice::auth::mint(secret, user, role, Duration::from_secs(3600), None, None)
                .map(|token| format!("Bearer {token}"))
        })
        .transpose()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Section,
    Seat,
}

/// How one buyer's attempt ended.
struct Attempt {
    instance: String,
    outcome: Result<u32, String>,
    /// Requests sent again after a failure to answer.
    retries: u32,
    /// The final answer replayed an earlier booking (Idempotency-Key).
    replayed: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(65_536);
    match run(&args).await {
        Ok(report) => {
            let oversold = report["oversold"].as_bool().unwrap_or(true);
            if args.json {
                println!("{report}");
            } else {
                print_report(&report);
            }
            if oversold {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("race: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &Args) -> Result<Value, String> {
    let client = Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .pool_max_idle_per_host(args.requests)
        .build()
        .map_err(|e| e.to_string())?;
    let section = match args.mode {
        Mode::Section => json!({ "name": "Race", "price": 10, "capacity": args.capacity }),
        Mode::Seat => json!({
            "name": "Race", "price": 10,
            "seats": (1..=args.capacity).map(|n| n.to_string()).collect::<Vec<_>>(),
        }),
    };
    let organizer = authorization(
        args.jwt_secret.as_deref(),
        "race-organizer",
        boxoffice::auth::Role::Organizer,
    )?;
    let created = first_answer(&args.targets, |base| {
        let request = client
            .post(format!("{base}/events"))
            .json(&json!({ "name": "race", "sections": [section] }));
        match &organizer {
            Some(authorization) => request.header("authorization", authorization),
            None => request,
        }
    })
    .await?;
    let event_id = created["id"].as_str().ok_or("no event id")?.to_owned();

    let concurrency = args.concurrency.unwrap_or(args.requests).max(1);
    let gate = Arc::new(Semaphore::new(concurrency));
    let start_line = Arc::new(Barrier::new(args.requests.min(concurrency)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.requests);
    for i in 0..args.requests {
        let buyer = Buyer {
            client: client.clone(),
            // Signed before the start line: minting is not part of what the race measures.
            authorization: authorization(
                args.jwt_secret.as_deref(),
                &format!("buyer{i}"),
                boxoffice::auth::Role::Buyer,
            )?,
            targets: args.targets.clone(),
            index: i,
            retries: args.retries,
            event_id: event_id.clone(),
        };
        let gate = gate.clone();
        let start_line = start_line.clone();
        let (mode, qty, capacity) = (args.mode, args.qty, args.capacity);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            if i < concurrency {
                start_line.wait().await; // the first wave leaves together
            }
            match mode {
                Mode::Section => buyer.book(qty).await,
                Mode::Seat => {
                    let seat = (i as u32 % capacity + 1).to_string();
                    buyer.lock_and_confirm(&seat).await
                }
            }
        }));
    }
    let mut attempts = Vec::with_capacity(tasks.len());
    for task in tasks {
        attempts.push(task.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed();

    // The server's own account, not the client's: a request cut off in flight may still have
    // booked, and the invariants must hold for what Redis says (`no-cache`: not a replica's
    // read view, which may be a change behind).
    let event = first_answer(&args.targets, |base| {
        client
            .get(format!("{base}/events/{event_id}"))
            .header("cache-control", "no-cache")
    })
    .await?;
    let remaining = event["sections"][0]["remaining"]
        .as_i64()
        .ok_or("no remaining")?;
    let booked_server =
        server_booked_qty(&client, &args.targets, &event_id, organizer.as_deref()).await?;

    let mut succeeded = 0;
    let mut booked_client = 0u64;
    let retried = attempts.iter().filter(|a| a.retries > 0).count();
    let replayed = attempts.iter().filter(|a| a.replayed).count();
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_instance: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for attempt in &attempts {
        let entry = per_instance.entry(attempt.instance.clone()).or_default();
        entry.0 += 1;
        match &attempt.outcome {
            Ok(qty) => {
                succeeded += 1;
                booked_client += u64::from(*qty);
                entry.1 += 1;
            }
            Err(reason) => *rejected.entry(reason.clone()).or_default() += 1,
        }
    }
    let capacity = i64::from(args.capacity);
    let oversold =
        booked_server > capacity || remaining < 0 || remaining + booked_server != capacity;
    Ok(json!({
        "eventId": event_id,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "targets": args.targets,
        "capacity": args.capacity,
        "requests": args.requests,
        "qty": args.qty,
        "succeeded": succeeded,
        "rejected": rejected,
        "remaining": remaining,
        "bookedQty": booked_server,
        "bookedQtySeenByClients": booked_client,
        "retries": args.retries,
        "buyersWhoRetried": retried,
        "replayedBookings": replayed,
        "perInstance": per_instance.iter().map(|(id, (requests, successes))| {
            (id.clone(), json!({ "requests": requests, "successes": successes }))
        }).collect::<serde_json::Map<_, _>>(),
        "elapsedMs": elapsed.as_millis() as u64,
        "oversold": oversold,
    }))
}

/// One buyer: where to send, and how persistently.
struct Buyer {
    client: Client,
    /// `Authorization` for this buyer, when race signs tokens.
    authorization: Option<String>,
    targets: Vec<String>,
    index: usize,
    retries: u32,
    event_id: String,
}

/// One answer: status, body, whether it was an idempotent replay.
type Answer = (u16, Value, bool);

impl Buyer {
    async fn book(&self, qty: u32) -> Attempt {
        let body = json!({
            "eventId": self.event_id, "sectionId": "s1", "qty": qty,
            "userId": format!("buyer{}", self.index),
        });
        let (instance, answer, retries) = self.post("/book", &body, "book").await;
        let (outcome, replayed) = match answer {
            Ok((201, body, replayed)) => (Ok(body["qty"].as_u64().unwrap_or(0) as u32), replayed),
            Ok((_, body, _)) => (Err(error_code(&body)), false),
            Err(e) => (Err(e), false),
        };
        Attempt {
            instance,
            outcome,
            retries,
            replayed,
        }
    }

    async fn lock_and_confirm(&self, seat: &str) -> Attempt {
        let user = json!({ "userId": format!("buyer{}", self.index) });
        let path = format!("/events/{}/seats/{seat}", self.event_id);
        let (instance, lock, lock_retries) =
            self.post(&format!("{path}/lock"), &user, "lock").await;
        let failed = |instance, outcome, retries| Attempt {
            instance,
            outcome: Err(outcome),
            retries,
            replayed: false,
        };
        match lock {
            Ok((200, _, _)) => {}
            Ok((_, body, _)) => {
                return failed(
                    instance,
                    format!("lock: {}", error_code(&body)),
                    lock_retries,
                );
            }
            Err(e) => return failed(instance, e, lock_retries),
        }
        let (instance, confirm, retries) = self
            .post(&format!("{path}/confirm"), &user, "confirm")
            .await;
        let retries = retries + lock_retries;
        match confirm {
            Ok((201, _, replayed)) => Attempt {
                instance,
                outcome: Ok(1),
                retries,
                replayed,
            },
            Ok((_, body, _)) => {
                failed(instance, format!("confirm: {}", error_code(&body)), retries)
            }
            Err(e) => failed(instance, e, retries),
        }
    }

    /// POSTs `body`, starting on this buyer's target; with retries, moves to the next target
    /// whenever there is no answer or a 502/503/504. Returns the answering instance, the
    /// answer, and how many times it retried.
    async fn post(
        &self,
        path: &str,
        body: &Value,
        action: &str,
    ) -> (String, Result<Answer, String>, u32) {
        let key = format!("race-{}-{action}-{}", self.event_id, self.index);
        let mut retries = 0;
        loop {
            let base = &self.targets[(self.index + retries as usize) % self.targets.len()];
            let mut request = self.client.post(format!("{base}{path}")).json(body);
            if let Some(authorization) = &self.authorization {
                request = request.header("authorization", authorization);
            }
            if self.retries > 0 {
                request = request.header("idempotency-key", &key);
            }
            let (instance, answer) = send(request).await;
            let unanswered = match &answer {
                Ok((status, _, _)) => matches!(status, 502..=504),
                Err(_) => true,
            };
            if !unanswered || retries >= self.retries {
                return (instance, answer, retries);
            }
            // Back off: 100 ms, doubling up to 2 s (a Redis failover takes seconds).
            tokio::time::sleep(Duration::from_millis((100u64 << retries.min(5)).min(2_000))).await;
            retries += 1;
        }
    }
}

/// Sends a request; returns the answering instance and the answer.
async fn send(request: reqwest::RequestBuilder) -> (String, Result<Answer, String>) {
    match request.send().await {
        Ok(response) => {
            let instance = response
                .headers()
                .get("x-instance-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unknown")
                .to_owned();
            let replayed = response.headers().contains_key("idempotent-replayed");
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (instance, Ok((status, body, replayed)))
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "transport: timeout".to_owned()
            } else if e.is_connect() {
                "transport: connect".to_owned()
            } else {
                // The innermost cause says most ("connection closed before message completed").
                let mut cause: &dyn std::error::Error = &e;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                format!("transport: {cause}")
            };
            ("unreachable".to_owned(), Err(kind))
        }
    }
}

fn error_code(body: &Value) -> String {
    body["error"]["code"]
        .as_str()
        .map_or_else(|| "NON_JSON_ERROR".to_owned(), str::to_owned)
}

/// Tries the targets in turn (some may be down after a chaos run, or a topology that just
/// came up may still answer 502 for a moment) until one answers 2xx: 20 rounds, 200 ms apart.
async fn first_answer(
    targets: &[String],
    request: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Result<Value, String> {
    let mut last = String::from("no targets");
    for _ in 0..20 {
        for base in targets {
            match request(base).send().await {
                Ok(r) if r.status().is_success() => {
                    return r.json().await.map_err(|e| e.to_string());
                }
                Ok(r) => last = format!("{base}: HTTP {}", r.status()),
                Err(e) => last = format!("{base}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(last)
}

/// Sum of `qty` over the event's confirmed bookings, as the server lists them.
async fn server_booked_qty(
    client: &Client,
    targets: &[String],
    event_id: &str,
    organizer: Option<&str>,
) -> Result<i64, String> {
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("eventId={event_id}&limit=500&cursor={c}"),
            None => format!("eventId={event_id}&limit=500"),
        };
        let page = first_answer(targets, |base| {
            let request = client.get(format!("{base}/bookings?{query}"));
            match organizer {
                Some(authorization) => request.header("authorization", authorization),
                None => request,
            }
        })
        .await?;
        for booking in page["bookings"].as_array().ok_or("no bookings")? {
            if booking["status"] == "confirmed" {
                total += booking["qty"].as_i64().unwrap_or(0);
            }
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(total),
        }
    }
}

fn print_report(r: &Value) {
    println!(
        "race: {} requests ({} mode, qty {}) for {} tickets over {} target(s), {} ms",
        r["requests"],
        r["mode"].as_str().unwrap_or(""),
        r["qty"],
        r["capacity"],
        r["targets"].as_array().map_or(0, Vec::len),
        r["elapsedMs"]
    );
    println!("event:            {}", r["eventId"].as_str().unwrap_or(""));
    println!("succeeded:        {}", r["succeeded"]);
    let rejected = r["rejected"].as_object().cloned().unwrap_or_default();
    let total: u64 = rejected.values().filter_map(Value::as_u64).sum();
    println!("rejected:         {total}");
    for (reason, count) in &rejected {
        println!("  {reason:<30} {count}");
    }
    if r["retries"].as_u64().unwrap_or(0) > 0 {
        println!(
            "retried:          {} buyers (Idempotency-Key), {} found their booking already made",
            r["buyersWhoRetried"], r["replayedBookings"]
        );
    }
    println!("final remaining:  {}", r["remaining"]);
    println!(
        "total qty booked: {} (clients saw {})",
        r["bookedQty"], r["bookedQtySeenByClients"]
    );
    println!("per instance:     requests  successes");
    if let Some(instances) = r["perInstance"].as_object() {
        for (id, counts) in instances {
            println!(
                "  {id:<16} {:>8}  {:>9}",
                counts["requests"].as_u64().unwrap_or(0),
                counts["successes"].as_u64().unwrap_or(0)
            );
        }
    }
    let ok = !r["oversold"].as_bool().unwrap_or(true);
    println!(
        "invariants:       booked <= capacity, remaining >= 0, remaining + booked == capacity: {}",
        if ok { "OK" } else { "VIOLATED (oversold)" }
    );
}
