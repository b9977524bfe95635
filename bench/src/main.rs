//! `bench`: load on one or more replicas, scenario by scenario; prints requests/s, latency
//! percentiles (HDR histogram) and the status mix.
//!
//! ```text
//! cargo run --release --bin bench -- --target http://127.0.0.1:8080 --scenario hot-section \
//!     --connections 64 --duration 10s
//! ```
//!
//! Each of `--connections` keep-alive HTTP/1.1 connections (spread round-robin over the
//! targets) is one virtual user sending its next request as soon as the last one is answered.
//! Each scenario creates its own data first. The first `--warmup` is not measured.

mod client;
mod cpu;
mod delivery;
mod joins;
mod record;
mod redis_stats;
mod scenarios;
mod storm;

use clap::Parser;
use client::{Connection, Failure};
use cpu::CpuClock;
use record::Recorder;
use scenarios::{Name, Scenario};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Load generator for boxoffice")]
struct Args {
    /// Base URL of a replica or load balancer; repeat for several.
    #[arg(long = "target", required_unless_present_any = ["print_book_call", "print_book_script"])]
    targets: Vec<String>,
    #[arg(long, value_enum,
          required_unless_present_any = ["print_book_call", "print_book_script", "stream_delivery", "storm", "joins"])]
    scenario: Option<Name>,
    /// Instead of a scenario: open this many live streams on the second target (the first if
    /// only one), make `--stream-changes` changes through the first, one every
    /// `--stream-interval`, and report how long each took from the write being sent to each
    /// subscriber reading it.
    #[arg(long, value_name = "SUBSCRIBERS")]
    stream_delivery: Option<usize>,
    #[arg(long, default_value_t = 200)]
    stream_changes: u64,
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    stream_interval: Duration,
    /// Instead of a scenario: an on-sale of `--storm-tickets` tickets to this many buyers, who
    /// arrive evenly over `--storm-arrival` and book once each (see `storm.rs`).
    #[arg(long, value_name = "BUYERS")]
    storm: Option<usize>,
    #[arg(long, default_value_t = 500)]
    storm_tickets: u32,
    /// Instead of a scenario: this many distinct users join one waiting room, once each, as
    /// fast as the connections allow (open mode; see `joins.rs`).
    #[arg(long, value_name = "USERS")]
    joins: Option<u64>,
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    storm_arrival: Duration,
    /// Process ids of the replicas under test: the report then carries their CPU time (user +
    /// system, from /proc) over the measured window, per request.
    #[arg(long = "replica-pid")]
    replica_pids: Vec<u32>,
    /// The port of the Redis (on 127.0.0.1) the target uses: the report then carries its
    /// EVALSHA calls and Redis CPU over exactly the measured window.
    #[arg(long)]
    redis_stats_port: Option<u16>,
    /// Print the booking script's exact text as the service loads it (scripts/bench loads a
    /// copy without its change-stream entry to measure what that entry costs).
    #[arg(long)]
    print_book_script: bool,
    /// Concurrent keep-alive connections (virtual users).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to measure, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Print, one per line, what follows EVALSHA for one booking of qty 1 in section s1 of
    /// this event: the booking script's SHA (as the service loads it), the key count, the
    /// keys and the arguments, with `__rand_int__` where redis-benchmark must vary them.
    /// scripts/bench measures the raw Redis ceiling with it.
    #[arg(long, value_name = "EVENT_ID")]
    print_book_call: Option<String>,
    /// The secret the replicas verify tokens with (AUTH_MODE=jwt): every virtual user then
    /// sends its own token. Without it, no token (AUTH_MODE=open).
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

/// The booking script's call, from the service's own scripts and key layout.
fn print_book_call(event: &str) -> Result<(), String> {
    use boxoffice::domain::ids::{BookingId, EventId};
    use boxoffice::store::scripts::{BookArgs, BookKeys, FromScope};
    use boxoffice::store::{Scripts, keys};
    let event = EventId::parse(event).map_err(|e| e.to_string())?;
    let sample = BookingId::new(keys::event_slot(&event));
    let booking_key = keys::booking(&sample).replace(&sample.to_string(), "__rand_int__");
    let user = boxoffice::domain::ids::UserId::parse("u__rand_int__").map_err(|e| e.to_string())?;
    // The keys as the service makes them, from the scope; the booking's id varies per call.
    let scope = keys::Scope::event(&event).user(&user).booking(&sample);
    let keys: Vec<String> = BookKeys::from_scope(&scope)
        .map_err(|e| e.to_string())?
        .values()
        .into_iter()
        .map(|key| {
            if key == keys::booking(&sample) {
                booking_key.clone()
            } else {
                key
            }
        })
        .collect();
    let args = BookArgs {
        booking_id: "__rand_int__".into(),
        event_id: event.to_string(),
        section_id: "s1".into(),
        qty: "1".into(),
        user_id: user.to_string(),
        created_at: "1790000000000".into(),
        admitted: "0".into(),
        role: "buyer".into(),
        fingerprint: None,
        ttl_ms: None,
    }
    .values();
    println!("{}", Scripts::new().book.script.get_hash());
    println!("{}", keys.len());
    for line in keys.iter().chain(&args) {
        println!("{line}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_book_script {
        return match boxoffice::store::Scripts::text("book") {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        };
    }
    if let Some(event) = &args.print_book_call {
        return match print_book_call(event) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(secret) = &args.jwt_secret
        && let Err(e) = scenarios::sign_tokens(secret)
    {
        eprintln!("bench: cannot sign tokens: {e}");
        return ExitCode::FAILURE;
    }
    let _ = rlimit::increase_nofile_limit(65_536);
    let outcome = match (args.stream_delivery, args.storm) {
        _ if args.joins.is_some() => {
            let count = args.joins.unwrap_or(0);
            joins::run(count, args.connections, &args.targets, &args.replica_pids).await
        }
        (None, Some(buyers)) => {
            let storm = storm::Storm {
                buyers,
                tickets: args.storm_tickets,
                arrival: args.storm_arrival,
                connections: args.connections,
                jwt_secret: args.jwt_secret.clone(),
            };
            storm::run(&storm, &args.targets, &args.replica_pids).await
        }
        (Some(subscribers), _) => {
            let write = &args.targets[0];
            let read = args.targets.get(1).unwrap_or(write);
            delivery::run(
                write,
                read,
                subscribers,
                args.stream_changes,
                args.stream_interval,
            )
            .await
        }
        (None, None) => run(&args).await,
    };
    match outcome {
        Ok(report) => {
            if args.json {
                println!("{report}");
            } else {
                print_report(&report);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<serde_json::Value, String> {
    let name = args.scenario.ok_or("--scenario is required")?;
    let scenario = Arc::new(Scenario::prepare(name, &args.targets[0]).await?);
    let mut connections = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        connections.push(Connection::open(&args.targets[i % args.targets.len()]).await?);
    }

    let measure_from = Instant::now() + args.warmup;
    let measure_until = measure_from + args.duration;
    let redis_stats = args.redis_stats_port.map(|port| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            redis_stats::reset(port).await?;
            tokio::time::sleep_until(measure_until.into()).await;
            redis_stats::evalsha(port).await
        })
    });
    let replica_cpu = {
        let pids = args.replica_pids.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let clock = CpuClock::start(&pids);
            tokio::time::sleep_until(measure_until.into()).await;
            clock
        })
    };
    let users: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let scenario = scenario.clone();
            let target = args.targets[i % args.targets.len()].clone();
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(i as u64);
                let mut rec = Recorder::new();
                loop {
                    let now = Instant::now();
                    if now >= measure_until {
                        return rec;
                    }
                    rec.recording = now >= measure_from;
                    if let Err(failure) = scenario.step(&mut conn, &mut rng, &mut rec).await {
                        // Closed by the server (recorded if a request was lost): open another.
                        if matches!(failure, Failure::Lost(_)) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if let Ok(fresh) = Connection::open(&target).await {
                            conn = fresh;
                        }
                    }
                }
            })
        })
        .collect();
    let mut total = Recorder::new();
    for user in users {
        total.merge(user.await.map_err(|e| e.to_string())?);
    }

    let requests = total.latency.len();
    let seconds = args.duration.as_secs_f64();
    let ms = |q: f64| total.latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "scenario": format!("{name:?}"),
        "targets": args.targets,
        "connections": args.connections,
        "durationSecs": seconds,
        "requests": requests,
        "rps": (requests as f64 / seconds).round(),
        "latencyMs": {
            "p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99),
            "max": total.latency.max() as f64 / 1000.0,
        },
        "outcomes": total.outcomes,
        "redis": match redis_stats {
            Some(stats) => stats.await.map_err(|e| e.to_string())??,
            None => serde_json::Value::Null,
        },
        "replicaCpu": replica_cpu.await.map_err(|e| e.to_string())?.per_request(requests),
        "firstError": total.first_error,
    }))
}

fn print_report(r: &serde_json::Value) {
    if r["scenario"] == "Storm" || r["scenario"] == "Joins" {
        println!("{r:#}");
        return;
    }
    let l = &r["latencyMs"];
    println!(
        "bench: {} with {} connections over {} target(s), measured {} s",
        r["scenario"].as_str().unwrap_or(""),
        r["connections"],
        r["targets"].as_array().map_or(0, Vec::len),
        r["durationSecs"]
    );
    println!("requests:   {} ({} req/s)", r["requests"], r["rps"]);
    println!(
        "latency:    p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        l["p50"], l["p90"], l["p99"], l["max"]
    );
    if let Some(error) = r["firstError"].as_str() {
        println!("first transport error: {error}");
    }
    println!("status mix:");
    if let Some(outcomes) = r["outcomes"].as_object() {
        for (outcome, n) in outcomes {
            println!("  {outcome:<34} {n}");
        }
    }
}
