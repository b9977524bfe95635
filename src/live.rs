//! Live availability on this replica: the changes of every event that has subscribers here,
//! read from Redis and fanned out to the local subscribers of `GET /events/{eventId}/stream`
//! through a broadcast channel per event.
//!
//! How a replica learns that an event changed, whatever the number of events: every script that
//! announces a change (`announce` in `lua/lib.lua`) also publishes `<eventId> <version>` on one
//! channel, `bo:changes`, in the same step. Each replica holds **one** subscriber connection on
//! it (on a cluster, to any one node: a publish on any node reaches every node's subscribers).
//! A notice for an event with subscribers here wakes that event's follower, which reads what
//! it has not seen from the event's change stream on the shared connection (one `XRANGE`).
//! Redis clients per replica are therefore two (the shared connection and the subscriber)
//! however many events have subscribers, and an idle event costs nothing.
//!
//! Why it is shaped this way:
//! * Redis is the only source: the stream holds every change, with dense ids. A notice only
//!   says "read now"; a lost one (the subscriber connection dropped) is made good by reading
//!   every followed event when the subscription is back, and by a re-read of each followed
//!   event every [`RECHECK`] at the latest. A subscriber that misses anything catches up from
//!   Redis (or reloads).
//! * The broadcast channel never waits for a receiver: a subscriber that falls more than
//!   `STREAM_BUFFER` changes behind is dropped (its stream ends; the client reconnects with
//!   `Last-Event-ID` and catches up from Redis), and never slows the others.
//! * A follower stops when its event has no subscriber left, and every follower and stream
//!   stops when the replica starts to drain, so open streams never hold up a shutdown.
//! * Streams are bounded: `STREAM_MAX_PER_CLIENT` per client address and
//!   `STREAM_MAX_PER_REPLICA` in all ([`Hub::admit`]).

use crate::domain::ids::EventId;
use crate::error::AppError;
use crate::store::{Change, Store};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

pub type Feed = broadcast::Receiver<Arc<Change>>;

/// A followed event re-reads its stream at least this often, notice or not.
const RECHECK: Duration = Duration::from_secs(60);

/// One followed event: its feed, and what wakes its follower.
struct Followed {
    sender: broadcast::Sender<Arc<Change>>,
    wake: Arc<Notify>,
}

pub struct Hub {
    store: Store,
    /// Each event with a running follower. A receiver is only made under this lock, and a
    /// follower leaves (when no receiver is left) under it too, so none is ever orphaned.
    feeds: Mutex<HashMap<EventId, Followed>>,
    /// Changes a subscriber may fall behind before it is dropped.
    buffer: usize,
    /// Cancelled when the replica starts draining.
    stop: CancellationToken,
    /// Open streams by client address, and in all.
    open: Mutex<OpenStreams>,
    per_client: usize,
    per_replica: usize,
    /// Whether the subscriber task runs (it starts with the first follower).
    listening: std::sync::Once,
}

#[derive(Default)]
struct OpenStreams {
    by_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// A place among the open streams, given back when dropped (the stream ended).
pub struct StreamSlot {
    hub: Arc<Hub>,
    client: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.hub.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
        metrics::gauge!("boxoffice_streams_open").decrement(1.0);
    }
}

impl Hub {
    pub fn new(
        store: Store,
        buffer: usize,
        stop: CancellationToken,
        per_client: usize,
        per_replica: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            feeds: Mutex::default(),
            buffer: buffer.max(1),
            stop,
            open: Mutex::default(),
            per_client: per_client.max(1),
            per_replica: per_replica.max(1),
            listening: std::sync::Once::new(),
        })
    }

    /// Cancelled when the replica starts draining: streams end then.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    /// The store the followers read.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A place for one more open stream of `client`, or `429 RATE_LIMITED` past
    /// `STREAM_MAX_PER_CLIENT` or `STREAM_MAX_PER_REPLICA`. Keep it as long as the stream.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = open.by_client.get(&client).copied().unwrap_or(0);
        if mine >= self.per_client || open.total >= self.per_replica {
            metrics::counter!("boxoffice_streams_refused_total").increment(1);
            return Err(AppError::RateLimited {
                retry_after_ms: 5_000,
            });
        }
        open.by_client.insert(client, mine + 1);
        open.total += 1;
        metrics::gauge!("boxoffice_streams_open").increment(1.0);
        Ok(StreamSlot {
            hub: Arc::clone(self),
            client,
        })
    }

    /// A feed of the event's changes after version `read` (a version the caller read before
    /// subscribing; earlier changes may come too, see [`Since`]). A new follower starts there,
    /// so nothing falls between the subscriber's catch-up (read after this returns) and the
    /// follower.
    ///
    /// [`Since`]: crate::store::Since
    pub fn subscribe(self: &Arc<Self>, event: &EventId, read: u64) -> Feed {
        self.listening.call_once(|| {
            tokio::spawn(Arc::clone(self).listen());
        });
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(followed) = feeds.get(event) {
            return followed.sender.subscribe();
        }
        let (sender, feed) = broadcast::channel(self.buffer);
        let wake = Arc::new(Notify::new());
        feeds.insert(
            event.clone(),
            Followed {
                sender: sender.clone(),
                wake: Arc::clone(&wake),
            },
        );
        drop(feeds);
        metrics::gauge!("boxoffice_stream_readers").increment(1.0);
        tokio::spawn(Arc::clone(self).follow(event.clone(), read, sender, wake));
        feed
    }

    /// A subscriber of `event` left: its follower looks at once whether any is left.
    pub fn left(&self, event: &EventId) {
        self.wake(event.as_str());
    }

    /// Wakes the follower of `event`, if this replica follows it.
    fn wake(&self, event: &str) {
        let feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(followed) = EventId::parse(event).ok().and_then(|e| feeds.get(&e)) {
            followed.wake.notify_one();
        }
    }

    /// Wakes every follower (after the subscription was lost: notices may have been missed).
    fn wake_all(&self) {
        let feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        for followed in feeds.values() {
            followed.wake.notify_one();
        }
    }

    /// The one subscriber connection of this replica, on `bo:changes`, until it drains;
    /// reconnects (after a pause) whenever the connection is lost.
    async fn listen(self: Arc<Self>) {
        let mut pause = Duration::from_millis(50);
        while !self.stop.is_cancelled() {
            let mut pubsub = match self.store.change_notices().await {
                Ok(pubsub) => pubsub,
                Err(e) => {
                    tracing::warn!(error = %e, "change notices: cannot subscribe");
                    self.pause(&mut pause).await;
                    continue;
                }
            };
            pause = Duration::from_millis(50);
            // Whatever happened while not subscribed.
            self.wake_all();
            let mut notices = pubsub.on_message();
            loop {
                let notice = tokio::select! {
                    () = self.stop.cancelled() => return,
                    notice = notices.next() => notice,
                };
                let Some(notice) = notice else {
                    tracing::warn!("change notices: subscription lost; subscribing again");
                    break;
                };
                let payload = notice.get_payload_bytes();
                let event = payload
                    .split(|b| *b == b' ')
                    .next()
                    .and_then(|e| std::str::from_utf8(e).ok());
                if let Some(event) = event {
                    self.wake(event);
                }
            }
            drop(notices);
            self.pause(&mut pause).await;
        }
    }

    /// The follower of one event: from version `after` on, reads what it has not seen each
    /// time it is woken (or every [`RECHECK`]), until no subscriber is left or the replica
    /// drains. Redis errors are retried after a pause, never passed on: subscribers keep their
    /// streams and see the changes once Redis is back.
    async fn follow(
        self: Arc<Self>,
        event: EventId,
        mut after: u64,
        sender: broadcast::Sender<Arc<Change>>,
        wake: Arc<Notify>,
    ) {
        let mut pause = Duration::from_millis(50);
        loop {
            {
                let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
                if sender.receiver_count() == 0 || self.stop.is_cancelled() {
                    if feeds
                        .get(&event)
                        .is_some_and(|f| f.sender.same_channel(&sender))
                    {
                        feeds.remove(&event);
                    }
                    break;
                }
            }
            match self.store.changes_since(&event, after).await {
                Ok(since) => {
                    pause = Duration::from_millis(50);
                    let more = since
                        .changes
                        .last()
                        .is_some_and(|c| c.version < since.version);
                    if since.changes.is_empty() && !since.complete {
                        // Nothing kept after `after` (trimmed, or the event is another life
                        // of it): go on from its version; subscribers see the gap and reload.
                        after = since.version;
                    }
                    for change in since.changes {
                        after = change.version;
                        // No receiver left: the next turn of the loop ends the follower.
                        let _ = sender.send(Arc::new(change));
                    }
                    if more {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(%event, error = %e, "change stream: read failed");
                    self.pause(&mut pause).await;
                    continue;
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => {}
                () = wake.notified() => {}
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
        metrics::gauge!("boxoffice_stream_readers").decrement(1.0);
    }

    /// Waits `pause` (or until draining), then doubles it up to a second.
    async fn pause(&self, pause: &mut Duration) {
        tokio::select! {
            () = self.stop.cancelled() => {}
            () = tokio::time::sleep(*pause) => {}
        }
        *pause = (*pause * 2).min(Duration::from_secs(1));
    }
}
