//! Who manages an event: `GET /events/{eventId}/organizers`,
//! `PUT|DELETE /events/{eventId}/organizers/{userId}`. An event is managed by the organizer who
//! created it, the organizers they add, and admins (`may_manage` in `lua/lib.lua`, checked in
//! every script that manages an event: its waiting room, cancelling others' bookings).

use crate::auth::{Caller, Role};
use crate::domain::ids::{EventId, UserId};
use crate::error::AppError;
use crate::extract::Ids;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(add, remove))
}

crate::error_responses!(OrganizerErrors: InvalidRequest, Unauthenticated, Forbidden,
    EventNotFound, StoreUnavailable);

/// The organizers who manage an event (admins manage every event).
#[derive(Serialize, ToSchema)]
pub struct Organizers {
    organizers: Vec<String>,
}

/// Who manages the event. Only they (and admins) may ask.
#[utoipa::path(get, path = "/events/{eventId}/organizers", operation_id = "listOrganizers", tag = "events",
    security(("bearer" = [])), params(("eventId" = EventId, Path)),
    responses((status = 200, description = "The event's organizers", body = Organizers),
        OrganizerErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
) -> Result<Json<Organizers>, AppError> {
    change(&state, &caller, event, "list", None).await
}

/// Adds an organizer to the event (they may then manage it as its creator does). Only its
/// organizers (and admins) may.
#[utoipa::path(put, path = "/events/{eventId}/organizers/{userId}", operation_id = "addOrganizer", tag = "events",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("userId" = UserId, Path)),
    responses((status = 200, description = "The event's organizers after", body = Organizers),
        OrganizerErrors))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Ids((event, user)): Ids<(EventId, UserId)>,
) -> Result<Json<Organizers>, AppError> {
    change(&state, &caller, event, "add", Some(user)).await
}

/// Removes an organizer from the event. Only its organizers (and admins) may.
#[utoipa::path(delete, path = "/events/{eventId}/organizers/{userId}", operation_id = "removeOrganizer", tag = "events",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("userId" = UserId, Path)),
    responses((status = 200, description = "The event's organizers after", body = Organizers),
        OrganizerErrors))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Ids((event, user)): Ids<(EventId, UserId)>,
) -> Result<Json<Organizers>, AppError> {
    change(&state, &caller, event, "remove", Some(user)).await
}

async fn change(
    state: &AppState,
    caller: &Caller,
    event: EventId,
    op: &str,
    user: Option<UserId>,
) -> Result<Json<Organizers>, AppError> {
    caller.require(Role::Organizer)?;
    let organizers = state
        .store
        .event_organizers(&event, &caller.actor(), op, user.as_ref())
        .await?;
    Ok(Json(Organizers { organizers }))
}
