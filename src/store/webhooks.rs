//! Webhooks in Redis: endpoints (each in a slot of its own, `bo:{wh:<id>}:...`, listed in
//! `bo:webhooks`), the messages kept for each, and the two steps that move a message from an
//! event's outbox to an endpoint: fan-out (`outbox_read`, `webhook_enqueue`, `outbox_ack`) and
//! delivery (`webhook_take`, `webhook_settle`). Every change is one script; the delivery loop
//! itself is in `crate::webhooks`.

use super::bookings::{event_index, require_event};
use super::keys::{EVENTS_INDEX, Scope, WEBHOOKS_INDEX};
use super::scripts::{
    OrdersExpireArgs, OutboxAckArgs, OutboxReadArgs, OutboxTrimArgs, WebhookCreateArgs,
    WebhookDeleteArgs, WebhookEnqueueArgs, WebhookRetryArgs, WebhookRotateArgs, WebhookSettleArgs,
    WebhookTakeArgs,
};
use super::{Store, parse_document};
use crate::domain::ids::EventId;
use crate::domain::role::Actor;
use crate::domain::webhook::{EndpointRecord, MessageRecord, MessageStatus};
use crate::error::AppError;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// At most this many endpoints are listed or delivered to.
pub const MAX_ENDPOINTS: usize = 1000;

/// The events whose outbox this replica's requests have just written: a hint that lets its
/// delivery loop fan them out at once instead of at its next sweep of every event. Only a
/// hint: a change made by another replica, or a hint lost with its replica, is found by a
/// sweep (every WEBHOOK_POLL_MS) like any other.
#[derive(Default)]
pub struct Written {
    events: Mutex<HashSet<EventId>>,
    /// An endpoint was registered through this replica since the last sweep.
    endpoint_added: AtomicBool,
    notify: Notify,
}

impl Written {
    /// `event`'s outbox may have new entries.
    pub fn mark(&self, event: &EventId) {
        let fresh = match self.events.lock() {
            Ok(mut events) => !events.contains(event) && events.insert(event.clone()),
            Err(_) => return,
        };
        if fresh {
            self.notify.notify_one();
        }
    }

    /// An endpoint was registered: a loop that knew of none sweeps now, not in IDLE_ROUND.
    pub fn endpoint_added(&self) {
        self.endpoint_added.store(true, Ordering::Relaxed);
        self.notify.notify_one();
    }

    /// Whether an endpoint was registered since the last call.
    pub fn take_endpoint_added(&self) -> bool {
        self.endpoint_added.swap(false, Ordering::Relaxed)
    }

    /// Wakes the delivery loop for a round (an endpoint has more messages due).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// The events marked since the last call.
    pub fn take(&self) -> Vec<EventId> {
        self.events
            .lock()
            .map(|mut events| events.drain().collect())
            .unwrap_or_default()
    }

    /// Resolves once an event is marked (at once if one was marked since the last wait).
    pub async fn marked(&self) {
        self.notify.notified().await;
    }
}

/// One entry of an event's outbox, as `outbox_read` returns it.
#[derive(Debug, Deserialize)]
pub struct OutboxEntry {
    /// `<ms>-<seq>`.
    pub id: String,
    /// Absent for an entry trimmed while it was pending.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub data: Option<String>,
}

/// What `webhook_take` leased to the caller.
#[derive(Debug, Deserialize)]
pub struct Taken {
    pub endpoint: Option<EndpointRecord>,
    pub messages: Vec<MessageRecord>,
    /// Messages pending (due now, later, or leased), before this lease.
    pub pending: u64,
    /// How long the most overdue pending message has been due (ms; 0 if none is).
    #[serde(rename = "overdueMs")]
    pub overdue_ms: u64,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A 2xx.
    Delivered { status: u16 },
    /// 410 Gone: the endpoint is disabled.
    Gone,
    /// Anything else; `retry_after_ms` from a 429's or 503's `Retry-After`.
    Failed {
        status: Option<u16>,
        error: String,
        retry_after_ms: u64,
    },
}

/// How settled messages are scheduled and endpoints disabled (from the settings).
#[derive(Debug, Clone)]
pub struct Policy {
    pub schedule_ms: Vec<u64>,
    pub disable_after_ms: u64,
}

impl Store {
    /// The hints of events written by this store's requests (shared by its clones).
    pub fn written(&self) -> &std::sync::Arc<Written> {
        &self.written
    }

    /// This store, sharing `hints` (so a delivery loop with connections of its own hears of
    /// the request store's writes).
    pub fn with_written(mut self, hints: std::sync::Arc<Written>) -> Self {
        self.written = hints;
        self
    }

    /// Registers an endpoint: the index first, then the endpoint (a listing skips an id whose
    /// endpoint is missing, so a crash between the two leaves nothing visible).
    pub async fn create_webhook(&self, record: &EndpointRecord) -> Result<(), AppError> {
        let document = serde_json::to_string(record)
            .map_err(|e| AppError::Internal(format!("endpoint document: {e}")))?;
        self.bounded(async {
            let _: i64 = redis::cmd("ZADD")
                .arg(WEBHOOKS_INDEX)
                .arg(0)
                .arg(&record.id)
                .query_async(&mut self.conn().await?)
                .await?;
            let script = &self.scripts.webhook_create;
            let invocation =
                script.call_in(&Scope::webhook(&record.id), WebhookCreateArgs { document })?;
            let _: serde_json::Value = self.run_script(script.name, &invocation).await??;
            self.written.endpoint_added();
            Ok(())
        })
        .await
    }

    /// Every endpoint (at most [`MAX_ENDPOINTS`]), oldest first.
    pub async fn webhooks(&self) -> Result<Vec<EndpointRecord>, AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            let ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(WEBHOOKS_INDEX)
                .arg(0)
                .arg(MAX_ENDPOINTS as i64 - 1)
                .query_async(&mut conn)
                .await?;
            let mut endpoints = Vec::with_capacity(ids.len());
            for id in ids {
                let key = Scope::webhook(&id).keys().required("endpoint")?;
                let raw: Option<String> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
                if let Some(raw) = raw {
                    endpoints.push(parse_document::<EndpointRecord>("endpoint", &raw)?);
                }
            }
            Ok(endpoints)
        })
        .await
    }

    pub async fn webhook(&self, id: &str) -> Result<Option<EndpointRecord>, AppError> {
        self.bounded(async {
            let key = Scope::webhook(id).keys().required("endpoint")?;
            let raw: Option<String> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut self.conn().await?)
                .await?;
            raw.map(|raw| parse_document("endpoint", &raw)).transpose()
        })
        .await
    }

    /// Deletes an endpoint and its messages (its creator or an admin), then its index entry.
    pub async fn delete_webhook(&self, id: &str, actor: &Actor) -> Result<(), AppError> {
        self.bounded(async {
            let script = &self.scripts.webhook_delete;
            let invocation = script.call_in(
                &Scope::webhook(id),
                WebhookDeleteArgs {
                    actor: actor.user.clone(),
                    role: actor.role.into(),
                },
            )?;
            let _: serde_json::Value = self.run_script(script.name, &invocation).await??;
            let _: i64 = redis::cmd("ZREM")
                .arg(WEBHOOKS_INDEX)
                .arg(id)
                .query_async(&mut self.conn().await?)
                .await?;
            Ok(())
        })
        .await
    }

    /// A new signing secret; the current one signs beside it for `overlap_ms`.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        actor: &Actor,
        secret: &str,
        overlap_ms: u64,
    ) -> Result<EndpointRecord, AppError> {
        self.bounded(async {
            let script = &self.scripts.webhook_rotate;
            let invocation = script.call_in(
                &Scope::webhook(id),
                WebhookRotateArgs {
                    actor: actor.user.clone(),
                    role: actor.role.into(),
                    secret: secret.to_owned(),
                    overlap_ms: overlap_ms.to_string(),
                },
            )?;
            Ok(self.run_script(script.name, &invocation).await??)
        })
        .await
    }

    /// The messages kept for an endpoint, newest first, at most `limit`, of one status or all.
    pub async fn webhook_messages(
        &self,
        id: &str,
        status: Option<MessageStatus>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, AppError> {
        self.bounded(async {
            let key = Scope::webhook(id).keys().required("messages")?;
            let raw: Vec<String> = redis::cmd("HVALS")
                .arg(key)
                .query_async(&mut self.conn().await?)
                .await?;
            let mut messages = raw
                .iter()
                .map(|raw| parse_document::<MessageRecord>("webhook message", raw))
                .collect::<Result<Vec<_>, _>>()?;
            messages.retain(|m| status.is_none_or(|s| m.status == s));
            messages.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            messages.truncate(limit);
            Ok(messages)
        })
        .await
    }

    /// A message pending again, due now.
    pub async fn retry_webhook_message(
        &self,
        id: &str,
        message: &str,
        actor: &Actor,
    ) -> Result<MessageRecord, AppError> {
        self.bounded(async {
            let script = &self.scripts.webhook_retry;
            let invocation = script.call_in(
                &Scope::webhook(id),
                WebhookRetryArgs {
                    message_id: message.to_owned(),
                    actor: actor.user.clone(),
                    role: actor.role.into(),
                },
            )?;
            Ok(self.run_script(script.name, &invocation).await??)
        })
        .await
    }

    /// `EVENT_NOT_FOUND` unless the event exists.
    pub async fn require_event(&self, event: &EventId) -> Result<(), AppError> {
        self.bounded(async { require_event(&mut self.conn().await?, event).await })
            .await
    }

    /// Every event id (the outboxes to look at).
    pub async fn event_ids(&self) -> Result<Vec<EventId>, AppError> {
        self.bounded(async { event_index(&mut self.conn().await?, EVENTS_INDEX.to_owned()).await })
            .await
    }

    /// Writes `expired` on the event's orders past their deadline (at most `max`), each with
    /// its `order.expired` message; returns how many.
    pub async fn expire_orders(&self, event: &EventId, max: usize) -> Result<u64, AppError> {
        #[derive(Deserialize)]
        struct Expired {
            expired: u64,
        }
        self.bounded(async {
            let script = &self.scripts.orders_expire;
            let invocation = script.call_in(
                &Scope::event(event),
                OrdersExpireArgs {
                    max: max.to_string(),
                },
            )?;
            let done: Expired = self.run_script(script.name, &invocation).await??;
            Ok(done.expired)
        })
        .await
    }

    /// Up to `count` outbox entries of `event` for `consumer` to fan out.
    pub async fn outbox_read(
        &self,
        event: &EventId,
        consumer: &str,
        count: usize,
        claim_idle_ms: u64,
    ) -> Result<Vec<OutboxEntry>, AppError> {
        self.bounded(async {
            let script = &self.scripts.outbox_read;
            let invocation = script.call_in(
                &Scope::event(event),
                OutboxReadArgs {
                    consumer: consumer.to_owned(),
                    count: count.to_string(),
                    claim_idle_ms: claim_idle_ms.to_string(),
                },
            )?;
            Ok(self.run_script(script.name, &invocation).await??)
        })
        .await
    }

    /// Drops the event's outbox entries older than `keep_ms` (while no endpoint exists).
    pub async fn outbox_trim(&self, event: &EventId, keep_ms: u64) -> Result<(), AppError> {
        self.bounded(async {
            let script = &self.scripts.outbox_trim;
            let invocation = script.call_in(
                &Scope::event(event),
                OutboxTrimArgs {
                    keep_ms: keep_ms.to_string(),
                },
            )?;
            let _: serde_json::Value = self.run_script(script.name, &invocation).await??;
            Ok(())
        })
        .await
    }

    /// Outbox entries fanned out: acknowledged, and the outbox trimmed behind them.
    pub async fn outbox_ack(&self, event: &EventId, ids: &[String]) -> Result<(), AppError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.bounded(async {
            let script = &self.scripts.outbox_ack;
            let invocation = script.call_in(
                &Scope::event(event),
                OutboxAckArgs {
                    ids: serde_json::to_string(ids)
                        .map_err(|e| AppError::Internal(format!("outbox ids: {e}")))?,
                },
            )?;
            let _: serde_json::Value = self.run_script(script.name, &invocation).await??;
            Ok(())
        })
        .await
    }

    /// Queues `messages` (in outbox order) for endpoint `id`, each once; returns how many were
    /// new. One script call for all of them.
    pub async fn enqueue_webhook_messages(
        &self,
        id: &str,
        messages: &[MessageRecord],
    ) -> Result<u64, AppError> {
        #[derive(Deserialize)]
        struct Queued {
            queued: u64,
        }
        let listed = messages
            .iter()
            .map(|m| {
                serde_json::to_string(m)
                    .map(|record| serde_json::json!([m.id, m.created_at, record]))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::Internal(format!("message record: {e}")))?;
        let messages = serde_json::to_string(&listed)
            .map_err(|e| AppError::Internal(format!("messages: {e}")))?;
        self.bounded(async {
            let script = &self.scripts.webhook_enqueue;
            let invocation =
                script.call_in(&Scope::webhook(id), WebhookEnqueueArgs { messages })?;
            let queued: Queued = self.run_script(script.name, &invocation).await??;
            Ok(queued.queued)
        })
        .await
    }

    /// Leases up to `max` due messages of endpoint `id` for `lease_ms`.
    pub async fn take_webhook_messages(
        &self,
        id: &str,
        max: usize,
        lease_ms: u64,
        retention_ms: u64,
    ) -> Result<Taken, AppError> {
        self.bounded(async {
            let script = &self.scripts.webhook_take;
            let invocation = script.call_in(
                &Scope::webhook(id),
                WebhookTakeArgs {
                    max: max.to_string(),
                    lease_ms: lease_ms.to_string(),
                    retention_ms: retention_ms.to_string(),
                },
            )?;
            Ok(self.run_script(script.name, &invocation).await??)
        })
        .await
    }

    /// Records what one attempt of `message` to endpoint `id` got; returns the message's
    /// status after it (none if another replica had settled it already).
    pub async fn settle_webhook_message(
        &self,
        id: &str,
        message: &str,
        outcome: &Outcome,
        policy: &Policy,
    ) -> Result<Option<MessageStatus>, AppError> {
        let (name, status, error, retry_after_ms) = match outcome {
            Outcome::Delivered { status } => ("delivered", Some(*status), String::new(), 0),
            Outcome::Gone => ("gone", Some(410), "410 Gone".to_owned(), 0),
            Outcome::Failed {
                status,
                error,
                retry_after_ms,
            } => ("failed", *status, error.clone(), *retry_after_ms),
        };
        self.bounded(async {
            let script = &self.scripts.webhook_settle;
            let invocation = script.call_in(
                &Scope::webhook(id),
                WebhookSettleArgs {
                    message_id: message.to_owned(),
                    outcome: name.to_owned(),
                    response_status: status.map(|s| s.to_string()).unwrap_or_default(),
                    error: error.chars().take(300).collect(),
                    retry_after_ms: retry_after_ms.to_string(),
                    schedule: policy
                        .schedule_ms
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    disable_after_ms: policy.disable_after_ms.to_string(),
                },
            )?;
            let settled: Settled = self.run_script(script.name, &invocation).await??;
            Ok(settled.status)
        })
        .await
    }
}

#[derive(Deserialize)]
struct Settled {
    status: Option<MessageStatus>,
}
