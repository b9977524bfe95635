//! `GET /events/{eventId}/stream`: the event's changes of availability as Server-Sent Events,
//! fed by this replica's reader of the event's change stream in Redis ([`crate::live`]).
//!
//! The protocol (docs/live-availability.md):
//! * `ready` (first, without `Last-Event-ID`): `{"version": v}`, id `v`. Load the map, then
//!   apply every `change` that follows: each carries absolute values (a seat's status, a
//!   section's remaining), so changes the map already shows do no harm.
//! * `change`: a [`Change`], id = the event's version after it. Ids are consecutive.
//! * `reset`: `{"version": v}`, id `v`: changes after the `Last-Event-ID` sent are no longer
//!   kept; reload the map and go on from here.
//! * comments (`:`) every `STREAM_KEEPALIVE_MS` keep idle connections open.
//!
//! A client that falls more than `STREAM_BUFFER` changes behind is dropped (the stream ends);
//! reconnecting with `Last-Event-ID` (browsers do) resumes where it stopped. Streams end when the
//! replica starts draining, and after `STREAM_MAX_LIFETIME_MS`.

use crate::domain::ids::EventId;
use crate::error::AppError;
use crate::extract::{ClientAddress, Ids};
use crate::live::{Feed, Hub, StreamSlot};
use crate::state::AppState;
use crate::store::{Change, Store};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::Event;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

crate::error_responses!(StreamErrors: InvalidRequest, EventNotFound, RateLimited, StoreUnavailable);

/// The event's changes of availability as they happen, through any replica
/// (`text/event-stream`). Events: `ready` (`{"version"}`: load the map now, then apply what
/// follows), `change` (a `Change`: a seat's new `status`, a section's new `remaining`; `id` is
/// the event's version, consecutive), `reset` (`{"version"}`: changes after your
/// `Last-Event-ID` are no longer kept; reload the map). Reconnect with `Last-Event-ID` to
/// resume. Keep-alive comments every `STREAM_KEEPALIVE_MS`; the stream ends after
/// `STREAM_MAX_LIFETIME_MS` (reconnect with `Last-Event-ID`). At most `STREAM_MAX_PER_CLIENT`
/// open streams per client address and `STREAM_MAX_PER_REPLICA` per replica (then `429`).
#[utoipa::path(get, path = "/events/{eventId}/stream", operation_id = "streamEvent", tag = "events",
    params(("eventId" = EventId, Path),
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, nullable = false,
            description = "The `id` of the last event received: resume after it")),
    responses(
        (status = 200, description = "Server-Sent Events, until the client or the replica \
            ends them", content_type = "text/event-stream", body = String),
        StreamErrors,
    ))]
pub async fn stream(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Ids(event): Ids<EventId>,
) -> Result<Response, AppError> {
    let resume = last_event_id(&headers)?;
    let slot = state.live.admit(client)?;
    let version = state.store.event_version(&event).await?;
    let feed = state.live.subscribe(&event, version);
    let mut subscriber = Subscriber::new(&state.live, event, feed, slot);
    match resume {
        None => {
            subscriber.last = version;
            subscriber.pending.push_back(marker("ready", version));
            // What happened between reading the version and subscribing.
            subscriber.catch_up().await?;
        }
        Some(after) => {
            subscriber.last = after;
            subscriber.catch_up().await?;
        }
    }
    Ok(super::sse(
        &state.settings,
        subscriber,
        |mut subscriber| async move { Some((subscriber.next().await?, subscriber)) },
    ))
}

/// The events `stream` sends, in the OpenAPI document.
pub(super) fn describe_events(doc: &mut serde_json::Value) {
    let marker = serde_json::json!({
        "type": "object", "required": ["version"],
        "properties": { "version": { "type": "integer", "minimum": 0 } },
    });
    let change = serde_json::json!({ "$ref": "#/components/schemas/Change" });
    super::describe_sse(
        doc,
        "/events/{eventId}/stream",
        "AvailabilityEvent",
        &[
            ("ready", true, marker.clone()),
            ("change", true, change),
            ("reset", true, marker),
        ],
    );
}

/// `Last-Event-ID`: a version this stream sent as an `id`.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    // Browsers send none before they have seen an id (an empty one is no id either: 400).
    let value = value.to_str().unwrap_or("").trim();
    // A version is a Redis counter: at most i64::MAX, as the document says.
    let version = value
        .parse::<u64>()
        .ok()
        .filter(|v| i64::try_from(*v).is_ok());
    version.map(Some).ok_or_else(|| {
        AppError::InvalidRequest(format!(
            "Last-Event-ID must be an id this stream sent (a whole number), not {value:?}"
        ))
    })
}

/// `ready` or `reset`: `{"version": v}` with id `v`.
fn marker(name: &'static str, version: u64) -> Event {
    Event::default()
        .event(name)
        .id(version.to_string())
        .data(format!("{{\"version\":{version}}}"))
}

fn change_event(change: &Change) -> Event {
    let data = serde_json::to_string(change).unwrap_or_else(|_| "{}".into());
    Event::default()
        .event("change")
        .id(change.version.to_string())
        .data(data)
}

/// One open stream: what it has sent up to (`last`), and what is queued to send.
struct Subscriber {
    hub: Arc<Hub>,
    /// Its place among the open streams.
    _slot: StreamSlot,
    store: Store,
    event: EventId,
    feed: Feed,
    stop: CancellationToken,
    last: u64,
    pending: VecDeque<Event>,
}

impl Subscriber {
    fn new(hub: &Arc<Hub>, event: EventId, feed: Feed, slot: StreamSlot) -> Self {
        metrics::gauge!("boxoffice_stream_subscribers").increment(1.0);
        Self {
            hub: Arc::clone(hub),
            _slot: slot,
            store: hub.store().clone(),
            event,
            feed,
            stop: hub.stopping().clone(),
            last: 0,
            pending: VecDeque::new(),
        }
    }

    /// Queues the changes after `last` up to the current version from Redis (a batch at a
    /// time), or a `reset` if they are no longer kept.
    async fn catch_up(&mut self) -> Result<(), AppError> {
        loop {
            let since = self.store.changes_since(&self.event, self.last).await?;
            if !since.complete {
                metrics::counter!("boxoffice_stream_resets_total").increment(1);
                self.last = since.version;
                self.pending.push_back(marker("reset", since.version));
                return Ok(());
            }
            let before = self.last;
            for change in since.changes {
                if change.version == self.last + 1 {
                    self.last = change.version;
                    self.pending.push_back(change_event(&change));
                }
            }
            if self.last >= since.version || self.last == before {
                return Ok(());
            }
        }
    }

    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let received = tokio::select! {
                biased;
                () = self.stop.cancelled() => return None,
                received = self.feed.recv() => received,
            };
            match received {
                Ok(change) if change.version <= self.last => {}
                Ok(change) if change.version == self.last + 1 => {
                    self.last = change.version;
                    return Some(change_event(&change));
                }
                // Changes this feed never carried (its reader started later, or restarted):
                // Redis has them.
                Ok(_) => {
                    if let Err(e) = self.catch_up().await {
                        tracing::debug!(event = %self.event, error = %e, "stream: catch-up failed");
                        return None;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    metrics::counter!("boxoffice_stream_dropped_total").increment(1);
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        metrics::gauge!("boxoffice_stream_subscribers").decrement(1.0);
        // Its feed is gone once this returns; the follower then sees whether any is left.
        let (hub, event) = (Arc::clone(&self.hub), self.event.clone());
        tokio::spawn(async move { hub.left(&event) });
    }
}
