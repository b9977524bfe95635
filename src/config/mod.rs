//! Configuration: environment variables (the twelve-factor way containers are configured),
//! each also settable as a command-line flag. `boxoffice --help` lists them all.

mod cluster_nodes;
mod redis_url;

pub use cluster_nodes::ClusterNodes;
pub use redis_url::RedisUrl;

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
    Serve(Box<Settings>),
    /// Check every inventory invariant in Redis for all events.
    ///
    /// Exit status: 0 every invariant holds; 1 at least one is broken (each is printed);
    /// 2 Redis could not be read (the reason is printed).
    Audit(AuditArgs),
    /// Exit 0 if the server at --url answers 200 (a container HEALTHCHECK without curl).
    Healthcheck(HealthcheckArgs),
    /// Print a token (HS256, signed with AUTH_JWT_SECRET) for a user: for curl, race, bench.
    Token(TokenArgs),
    /// Print the `Stripe-Signature` header Stripe would send for the body on standard input,
    /// signed now with STRIPE_WEBHOOK_SECRET: for test webhooks (docs/orders.md).
    StripeSign(StripeSignArgs),
    /// Write a new Ed25519 key for signing ticket codes (PKCS#8 PEM) to --out, or print it:
    /// for TICKET_SIGNING_KEY_FILE (docs/tickets.md).
    Keygen(KeygenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Where to write the key (mode 0600); without it, the key is printed.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct StripeSignArgs {
    /// The webhook endpoint's signing secret (`whsec_...`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Sign as of this Unix time instead of now.
    #[arg(long)]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The user (the token's sub).
    #[arg(long)]
    pub user: String,
    #[arg(long, value_enum, default_value_t = crate::domain::role::Role::Buyer)]
    pub role: crate::domain::role::Role,
    /// How long it is valid, e.g. 15m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
    #[command(flatten)]
    pub auth: AuthSettings,
}

/// `AUTH_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Every write carries a signed token (Authorization: Bearer); the user is its sub.
    Jwt,
    /// Demos and tests: the user is whoever the request names, and may do everything.
    Open,
}

#[derive(Clone, Args)]
pub struct AuthSettings {
    /// `jwt`: writes need a signed token. `open`: clients name themselves (demos only).
    #[arg(long = "auth-mode", env = "AUTH_MODE", value_enum, default_value_t = AuthMode::Jwt)]
    pub mode: AuthMode,

    /// HS256 secret that signs tokens (32 bytes or more).
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,

    /// A file holding that secret (Docker secrets, a mounted volume).
    #[arg(long = "auth-jwt-secret-file", env = "AUTH_JWT_SECRET_FILE")]
    pub secret_file: Option<std::path::PathBuf>,

    /// PEM public key of an identity provider: RS256, ES256 or EdDSA tokens.
    #[arg(long = "auth-jwt-public-key-file", env = "AUTH_JWT_PUBLIC_KEY_FILE")]
    pub public_key_file: Option<std::path::PathBuf>,

    /// If set, a token's aud must be this.
    #[arg(long = "auth-jwt-audience", env = "AUTH_JWT_AUDIENCE")]
    pub audience: Option<String>,

    /// If set, a token's iss must be this.
    #[arg(long = "auth-jwt-issuer", env = "AUTH_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// The longest a token may be valid for: one whose `exp` is further ahead is refused
    /// (seconds).
    #[arg(
        long = "auth-max-token-ttl-seconds",
        env = "AUTH_MAX_TOKEN_TTL_SECONDS",
        default_value_t = 86_400,
        value_parser = clap::value_parser!(u64).range(60..=31_536_000)
    )]
    pub max_token_ttl_seconds: u64,

    /// Clock skew allowed on exp and nbf, in seconds.
    #[arg(
        long = "auth-jwt-leeway-seconds",
        env = "AUTH_JWT_LEEWAY_SECONDS",
        default_value_t = 30
    )]
    pub leeway_seconds: u64,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("mode", &self.mode)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("public_key_file", &self.public_key_file)
            .finish_non_exhaustive()
    }
}

/// A secret given as a setting, else the trimmed content of the file the setting `file_setting`
/// names (a Docker secret), else none.
fn given_or_file(
    given: Option<&String>,
    file: Option<&std::path::Path>,
    file_setting: &str,
) -> Result<Option<String>, String> {
    if let Some(given) = given {
        return Ok(Some(given.clone()));
    }
    file.map(|path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{file_setting} {}: {e}", path.display()))
    })
    .transpose()
}

impl Settings {
    /// The keys that sign and verify ticket codes (see TICKET_SIGNING_KEY_FILE).
    pub fn ticket_keys(&self) -> Result<crate::domain::ticket::TicketKeys, String> {
        use crate::domain::ticket::TicketKeys;
        let read = |path: &std::path::Path, setting: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("{setting} {}: {e}", path.display()))
                .and_then(|pem| {
                    TicketKeys::key_from_pem(&pem)
                        .map_err(|e| format!("{setting} {}: {e}", path.display()))
                })
        };
        let signing = match &self.ticket_signing_key_file {
            Some(path) => read(path, "TICKET_SIGNING_KEY_FILE")?,
            None => match self.auth.secret()? {
                Some(secret) => TicketKeys::key_from_secret(&secret),
                None => {
                    tracing::warn!(
                        "tickets are signed with a fixed demo key: set TICKET_SIGNING_KEY_FILE"
                    );
                    TicketKeys::key_from_secret("boxoffice demo tickets")
                }
            },
        };
        let retired = self
            .ticket_retired_key_files
            .iter()
            .map(|path| read(path, "TICKET_RETIRED_KEY_FILES").map(|k| k.verifying_key()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TicketKeys::new(signing, retired))
    }
}

impl AuthSettings {
    /// The HS256 secret, from AUTH_JWT_SECRET or the file AUTH_JWT_SECRET_FILE names.
    pub fn secret(&self) -> Result<Option<String>, String> {
        given_or_file(
            self.secret.as_ref(),
            self.secret_file.as_deref(),
            "AUTH_JWT_SECRET_FILE",
        )
    }
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

    /// Where Prometheus metrics are served (`GET /metrics`), apart from the API so that a load
    /// balancer in front of the API never exposes them; `off` for none.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9100", value_parser = parse_metrics_addr)]
    pub metrics_addr: MetricsAddr,

    /// How long a seat lock lives unless confirmed or released, in milliseconds.
    #[arg(long, env = "LOCK_TTL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub lock_ttl_ms: u64,

    /// How long a checkout hold lives unless extended, confirmed or released, in milliseconds.
    #[arg(long, env = "HOLD_TTL_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(1_000..=86_400_000))]
    pub hold_ttl_ms: u64,

    /// How many times one hold may be extended.
    #[arg(long, env = "HOLD_MAX_EXTENSIONS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub hold_max_extensions: u32,

    /// No extension takes a hold past this long after it was made, in milliseconds.
    #[arg(long, env = "HOLD_MAX_LIFETIME_MS", default_value_t = 900_000,
          value_parser = clap::value_parser!(u64).range(1_000..=86_400_000))]
    pub hold_max_lifetime_ms: u64,

    /// How long an order keeps its seats or tickets waiting for payment, in milliseconds
    /// (docs/orders.md).
    #[arg(long, env = "ORDER_PAYMENT_TTL_MS", default_value_t = 900_000,
          value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    pub order_payment_ttl_ms: u64,

    /// Verifies Stripe's payment webhooks (`Stripe-Signature`): the endpoint's signing secret
    /// (`whsec_...`). Unset: every webhook is refused with `400 INVALID_SIGNATURE`.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,

    /// Signs ticket codes: an Ed25519 key, PKCS#8 PEM (`boxoffice keygen`). Every replica needs
    /// the same one. Unset: a key derived from AUTH_JWT_SECRET (the same on every replica that
    /// has it); in open mode without that secret, a fixed demo key (codes are then forgeable).
    #[arg(long, env = "TICKET_SIGNING_KEY_FILE")]
    pub ticket_signing_key_file: Option<std::path::PathBuf>,

    /// Keys that signed ticket codes before the current one (PEM files, comma-separated): their
    /// codes still verify, and `GET /tickets/keys` still lists them.
    #[arg(long, env = "TICKET_RETIRED_KEY_FILES", value_delimiter = ',')]
    pub ticket_retired_key_files: Vec<std::path::PathBuf>,

    /// Signs waiting-room admission tokens (32 bytes or more); default: AUTH_JWT_SECRET. Every
    /// replica needs the same one. Without either, waiting rooms cannot be switched on.
    #[arg(long, env = "ADMISSION_SECRET", hide_env_values = true)]
    pub admission_secret: Option<String>,

    /// Waiting rooms: a turn not taken this long after it came, in milliseconds, lapses (its
    /// holder is skipped; the page asks every few seconds, and takes it at its first ask).
    #[arg(long, env = "QUEUE_ABANDON_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    pub queue_abandon_ms: u64,

    /// Live streams (`GET /events/{eventId}/stream`): how many changes a subscriber may fall
    /// behind before it is dropped (it reconnects with `Last-Event-ID` and catches up).
    #[arg(long, env = "STREAM_BUFFER", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub stream_buffer: u64,

    /// Live streams: a keep-alive comment after this long without an event, in milliseconds
    /// (below any proxy's read timeout).
    #[arg(long, env = "STREAM_KEEPALIVE_MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub stream_keepalive_ms: u64,

    /// Live streams end after this long, in milliseconds; the client reconnects (browsers do
    /// by themselves) with `Last-Event-ID` and misses nothing. Bounded streams rebalance over
    /// replicas added since they opened, and let a client that only wants a look end.
    #[arg(long, env = "STREAM_MAX_LIFETIME_MS", default_value_t = 3_600_000,
          value_parser = clap::value_parser!(u64).range(100..=86_400_000))]
    pub stream_max_lifetime_ms: u64,

    /// The kernel's send buffer of each client connection, in bytes (0: the OS's own sizing,
    /// which grows to megabytes). A cap bounds what thousands of open streams may hold in the
    /// kernel, and how much a stalled stream subscriber absorbs before it falls behind.
    #[arg(long, env = "SOCKET_SEND_BUFFER_BYTES", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=67_108_864))]
    pub socket_send_buffer_bytes: u64,

    /// A client must send a whole request head within this long, in milliseconds; a keep-alive
    /// connection idle this long is closed too (hyper starts the same clock when a connection
    /// waits for its next request).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub http_header_timeout_ms: u64,

    /// A request body that sends nothing for this long is cut off (`408 REQUEST_TIMEOUT`), in
    /// milliseconds.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub http_body_timeout_ms: u64,

    /// Client connections one replica serves at once (open streams included); past it a new
    /// connection gets `503 OVERLOADED` and is closed. Lowered, with a warning, to what the
    /// process's file limit leaves.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 8192,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub http_max_connections: u64,

    /// Live and standing streams one client address may have open on one replica; past it
    /// `429 RATE_LIMITED`.
    #[arg(long, env = "STREAM_MAX_PER_CLIENT", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub stream_max_per_client: u64,

    /// Live and standing streams one replica serves at once; past it `429 RATE_LIMITED`.
    #[arg(long, env = "STREAM_MAX_PER_REPLICA", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub stream_max_per_replica: u64,

    /// Waiting rooms: how often, at most, this replica refreshes what it knows of an event's
    /// queue (one script per queue shard and one in the event's slot), in milliseconds. Polls
    /// are answered from it without Redis, so positions and turns are at most this old.
    #[arg(long, env = "QUEUE_REFRESH_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub queue_refresh_ms: u64,

    /// Waiting rooms: the queue shards a new waiting room's line is spread over, each in a
    /// slot of its own (on a cluster, over the primaries). Fixed for an event at its first
    /// refresh; every replica should have the same value.
    #[arg(long, env = "QUEUE_SHARDS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub queue_shards: u16,

    /// Tickets one user may hold at once in one event: live seat locks and the seats or
    /// quantity of live holds together (0: no limit).
    #[arg(long, env = "MAX_TICKETS_HELD_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_tickets_held_per_user: u32,

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

    /// What to log: a tracing filter such as `info`, `warn` or `boxoffice=debug,info`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// `text` for people, `json` for one JSON object per line (log pipelines).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Live seat locks one user may hold per event (0: no limit).
    #[arg(long, env = "MAX_LOCKS_PER_USER", default_value_t = 10)]
    pub max_locks_per_user: u32,

    /// Bookings, seat locks, confirms, unlocks and cancels per second one user may make, shared
    /// by all replicas (a burst of as many); 0: off. Event creation (organizers) is not counted.
    #[arg(long, env = "RATE_LIMIT_PER_USER", default_value_t = 10)]
    pub rate_limit_per_user: u32,

    /// Writes per second one client address may send, shared by all replicas; 0: off (the
    /// default: many buyers share an address behind carrier NAT or a venue's Wi-Fi).
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value_t = 0)]
    pub rate_limit_per_ip: u32,

    /// Proxies whose X-Forwarded-For is believed, as addresses or CIDRs (comma-separated).
    /// None by default: the compose files name nginx's network, scripts/cluster 127.0.0.1.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_trusted_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Origins browsers may call the API from (comma-separated; `*` for any). Default: none
    /// in jwt mode, any in open mode.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    #[command(flatten)]
    pub auth: AuthSettings,

    #[command(flatten)]
    pub redis: RedisSettings,

    #[command(flatten)]
    pub webhooks: WebhookSettings,
}

/// Outgoing webhooks (docs/webhooks.md).
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Delays before each attempt of a message, in ms, comma-separated: the first is the
    /// first attempt's. Default: Standard Webhooks' schedule (now, 5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 10 h).
    #[arg(
        long,
        env = "WEBHOOK_RETRY_SCHEDULE_MS",
        value_delimiter = ',',
        default_value = "0,5000,300000,1800000,7200000,18000000,36000000,36000000"
    )]
    pub retry_schedule_ms: Vec<u64>,

    /// After a secret is rotated, how long the old one still signs beside the new (seconds).
    #[arg(long, env = "WEBHOOK_SECRET_OVERLAP_S", default_value_t = 86_400)]
    pub secret_overlap_s: u64,

    /// An endpoint that has failed every attempt for this long is disabled (seconds).
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER_S", default_value_t = 432_000)]
    pub disable_after_s: u64,

    /// A message taken for delivery by a replica that then says nothing (it died) is taken
    /// by another after this long (ms; above WEBHOOK_TIMEOUT_MS).
    #[arg(long, env = "WEBHOOK_CLAIM_IDLE_MS", default_value_t = 60_000)]
    pub claim_idle_ms: u64,

    /// How long a message is kept after its last attempt (seconds).
    #[arg(long, env = "WEBHOOK_RETENTION_S", default_value_t = 604_800)]
    pub retention_s: u64,

    /// Let endpoints have private, loopback and link-local addresses (tests, compose).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private: bool,

    /// Bound on one delivery attempt (ms).
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 15_000)]
    pub timeout_ms: u64,

    /// How often each replica looks at every event's outbox and every endpoint's due messages
    /// (ms).
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_ms: u64,

    /// Delivery attempts one replica makes at once.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,
}

#[derive(Clone, Args)]
pub struct RedisSettings {
    /// Redis to keep all state in: redis://[[user]:password@]host[:port][/db].
    #[arg(
        long = "redis-url",
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub url: RedisUrl,

    /// Redis Cluster instead: seed nodes, host:port[,host:port...]. Any reachable one is
    /// enough to learn the cluster. When set, REDIS_URL is not used.
    #[arg(long = "redis-cluster-nodes", env = "REDIS_CLUSTER_NODES")]
    pub cluster_nodes: Option<ClusterNodes>,

    /// ACL user for Redis (both topologies; a REDIS_URL may carry its own).
    #[arg(long = "redis-username", env = "REDIS_USERNAME")]
    pub username: Option<String>,

    /// Password for Redis (both topologies; a REDIS_URL may carry its own).
    #[arg(
        long = "redis-password",
        env = "REDIS_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// A file holding the Redis password (a Docker secret, say), instead of REDIS_PASSWORD.
    #[arg(long = "redis-password-file", env = "REDIS_PASSWORD_FILE")]
    pub password_file: Option<std::path::PathBuf>,

    /// Answer a booking, confirm or cancel only once this many replicas of its Redis primary
    /// have it (WAIT), within the request deadline. 0: as soon as the primary has it.
    #[arg(long = "redis-min-replicas-ack", env = "REDIS_MIN_REPLICAS_ACK", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=16))]
    pub min_replicas_ack: u32,

    /// Connections kept for those acknowledgements: how many bookings of this process may
    /// wait for replicas at once (a WAIT holds its connection until the replicas answer).
    #[arg(long = "redis-ack-connections", env = "REDIS_ACK_CONNECTIONS", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub ack_connections: u16,

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

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("target", &self.target())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl RedisSettings {
    /// REDIS_PASSWORD, else the content of REDIS_PASSWORD_FILE (trimmed), else none.
    pub fn password(&self) -> Result<Option<String>, String> {
        given_or_file(
            self.password.as_ref(),
            self.password_file.as_deref(),
            "REDIS_PASSWORD_FILE",
        )
    }

    /// Where the state lives, as logs and answers name it (passwords masked).
    pub fn target(&self) -> String {
        match &self.cluster_nodes {
            Some(nodes) => nodes.to_string(),
            None => self.url.masked().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub redis: RedisSettings,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One of TRUSTED_PROXIES: a network (`10.0.0.0/8`) or one address (`10.0.0.7`).
fn parse_trusted_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR network"))
}

/// `METRICS_ADDR`: an address, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsAddr(pub Option<SocketAddr>);

fn parse_metrics_addr(value: &str) -> Result<MetricsAddr, String> {
    match value.trim() {
        "" | "off" => Ok(MetricsAddr(None)),
        addr => addr
            .parse()
            .map(|a| MetricsAddr(Some(a)))
            .map_err(|e| format!("{addr:?} is not an address like 0.0.0.0:9100 (or \"off\"): {e}")),
    }
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

#[cfg(test)]
mod tests {
    use super::parse_trusted_proxy;

    #[test]
    fn a_trusted_proxy_is_a_network_or_one_address() {
        let one = parse_trusted_proxy("10.1.2.3").expect("an address");
        assert_eq!(one.to_string(), "10.1.2.3/32");
        assert!(one.contains(&"10.1.2.3".parse::<std::net::IpAddr>().expect("ip")));
        assert!(!one.contains(&"10.1.2.4".parse::<std::net::IpAddr>().expect("ip")));
        assert_eq!(
            parse_trusted_proxy(" 10.0.0.0/8")
                .expect("a network")
                .to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_trusted_proxy("::1").expect("v6").to_string(),
            "::1/128"
        );
        let bad = parse_trusted_proxy("proxy.local").expect_err("not an address");
        assert!(bad.contains("proxy.local"), "{bad}");
    }
}
