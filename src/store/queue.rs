//! Waiting rooms: settings, joining, asking where one stands (`lua/queue_*.lua`).

use super::Store;
use super::keys::Scope;
use super::scripts::{QueueConfigureArgs, QueueJoinArgs, QueueStatusArgs};
use crate::domain::ids::{EventId, UserId};
use crate::domain::queue::QueueSettings;
use crate::domain::role::Actor;
use crate::error::AppError;
use serde::Deserialize;

/// A standing as the scripts answer it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub ticket: Option<serde_json::Value>,
    pub status: String,
    pub position: Option<u64>,
    pub admitted_until: Option<i64>,
    /// The room's pace (admissions per minute, 0: none) and start, and Redis's clock.
    #[serde(default)]
    pub rate: u64,
    #[serde(default)]
    pub starts_at: i64,
    #[serde(default)]
    pub now: i64,
}

impl Standing {
    /// The ticket as the API shows it.
    pub fn ticket(&self) -> String {
        match &self.ticket {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }

    /// About how long until this standing's turn, with a paced room.
    pub fn estimated_wait_seconds(&self) -> Option<u64> {
        let position = self.position?;
        if self.rate == 0 {
            return None;
        }
        let until_start = (self.starts_at - self.now).max(0) as u64;
        Some(until_start.div_ceil(1000) + (position * 60).div_ceil(self.rate))
    }
}

#[derive(Deserialize)]
struct Configured {}

/// A seed for the shuffle, drawn here (Lua's math.random is seeded per script run).
fn seed() -> String {
    (uuid::Uuid::new_v4().as_u128() as u64 & ((1 << 52) - 1)).to_string()
}

impl Store {
    /// Sets the event's waiting room (`EventNotFound` if there is no such event).
    pub async fn configure_queue(
        &self,
        event: &EventId,
        settings: &QueueSettings,
        actor: &Actor,
    ) -> Result<(), AppError> {
        let script = &self.scripts.queue_configure;
        let invocation = script.call_in(
            &Scope::event(event),
            QueueConfigureArgs {
                enabled: if settings.enabled { "1" } else { "0" }.into(),
                rate: settings.admit_per_minute.to_string(),
                max: settings.max_active.to_string(),
                ttl_ms: settings.ttl_ms.to_string(),
                order: settings.order.as_str().into(),
                start_ms: settings.start_ms.to_string(),
                actor: actor.user.clone(),
                role: actor.role.into(),
            },
        )?;
        self.bounded(async {
            let Configured {} = self.run_script(script.name, &invocation).await??;
            Ok(())
        })
        .await
    }

    /// Joins the event's waiting room (or finds the caller's place in it).
    pub async fn join_queue(
        &self,
        event: &EventId,
        user: &UserId,
        abandon_ms: u64,
    ) -> Result<Standing, AppError> {
        self.rated(
            &self.scripts.queue_join,
            user,
            Scope::event(event),
            QueueJoinArgs {
                user: user.to_string(),
                abandon_ms: abandon_ms.to_string(),
                seed: seed(),
            },
        )
        .await
    }

    /// Where the caller stands, if `ticket` is their place.
    pub async fn queue_status(
        &self,
        event: &EventId,
        user: &UserId,
        ticket: &str,
        abandon_ms: u64,
    ) -> Result<Standing, AppError> {
        let script = &self.scripts.queue_status;
        let invocation = script.call_in(
            &Scope::event(event).user(user).ticket(ticket),
            QueueStatusArgs {
                user: user.to_string(),
                ticket: ticket.to_owned(),
                abandon_ms: abandon_ms.to_string(),
                seed: seed(),
                poll_rate: self.limits.queue_poll_rate.to_string(),
                poll_burst: self.limits.queue_poll_burst.to_string(),
            },
        )?;
        self.bounded(async { Ok(self.run_script(script.name, &invocation).await??) })
            .await
    }
}
