//! Checkout holds: `POST /events/{eventId}/holds`, and `GET`, `POST .../extend`,
//! `POST .../confirm`, `DELETE` on `/events/{eventId}/holds/{holdId}`. Only the hold's user may
//! read, extend, confirm or release it; for anyone else it does not exist.

use super::bookings::{Booked, Via, booking_reply};
use crate::auth::Caller;
use crate::domain::hold::{HoldView, NewHold};
use crate::domain::ids::{EventId, HoldId};
use crate::error::AppError;
use crate::extract::{
    Acting, ActingInQuery, AdmissionHeader, AdmissionToken, Idempotency, IdempotencyHeader, Ids,
    JsonBody, QueryParams, UserBody, UserQuery,
};
use crate::state::AppState;
use crate::store::HoldChange;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(read, release))
        .routes(routes!(extend))
        .routes(routes!(confirm))
}

crate::error_responses!(CreateErrors: InvalidRequest, Unauthenticated, Forbidden, AdmissionRequired, EventNotFound,
    SectionNotFound, SeatNotFound, InsufficientInventory, NoAdjacentSeats, SeatBooked, SeatLocked,
    UserLimitReached, RateLimited, PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(ReadErrors: InvalidRequest, Unauthenticated, Forbidden, HoldNotFound,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(ExtendErrors: InvalidRequest, Unauthenticated, Forbidden, HoldNotFound,
    HoldExpired, HoldExtensionLimit, RateLimited, PayloadTooLarge, UnsupportedMediaType,
    StoreUnavailable);
crate::error_responses!(ConfirmErrors: InvalidRequest, Unauthenticated, Forbidden, HoldNotFound,
    HoldExpired, SeatNotLocked, IdempotencyKeyReused, RateLimited, PayloadTooLarge,
    UnsupportedMediaType, StoreUnavailable, NotReplicated);
crate::error_responses!(ReleaseErrors: InvalidRequest, Unauthenticated, Forbidden, HoldNotFound,
    RateLimited, PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);

/// Holds named seats (all in one section) or a quantity of a general admission section for
/// `HOLD_TTL_MS`, all or nothing: if any seat is sold or held by someone else, nothing is held.
#[utoipa::path(post, path = "/events/{eventId}/holds", operation_id = "createHold", tag = "holds",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), UserQuery, AdmissionHeader),
    request_body = NewHold,
    responses((status = 201, description = "Held for the caller until `expiresAt`", body = HoldView),
        CreateErrors))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    admission: AdmissionToken,
    Ids(event): Ids<EventId>,
    QueryParams(query): QueryParams<UserQuery>,
    JsonBody(body): JsonBody<NewHold>,
) -> Result<Response, AppError> {
    let request = body
        .request(state.settings.max_qty_per_booking)
        .map_err(AppError::InvalidRequest)?;
    let user = caller.acting_named(query.user()?.or(body.user_id))?;
    let admitted = state.admitted(admission.0.as_deref(), &user, &event);
    let hold = state
        .store
        .create_hold(&event, &user, &request, admitted)
        .await?;
    metrics::counter!("boxoffice_holds_total").increment(1);
    Ok((StatusCode::CREATED, Json(HoldView::from(hold))).into_response())
}

/// The caller's live hold.
#[utoipa::path(get, path = "/events/{eventId}/holds/{holdId}", operation_id = "getHold", tag = "holds",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("holdId" = HoldId, Path), UserQuery),
    responses((status = 200, description = "The hold", body = HoldView), ReadErrors))]
pub async fn read(
    State(state): State<AppState>,
    Ids((event, hold)): Ids<(EventId, HoldId)>,
    acting: ActingInQuery,
) -> Result<Json<HoldView>, AppError> {
    let user = acting.user()?;
    Ok(Json(state.store.hold(&event, &hold, &user).await?.into()))
}

/// Extends the hold to now + `HOLD_TTL_MS`, at most `HOLD_MAX_EXTENSIONS` times and never
/// past `HOLD_MAX_LIFETIME_MS` after it was made.
#[utoipa::path(post, path = "/events/{eventId}/holds/{holdId}/extend", operation_id = "extendHold", tag = "holds",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("holdId" = HoldId, Path), UserQuery),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 200, description = "Extended", body = HoldView), ExtendErrors))]
pub async fn extend(
    State(state): State<AppState>,
    Ids((event, hold)): Ids<(EventId, HoldId)>,
    acting: Acting,
) -> Result<Json<HoldView>, AppError> {
    let user = acting.user()?;
    let extended = state
        .store
        .change_hold(&event, &hold, &user, HoldChange::Extend);
    Ok(Json(extended.await?.into()))
}

/// Books everything the live hold holds as one booking, atomically.
#[utoipa::path(post, path = "/events/{eventId}/holds/{holdId}/confirm", operation_id = "confirmHold", tag = "holds",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("holdId" = HoldId, Path), UserQuery, IdempotencyHeader),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses(Booked, ConfirmErrors))]
pub async fn confirm(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    Ids((event, hold)): Ids<(EventId, HoldId)>,
    acting: Acting,
) -> Result<Response, AppError> {
    let role = acting.role();
    let user = acting.user()?;
    let outcome = state
        .store
        .confirm_hold(&event, &hold, &user, role, key.as_ref())
        .await?;
    Ok(booking_reply(StatusCode::CREATED, outcome, Via::Confirm))
}

/// Releases the hold: its seats or tickets are free at once.
#[utoipa::path(delete, path = "/events/{eventId}/holds/{holdId}", operation_id = "releaseHold", tag = "holds",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("holdId" = HoldId, Path), UserQuery),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 200, description = "Released (`status: released`)", body = HoldView),
        ReleaseErrors))]
pub async fn release(
    State(state): State<AppState>,
    Ids((event, hold)): Ids<(EventId, HoldId)>,
    acting: Acting,
) -> Result<Json<HoldView>, AppError> {
    let user = acting.user()?;
    let released = state
        .store
        .change_hold(&event, &hold, &user, HoldChange::Release);
    Ok(Json(released.await?.into()))
}
