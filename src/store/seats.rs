//! Reserved seats: the seat map, locks, confirmation, release.

use super::idempotency::IdempotencyKey;
use super::keys::Scope;
use super::scripts::{ConfirmArgs, LockArgs, UnlockArgs};
use super::{BookingOutcome, Store};
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::error::AppError;
use serde::Deserialize;

/// A lock as `lua/lock_seat.lua` answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatLock {
    pub section_id: SectionId,
    pub expires_at: i64,
    /// The caller already held this lock; it was returned as it was, not extended.
    pub already_held: bool,
}

/// Event document, booked-seats bitmap, lock expiry by seat, Redis's clock.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Released {
    section_id: SectionId,
}

impl Store {
    pub async fn lock_seat(
        &self,
        event: &EventId,
        seat: &SeatId,
        user: &UserId,
        ttl_ms: u64,
        admitted: bool,
    ) -> Result<SeatLock, AppError> {
        self.rated(
            &self.scripts.lock_seat,
            user,
            Scope::event(event).seat(seat),
            LockArgs {
                seat: seat.to_string(),
                user: user.to_string(),
                ttl_ms: ttl_ms.to_string(),
                max_locks: self.limits.max_locks_per_user.to_string(),
                max_held: self.limits.max_tickets_held_per_user.to_string(),
                admitted: if admitted { "1" } else { "0" }.into(),
            },
        )
        .await
    }

    /// Turns the caller's live lock into a booking.
    pub async fn confirm_seat(
        &self,
        event: &EventId,
        seat: &SeatId,
        user: &UserId,
        role: &'static str,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let fingerprint = format!("confirm|{event}|{seat}");
        self.run_booking(
            &self.scripts.confirm_seat,
            event,
            user,
            idempotency,
            &fingerprint,
            Scope::event(event).user(user).seat(seat),
            |stamp| ConfirmArgs {
                seat: seat.to_string(),
                user: user.to_string(),
                booking_id: stamp.booking_id,
                event_id: stamp.event_id,
                created_at: stamp.created_at,
                role: role.to_owned(),
                fingerprint: stamp.fingerprint,
                ttl_ms: stamp.ttl_ms,
            },
        )
        .await
    }

    /// Releases the caller's lock. Returns the seat's section.
    pub async fn unlock_seat(
        &self,
        event: &EventId,
        seat: &SeatId,
        user: &UserId,
    ) -> Result<SectionId, AppError> {
        let released: Released = self
            .rated(
                &self.scripts.unlock_seat,
                user,
                Scope::event(event).seat(seat),
                UnlockArgs {
                    seat: seat.to_string(),
                    user: user.to_string(),
                },
            )
            .await?;
        Ok(released.section_id)
    }
}
