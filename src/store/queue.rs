//! Waiting rooms: settings, joins on the queue shards, and the refresh and admission scripts
//! (`lua/queue_*.lua`; how the line is kept is in `lua/lib.lua`). What a replica makes of it
//! is [`crate::waiting`].

use super::Store;
use super::keys::Scope;
use super::scripts::{
    QueueAdmitArgs, QueueAdvanceArgs, QueueConfigureArgs, QueueJoinArgs, QueueShardReadArgs,
};
use crate::domain::ids::{EventId, UserId};
use crate::domain::queue::QueueSettings;
use crate::domain::role::Actor;
use crate::error::AppError;
use serde::{Deserialize, Deserializer};

/// A place a queue shard gave: its number in the shard, and whether it is new.
#[derive(Debug, Deserialize)]
pub struct Joined {
    pub seq: u64,
    pub new: bool,
}

/// What a refresh read of one queue shard: places given, those before the start, its clock.
#[derive(Debug, Deserialize)]
pub struct ShardCount {
    pub next: u64,
    pub pre: u64,
    pub now: i64,
}

/// What a refresh (`queue_advance.lua`) answers.
#[derive(Debug, Deserialize)]
pub struct Advanced {
    /// Turns released: every turn below it has come.
    pub served: u64,
    pub shards: u16,
    /// With `shuffle`, once drawn: how many joined before the start, and the seed.
    pub shuffled: Option<u64>,
    pub seed: Option<String>,
    /// The rounds after the ones the caller had (csv of the shards' place counts).
    #[serde(deserialize_with = "list")]
    pub rounds: Vec<String>,
    pub rate: u64,
    pub start: i64,
    pub order: String,
    /// Redis's clock.
    pub now: i64,
}

/// A standing as `queue_admit.lua` answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Admitted {
    pub status: String,
    pub admitted_until: Option<i64>,
}

/// Lua's cjson writes an empty table as `{}`: an empty list here.
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Empty(serde::de::IgnoredAny),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::List(items) => items,
        Either::Empty(_) => Vec::new(),
    })
}

/// What a refresh sends: the shards' counts as read, and what it already has.
pub struct Refresh<'a> {
    pub counts: &'a [ShardCount],
    pub have: usize,
    pub shards: u16,
    pub abandon_ms: u64,
    pub round_ms: u64,
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

    /// A place for `user` on the queue shard tagged `shard` (the same one if they have one,
    /// unless it is `replace`: then a new one at the back). `start_ms`: the sale's start.
    pub async fn join_queue(
        &self,
        shard: &str,
        user: &UserId,
        replace: Option<u64>,
        start_ms: i64,
    ) -> Result<Joined, AppError> {
        self.rated(
            &self.scripts.queue_join,
            user,
            Scope::queue_shard(shard),
            QueueJoinArgs {
                user: user.to_string(),
                replace: replace.map_or_else(String::new, |seq| seq.to_string()),
                start: start_ms.to_string(),
            },
        )
        .await
    }

    /// What the queue shard tagged `shard` has given.
    pub async fn read_queue_shard(&self, shard: &str) -> Result<ShardCount, AppError> {
        let script = &self.scripts.queue_shard_read;
        let invocation = script.call_in(&Scope::queue_shard(shard), QueueShardReadArgs {})?;
        self.bounded(async { Ok(self.run_script(script.name, &invocation).await??) })
            .await
    }

    /// A refresh of the event's waiting room (see `lua/queue_advance.lua`).
    pub async fn advance_queue(
        &self,
        event: &EventId,
        refresh: Refresh<'_>,
    ) -> Result<Advanced, AppError> {
        let counts: Vec<String> = refresh
            .counts
            .iter()
            .map(|c| format!("{}:{}", c.next, c.pre))
            .collect();
        let read_at = refresh.counts.iter().map(|c| c.now).min().unwrap_or(0);
        let script = &self.scripts.queue_advance;
        let invocation = script.call_in(
            &Scope::event(event),
            QueueAdvanceArgs {
                counts: counts.join(","),
                read_at: read_at.to_string(),
                have: refresh.have.to_string(),
                shards: refresh.shards.to_string(),
                abandon_ms: refresh.abandon_ms.to_string(),
                round_ms: refresh.round_ms.to_string(),
                seed: seed(),
            },
        )?;
        self.bounded(async { Ok(self.run_script(script.name, &invocation).await??) })
            .await
    }

    /// `user` takes turn `turn`, of their place `place` (`<shard>.<seq>`).
    pub async fn admit_from_queue(
        &self,
        event: &EventId,
        user: &UserId,
        place: &str,
        turn: u64,
        abandon_ms: u64,
    ) -> Result<Admitted, AppError> {
        let script = &self.scripts.queue_admit;
        let invocation = script.call_in(
            &Scope::event(event),
            QueueAdmitArgs {
                user: user.to_string(),
                place: place.to_owned(),
                turn: turn.to_string(),
                abandon_ms: abandon_ms.to_string(),
            },
        )?;
        self.bounded(async { Ok(self.run_script(script.name, &invocation).await??) })
            .await
    }
}
