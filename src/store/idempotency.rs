//! Idempotency keys (`Idempotency-Key` header) on booking, seat confirm and cancel.
//!
//! Two records make the promise hold across replicas:
//! 1. a claim per (user, key) holding the request's fingerprint, set in the user's slot by
//!    `lua/register_booking.lua`: the same key sent with a different request (even for another
//!    event) is refused with 422;
//! 2. the first successful reply, written by the booking script itself in the event's slot, so
//!    the booking and the memory of it are one atomic step: a retry replays the reply instead of
//!    booking again, and concurrent duplicates serialise on the script (exactly one books, the
//!    others replay; there is no "in progress" state to wait on).
//!
//! Refusals are not remembered: a retry after `409 INSUFFICIENT_INVENTORY` is evaluated afresh.

use super::keys::Scope;
use super::scripts::{RateLimitArgs, RateLimitKeys, RegisterArgs};
use super::{Store, keys};
use crate::domain::ids::{EventId, UserId};
use crate::error::AppError;

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
    /// The step in the user's slot before a booking script: counts the request against the
    /// user's rate limit, claims `idempotency` (key and request fingerprint) if any, and
    /// indexes `event` among the user's events. See `lua/register_booking.lua`.
    pub(super) async fn register_booking(
        &self,
        user: &UserId,
        event: &EventId,
        idempotency: Option<(&IdempotencyKey, &str)>,
    ) -> Result<(), AppError> {
        let register = &self.scripts.register_booking;
        let rate = self.limits.rate_per_user;
        let invocation = register.call_in(
            &Scope::default()
                .user(user)
                .idempotency(idempotency.map(|(key, _)| key.as_str())),
            RegisterArgs {
                event_id: event.to_string(),
                rate: rate.to_string(),
                burst: rate.to_string(),
                fingerprint: idempotency.map(|(_, fingerprint)| fingerprint.to_owned()),
                ttl_ms: idempotency.map(|_| IDEMPOTENCY_TTL_MS.to_string()),
            },
        )?;
        #[derive(serde::Deserialize)]
        struct Registered {}
        let _: Registered = self.run_script(register.name, &invocation).await??;
        Ok(())
    }

    /// Counts a write of `user` against RATE_LIMIT_PER_USER (for writes with no user-slot
    /// step of their own), or refuses it with 429.
    pub(super) async fn check_user_rate(&self, user: &UserId) -> Result<(), AppError> {
        self.check_rate_of(keys::user_rate(user), self.limits.rate_per_user)
            .await
    }

    /// Counts a write from `address` against RATE_LIMIT_PER_IP, or refuses it with 429.
    pub async fn check_address_rate(&self, address: &std::net::IpAddr) -> Result<(), AppError> {
        self.bounded(self.check_rate_of(keys::address_rate(address), self.limits.rate_per_address))
            .await
    }

    async fn check_rate_of(&self, bucket: String, rate: u32) -> Result<(), AppError> {
        if rate == 0 {
            return Ok(());
        }
        let limit = &self.scripts.rate_limit;
        let invocation = limit.call(
            RateLimitKeys { bucket },
            RateLimitArgs {
                rate: rate.to_string(),
                burst: rate.to_string(),
            },
        );
        #[derive(serde::Deserialize)]
        struct Counted {}
        let _: Counted = self.run_script(limit.name, &invocation).await??;
        Ok(())
    }
}
