//! Idempotency keys (`Idempotency-Key` header) on booking, seat confirm and cancel.
//!
//! Two records make the promise hold across replicas:
//! 1. a claim per (user, key) holding the request's fingerprint, `SET NX GET` in one command: the
//!    same key sent with a different request (even for another event) is refused with 422;
//! 2. the first successful reply, written by the booking script itself in the event's slot, so
//!    the booking and the memory of it are one atomic step: a retry replays the reply instead of
//!    booking again, and concurrent duplicates serialise on the script (exactly one books, the
//!    others replay; there is no "in progress" state to wait on).
//!
//! Refusals are not remembered: a retry after `409 INSUFFICIENT_INVENTORY` is evaluated afresh.

use super::{Store, keys};
use crate::domain::ids::UserId;
use crate::error::AppError;
use redis::aio::ConnectionManager;

/// Keys are remembered for 24 hours.
pub const IDEMPOTENCY_TTL_MS: u64 = 24 * 60 * 60 * 1000;
const MAX_KEY_LEN: usize = 255;

/// A validated `Idempotency-Key` header value: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, AppError> {
        if value.is_empty()
            || value.len() > MAX_KEY_LEN
            || !value.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(AppError::InvalidRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Store {
    /// Claims `key` for this request's `fingerprint`, or refuses if it was first used for a
    /// different request.
    pub(super) async fn claim_idempotency_key(
        conn: &mut ConnectionManager,
        user: &UserId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<(), AppError> {
        let first: Option<String> = redis::cmd("SET")
            .arg(keys::idempotency_claim(user, key.as_str()))
            .arg(fingerprint)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(IDEMPOTENCY_TTL_MS)
            .query_async(conn)
            .await?;
        match first {
            Some(first) if first != fingerprint => Err(AppError::IdempotencyKeyReused),
            _ => Ok(()),
        }
    }
}
