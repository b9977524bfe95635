//! The seed systems' API (`GET /seats`, `POST /lock/{seatId}`, `POST /lock`, ...), served on one
//! demo event with seats `1..=DEMO_SEATS`, through the same scripts as every other event.
//!
//! The user comes from `?user=`, or a body `{"userId"}`, else `anonymous`; body routes take
//! `{"seatId", "userId"}` where seatId may be a string or a number. A path route's body is
//! optional: an empty body is no body, whatever its `Content-Type`.

use super::bookings::Booked;
use super::events::NotModified;
use super::seats::{
    self, ConfirmErrors, LockErrors, LockReply, SeatMapErrors, SeatMapResponse, UnlockErrors,
    UnlockReply,
};
use crate::auth::Caller;
use crate::domain::ids::{SeatId, SeatRef, UserId};
use crate::error::AppError;
use crate::extract::{
    Acting, AdmissionHeader, AdmissionToken, Idempotency, IdempotencyHeader, Ids, JsonBody,
    UserBody, UserQuery,
};
use crate::state::AppState;
use crate::store::demo_event;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(seat_map))
        .routes(routes!(lock))
        .routes(routes!(lock_by_path))
        .routes(routes!(confirm))
        .routes(routes!(confirm_by_path))
        .routes(routes!(unlock))
        .routes(routes!(unlock_by_path));
    let router = super::alias(router, "/release", "/unlock", "releaseDemoSeat", unlock);
    super::alias(
        router,
        "/release/{seatId}",
        "/unlock/{seatId}",
        "releaseDemoSeatByPath",
        unlock_by_path,
    )
}

/// Evaluates `$operation` with `$event` bound to the demo event; if Redis lost the event (say,
/// it restarted without persistence), recreates it and evaluates once more: the demo heals
/// itself without a replica restart.
macro_rules! on_demo {
    ($state:expr, |$event:ident| $operation:expr) => {{
        let $event = demo_event()?;
        match $operation {
            Err(AppError::EventNotFound) if $state.settings.demo_seats > 0 => {
                $state
                    .store
                    .ensure_demo_event($state.settings.demo_seats)
                    .await?;
                let $event = demo_event()?;
                $operation
            }
            other => other,
        }
    }};
}

/// A seat, and who acts (default `anonymous`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatBody {
    #[serde(deserialize_with = "SeatId::deserialize_string_or_number")]
    #[schema(value_type = SeatRef)]
    seat_id: SeatId,
    #[serde(default)]
    user_id: Option<UserId>,
}

/// The demo event's seat map (`GET /events/demo/seats`, with its `ETag` and `304`).
#[utoipa::path(get, path = "/seats", operation_id = "listDemoSeats", tag = "demo",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer"),
        ("Cache-Control" = Option<String>, Header, description = "`no-cache`: read Redis, not this replica's read view")),
    responses(SeatMapResponse, NotModified, SeatMapErrors))]
pub async fn seat_map(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    on_demo!(state, |event| seats::seat_map(&state, event, &headers)
        .await)
}

async fn lock_demo(
    state: &AppState,
    seat: SeatId,
    user: UserId,
    admission: &AdmissionToken,
) -> Result<Json<LockReply>, AppError> {
    on_demo!(state, |event| {
        seats::lock_seat(state, event, seat.clone(), user.clone(), admission).await
    })
}

async fn confirm_demo(
    state: &AppState,
    seat: SeatId,
    acting: (UserId, &'static str),
    key: Idempotency,
) -> Result<Response, AppError> {
    on_demo!(state, |event| {
        seats::confirm_seat(state, event, seat.clone(), acting.clone(), key.0.clone()).await
    })
}

async fn unlock_demo(
    state: &AppState,
    seat: SeatId,
    user: UserId,
) -> Result<Json<UnlockReply>, AppError> {
    on_demo!(state, |event| {
        seats::unlock_seat(state, event, seat.clone(), user.clone()).await
    })
}

/// Locks a demo seat named in the body.
#[utoipa::path(post, path = "/lock", operation_id = "lockDemoSeat", tag = "demo", security(("bearer" = [])),
    params(AdmissionHeader), request_body = SeatBody,
    responses((status = 200, description = "Locked for the caller", body = LockReply), LockErrors))]
pub async fn lock(
    State(state): State<AppState>,
    caller: Caller,
    admission: AdmissionToken,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Json<LockReply>, AppError> {
    let user = caller.acting(body.user_id)?;
    lock_demo(&state, body.seat_id, user, &admission).await
}

/// Locks a demo seat.
#[utoipa::path(post, path = "/lock/{seatId}", operation_id = "lockDemoSeatByPath", tag = "demo", security(("bearer" = [])),
    params(("seatId" = SeatId, Path), UserQuery, AdmissionHeader),
    request_body(content = Option<UserBody>, description = "Optional"),
    responses((status = 200, description = "Locked for the caller", body = LockReply), LockErrors))]
pub async fn lock_by_path(
    State(state): State<AppState>,
    admission: AdmissionToken,
    Ids(seat): Ids<SeatId>,
    acting: Acting,
) -> Result<Json<LockReply>, AppError> {
    lock_demo(&state, seat, acting.user_or_anonymous()?, &admission).await
}

/// Books a demo seat the caller holds, named in the body.
#[utoipa::path(post, path = "/confirm", operation_id = "confirmDemoSeat", tag = "demo", security(("bearer" = [])), params(IdempotencyHeader),
    request_body = SeatBody,
    responses(Booked, ConfirmErrors))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    key: Idempotency,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Response, AppError> {
    let user = caller.acting(body.user_id)?;
    confirm_demo(&state, body.seat_id, (user, caller.role_name()), key).await
}

/// Books a demo seat the caller holds.
#[utoipa::path(post, path = "/confirm/{seatId}", operation_id = "confirmDemoSeatByPath", tag = "demo", security(("bearer" = [])),
    params(("seatId" = SeatId, Path), UserQuery, IdempotencyHeader),
    request_body(content = Option<UserBody>, description = "Optional"),
    responses(Booked, ConfirmErrors))]
pub async fn confirm_by_path(
    State(state): State<AppState>,
    key: Idempotency,
    Ids(seat): Ids<SeatId>,
    acting: Acting,
) -> Result<Response, AppError> {
    let role = acting.role();
    confirm_demo(&state, seat, (acting.user_or_anonymous()?, role), key).await
}

/// Releases a demo seat the caller holds, named in the body.
#[utoipa::path(post, path = "/unlock", operation_id = "unlockDemoSeat", tag = "demo", security(("bearer" = [])), request_body = SeatBody,
    responses((status = 200, description = "Released", body = UnlockReply), UnlockErrors))]
pub async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Json<UnlockReply>, AppError> {
    let user = caller.acting(body.user_id)?;
    unlock_demo(&state, body.seat_id, user).await
}

/// Releases a demo seat the caller holds.
#[utoipa::path(post, path = "/unlock/{seatId}", operation_id = "unlockDemoSeatByPath", tag = "demo", security(("bearer" = [])),
    params(("seatId" = SeatId, Path), UserQuery),
    request_body(content = Option<UserBody>, description = "Optional"),
    responses((status = 200, description = "Released", body = UnlockReply), UnlockErrors))]
pub async fn unlock_by_path(
    State(state): State<AppState>,
    Ids(seat): Ids<SeatId>,
    acting: Acting,
) -> Result<Json<UnlockReply>, AppError> {
    unlock_demo(&state, seat, acting.user_or_anonymous()?).await
}
