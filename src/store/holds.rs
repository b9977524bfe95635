//! Checkout holds (`lua/hold_*.lua`): made, read, extended, confirmed into one booking, or
//! released. Every step is one script in the event's slot; expiry is on Redis's clock.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EventKeys, Scope};
use super::scripts::{HoldConfirmArgs, HoldCreateArgs, HoldExtendArgs, HoldReleaseArgs};
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
        let invocation = create.call_in(
            &Scope::event(event).user(user).hold(&id),
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
        )?;
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
        let extend = &self.scripts.hold_extend;
        let invocation = extend.call_in(
            &Scope::event(event).user(user).hold(id),
            HoldExtendArgs {
                user: user.to_string(),
                ttl_ms: self.limits.hold_ttl_ms.to_string(),
                max_lifetime_ms: self.limits.hold_max_lifetime_ms.to_string(),
            },
        )?;
        self.rated_script::<HoldRecord>(user, extend.name, &invocation)
            .await
    }

    pub async fn release_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
    ) -> Result<HoldRecord, AppError> {
        let release = &self.scripts.hold_release;
        let invocation = release.call_in(
            &Scope::event(event).user(user).hold(id),
            HoldReleaseArgs {
                user: user.to_string(),
            },
        )?;
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
        let slot = keys::event_slot(event);
        let fingerprint = format!("hold-confirm|{event}|{id}");
        let confirm = &self.scripts.hold_confirm;
        self.bounded(async {
            let claim = idempotency.map(|key| (key, fingerprint.as_str()));
            self.register_booking(user, event, claim).await?;
            self.run_booking_script(confirm.name, slot, |booking| {
                confirm.call_in(
                    &Scope::event(event)
                        .user(user)
                        .hold(id)
                        .booking(booking)
                        .idempotency(idempotency.map(IdempotencyKey::as_str)),
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
