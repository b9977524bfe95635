//! Reserved seats of an event: `GET /events/{eventId}/seats` and
//! `POST /events/{eventId}/seats/{seatId}/{lock|confirm|unlock}`.
//!
//! The seat operations here are shared with the demo routes, which differ only in how they
//! name the event, the seat and the user.

use super::bookings::{Booked, Via, booking_reply};
use super::events::NotModified;
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::seats::{SeatMap, SeatView};
use crate::domain::time::Millis;
use crate::error::AppError;
use crate::extract::{
    Acting, AdmissionHeader, AdmissionToken, Idempotency, IdempotencyHeader, Ids, UserBody,
    UserQuery,
};
use crate::state::AppState;
use crate::store::{Conditional, IdempotencyKey};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(lock))
        .routes(routes!(confirm))
        .routes(routes!(unlock));
    // `SeatMapResponse` names it; only a `body = ...` would register it.
    super::with_schema::<SeatMapReply>(router)
}

crate::error_responses!(pub(super) SeatMapErrors: InvalidRequest, EventNotFound, StoreUnavailable);
crate::error_responses!(pub(super) LockErrors: InvalidRequest, Unauthenticated, Forbidden,
    AdmissionRequired, EventNotFound, SeatNotFound, SeatBooked, SeatLocked, UserLimitReached, RateLimited,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(pub(super) ConfirmErrors: InvalidRequest, Unauthenticated, Forbidden,
    EventNotFound, SeatNotFound, SeatBooked, SeatNotLocked, LockNotOwned, IdempotencyKeyReused,
    RateLimited, PayloadTooLarge, UnsupportedMediaType, StoreUnavailable, NotReplicated);
crate::error_responses!(pub(super) UnlockErrors: InvalidRequest, Unauthenticated, Forbidden,
    EventNotFound, SeatNotFound, SeatBooked, SeatNotLocked, LockNotOwned, RateLimited,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);

/// The `200` of the seat-map routes, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[response(status = 200, description = "The seat map",
    headers(("ETag" = String, description = "`\"<version>-<locks>-<holds>\"`: the event's version this shows (and expired locks and holds); changes whenever what this shows changes"),
        ("X-Read-Source" = String, description = "`view`: this replica's read view (a change behind at most its delivery time); `redis`: read in Redis")))]
#[allow(dead_code)] // documentation only: `seat_map` writes the answer
pub struct SeatMapResponse(SeatMapReply);

/// Every named seat of the event, in the event's seat order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapReply {
    event_id: EventId,
    #[schema(value_type = Vec<SeatView>)]
    seats: SeatMap,
}

/// A seat lock: only its holder may confirm or release it until `expiresAt`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockReply {
    event_id: EventId,
    seat_id: SeatId,
    section_id: SectionId,
    /// `locked`
    status: &'static str,
    expires_at: Millis,
}

/// A released seat.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnlockReply {
    event_id: EventId,
    seat_id: SeatId,
    section_id: SectionId,
    /// `available`
    status: &'static str,
}

/// Every named seat with its status: `available`, `locked` (with `lockExpiresAt`, never who)
/// or `booked`. With `If-None-Match` naming its current `ETag`: `304` and no body.
#[utoipa::path(get, path = "/events/{eventId}/seats", operation_id = "getSeatMap", tag = "seats",
    params(("eventId" = EventId, Path),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer"),
        ("Cache-Control" = Option<String>, Header, description = "`no-cache`: read Redis, not this replica's read view")),
    responses(SeatMapResponse, NotModified, SeatMapErrors))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ids(event): Ids<EventId>,
) -> Result<Response, AppError> {
    seat_map(&state, event, &headers).await
}

/// Holds a seat for `LOCK_TTL_MS`; the holder asking again gets the same lock, not extended.
#[utoipa::path(post, path = "/events/{eventId}/seats/{seatId}/lock", operation_id = "lockSeat", tag = "seats",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("seatId" = SeatId, Path), UserQuery, AdmissionHeader),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 200, description = "Locked for the caller", body = LockReply), LockErrors))]
pub async fn lock(
    State(state): State<AppState>,
    admission: AdmissionToken,
    Ids((event, seat)): Ids<(EventId, SeatId)>,
    acting: Acting,
) -> Result<Json<LockReply>, AppError> {
    lock_seat(&state, event, seat, acting.user()?, &admission).await
}

/// Books a seat the caller holds, while the lock lives.
#[utoipa::path(post, path = "/events/{eventId}/seats/{seatId}/confirm", operation_id = "confirmSeat", tag = "seats",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("seatId" = SeatId, Path), UserQuery, IdempotencyHeader),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses(Booked, ConfirmErrors))]
pub async fn confirm(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    Ids((event, seat)): Ids<(EventId, SeatId)>,
    acting: Acting,
) -> Result<Response, AppError> {
    let role = acting.role();
    confirm_seat(&state, event, seat, (acting.user()?, role), key).await
}

/// Releases a seat the caller holds.
#[utoipa::path(post, path = "/events/{eventId}/seats/{seatId}/unlock", operation_id = "unlockSeat", tag = "seats",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("seatId" = SeatId, Path), UserQuery),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 200, description = "Released", body = UnlockReply), UnlockErrors))]
pub async fn unlock(
    State(state): State<AppState>,
    Ids((event, seat)): Ids<(EventId, SeatId)>,
    acting: Acting,
) -> Result<Json<UnlockReply>, AppError> {
    unlock_seat(&state, event, seat, acting.user()?).await
}

/// A seat map of thousands of seats is hundreds of kilobytes of JSON: it is written into a
/// buffer sized for it up front (about 64 bytes a seat) instead of one grown step by step.
pub(super) async fn seat_map(
    state: &AppState,
    event: EventId,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let (answer, source) = state
        .views
        .seats(
            &event,
            &super::events::if_none_match(headers),
            super::events::no_cache(headers),
        )
        .await?;
    let (tag, seats) = match answer {
        Conditional::NotModified(tag) => {
            let mut response = super::events::not_modified(&tag);
            super::events::read_source(&mut response, source);
            return Ok(response);
        }
        Conditional::Fresh { tag, data } => (tag, data),
    };
    let mut body = Vec::with_capacity(64 + 64 * seats.len());
    let reply = SeatMapReply {
        event_id: event,
        seats,
    };
    serde_json::to_writer(&mut body, &reply)
        .map_err(|e| AppError::Internal(format!("encoding the seat map: {e}")))?;
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::ETAG, tag),
        ],
        body,
    )
        .into_response();
    super::events::read_source(&mut response, source);
    Ok(response)
}

/// 200 for a new lock and for the holder asking again (the lock is not extended).
pub(super) async fn lock_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    user: UserId,
    admission: &AdmissionToken,
) -> Result<Json<LockReply>, AppError> {
    let admitted = state.admitted(admission.0.as_deref(), &user, &event);
    let lock = state
        .store
        .lock_seat(&event, &seat, &user, state.settings.lock_ttl_ms, admitted)
        .await?;
    if !lock.already_held {
        metrics::counter!("boxoffice_seat_locks_total").increment(1);
    }
    Ok(Json(LockReply {
        event_id: event,
        seat_id: seat,
        section_id: lock.section_id,
        status: "locked",
        expires_at: Millis(lock.expires_at),
    }))
}

pub(super) async fn confirm_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    (user, role): (UserId, &'static str),
    key: Option<IdempotencyKey>,
) -> Result<Response, AppError> {
    let outcome = state
        .store
        .confirm_seat(&event, &seat, &user, role, key.as_ref())
        .await?;
    Ok(booking_reply(StatusCode::CREATED, outcome, Via::Confirm))
}

pub(super) async fn unlock_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    user: UserId,
) -> Result<Json<UnlockReply>, AppError> {
    let section_id = state.store.unlock_seat(&event, &seat, &user).await?;
    metrics::counter!("boxoffice_seat_unlocks_total").increment(1);
    Ok(Json(UnlockReply {
        event_id: event,
        seat_id: seat,
        section_id,
        status: "available",
    }))
}
