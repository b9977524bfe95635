//! Reserved seats: the seat map, locks, confirmation, release.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EventKeys};
use super::{BookingOutcome, RedisTime, Store, parse_document, redis_millis};
use crate::domain::event::EventRecord;
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::seats::{SeatMap, seat_map};
use crate::domain::time::now_ms;
use crate::error::AppError;
use redis::{Script, ScriptInvocation};
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

/// The keys and arguments every seat script starts with (see `lua/lib.lua`).
fn seat_invocation<'s>(
    script: &'s Script,
    keys: &EventKeys,
    seat: &SeatId,
    user: &UserId,
) -> ScriptInvocation<'s> {
    let mut invocation = script.prepare_invoke();
    invocation
        .key(keys.event())
        .key(keys.seat_sections())
        .key(keys.seat_positions())
        .key(keys.booked_seats())
        .key(keys.lock_index())
        .key(keys.seat_lock(seat))
        .arg(seat.as_str())
        .arg(user.as_str());
    invocation
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
                .query_async(&mut self.conn())
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
    ) -> Result<SeatLock, AppError> {
        let mut invocation =
            seat_invocation(&self.scripts.lock_seat, &EventKeys::new(event), seat, user);
        invocation.arg(ttl_ms);
        self.bounded(async { Ok(self.run_script::<SeatLock>(&invocation).await??) })
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
        let keys = EventKeys::new(event);
        let slot = keys::event_slot(event);
        let fingerprint = format!("confirm|{event}|{seat}");
        self.bounded(async {
            let mut conn = self.conn();
            if let Some(key) = idempotency {
                Self::claim_idempotency_key(&mut conn, user, key, &fingerprint).await?;
            }
            self.run_booking_script(slot, |id| {
                let mut invocation = seat_invocation(&self.scripts.confirm_seat, &keys, seat, user);
                invocation
                    .key(keys.sections())
                    .key(keys::booking(id))
                    .key(keys.bookings())
                    .key(keys.user_bookings(user))
                    .arg(id.to_string())
                    .arg(event.as_str())
                    .arg(now_ms());
                if let Some(key) = idempotency {
                    invocation
                        .key(keys.idempotency(user, key.as_str()))
                        .arg(&fingerprint)
                        .arg(IDEMPOTENCY_TTL_MS);
                }
                invocation
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
        let invocation = seat_invocation(
            &self.scripts.unlock_seat,
            &EventKeys::new(event),
            seat,
            user,
        );
        self.bounded(async {
            let released = self.run_script::<Released>(&invocation).await??;
            Ok(released.section_id)
        })
        .await
    }
}
