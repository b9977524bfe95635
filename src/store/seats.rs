//! Reserved seats: the seat map, locks, confirmation, release.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EventKeys, Scope};
use super::scripts::{ConfirmArgs, LockArgs, UnlockArgs};
use super::{BookingOutcome, RedisTime, Store, parse_document, redis_millis};
use crate::domain::event::EventRecord;
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::seats::{SeatMap, seat_map};
use crate::domain::time::now_ms;
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
        let lock = &self.scripts.lock_seat;
        let invocation = lock.call_in(
            &Scope::event(event).user(user).seat(seat),
            LockArgs {
                seat: seat.to_string(),
                user: user.to_string(),
                ttl_ms: ttl_ms.to_string(),
                max_locks: self.limits.max_locks_per_user.to_string(),
                max_held: self.limits.max_tickets_held_per_user.to_string(),
                admitted: if admitted { "1" } else { "0" }.into(),
            },
        )?;
        self.rated_script::<SeatLock>(user, lock.name, &invocation)
            .await
    }

    /// Turns the caller's live lock into a booking.
    pub async fn confirm_seat(
        &self,
        event: &EventId,
        seat: &SeatId,
        user: &UserId,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let slot = keys::event_slot(event);
        let fingerprint = format!("confirm|{event}|{seat}");
        let confirm = &self.scripts.confirm_seat;
        self.bounded(async {
            let claim = idempotency.map(|key| (key, fingerprint.as_str()));
            self.register_booking(user, event, claim).await?;
            self.run_booking_script(confirm.name, slot, |id| {
                confirm.call_in(
                    &Scope::event(event)
                        .user(user)
                        .seat(seat)
                        .booking(id)
                        .idempotency(idempotency.map(IdempotencyKey::as_str)),
                    ConfirmArgs {
                        seat: seat.to_string(),
                        user: user.to_string(),
                        booking_id: id.to_string(),
                        event_id: event.to_string(),
                        created_at: now_ms().to_string(),
                        fingerprint: idempotency.map(|_| fingerprint.clone()),
                        ttl_ms: idempotency.map(|_| IDEMPOTENCY_TTL_MS.to_string()),
                    },
                )
            })
            .await
        })
        .await
    }

    /// Releases the caller's lock. Returns the seat's section.
    pub async fn unlock_seat(
        &self,
        event: &EventId,
        seat: &SeatId,
        user: &UserId,
    ) -> Result<SectionId, AppError> {
        let unlock = &self.scripts.unlock_seat;
        let invocation = unlock.call_in(
            &Scope::event(event).user(user).seat(seat),
            UnlockArgs {
                seat: seat.to_string(),
                user: user.to_string(),
            },
        )?;
        let released = self
            .rated_script::<Released>(user, unlock.name, &invocation)
            .await?;
        Ok(released.section_id)
    }
}
