//! Live availability on this replica: for each event that has subscribers here, one task reads
//! its change stream from Redis (on a connection of its own, `XREAD BLOCK`) and fans the changes
//! out to every local subscriber of `GET /events/{eventId}/stream` through a broadcast channel.
//!
//! Why it is shaped this way:
//! * Redis is the only source: a change made through any replica is in the event's stream, so
//!   every replica's reader sees it. Nothing here affects correctness; it is a fan-out of what
//!   Redis holds, and a subscriber that misses anything catches up from Redis (or reloads).
//! * The broadcast channel never waits for a receiver: a subscriber that falls more than
//!   `STREAM_BUFFER` changes behind is dropped (its stream ends; the client reconnects with
//!   `Last-Event-ID` and catches up from Redis), and never slows the others.
//! * A reader stops when its event has no subscriber left, and every reader and stream stops
//!   when the replica starts to drain, so open streams never hold up a shutdown.

use crate::domain::ids::EventId;
use crate::store::{Change, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub type Feed = broadcast::Receiver<Arc<Change>>;

pub struct Hub {
    store: Store,
    /// The sender of each event with a running reader. A receiver is only made under this lock,
    /// and a reader leaves (when no receiver is left) under it too, so none is ever orphaned.
    feeds: Mutex<HashMap<EventId, broadcast::Sender<Arc<Change>>>>,
    /// Changes a subscriber may fall behind before it is dropped.
    buffer: usize,
    /// Cancelled when the replica starts draining.
    stop: CancellationToken,
}

impl Hub {
    pub fn new(store: Store, buffer: usize, stop: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            store,
            feeds: Mutex::default(),
            buffer: buffer.max(1),
            stop,
        })
    }

    /// Cancelled when the replica starts draining: streams end then.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    /// The store the readers read.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A feed of the event's changes after version `read` (a version the caller read before
    /// subscribing; earlier changes may come too, see [`Since`]). A new reader starts there,
    /// so nothing falls between the subscriber's catch-up (read after this returns) and the
    /// reader.
    ///
    /// [`Since`]: crate::store::Since
    pub fn subscribe(self: &Arc<Self>, event: &EventId, read: u64) -> Feed {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = feeds.get(event) {
            return sender.subscribe();
        }
        let (sender, feed) = broadcast::channel(self.buffer);
        feeds.insert(event.clone(), sender.clone());
        drop(feeds);
        metrics::gauge!("boxoffice_stream_readers").increment(1.0);
        tokio::spawn(Arc::clone(self).read(event.clone(), read, sender));
        feed
    }

    /// The reader of one event: from version `after` on, until no subscriber is left or the
    /// replica drains. Redis errors are retried (a new connection, after a pause), never
    /// passed on: subscribers keep their streams and see the changes once Redis is back.
    async fn read(
        self: Arc<Self>,
        event: EventId,
        mut after: u64,
        sender: broadcast::Sender<Arc<Change>>,
    ) {
        let mut reader = None;
        let mut pause = Duration::from_millis(50);
        loop {
            {
                let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
                if sender.receiver_count() == 0 || self.stop.is_cancelled() {
                    if feeds.get(&event).is_some_and(|s| s.same_channel(&sender)) {
                        feeds.remove(&event);
                    }
                    break;
                }
            }
            let current = match reader.as_mut() {
                Some(current) => current,
                None => match self.store.change_reader().await {
                    Ok(new) => reader.insert(new),
                    Err(e) => {
                        tracing::warn!(%event, error = %e, "change stream: no connection");
                        self.pause(&mut pause).await;
                        continue;
                    }
                },
            };
            let read = tokio::select! {
                () = self.stop.cancelled() => continue,
                read = current.next(&event, after) => read,
            };
            match read {
                Ok(changes) => {
                    pause = Duration::from_millis(50);
                    for change in changes {
                        after = change.version;
                        // No receiver left: the next turn of the loop ends the reader.
                        let _ = sender.send(Arc::new(change));
                    }
                }
                Err(e) => {
                    tracing::warn!(%event, error = %e, "change stream: read failed");
                    reader = None;
                    self.pause(&mut pause).await;
                }
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
