//! Reserved seats of an event: `GET /events/{eventId}/seats` and
//! `POST /events/{eventId}/seats/{seatId}/{lock|confirm|unlock}`.
//!
//! The seat operations here are shared with the demo routes, which differ only in how they
//! name the event, the seat and the user.

use super::bookings::booking_reply;
use crate::app::AppState;
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::seats::SeatMap;
use crate::domain::time::serialize_ms;
use crate::error::AppError;
use crate::extract::{Idempotency, JsonBody, PathParams};
use crate::store::IdempotencyKey;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    user_id: UserId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapReply {
    event_id: EventId,
    seats: SeatMap,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockReply {
    event_id: EventId,
    seat_id: SeatId,
    section_id: SectionId,
    status: &'static str,
    #[serde(serialize_with = "serialize_ms")]
    expires_at: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockReply {
    event_id: EventId,
    seat_id: SeatId,
    section_id: SectionId,
    status: &'static str,
}

fn event_and_seat((event, seat): (String, String)) -> Result<(EventId, SeatId), AppError> {
    Ok((EventId::parse(event)?, SeatId::parse(seat)?))
}

pub async fn list(
    State(state): State<AppState>,
    PathParams(event): PathParams<String>,
) -> Result<Response, AppError> {
    seat_map(&state, EventId::parse(event)?).await
}

pub async fn lock(
    State(state): State<AppState>,
    PathParams(path): PathParams<(String, String)>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Json<LockReply>, AppError> {
    let (event, seat) = event_and_seat(path)?;
    lock_seat(&state, event, seat, body.user_id).await
}

pub async fn confirm(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    PathParams(path): PathParams<(String, String)>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, AppError> {
    let (event, seat) = event_and_seat(path)?;
    confirm_seat(&state, event, seat, body.user_id, key).await
}

pub async fn unlock(
    State(state): State<AppState>,
    PathParams(path): PathParams<(String, String)>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Json<UnlockReply>, AppError> {
    let (event, seat) = event_and_seat(path)?;
    unlock_seat(&state, event, seat, body.user_id).await
}

/// A seat map of thousands of seats is hundreds of kilobytes of JSON: it is written into a
/// buffer sized for it up front (about 64 bytes a seat) instead of one grown step by step.
pub(super) async fn seat_map(state: &AppState, event: EventId) -> Result<Response, AppError> {
    let seats = state
        .store
        .seat_map(&event)
        .await?
        .ok_or(AppError::EventNotFound)?;
    let mut body = Vec::with_capacity(64 + 64 * seats.len());
    let reply = SeatMapReply {
        event_id: event,
        seats,
    };
    serde_json::to_writer(&mut body, &reply)
        .map_err(|e| AppError::Internal(format!("encoding the seat map: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// 200 for a new lock and for the holder asking again (the lock is not extended).
pub(super) async fn lock_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    user: UserId,
) -> Result<Json<LockReply>, AppError> {
    let lock = state
        .store
        .lock_seat(&event, &seat, &user, state.settings.lock_ttl_ms)
        .await?;
    Ok(Json(LockReply {
        event_id: event,
        seat_id: seat,
        section_id: lock.section_id,
        status: "locked",
        expires_at: lock.expires_at,
    }))
}

pub(super) async fn confirm_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    user: UserId,
    key: Option<IdempotencyKey>,
) -> Result<Response, AppError> {
    let outcome = state
        .store
        .confirm_seat(&event, &seat, &user, key.as_ref())
        .await?;
    Ok(booking_reply(StatusCode::CREATED, outcome))
}

pub(super) async fn unlock_seat(
    state: &AppState,
    event: EventId,
    seat: SeatId,
    user: UserId,
) -> Result<Json<UnlockReply>, AppError> {
    let section_id = state.store.unlock_seat(&event, &seat, &user).await?;
    Ok(Json(UnlockReply {
        event_id: event,
        seat_id: seat,
        section_id,
        status: "available",
    }))
}
