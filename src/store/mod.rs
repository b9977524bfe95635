//! All state lives in Redis; this module is the only code that talks to it.
//!
//! * Every check-then-write is one Lua script (`lua/`), so it is atomic however many replicas run.
//! * Reads that need a consistent picture of several keys use `MULTI`/`EXEC`.
//! * One multiplexed connection ([`ConnectionManager`]) carries every request of this process:
//!   commands from concurrent requests are pipelined on one socket (no pool checkout, no health
//!   PING per request), and it reconnects by itself when Redis comes back.
//! * Each public operation runs under one deadline (`REDIS_REQUEST_TIMEOUT_MS`), so a stalled or
//!   dead Redis turns into a quick `503 STORE_UNAVAILABLE`, never a hung request.

mod bookings;
mod events;
mod idempotency;
pub mod keys;
mod scripts;
mod seats;

pub use bookings::{BookCommand, BookingFilter, BookingOutcome, BookingPage};
pub use idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
pub use scripts::Scripts;
pub use seats::SeatLock;

use crate::config::RedisSettings;
use crate::domain::ids::BookingId;
use crate::error::AppError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ScriptInvocation, ServerErrorKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    request_timeout: Duration,
}

impl Store {
    /// Prepares the connection without waiting for Redis: a replica starts (and answers
    /// `/healthz`) even while Redis is still coming up.
    pub fn open(settings: &RedisSettings) -> Result<Self, AppError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| AppError::Internal(format!("invalid REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
            .set_response_timeout(Some(Duration::from_millis(settings.response_timeout_ms)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            conn,
            scripts: Arc::new(Scripts::new()),
            request_timeout: Duration::from_millis(settings.request_timeout_ms),
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Runs one operation under the request deadline.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        tokio::time::timeout(self.request_timeout, operation)
            .await
            .unwrap_or_else(|_| {
                Err(AppError::StoreUnavailable(format!(
                    "no answer from Redis within {} ms",
                    self.request_timeout.as_millis()
                )))
            })
    }

    pub async fn ping(&self) -> Result<(), AppError> {
        self.bounded(async {
            let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
            Ok(())
        })
        .await
    }

    /// Loads every script so the first EVALSHA of each already hits.
    pub async fn load_scripts(&self) -> Result<(), AppError> {
        self.bounded(async {
            let mut conn = self.conn();
            for script in self.scripts.all() {
                script.prepare_invoke().load_async(&mut conn).await?;
            }
            Ok(())
        })
        .await
    }

    /// Runs a script that creates a booking (`book`, `confirm_seat`) under a fresh id.
    ///
    /// A new UUIDv7 colliding with an existing booking would take astronomic bad luck; the
    /// scripts refuse to overwrite (`ID_COLLISION`) and the booking is retried under a new id.
    async fn run_booking_script<'s>(
        &'s self,
        slot: u16,
        invocation_for: impl Fn(&BookingId) -> ScriptInvocation<'s>,
    ) -> Result<BookingOutcome, AppError> {
        const ATTEMPTS: usize = 3;
        for _ in 0..ATTEMPTS {
            match self
                .run_script::<BookingOutcome>(&invocation_for(&BookingId::new(slot)))
                .await?
            {
                Ok(outcome) => return Ok(outcome),
                Err(refusal) if refusal.error == "ID_COLLISION" => continue,
                Err(refusal) => return Err(refusal.into()),
            }
        }
        Err(AppError::Internal("booking id collided repeatedly".into()))
    }

    /// Runs a script; its reply is `("ok", json)` or `("refused", json)`, see `lua/lib.lua`.
    async fn run_script<T: DeserializeOwned>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Result<T, Refusal>, AppError> {
        let (status, json): (String, String) = invocation.invoke_async(&mut self.conn()).await?;
        let unexpected =
            |e: serde_json::Error| AppError::Internal(format!("script reply {status} {json}: {e}"));
        Ok(match status.as_str() {
            "ok" => Ok(serde_json::from_str(&json).map_err(unexpected)?),
            "refused" => Err(serde_json::from_str(&json).map_err(unexpected)?),
            other => return Err(AppError::Internal(format!("script replied {other:?}"))),
        })
    }
}

/// A script's refusal: `{"error": CODE, ...details}`. It wrote nothing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refusal {
    error: String,
    #[serde(default)]
    requested: Option<u32>,
    #[serde(default)]
    remaining: Option<i64>,
    #[serde(default)]
    unlocked: Option<i64>,
    #[serde(default)]
    expires_at: Option<i64>,
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r.error.as_str() {
            "EVENT_NOT_FOUND" => AppError::EventNotFound,
            "SECTION_NOT_FOUND" => AppError::SectionNotFound,
            "SEAT_NOT_FOUND" => AppError::SeatNotFound,
            "BOOKING_NOT_FOUND" => AppError::BookingNotFound,
            "INSUFFICIENT_INVENTORY" => AppError::InsufficientInventory {
                requested: r.requested.unwrap_or(0),
                remaining: r.remaining.unwrap_or(0),
                unlocked: r.unlocked,
            },
            "SEAT_BOOKED" => AppError::SeatBooked,
            "SEAT_LOCKED" => AppError::SeatLocked {
                expires_at: r.expires_at.unwrap_or(0),
            },
            "SEAT_NOT_LOCKED" => AppError::SeatNotLocked,
            "LOCK_NOT_OWNED" => AppError::LockNotOwned,
            "BOOKING_ALREADY_CANCELLED" => AppError::BookingAlreadyCancelled,
            "IDEMPOTENCY_KEY_REUSED" => AppError::IdempotencyKeyReused,
            other => AppError::Internal(format!("script refused with {other}")),
        }
    }
}

impl From<RedisError> for AppError {
    /// Failures that retrying later can cure are 503; anything else is a bug (500).
    fn from(e: RedisError) -> Self {
        let transient = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::ReadOnly
                    )
            )
            || matches!(e.code(), Some("BUSY" | "MISCONF"));
        if transient {
            AppError::StoreUnavailable(e.to_string())
        } else {
            AppError::Internal(format!("redis: {e}"))
        }
    }
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
