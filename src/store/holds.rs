//! Checkout holds (`lua/hold_*.lua`): made, read, extended, confirmed into one booking, or
//! released. Every step is one script in the event's slot; expiry is on Redis's clock.

use super::idempotency::IdempotencyKey;
use super::keys::{EventKeys, Scope};
use super::scripts::{HoldConfirmArgs, HoldCreateArgs, HoldExtendArgs, HoldReleaseArgs};
use super::{BookingOutcome, RedisTime, Store, parse_document, redis_millis};
use crate::domain::hold::{HoldRecord, HoldRequest, HoldStatus};
use crate::domain::ids::{EventId, HoldId, UserId};
use crate::error::AppError;

/// What [`Store::change_hold`] does to a live hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldChange {
    /// To now + `HOLD_TTL_MS`, within the hold's extension and lifetime limits.
    Extend,
    /// Ends it: its seats or tickets are free at once.
    Release,
}

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
        self.rated(
            &self.scripts.hold_create,
            user,
            Scope::event(event).hold(&id),
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
        )
        .await
        // A general admission hold that takes a section's last places says so (event.sold_out).
        .inspect(|_| self.written.mark(event))
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

    /// Extends or releases the caller's live hold.
    pub async fn change_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
        change: HoldChange,
    ) -> Result<HoldRecord, AppError> {
        let scope = Scope::event(event).hold(id);
        let user_arg = user.to_string();
        match change {
            HoldChange::Extend => {
                let args = HoldExtendArgs {
                    user: user_arg,
                    ttl_ms: self.limits.hold_ttl_ms.to_string(),
                    max_lifetime_ms: self.limits.hold_max_lifetime_ms.to_string(),
                };
                self.rated(&self.scripts.hold_extend, user, scope, args)
                    .await
            }
            HoldChange::Release => {
                let args = HoldReleaseArgs { user: user_arg };
                self.rated(&self.scripts.hold_release, user, scope, args)
                    .await
            }
        }
    }

    /// One booking with everything the live hold holds, exactly once per Idempotency-Key.
    pub async fn confirm_hold(
        &self,
        event: &EventId,
        id: &HoldId,
        user: &UserId,
        role: &'static str,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let fingerprint = format!("hold-confirm|{event}|{id}");
        self.run_booking(
            &self.scripts.hold_confirm,
            event,
            user,
            idempotency,
            &fingerprint,
            Scope::event(event).user(user).hold(id),
            |stamp| HoldConfirmArgs {
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
}
