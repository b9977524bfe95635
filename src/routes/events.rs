//! `POST /events`, `GET /events`, `GET /events/{eventId}`.

use super::page_limit;
use crate::app::AppState;
use crate::domain::event::{EventView, NewEvent};
use crate::domain::ids::EventId;
use crate::domain::time::now_ms;
use crate::error::AppError;
use crate::extract::{JsonBody, PathParams, QueryParams};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewEvent>,
) -> Result<Response, AppError> {
    let id = EventId::parse(Uuid::now_v7().to_string())?;
    let record = body
        .into_record(id, now_ms())
        .map_err(AppError::InvalidRequest)?;
    if !state.store.create_event(&record).await? {
        return Err(AppError::Internal(format!("event id {} taken", record.id)));
    }
    let location = format!("/events/{}", record.id);
    let remaining: HashMap<_, _> = record
        .sections
        .iter()
        .map(|s| (s.id.clone(), i64::from(s.capacity)))
        .collect();
    let view = EventView::new(record, &remaining);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    events: Vec<EventView>,
    next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<EventPage>, AppError> {
    let limit = page_limit(query.limit)?;
    let after = query.cursor.map(EventId::parse).transpose()?;
    let (events, next_cursor) = state.store.list_events(after.as_ref(), limit).await?;
    Ok(Json(EventPage {
        events,
        next_cursor,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    PathParams(event_id): PathParams<String>,
) -> Result<Json<EventView>, AppError> {
    let event_id = EventId::parse(event_id)?;
    state
        .store
        .event(&event_id)
        .await?
        .map(Json)
        .ok_or(AppError::EventNotFound)
}
