//! Webhook delivery, on every replica (no leader; docs/webhooks.md).
//!
//! A business change writes its message to its event's outbox in the script that makes it
//! (`emit` in lua/lib.lua). Each replica then, in one loop:
//! 1. **fans out**: reads outbox entries as consumer `<INSTANCE_ID>` of the stream's group
//!    `webhooks` (`outbox_read`: entries another replica read and did not acknowledge within
//!    WEBHOOK_CLAIM_IDLE_MS first, by XAUTOCLAIM), queues each for every endpoint that wants it
//!    (`webhook_enqueue`, once per message and endpoint, in the endpoint's slot: one call per
//!    endpoint for the entries of one read), then
//!    acknowledges and trims (`outbox_ack`). The events its own requests just wrote it fans
//!    out at once (a hint from the store, [`crate::store::webhooks::Written`]); every event's
//!    outbox, found through the event index (`bo:events`, never by scanning keys), at a sweep
//!    each WEBHOOK_POLL_MS: that finds other replicas' writes, also of replicas that died.
//! 2. **delivers**: leases each endpoint's due messages (`webhook_take`, on Redis's clock; a
//!    lease not settled within WEBHOOK_CLAIM_IDLE_MS, because its replica died, makes the
//!    message due again), POSTs each signed by Standard Webhooks v1, and records the outcome
//!    (`webhook_settle`: delivered, retried on the schedule, failed, or the endpoint disabled).
//!
//! So a message is delivered at least once whatever replica dies when: every step before the
//! one that records it done is repeated by another replica.

use crate::config::WebhookSettings;
use crate::domain::ids::EventId;
use crate::domain::time::now_ms;
use crate::domain::webhook::{self, EndpointRecord, MessageRecord, MessageStatus};
use crate::store::Store;
use crate::store::webhooks::{OutboxEntry, Outcome, Policy};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Outbox entries read per call.
const READ_BATCH: usize = 100;

/// While no endpoint exists, how much of an outbox is kept (ms): an endpoint registered in
/// the meantime, whose round has not seen it yet, loses nothing younger than this.
const UNREAD_KEPT_MS: u64 = 60_000;

/// How long a prompt round waits for more writes to gather after the first.
const GATHER: Duration = Duration::from_millis(2);

/// How often a replica runs a round while no endpoint exists at all.
const IDLE_ROUND: Duration = Duration::from_secs(5);

/// The most a `Retry-After` may push an attempt back.
const MAX_RETRY_AFTER_MS: u64 = 24 * 3600 * 1000;

struct Delivery {
    store: Store,
    settings: WebhookSettings,
    consumer: String,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    policy: Policy,
}

/// Starts this replica's delivery loop and its notice listener; both end with `stop`.
pub fn spawn(store: Store, settings: WebhookSettings, consumer: String, stop: CancellationToken) {
    let client = match client(&settings) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("webhooks are off: cannot build the HTTP client: {e}");
            return;
        }
    };
    let delivery = Arc::new(Delivery {
        policy: Policy {
            schedule_ms: settings.retry_schedule_ms.clone(),
            disable_after_ms: settings.disable_after_s.saturating_mul(1000),
        },
        permits: Arc::new(Semaphore::new(
            usize::try_from(settings.concurrency).unwrap_or(32),
        )),
        store,
        settings,
        consumer,
        client,
    });
    tokio::spawn(delivery.run(stop));
}

/// The HTTP client: no redirects followed, a timeout per attempt, and (unless
/// WEBHOOK_ALLOW_PRIVATE) a resolver that drops private addresses, so a host name cannot
/// lead a delivery into the service's own network.
fn client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_timeout(Duration::from_millis(settings.timeout_ms.min(5_000)))
        // Receivers close idle keep-alive connections (Node.js after 5 s); a pooled one
        // reused just as the receiver closes it fails an attempt that was never delivered
        // (hyper's IncompleteMessage, reproduced against this service's own idle timeout).
        // Dropping idle connections first costs a new connection per quiet endpoint.
        .pool_idle_timeout(Duration::from_secs(4))
        .user_agent(concat!("boxoffice-webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

/// Resolves a host name to its public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| !webhook::is_private(a.ip()))
                .collect();
            if addresses.is_empty() {
                return Err(format!(
                    "{} has no public address (WEBHOOK_ALLOW_PRIVATE is off)",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Delivery {
    async fn run(self: Arc<Self>, stop: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms);
        let mut next_sweep = tokio::time::Instant::now();
        // As of the last sweep: without endpoints, this replica's writes need no prompt round
        // (until an endpoint is registered through it, which sweeps at once).
        let mut endpoints_exist = false;
        loop {
            let hinted = tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(next_sweep) => false,
                () = self.store.written().marked() => true,
            };
            let added = self.store.written().take_endpoint_added();
            if hinted && !endpoints_exist && !added {
                // Writes, but nobody to tell as of the last sweep.
                continue;
            }
            if hinted && !added {
                // A burst of writes gathers into one round.
                tokio::time::sleep(GATHER).await;
                if let Err(e) = self.prompt_round().await {
                    tracing::debug!(error = %e, "webhooks: prompt round failed; the sweep repeats it");
                }
                continue;
            }
            let started = tokio::time::Instant::now();
            // Without any endpoint a sweep only trims outboxes and writes expired orders:
            // every IDLE_ROUND is enough, and an idle deployment costs Redis little.
            next_sweep = match self.sweep().await {
                Ok(0) => {
                    endpoints_exist = false;
                    started + IDLE_ROUND.max(poll)
                }
                Ok(_) => {
                    endpoints_exist = true;
                    started + poll
                }
                Err(e) => {
                    tracing::debug!(error = %e, "webhooks: round failed; trying again");
                    started + poll
                }
            };
        }
    }

    /// A sweep: fan out every event's new outbox entries, then deliver what is due. Returns
    /// how many endpoints there are.
    async fn sweep(&self) -> Result<usize, crate::error::AppError> {
        let endpoints = self.store.webhooks().await?;
        let events = self.store.event_ids().await?;
        // Every event is looked at: the hints so far are covered.
        self.store.written().take();
        for event in &events {
            // Orders past their deadline first: their `order.expired` goes out in this round.
            while self.store.expire_orders(event, READ_BATCH).await? == READ_BATCH as u64 {}
            if endpoints.is_empty() {
                // Nobody to tell: the outbox is only kept short.
                self.store.outbox_trim(event, UNREAD_KEPT_MS).await?;
            } else {
                self.fan_out(event, &endpoints).await?;
            }
        }
        self.deliver_all(&endpoints).await?;
        Ok(endpoints.len())
    }

    /// A round for the events this replica's requests just wrote: their entries fanned out
    /// and delivered now, not at the next sweep.
    async fn prompt_round(&self) -> Result<(), crate::error::AppError> {
        let events = self.store.written().take();
        let endpoints = self.store.webhooks().await?;
        if endpoints.is_empty() {
            return Ok(());
        }
        for event in &events {
            self.fan_out(event, &endpoints).await?;
        }
        self.deliver_all(&endpoints).await
    }

    async fn deliver_all(
        &self,
        endpoints: &[EndpointRecord],
    ) -> Result<(), crate::error::AppError> {
        // Each endpoint gets its share of the free slots: a backlog for one (a receiver that
        // was down) does not hold up the others' messages.
        let enabled: Vec<&EndpointRecord> =
            endpoints.iter().filter(|e| e.disabled.is_none()).collect();
        let share = (self.permits.available_permits() / enabled.len().max(1)).max(1);
        for endpoint in enabled {
            self.deliver(&endpoint.id, share).await?;
        }
        Ok(())
    }

    /// Every outbox entry of `event` not fanned out yet, queued for the endpoints that want it.
    async fn fan_out(
        &self,
        event: &EventId,
        endpoints: &[EndpointRecord],
    ) -> Result<(), crate::error::AppError> {
        loop {
            let entries = self
                .store
                .outbox_read(
                    event,
                    &self.consumer,
                    READ_BATCH,
                    self.settings.claim_idle_ms,
                )
                .await?;
            // Each endpoint's messages of this read, in outbox order: one call per endpoint.
            let mut queues: Vec<Vec<MessageRecord>> = vec![Vec::new(); endpoints.len()];
            let mut done = Vec::with_capacity(entries.len());
            for entry in &entries {
                if let Some(message) = message_of(event, entry) {
                    for (queue, endpoint) in queues.iter_mut().zip(endpoints) {
                        if endpoint.wants(&message.kind, event.as_str()) {
                            queue.push(message.clone());
                        }
                    }
                }
                done.push(entry.id.clone());
            }
            for (queue, endpoint) in queues.iter().zip(endpoints) {
                if !queue.is_empty() {
                    self.store
                        .enqueue_webhook_messages(&endpoint.id, queue)
                        .await?;
                }
            }
            self.store.outbox_ack(event, &done).await?;
            if entries.len() < READ_BATCH {
                return Ok(());
            }
        }
    }

    /// Leases as many due messages of the endpoint as there are free delivery slots (at most
    /// `share`), and attempts each in a task of its own.
    async fn deliver(&self, endpoint: &str, share: usize) -> Result<(), crate::error::AppError> {
        // With no free slot nothing is leased, but the endpoint's pending figures still are
        // read: a backlog behind hung attempts is what they are for.
        let free = self.permits.available_permits().min(share);
        let taken = self
            .store
            .take_webhook_messages(
                endpoint,
                free,
                self.settings.claim_idle_ms,
                self.settings.retention_s.saturating_mul(1000),
            )
            .await?;
        let Some(record) = taken.endpoint else {
            return Ok(());
        };
        metrics::gauge!("boxoffice_webhook_pending_messages", "endpoint" => endpoint.to_owned())
            .set(taken.pending as f64);
        metrics::gauge!("boxoffice_webhook_pending_age_seconds", "endpoint" => endpoint.to_owned())
            .set(taken.overdue_ms as f64 / 1000.0);
        let record = Arc::new(record);
        // As many taken as allowed: more may be due. Each attempt that ends wakes the loop for
        // another round, so a backlog drains as fast as attempts end, not one share per sweep.
        let more = free > 0 && taken.messages.len() >= free;
        for message in taken.messages {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                // Leased but no slot: its lease runs out and it is attempted then.
                break;
            };
            let (store, client, policy, record) = (
                self.store.clone(),
                self.client.clone(),
                self.policy.clone(),
                record.clone(),
            );
            let allow_private = self.settings.allow_private;
            tokio::spawn(async move {
                let outcome = attempt(&client, &record, &message, allow_private).await;
                let settled = store
                    .settle_webhook_message(&record.id, &message.id, &outcome, &policy)
                    .await;
                if let Err(e) = &settled {
                    tracing::warn!(error = %e, endpoint = %record.id, message = %message.id,
                        "webhooks: could not record an attempt; it is repeated after its lease");
                }
                record_metric(&record.id, &outcome, settled.ok().flatten());
                drop(permit);
                if more {
                    store.written().wake();
                }
            });
        }
        Ok(())
    }
}

/// The message an outbox entry makes (none for an entry trimmed while pending, or of a type
/// this version cannot show).
fn message_of(event: &EventId, entry: &OutboxEntry) -> Option<MessageRecord> {
    let (Some(kind), Some(data)) = (&entry.kind, &entry.data) else {
        return None;
    };
    let event = event.as_str();
    let created_at = webhook::entry_ms(&entry.id).unwrap_or_else(now_ms);
    let Some(body) = webhook::message_body(kind, data, created_at) else {
        tracing::warn!(event, entry = %entry.id, kind, "webhooks: an outbox entry this version cannot show; skipped");
        return None;
    };
    Some(MessageRecord {
        id: webhook::message_id(event, &entry.id),
        kind: kind.clone(),
        event_id: event.to_owned(),
        body,
        created_at,
        status: MessageStatus::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(created_at),
    })
}

/// One POST of `message` to the endpoint, signed with every secret that signs now.
async fn attempt(
    client: &reqwest::Client,
    endpoint: &EndpointRecord,
    message: &MessageRecord,
    allow_private: bool,
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        status: None,
        error,
        retry_after_ms: 0,
    };
    if let Err(e) = webhook::check_url(&endpoint.url, allow_private) {
        return failed(e);
    }
    let now = now_ms();
    let timestamp = now / 1000;
    let signature = webhook::signature(
        endpoint.signing_secrets(now),
        &message.id,
        timestamp,
        message.body.as_bytes(),
    );
    let sent = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.clone())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return failed(error_chain(&e)),
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    if status == reqwest::StatusCode::GONE {
        return Outcome::Gone;
    }
    let retry_after_ms = if matches!(status.as_u16(), 429 | 503) {
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(0, |s| s.saturating_mul(1000).min(MAX_RETRY_AFTER_MS))
    } else {
        0
    };
    Outcome::Failed {
        status: Some(status.as_u16()),
        error: format!("the endpoint answered {status}"),
        retry_after_ms,
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn record_metric(endpoint: &str, outcome: &Outcome, after: Option<MessageStatus>) {
    let result = match (outcome, after) {
        (Outcome::Delivered { .. }, _) => "delivered",
        (Outcome::Gone, _) => "gone",
        // A retry is scheduled.
        (Outcome::Failed { .. }, Some(MessageStatus::Pending)) => "retried",
        // The message failed for good (or another replica had settled it).
        (Outcome::Failed { .. }, _) => "failed",
    };
    metrics::counter!(
        "boxoffice_webhook_attempts_total",
        "endpoint" => endpoint.to_owned(),
        "result" => result
    )
    .increment(1);
}
