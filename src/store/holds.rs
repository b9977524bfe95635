//! Checkout holds (`lua/hold_*.lua`): made, read, extended, confirmed into one booking, or
//! released. Every step is one script in the event's slot; expiry is on Redis's clock.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EventKeys};
use super::scripts::{
    HoldConfirmArgs, HoldConfirmKeys, HoldCreateArgs, HoldCreateKeys, HoldExtendArgs,
    HoldExtendKeys, HoldReleaseArgs, HoldReleaseKeys,
};
use super::{BookingOutcome, RedisTime, Store, parse_document, redis_millis};
use crate::domain::hold::{HoldRecord, HoldRequest, HoldStatus};
use crate::domain::ids::{EventId, HoldId, UserId};
use crate::domain::time::now_ms;
use crate::error::AppError;

impl Store {
    /// Holds what `request` names for `user`, all or nothing.
    pub async fn create_hold(
        &self,
        event: &EventId,
        user: &UserId,
        request: &HoldRequest,
        admitted: bool,
    ) -> Result<HoldRecord, AppError> {
        let keys = EventKeys::new(event);
        let id = HoldId::new();
        let (section_id, qty, seats, together) = match request {
            HoldRequest::Seats(seats) => (
                String::new(),
                "0".to_owned(),
                serde_json::to_string(seats)
                    .map_err(|e| AppError::Internal(format!("encoding seats: {e}")))?,
                false,
            ),
            HoldRequest::Quantity {
                section,
                qty,
                together,
            } => (
                section.to_string(),
                qty.to_string(),
                String::new(),
                *together,
            ),
        };
        let create = &self.scripts.hold_create;
        let invocation = create.call(
            HoldCreateKeys {
                admissions: keys.admissions(),
                checkouts: keys.checkouts(),
                version: keys.version(),
                changes: keys.changes(),
                event: keys.event(),
                sections: keys.sections(),
                seat_sections: keys.seat_sections(),
                seat_positions: keys.seat_positions(),
                booked_seats: keys.booked_seats(),
                lock_index: keys.lock_index(),
                seat_lock_prefix: keys.seat_lock_prefix(),
                user_tickets: keys.user_tickets(),
                user_locks: keys.user_locks(user),
                user_held: keys.user_held(),
                holds: keys.holds(),
                hold: keys.hold(&id),
                seats_at: keys.seats_at(),
                held_seats: keys.held_seats(),
            },
            HoldCreateArgs {
                hold_id: id.to_string(),
                event_id: event.to_string(),
                user: user.to_string(),
                ttl_ms: self.limits.hold_ttl_ms.to_string(),
                max_extensions: self.limits.hold_max_extensions.to_string(),
                max_lifetime_ms: self.limits.hold_max_lifetime_ms.to_string(),
                max_locks: self.limits.max_locks_per_user.to_string(),
                max_held: self.limits.max_tickets_held_per_user.to_string(),
                section_id,
                qty,
                seats,
                together: if together { "1" } else { "0" }.to_owned(),
                admitted: if admitted { "1" } else { "0" }.to_owned(),
            },
        );
        self.rated_script::<HoldRecord>(user, create.name, &invocation)
            .await
    }

    /// The caller's live hold. Someone else's, a finished or an expired one: not found.
    pub async fn hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
    ) -> Result<HoldRecord, AppError> {
        let keys = EventKeys::new(event);
        self.bounded(async {
            let (raw, now): (Option<String>, RedisTime) = redis::pipe()
                .get(keys.hold(id))
                .cmd("TIME")
                .query_async(&mut self.conn().await?)
                .await?;
            let hold: Option<HoldRecord> =
                raw.map(|raw| parse_document("hold", &raw)).transpose()?;
            hold.filter(|h| {
                &h.user_id == user
                    && h.status == HoldStatus::Held
                    && h.expires_at > redis_millis(now)
            })
            .ok_or(AppError::HoldNotFound)
        })
        .await
    }

    pub async fn extend_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
    ) -> Result<HoldRecord, AppError> {
        let keys = EventKeys::new(event);
        let extend = &self.scripts.hold_extend;
        let invocation = extend.call(
            HoldExtendKeys {
                version: keys.version(),
                changes: keys.changes(),
                hold: keys.hold(id),
                seat_lock_prefix: keys.seat_lock_prefix(),
                lock_index: keys.lock_index(),
                user_locks: keys.user_locks(user),
                holds: keys.holds(),
                checkouts: keys.checkouts(),
            },
            HoldExtendArgs {
                user: user.to_string(),
                ttl_ms: self.limits.hold_ttl_ms.to_string(),
                max_lifetime_ms: self.limits.hold_max_lifetime_ms.to_string(),
            },
        );
        self.rated_script::<HoldRecord>(user, extend.name, &invocation)
            .await
    }

    pub async fn release_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
    ) -> Result<HoldRecord, AppError> {
        let keys = EventKeys::new(event);
        let release = &self.scripts.hold_release;
        let invocation = release.call(
            HoldReleaseKeys {
                version: keys.version(),
                changes: keys.changes(),
                hold: keys.hold(id),
                seat_lock_prefix: keys.seat_lock_prefix(),
                lock_index: keys.lock_index(),
                user_locks: keys.user_locks(user),
                holds: keys.holds(),
                sections: keys.sections(),
                user_held: keys.user_held(),
                seat_positions: keys.seat_positions(),
                held_seats: keys.held_seats(),
                checkouts: keys.checkouts(),
            },
            HoldReleaseArgs {
                user: user.to_string(),
            },
        );
        self.rated_script::<HoldRecord>(user, release.name, &invocation)
            .await
    }

    /// One booking with everything the live hold holds, exactly once per Idempotency-Key.
    pub async fn confirm_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let keys = EventKeys::new(event);
        let slot = keys::event_slot(event);
        let fingerprint = format!("hold-confirm|{event}|{id}");
        let confirm = &self.scripts.hold_confirm;
        self.bounded(async {
            let claim = idempotency.map(|key| (key, fingerprint.as_str()));
            self.register_booking(user, event, claim).await?;
            self.run_booking_script(confirm.name, slot, |booking| {
                confirm.call(
                    HoldConfirmKeys {
                        admissions: keys.admissions(),
                        checkouts: keys.checkouts(),
                        version: keys.version(),
                        changes: keys.changes(),
                        hold: keys.hold(id),
                        seat_lock_prefix: keys.seat_lock_prefix(),
                        seat_positions: keys.seat_positions(),
                        booked_seats: keys.booked_seats(),
                        lock_index: keys.lock_index(),
                        user_locks: keys.user_locks(user),
                        sections: keys.sections(),
                        holds: keys.holds(),
                        user_held: keys.user_held(),
                        booking: keys::booking(booking),
                        bookings: keys.bookings(),
                        user_bookings: keys.user_bookings(user),
                        user_tickets: keys.user_tickets(),
                        held_seats: keys.held_seats(),
                        idempotency: idempotency.map(|k| keys.idempotency(user, k.as_str())),
                    },
                    HoldConfirmArgs {
                        user: user.to_string(),
                        booking_id: booking.to_string(),
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
}
