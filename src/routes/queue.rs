//! Waiting rooms: `POST /events/{eventId}/queue` (join), `GET /events/{eventId}/queue/{ticket}`
//! (where one stands; the admission token once admitted), and
//! `PUT /events/{eventId}/waiting-room` (an organizer switches it on, off, or changes it).
//! The queue itself moves in the scripts (`lua/queue_*.lua`).

use crate::auth::{Caller, Role};
use crate::domain::ids::{EventId, UserId};
use crate::domain::queue::{QueueStanding, WaitingRoom};
use crate::domain::time::{Millis, now_ms};
use crate::error::AppError;
use crate::extract::{Acting, ClientAddress, Ids, JsonBody, QueryParams, UserBody, UserQuery};
use crate::live::StreamSlot;
use crate::state::AppState;
use crate::waiting::{Local, RoomView};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::Event;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(join))
        .routes(routes!(status))
        .routes(routes!(status_stream))
        .routes(routes!(configure))
}

crate::error_responses!(JoinErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    WaitingRoomOff, RateLimited, PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(StatusErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    WaitingRoomOff, QueueTicketNotFound, RateLimited, StoreUnavailable);
crate::error_responses!(ConfigureErrors: InvalidRequest, Unauthenticated, Forbidden,
    EventNotFound, PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);

/// Joins the event's waiting room: one place per user (joining again answers the same place,
/// or the admission it led to; once that has ended, a new place at the back). Ask
/// `GET /events/{eventId}/queue/{ticket}` every few seconds: the first ask after one's turn has
/// come takes the admission, and a turn not taken within `QUEUE_ABANDON_MS` lapses.
#[utoipa::path(post, path = "/events/{eventId}/queue", operation_id = "joinQueue", tag = "queue", security(("bearer" = [])),
    params(("eventId" = EventId, Path), UserQuery),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 200, description = "Your place, or your admission", body = QueueStanding),
        JoinErrors))]
pub async fn join(
    State(state): State<AppState>,
    Ids(event): Ids<EventId>,
    acting: Acting,
) -> Result<Json<QueueStanding>, AppError> {
    let user = acting.user()?;
    let view = state.rooms.view(&event).await?;
    let shard = view.shard_of(user.as_str());
    let tag = view.tag(shard).ok_or(AppError::WaitingRoomOff)?;
    let joined = state
        .store
        .join_queue(tag, &user, None, view.start_ms)
        .await?;
    let standing = stand(&state, &view, &event, &user, (shard, joined.seq)).await?;
    if joined.new || standing.status != "ended" {
        return Ok(Json(standing));
    }
    // That place's turn is over: a new one at the back.
    let again = state
        .store
        .join_queue(tag, &user, Some(joined.seq), view.start_ms)
        .await?;
    Ok(Json(
        stand(&state, &view, &event, &user, (shard, again.seq)).await?,
    ))
}

/// Where the caller stands in the event's waiting room: `waiting` with `position` (turns
/// before theirs) and `estimatedWaitSeconds`, then `admitted` with the `admissionToken` to send
/// as `Admission-Token` until `admittedUntil`, or `ended`. Answered from this replica's view of
/// the line (at most `QUEUE_REFRESH_MS` old); only the ask that takes an admission reaches Redis.
#[utoipa::path(get, path = "/events/{eventId}/queue/{ticket}", operation_id = "getQueueStanding", tag = "queue",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path),
        ("ticket" = String, Path, description = "The ticket `POST /events/{eventId}/queue` gave"),
        UserQuery),
    responses((status = 200, description = "Your standing", body = QueueStanding), StatusErrors))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Ids((event, ticket)): Ids<(EventId, String)>,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<Json<QueueStanding>, AppError> {
    let (_, _, standing) = ask(&state, &caller, event, &ticket, query).await?;
    Ok(Json(standing))
}

/// Who asks about which place (the event, the caller or the user they name in open mode),
/// and their standing now.
async fn ask(
    state: &AppState,
    caller: &Caller,
    event: EventId,
    ticket: &str,
    query: UserQuery,
) -> Result<(EventId, UserId, QueueStanding), AppError> {
    let user = caller.acting_in_query(query.user()?)?;
    let standing = standing_of(state, &event, &user, ticket).await?;
    Ok((event, user, standing))
}

/// The standing of the place `ticket` gives `user` (404 if it gives them none).
async fn standing_of(
    state: &AppState,
    event: &EventId,
    user: &UserId,
    ticket: &str,
) -> Result<QueueStanding, AppError> {
    let view = state.rooms.view(event).await?;
    let place = state
        .admissions()?
        .place_of(ticket, user, event)
        .filter(|(shard, _)| *shard < view.shards)
        .ok_or(AppError::QueueTicketNotFound)?;
    stand(state, &view, event, user, place).await
}

/// The standing of `place` (`shard`, `seq`): from the view while its turn has not come, else
/// from the script that gives (or gave) its admission.
async fn stand(
    state: &AppState,
    view: &RoomView,
    event: &EventId,
    user: &UserId,
    (shard, seq): (u16, u64),
) -> Result<QueueStanding, AppError> {
    let admissions = state.admissions()?;
    let ticket = admissions.sign_place(user, event, shard, seq);
    let waiting = |position: u64| QueueStanding {
        ticket: ticket.clone(),
        status: "waiting".into(),
        position: Some(position),
        estimated_wait_seconds: view.estimated_wait_seconds(position),
        admitted_until: None,
        admission_token: None,
    };
    let turn = match view.locate(shard, seq) {
        Local::Waiting { position } => return Ok(waiting(position)),
        Local::TurnCame { turn } => turn,
    };
    let place = format!("{shard}.{seq}");
    let abandon = state.rooms.abandon_ms();
    let admitted = state
        .store
        .admit_from_queue(event, user, &place, turn, abandon)
        .await?;
    Ok(match (admitted.status.as_str(), admitted.admitted_until) {
        ("admitted", Some(until)) => QueueStanding {
            ticket,
            status: admitted.status,
            position: None,
            estimated_wait_seconds: None,
            admitted_until: Some(Millis(until)),
            admission_token: Some(admissions.mint(user, event, until)?),
        },
        ("waiting", _) => waiting(0),
        _ => QueueStanding {
            ticket,
            status: "ended".into(),
            position: None,
            estimated_wait_seconds: None,
            admitted_until: None,
            admission_token: None,
        },
    })
}

/// How often a standing stream asks (which also keeps the place: see `QUEUE_ABANDON_MS`).
const STREAM_EVERY: Duration = Duration::from_secs(2);

/// The same standing as Server-Sent Events: a `standing` event now and whenever it changes
/// (asked every 2 seconds, which keeps the place), until it is `ended` or the replica drains
/// (then reconnect, or ask `GET .../queue/{ticket}`).
#[utoipa::path(get, path = "/events/{eventId}/queue/{ticket}/stream", operation_id = "streamQueueStanding", tag = "queue",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path),
        ("ticket" = String, Path, description = "The ticket `POST /events/{eventId}/queue` gave"),
        UserQuery),
    responses(
        (status = 200, description = "`standing` events (a `QueueStanding` each)",
            content_type = "text/event-stream", body = String),
        StatusErrors,
    ))]
pub async fn status_stream(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    caller: Caller,
    Ids((event, ticket)): Ids<(EventId, String)>,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<Response, AppError> {
    let slot = state.live.admit(client)?;
    // The first standing now, so that a wrong ticket is a JSON error, not an empty stream.
    let (event, user, first) = ask(&state, &caller, event, &ticket, query).await?;
    let settings = state.settings.clone();
    let watch = Watch {
        _slot: slot,
        next: Some(first),
        stop: state.live.stopping().clone(),
        state,
        event,
        user,
        ticket,
        last: None,
        done: false,
    };
    Ok(super::sse(&settings, watch, |mut watch| async move {
        Some((watch.next_event().await?, watch))
    }))
}

/// The events `status_stream` sends, in the OpenAPI document.
pub(super) fn describe_events(doc: &mut serde_json::Value) {
    let standing = serde_json::json!({ "$ref": "#/components/schemas/QueueStanding" });
    super::describe_sse(
        doc,
        "/events/{eventId}/queue/{ticket}/stream",
        "StandingEvent",
        &[("standing", false, standing)],
    );
}

/// One standing stream.
struct Watch {
    /// Its place among the open streams.
    _slot: StreamSlot,
    state: AppState,
    event: EventId,
    user: UserId,
    ticket: String,
    stop: CancellationToken,
    /// A standing to send if it differs from the last one sent.
    next: Option<QueueStanding>,
    last: Option<String>,
    done: bool,
}

impl Watch {
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            if let Some(standing) = self.next.take() {
                let data = serde_json::to_string(&standing).ok()?;
                self.done = standing.status == "ended";
                if self.last.as_deref() != Some(data.as_str()) {
                    self.last = Some(data.clone());
                    return Some(Event::default().event("standing").data(data));
                }
                continue;
            }
            tokio::select! {
                () = self.stop.cancelled() => return None,
                () = tokio::time::sleep(STREAM_EVERY) => {}
            }
            let asked = standing_of(&self.state, &self.event, &self.user, &self.ticket).await;
            self.next = asked.ok();
        }
    }
}

/// Switches the event's waiting room on or off, or changes it. Organizers only. People in
/// line keep their places; admissions already given stay valid until they end.
#[utoipa::path(put, path = "/events/{eventId}/waiting-room", operation_id = "configureWaitingRoom", tag = "queue",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path)),
    request_body = WaitingRoom,
    responses((status = 200, description = "The waiting room as set", body = WaitingRoom),
        ConfigureErrors))]
pub async fn configure(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
    JsonBody(body): JsonBody<WaitingRoom>,
) -> Result<Json<WaitingRoom>, AppError> {
    caller.require(Role::Organizer)?;
    let settings = body.settings(now_ms()).map_err(AppError::InvalidRequest)?;
    if settings.enabled {
        state.admissions()?;
    }
    state
        .store
        .configure_queue(&event, &settings, &caller.actor())
        .await?;
    state.rooms.forget(&event);
    Ok(Json(body))
}
