//! Configuration: environment variables (the twelve-factor way containers are configured),
//! each also settable as a command-line flag. `boxoffice --help` lists them all.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "boxoffice",
    version,
    about = "A ticket booking API that cannot oversell."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (what `boxoffice` does without a subcommand).
    Serve(Settings),
    /// Check every inventory invariant in Redis for all events; exit 1 if any is broken.
    Audit(AuditArgs),
    /// Exit 0 if the server at --url answers 200 (a container HEALTHCHECK without curl).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    #[arg(
        long,
        env = "HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:3000/healthz"
    )]
    pub url: String,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "0.0.0.0:3000")]
    pub bind_addr: SocketAddr,

    /// How long a seat lock lives unless confirmed or released, in milliseconds.
    #[arg(long, env = "LOCK_TTL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub lock_ttl_ms: u64,

    /// Name of this replica, sent back in the `X-Instance-Id` header. Default: the host name.
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Seats `1..=N` of the demo event behind `/seats`, `/lock`, ... (0: no demo event).
    #[arg(long, env = "DEMO_SEATS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub demo_seats: u32,

    /// The most tickets one booking may take.
    #[arg(long, env = "MAX_QTY_PER_BOOKING", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub max_qty_per_booking: u32,

    /// After SIGTERM, how long to keep serving while closing each connection after its response
    /// (load balancers move off without a failed request), before no longer accepting.
    #[arg(long, env = "SHUTDOWN_DRAIN_MS", default_value_t = 500)]
    pub shutdown_drain_ms: u64,

    /// After draining, how long in-flight requests may take before the process exits anyway.
    #[arg(long, env = "SHUTDOWN_GRACE_MS", default_value_t = 8_000)]
    pub shutdown_grace_ms: u64,

    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub redis: RedisSettings,
}

#[derive(Debug, Clone, Args)]
pub struct RedisSettings {
    /// Redis to keep all state in.
    #[arg(
        long = "redis-url",
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub url: String,

    /// Bound on one attempt to connect to Redis.
    #[arg(long, env = "REDIS_CONNECT_TIMEOUT_MS", default_value_t = 500)]
    pub connect_timeout_ms: u64,

    /// Bound on waiting for one Redis reply.
    #[arg(long, env = "REDIS_RESPONSE_TIMEOUT_MS", default_value_t = 500)]
    pub response_timeout_ms: u64,

    /// Bound on all Redis work of one HTTP request; past it the request gets 503.
    #[arg(long, env = "REDIS_REQUEST_TIMEOUT_MS", default_value_t = 1_000)]
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub redis: RedisSettings,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Defaults with nothing read from the environment (tests start apps with this).
    pub fn defaults() -> Self {
        Cli::parse_from(["boxoffice"]).serve
    }

    pub fn instance_id(&self) -> String {
        self.instance_id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned())
    }
}
