//! `POST /book` (and `POST /bookings`), `GET /bookings`, `GET|DELETE /bookings/{id}`.

use super::page_limit;
use crate::app::AppState;
use crate::domain::booking::BookingView;
use crate::domain::ids::{BookingId, EventId, SectionId, UserId, check_id};
use crate::error::AppError;
use crate::extract::{Idempotency, JsonBody, PathParams, QueryParams};
use crate::store::{BookCommand, BookingFilter, BookingOutcome, BookingPage};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookBody {
    event_id: EventId,
    section_id: SectionId,
    qty: u32,
    #[serde(default)]
    user_id: Option<UserId>,
}

pub async fn book(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<BookBody>,
) -> Result<Response, AppError> {
    let max = state.settings.max_qty_per_booking;
    if !(1..=max).contains(&body.qty) {
        return Err(AppError::InvalidRequest(format!(
            "qty must be an integer from 1 to {max}"
        )));
    }
    let command = BookCommand {
        event_id: body.event_id,
        section_id: body.section_id,
        qty: body.qty,
        user_id: body.user_id.unwrap_or_else(UserId::anonymous),
    };
    let outcome = state.store.book(&command, key.as_ref()).await?;
    Ok(booking_reply(StatusCode::CREATED, outcome))
}

/// A booking just made or cancelled; `Idempotent-Replayed: true` when it is a replay.
pub(super) fn booking_reply(status: StatusCode, outcome: BookingOutcome) -> Response {
    let replayed = outcome.replayed;
    let mut response = (status, Json(outcome.into_view())).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    event_id: Option<String>,
    user_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReply {
    bookings: Vec<BookingView>,
    next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListReply>, AppError> {
    let filter = BookingFilter {
        event_id: query.event_id.map(EventId::parse).transpose()?,
        user_id: query.user_id.map(UserId::parse).transpose()?,
        after: query
            .cursor
            .map(|c| {
                BookingId::parse(&c)
                    .ok_or_else(|| AppError::InvalidRequest("cursor is not valid".into()))
            })
            .transpose()?,
        limit: page_limit(query.limit)?,
    };
    let BookingPage {
        bookings,
        next_cursor,
    } = state.store.list_bookings(&filter).await?;
    Ok(Json(ListReply {
        bookings,
        next_cursor,
    }))
}

/// A booking id from the path: 400 if it is not even an id, 404 if it cannot be one of ours.
fn booking_id(raw: String) -> Result<BookingId, AppError> {
    check_id("bookingId", &raw)?;
    BookingId::parse(&raw).ok_or(AppError::BookingNotFound)
}

pub async fn show(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Json<BookingView>, AppError> {
    let id = booking_id(id)?;
    state
        .store
        .booking_view(&id)
        .await?
        .map(Json)
        .ok_or(AppError::BookingNotFound)
}

pub async fn cancel(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    PathParams(id): PathParams<String>,
) -> Result<Response, AppError> {
    let id = booking_id(id)?;
    let outcome = state.store.cancel_booking(&id, key.as_ref()).await?;
    Ok(booking_reply(StatusCode::OK, outcome))
}
