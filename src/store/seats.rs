//! Reserved seats: the seat map, locks, confirmation, release.

use super::idempotency::IdempotencyKey;
use super::keys::{EventKeys, Scope};
use super::scripts::{ConfirmArgs, LockArgs, UnlockArgs};
use super::{BookingOutcome, RedisTime, Store, parse_document, redis_millis};
use crate::domain::event::EventRecord;
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::seats::{SeatMap, seat_map};
use crate::error::AppError;
use serde::Deserialize;
use std::collections::HashMap;

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
type SeatMapRead = (Option<String>, Vec<u8>, HashMap<String, i64>, RedisTime);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Released {
    section_id: SectionId,
}

impl Store {
    /// Every seat of the event with its status, from one consistent snapshot.
    pub async fn seat_map(&self, event: &EventId) -> Result<Option<SeatMap>, AppError> {
        self.bounded(async {
            let keys = EventKeys::new(event);
            let (raw, booked, locks, now): SeatMapRead = redis::pipe()
                .atomic()
                .get(keys.event())
                .get(keys.booked_seats())
                .zrange_withscores(keys.lock_index(), 0, -1)
                .cmd("TIME")
                .query_async(&mut self.conn().await?)
                .await?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let record: EventRecord = parse_document("event", &raw)?;
            // Redis's clock decides which locks still live, as it does for the lock keys.
            Ok(Some(seat_map(record, booked, locks, redis_millis(now))))
        })
        .await
    }

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
