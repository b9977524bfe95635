//! All state lives in Redis; this module is the only code that talks to it.
//!
//! * Every check-then-write is one Lua script (`lua/`), so it is atomic however many replicas run.
//! * Reads that need a consistent picture of several keys of one event use `MULTI`/`EXEC`.
//! * One multiplexed connection ([`RedisConn`]: a single Redis or a Redis Cluster, see
//!   [`connection`]) carries every request of this process: commands from concurrent requests
//!   are pipelined on one socket per node (no pool checkout, no health PING per request), and
//!   it reconnects (and, on a cluster, follows failovers) by itself.
//! * Nothing spans two hash slots in one command: work over several events is one pipeline or
//!   script per event, run concurrently, so the same code runs on a cluster.
//! * Each public operation runs under one deadline (`REDIS_REQUEST_TIMEOUT_MS`), so a stalled or
//!   dead Redis turns into a quick `503 STORE_UNAVAILABLE`, never a hung request.

mod bookings;
mod changes;
mod checkins;
pub mod connection;
mod demo;
mod events;
mod holds;
mod idempotency;
pub mod keys;
mod orders;
mod queue;
pub mod scripts;
mod seats;
mod version;
pub mod webhooks;

pub use bookings::{BookCommand, BookingFilter, BookingOutcome, BookingPage};
pub use changes::{CHANGES_CHANNEL, Change, Since};
pub use checkins::{CheckinCounts, Revoked, Scan};
pub use connection::{NodeConn, RedisConn};
pub use demo::{DEMO_EVENT_ID, demo_event};
pub use events::remaining_by_section;
pub use holds::HoldChange;
pub use idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
pub use orders::{OrderFilter, OrderPage, PaymentOutcome, PaymentReport};
pub use queue::{Admitted, Advanced, Joined, Refresh, ShardCount};
pub use scripts::Scripts;
pub use seats::SeatLock;
pub use version::{Conditional, Snapshot};

use crate::config::RedisSettings;
use crate::domain::ids::{BookingId, EventId, UserId};
use crate::domain::time::now_ms;
use crate::error::{AppError, Details, ErrorCode};
use connection::Topology;
use keys::Scope;
use redis::{ErrorKind, RedisError, ScriptInvocation, ServerErrorKind};
use scripts::{Bind, FromScope, Lua};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits every user is held to, inside the scripts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Live seat locks per user per event (0: none).
    pub max_locks_per_user: u32,
    /// MAX_TICKETS_HELD_PER_USER (0: none).
    pub max_tickets_held_per_user: u32,
    /// Writes per second per user, with a burst of as many (0: off).
    pub rate_per_user: u32,
    /// Writes per second per client address (0: off).
    pub rate_per_address: u32,
    /// Checkout holds: life, extensions, longest life.
    pub hold_ttl_ms: u64,
    pub hold_max_extensions: u32,
    pub hold_max_lifetime_ms: u64,
    /// Orders: how long they wait for payment.
    pub order_payment_ttl_ms: u64,
}

#[derive(Clone)]
pub struct Store {
    topology: Topology,
    scripts: Arc<Scripts>,
    request_timeout: Duration,
    response_timeout: Duration,
    /// `REDIS_MIN_REPLICAS_ACK`: replicas that must have a booking before it is answered.
    min_replicas_ack: u32,
    /// Connections for those acknowledgements (none when it is 0).
    ack_pool: Option<connection::AckPool>,
    /// Limits the scripts enforce for every user (set by the app; none for tools).
    limits: Limits,
    /// Where the state lives, password masked: named in every "unavailable" log line.
    target: Arc<str>,
    /// Event documents this replica has read (they never change): see [`version::Documents`].
    documents: Arc<version::Documents>,
    /// Events whose outbox this replica just wrote, for its webhook delivery loop.
    written: Arc<webhooks::Written>,
    /// When this replica last ran a script that may change what an event's reads show: its
    /// read view answers again once it has read the change stream after that.
    local_writes: Arc<LocalWrites>,
}

/// When this replica last wrote each event (see [`Store::last_write`]).
#[derive(Default)]
pub struct LocalWrites {
    events: std::sync::Mutex<std::collections::HashMap<EventId, Instant>>,
}

impl LocalWrites {
    fn events(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<EventId, Instant>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn last(&self, event: &EventId) -> Option<Instant> {
        self.events().get(event).copied()
    }

    fn mark(&self, event: &EventId) {
        let mut events = self.events();
        let now = Instant::now();
        if events.len() > 10_000 {
            // Only recent writes matter: a view catches up within milliseconds.
            events.retain(|_, at| now.duration_since(*at) < Duration::from_secs(10));
        }
        events.insert(event.clone(), now);
    }
}

impl Store {
    /// Prepares the connection without waiting for Redis: a replica starts (and answers
    /// `/healthz`) even while Redis is still coming up.
    pub fn open(settings: &RedisSettings) -> Result<Self, AppError> {
        let topology = Topology::open(settings).map_err(AppError::Internal)?;
        let ack_pool = (settings.min_replicas_ack > 0)
            .then(|| {
                connection::AckPool::builder(connection::AckConnections(topology.clone()))
                    .max_size(usize::from(settings.ack_connections))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
            })
            .transpose()
            .map_err(|e| AppError::Internal(format!("acknowledgement connections: {e}")))?;
        // Script errors per script exist from the start, at 0.
        for (name, _) in Scripts::sources().iter().filter(|(name, _)| *name != "lib") {
            metrics::counter!("boxoffice_redis_script_errors_total", "script" => *name).absolute(0);
        }
        Ok(Self {
            topology,
            scripts: Arc::new(Scripts::new()),
            request_timeout: Duration::from_millis(settings.request_timeout_ms),
            response_timeout: Duration::from_millis(settings.response_timeout_ms),
            min_replicas_ack: settings.min_replicas_ack,
            ack_pool,
            limits: Limits::default(),
            target: settings.target().into(),
            documents: Arc::default(),
            written: Arc::default(),
            local_writes: Arc::default(),
        })
    }

    /// The same store enforcing these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The Redis this store uses, password masked.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn is_cluster(&self) -> bool {
        self.topology.is_cluster()
    }

    async fn conn(&self) -> Result<RedisConn, AppError> {
        Ok(self.topology.conn().await?)
    }

    /// Runs one operation under the request deadline. An unavailable store is reported with
    /// the Redis it tried.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let outcome = tokio::time::timeout(self.request_timeout, operation)
            .await
            .unwrap_or_else(|_| {
                Err(AppError::StoreUnavailable(format!(
                    "no answer within {} ms (REDIS_REQUEST_TIMEOUT_MS)",
                    self.request_timeout.as_millis()
                )))
            });
        outcome.map_err(|e| match e {
            AppError::StoreUnavailable(reason) => {
                AppError::StoreUnavailable(format!("{}: {reason}", self.target))
            }
            other => other,
        })
    }

    /// Redis answers, and this replica may use it (address, password, database, ACL). On a
    /// cluster: the cluster's map is known and every primary answers.
    pub async fn ping(&self) -> Result<(), AppError> {
        self.bounded(async {
            let _: redis::Value = redis::cmd("PING")
                .query_async(&mut self.conn().await?)
                .await?;
            Ok(())
        })
        .await
    }

    /// A connection of its own to every primary, for reads that WATCH (the audit).
    pub async fn primaries(&self) -> Result<Vec<NodeConn>, AppError> {
        self.bounded(async { Ok(self.topology.primaries().await?) })
            .await
    }

    /// The shared connection, for tools that read across events (the audit).
    pub async fn shared(&self) -> Result<RedisConn, AppError> {
        self.bounded(self.conn()).await
    }

    /// Loads every script (on every primary of a cluster) so the first EVALSHA of each hits.
    pub async fn load_scripts(&self) -> Result<(), AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            for script in self.scripts.all() {
                script.prepare_invoke().load_async(&mut conn).await?;
            }
            Ok(())
        })
        .await
    }

    /// Runs a script that creates a booking (`book`, `confirm_seat`) under a fresh id, and
    /// answers once `REDIS_MIN_REPLICAS_ACK` replicas have it.
    ///
    /// A new UUIDv7 colliding with an existing booking would take astronomic bad luck; the
    /// scripts refuse to overwrite (`ID_COLLISION`) and the booking is retried under a new id.
    /// A script that makes a booking (`book`, `confirm_seat`, `hold_confirm`): the user's step
    /// first (rate limit, `Idempotency-Key` claim), then the script in the event's slot with a
    /// new booking id, under one deadline. `scope` is the script's scope without the booking;
    /// `args` makes its arguments from the [`Stamp`] of this attempt.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_booking<K: Bind + FromScope, A: Bind>(
        &self,
        script: &Lua<K, A>,
        event: &EventId,
        user: &UserId,
        idempotency: Option<&IdempotencyKey>,
        fingerprint: &str,
        scope: Scope<'_>,
        args: impl Fn(Stamp) -> A,
    ) -> Result<BookingOutcome, AppError> {
        let slot = keys::event_slot(event);
        let outcome = self
            .bounded(async {
                let claim = idempotency.map(|key| (key, fingerprint));
                self.register_booking(user, event, claim).await?;
                self.run_booking_script(script.name, slot, |id| {
                    let scope = scope
                        .booking(id)
                        .idempotency(idempotency.map(IdempotencyKey::as_str));
                    script.call_in(
                        &scope,
                        args(Stamp {
                            booking_id: id.to_string(),
                            event_id: event.to_string(),
                            created_at: now_ms().to_string(),
                            fingerprint: idempotency.map(|_| fingerprint.to_owned()),
                            ttl_ms: idempotency.map(|_| IDEMPOTENCY_TTL_MS.to_string()),
                        }),
                    )
                })
                .await
                .inspect(|_| self.written.mark(event))
            })
            .await;
        self.wrote(event);
        outcome
    }

    async fn run_booking_script<'s>(
        &'s self,
        name: &'static str,
        slot: u16,
        invocation_for: impl Fn(&BookingId) -> Result<ScriptInvocation<'s>, AppError>,
    ) -> Result<BookingOutcome, AppError> {
        let invocation_for = &invocation_for;
        with_fresh_id(
            "booking",
            || BookingId::new(slot),
            |id| async move {
                let invocation = invocation_for(&id)?;
                self.run_acked_script(name, &invocation).await
            },
        )
        .await
    }

    /// Runs a script that writes a booking (or replays one). With `REDIS_MIN_REPLICAS_ACK` =
    /// N > 0, the booking is answered only once N replicas have it: see [`Self::acknowledge`].
    /// Refusals wrote nothing and are answered at once.
    async fn run_acked_script(
        &self,
        name: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Result<BookingOutcome, Refusal>, AppError> {
        let outcome = self.run_script::<BookingOutcome>(name, invocation).await?;
        if let Ok(booking) = &outcome {
            self.acknowledge(&booking.booking.id).await?;
        }
        Ok(outcome)
    }

    /// Waits until `REDIS_MIN_REPLICAS_ACK` replicas have the booking `id`: on a connection of
    /// its own ([`connection::AckPool`]), a write in the booking's slot (which checks that
    /// the booking is there) and `WAIT N` after it, in one pipeline (on a cluster both go to
    /// the slot's primary). The replication stream is in order, so replicas that have the
    /// later write have the booking.
    async fn acknowledge(&self, id: &BookingId) -> Result<(), AppError> {
        let Some(pool) = &self.ack_pool else {
            return Ok(());
        };
        let wanted = self.min_replicas_ack;
        let mut conn = pool.get().await.map_err(|e| {
            AppError::StoreUnavailable(format!("no connection for replica acknowledgements: {e}"))
        })?;
        // WAIT ends inside the reply deadline, or the connection would be given up on with
        // the WAIT still running.
        let wait_ms = (self.response_timeout.as_millis() as u64 * 3 / 4).max(1);
        let invocation = self.scripts.acknowledge.call(
            scripts::AcknowledgeKeys {
                booking: keys::booking(id),
                counter: keys::acknowledgements(id.slot()),
            },
            scripts::AcknowledgeArgs {},
        );
        let mut pipe = redis::pipe();
        pipe.invoke_script(&invocation)
            .cmd("WAIT")
            .arg(wanted)
            .arg(wait_ms);
        let mut reply = pipe
            .query_async::<((String, String), u32)>(&mut *conn)
            .await;
        if let Err(e) = &reply
            && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
        {
            // A pipeline does not reload a script by itself (redis-rs#1394).
            invocation.load_async(&mut *conn).await?;
            reply = pipe.query_async(&mut *conn).await;
        }
        let ((status, json), acked) = match reply {
            Ok(reply) => reply,
            Err(e) => {
                // This connection may be stuck or broken: out of the pool with it.
                let _ = deadpool::managed::Object::take(conn);
                return Err(e.into());
            }
        };
        #[derive(Deserialize)]
        struct Acknowledged {}
        match script_reply::<Acknowledged>(&status, &json)? {
            Ok(Acknowledged {}) if acked >= wanted => Ok(()),
            Ok(Acknowledged {}) => Err(AppError::NotReplicated {
                booking_id: id.to_string(),
                acked,
                wanted,
            }),
            // A failover promoted a replica that never received the booking: it is lost.
            Err(_) => Err(AppError::StoreUnavailable(format!(
                "booking {id} was lost in a failover before a replica had it; retry with the \
                 same Idempotency-Key"
            ))),
        }
    }

    /// This replica ran a script that may have changed what `event`'s reads show.
    fn wrote(&self, event: &EventId) {
        self.local_writes.mark(event);
    }

    /// When this replica last ran a script that may have changed what `event`'s reads show
    /// (after its answer came back): a read view that has not read the change stream since
    /// may not show it yet.
    pub fn last_write(&self, event: &EventId) -> Option<Instant> {
        self.local_writes.last(event)
    }

    /// A write by the scope's user that has no user-slot step of its own: counted against
    /// their rate limit, then `script` with the scope's keys and `args`, both under one request
    /// deadline.
    async fn rated<K: Bind + FromScope, A: Bind, T: DeserializeOwned>(
        &self,
        script: &Lua<K, A>,
        user: &UserId,
        scope: Scope<'_>,
        args: A,
    ) -> Result<T, AppError> {
        let invocation = script.call_in(&scope.user(user), args)?;
        let outcome = self
            .bounded(async {
                self.check_user_rate(user).await?;
                Ok(self.run_script::<T>(script.name, &invocation).await??)
            })
            .await;
        if let Some(event) = scope.event {
            self.wrote(event);
        }
        outcome
    }

    /// Runs a script; its reply is `("ok", json)` or `("refused", json)`, see `lua/lib.lua`.
    async fn run_script<T: DeserializeOwned>(
        &self,
        name: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Result<T, Refusal>, AppError> {
        let (status, json): (String, String) = self.invoke(name, invocation).await?;
        script_reply(&status, &json)
    }

    /// One EVALSHA on the shared connection, timed and its errors counted per script.
    async fn invoke<R: redis::FromRedisValue>(
        &self,
        name: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<R, AppError> {
        let started = Instant::now();
        let mut conn = self.conn().await?;
        let reply: Result<R, RedisError> = invocation.invoke_async(&mut conn).await;
        metrics::histogram!("boxoffice_redis_script_duration_seconds", "script" => name)
            .record(started.elapsed().as_secs_f64());
        Ok(reply.inspect_err(|_| {
            metrics::counter!("boxoffice_redis_script_errors_total", "script" => name).increment(1);
        })?)
    }
}

/// Runs `attempt` with a fresh id from `fresh` until its script does not refuse with
/// `ID_COLLISION` (a new UUIDv7 taking an existing id would take astronomic bad luck; the
/// scripts refuse to overwrite), at most three times. Any other refusal is the answer.
async fn with_fresh_id<Id, T, Fut>(
    what: &str,
    fresh: impl Fn() -> Id,
    mut attempt: impl FnMut(Id) -> Fut,
) -> Result<T, AppError>
where
    Fut: Future<Output = Result<Result<T, Refusal>, AppError>>,
{
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        match attempt(fresh()).await? {
            Ok(done) => return Ok(done),
            Err(refusal) if refusal.is(Signal::IdCollision) => continue,
            Err(refusal) => return Err(refusal.into()),
        }
    }
    Err(AppError::Internal(format!("{what} id collided repeatedly")))
}

/// The arguments every booking script takes, for one attempt: the new booking's id, its
/// event, when it is made, and the request's fingerprint and how long its
/// `Idempotency-Key` is kept (none without a key).
pub(super) struct Stamp {
    pub booking_id: String,
    pub event_id: String,
    pub created_at: String,
    pub fingerprint: Option<String>,
    pub ttl_ms: Option<String>,
}

/// Reads a script's `(status, json)` reply.
fn script_reply<T: DeserializeOwned>(
    status: &str,
    json: &str,
) -> Result<Result<T, Refusal>, AppError> {
    let unexpected =
        |e: serde_json::Error| AppError::Internal(format!("script reply {status} {json}: {e}"));
    Ok(match status {
        "ok" => Ok(serde_json::from_str(json).map_err(unexpected)?),
        "refused" => Err(serde_json::from_str(json).map_err(unexpected)?),
        other => return Err(AppError::Internal(format!("script replied {other:?}"))),
    })
}

/// A script's refusal: `{"error": CODE, ...details}`. It wrote nothing. `CODE` is an
/// [`ErrorCode`] (what the client gets) or a [`Signal`] (what the Rust side handles itself).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refusal {
    error: String,
    #[serde(flatten)]
    details: Details,
    /// `INVALID_REQUEST`, `FORBIDDEN`: what is wrong, for the client.
    #[serde(default)]
    message: Option<String>,
}

/// Refusals that are not errors for the client: the caller acts on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// A new booking id was taken already (astronomically unlikely): retry with another.
    IdCollision,
    /// `create_event`: an event with this id exists; nothing was written.
    EventExists,
}

impl Signal {
    #[cfg(test)]
    const ALL: [Signal; 2] = [Signal::IdCollision, Signal::EventExists];

    const fn as_str(self) -> &'static str {
        match self {
            Signal::IdCollision => "ID_COLLISION",
            Signal::EventExists => "EVENT_EXISTS",
        }
    }
}

impl Refusal {
    fn is(&self, signal: Signal) -> bool {
        self.error == signal.as_str()
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        let Ok(code) = r.error.parse::<ErrorCode>() else {
            return AppError::Internal(format!(
                "a script refused with {:?}, which is not in the error table",
                r.error
            ));
        };
        match code {
            ErrorCode::EventNotFound => AppError::EventNotFound,
            ErrorCode::SectionNotFound => AppError::SectionNotFound,
            ErrorCode::SeatNotFound => AppError::SeatNotFound,
            ErrorCode::BookingNotFound => AppError::BookingNotFound,
            ErrorCode::OrderNotFound => AppError::OrderNotFound,
            ErrorCode::WebhookNotFound => AppError::WebhookNotFound,
            ErrorCode::MessageNotFound => AppError::MessageNotFound,
            ErrorCode::PaymentRequired => AppError::PaymentRequired,
            ErrorCode::BookingHasOrder => AppError::BookingHasOrder(r.message.unwrap_or_default()),
            ErrorCode::OrderNotCancellable => {
                AppError::OrderNotCancellable(r.message.unwrap_or_default())
            }
            ErrorCode::InsufficientInventory => {
                AppError::InsufficientInventory(Box::new(r.details))
            }
            ErrorCode::SeatBooked => AppError::SeatBooked(Box::new(r.details)),
            ErrorCode::SeatLocked => AppError::SeatLocked(Box::new(r.details)),
            ErrorCode::HoldNotFound => AppError::HoldNotFound,
            ErrorCode::AdmissionRequired => AppError::AdmissionRequired,
            ErrorCode::QueueTicketNotFound => AppError::QueueTicketNotFound,
            ErrorCode::WaitingRoomOff => AppError::WaitingRoomOff,
            ErrorCode::NoAdjacentSeats => AppError::NoAdjacentSeats(Box::new(r.details)),
            ErrorCode::InvalidRequest => AppError::InvalidRequest(
                r.message
                    .unwrap_or_else(|| "the request cannot be carried out".into()),
            ),
            ErrorCode::Forbidden => AppError::Forbidden(
                r.message
                    .unwrap_or_else(|| "you may not do this to this event".into()),
            ),
            ErrorCode::HoldExpired => AppError::HoldExpired,
            ErrorCode::HoldExtensionLimit => AppError::HoldExtensionLimit,
            ErrorCode::SeatNotLocked => AppError::SeatNotLocked(Box::new(r.details)),
            ErrorCode::LockNotOwned => AppError::LockNotOwned,
            ErrorCode::BookingAlreadyCancelled => AppError::BookingAlreadyCancelled,
            ErrorCode::IdempotencyKeyReused => AppError::IdempotencyKeyReused,
            ErrorCode::UserLimitReached => AppError::UserLimitReached(Box::new(r.details)),
            ErrorCode::RateLimited => AppError::RateLimited {
                retry_after_ms: r.details.retry_after_ms.unwrap_or(1000),
            },
            other => AppError::Internal(format!(
                "a script refused with {other}, which scripts do not send"
            )),
        }
    }
}

impl From<RedisError> for AppError {
    /// Failures of reaching or using Redis are 503 (retrying later, or fixing the
    /// configuration, cures them); anything else is a bug of ours (500).
    fn from(e: RedisError) -> Self {
        match unavailable_reason(&e) {
            Some(reason) => AppError::StoreUnavailable(reason),
            None => AppError::Internal(format!("redis: {e}")),
        }
    }
}

/// Why Redis cannot serve a request, in words an operator can act on; `None` when the error
/// is not about reaching or using Redis (a script error, a wrong type: a bug).
pub fn unavailable_reason(e: &RedisError) -> Option<String> {
    let code = e.code().unwrap_or("");
    let text = e.to_string();
    if e.is_connection_refusal() {
        return Some(format!(
            "connection refused: is Redis running there? ({text})"
        ));
    }
    if e.is_timeout() {
        return Some(format!("no answer in time ({text})"));
    }
    if e.kind() == ErrorKind::AuthenticationFailed || matches!(code, "NOAUTH" | "WRONGPASS") {
        return Some(format!(
            "authentication failed: check the user and password in REDIS_URL ({text})"
        ));
    }
    if text.contains("DB index is out of range") {
        return Some(format!(
            "the database number in REDIS_URL does not exist on this Redis ({text})"
        ));
    }
    if matches!(e.kind(), ErrorKind::Server(ServerErrorKind::NoPerm)) || code == "NOPERM" {
        return Some(format!(
            "the Redis user may not run a command the service needs (ACL): {text}"
        ));
    }
    if e.is_io_error() || e.is_connection_dropped() {
        return Some(format!("connection lost ({text})"));
    }
    let transient = matches!(
        e.kind(),
        ErrorKind::ClusterConnectionNotFound
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
                    // The cluster client follows these; one still here means the slot map
                    // is changing (a failover) faster than its retries: try again shortly.
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
            )
    ) || matches!(code, "BUSY" | "MISCONF");
    transient.then(|| format!("Redis cannot serve right now ({text})"))
}

/// Runs a pipeline of independent commands and collects one reply per command. An empty
/// pipeline answers at once: Redis would be sent nothing, and has nothing to reply.
pub(crate) async fn query_each<T: redis::FromRedisValue>(
    pipe: &redis::Pipeline,
    conn: &mut impl redis::aio::ConnectionLike,
) -> Result<Vec<T>, AppError> {
    if pipe.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pipe.query_async(conn).await?)
}

/// Redis's `TIME` reply: seconds and microseconds.
pub(crate) type RedisTime = (i64, i64);

/// Redis's clock in milliseconds: the clock that decides when locks expire.
pub(crate) fn redis_millis((seconds, micros): RedisTime) -> i64 {
    seconds * 1000 + micros / 1000
}

/// Parses a JSON document stored in Redis by this service.
pub(crate) fn parse_document<T: DeserializeOwned>(what: &str, raw: &str) -> Result<T, AppError> {
    serde_json::from_str(raw).map_err(|e| AppError::Internal(format!("corrupt {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `refuse('CODE'` in `lua/` is a [`Signal`] or turns into the error with that very
    /// code: a misspelt code in a script fails here, not as a 500 in production.
    #[test]
    fn every_refusal_in_the_scripts_is_known() {
        let mut seen = 0;
        for (name, source) in Scripts::sources() {
            for part in source.split("refuse('").skip(1) {
                let code = part.split('\'').next().unwrap_or("");
                seen += 1;
                if Signal::ALL.iter().any(|s| s.as_str() == code) {
                    continue;
                }
                let refusal = Refusal {
                    error: code.to_owned(),
                    details: Details::default(),
                    message: None,
                };
                let error = AppError::from(refusal);
                assert_eq!(
                    error.code().as_str(),
                    code,
                    "lua/{name}.lua refuses with {code}"
                );
            }
        }
        assert!(seen > 10, "found the refusals ({seen})");
    }

    /// Every name a script's refusal carries (`refuse('CODE', { name = ... })`) is a field of
    /// [`Details`] (or the `message` of `INVALID_REQUEST` and `FORBIDDEN`): a script cannot
    /// send a detail the answer would drop or rename.
    #[test]
    fn every_detail_a_script_sends_is_answered() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Details::schema()).expect("schema");
        let mut seen = 0;
        for (name, source) in Scripts::sources() {
            for part in source.split("refuse('").skip(1) {
                let call = part.split('\n').next().unwrap_or("");
                let Some(extra) = call.split_once(", {").map(|(_, extra)| extra) else {
                    continue;
                };
                for field in extra.split(',') {
                    let Some((key, _)) = field.split_once('=') else {
                        continue;
                    };
                    let key = key.trim();
                    seen += 1;
                    assert!(
                        key == "message" || schema["properties"].get(key).is_some(),
                        "lua/{name}.lua refuses with a detail `{key}` that Details lacks"
                    );
                }
            }
        }
        assert!(seen > 10, "found the details ({seen})");
    }
}
