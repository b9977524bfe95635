//! `POST /events` (and the seed route `POST /events/create`), `GET /events`,
//! `GET /events/{eventId}`.

use crate::auth::{Caller, Role};
use crate::domain::event::{EventSummary, EventView, NewEvent};
use crate::domain::ids::EventId;
use crate::domain::time::now_ms;
use crate::error::AppError;
use crate::extract::{Ids, JsonBody, QueryParams};
use crate::state::AppState;
use crate::store::Conditional;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new().routes(routes!(create, list));
    super::alias(
        router,
        "/events/create",
        "/events",
        "createEventSeed",
        create,
    )
    .routes(routes!(show))
}

crate::error_responses!(CreateErrors: InvalidRequest, Unauthenticated, Forbidden, RateLimited,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(ListErrors: InvalidRequest, StoreUnavailable);
crate::error_responses!(ShowErrors: InvalidRequest, EventNotFound, StoreUnavailable);

/// Creates an event with its sections; section ids are `s1`, `s2`, ... in the order given.
/// Needs the `organizer` (or `admin`) role.
#[utoipa::path(post, path = "/events", operation_id = "createEvent", tag = "events", security(("bearer" = [])),
    request_body = NewEvent,
    responses(
        (status = 201, description = "Created", body = EventView,
            headers(("Location" = String, description = "The event's URL"))),
        CreateErrors,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewEvent>,
) -> Result<Response, AppError> {
    // No per-user rate limit: organizers are trusted staff who may create many events at
    // once (RATE_LIMIT_PER_IP still applies).
    caller.require(Role::Organizer)?;
    let id = EventId::parse(Uuid::now_v7().to_string())?;
    let record = body
        .into_record(id, now_ms())
        .map_err(AppError::InvalidRequest)?;
    if record.waiting_room.as_ref().is_some_and(|r| r.enabled) {
        state.admissions()?;
    }
    if !state.store.create_event(&record, caller.user()).await? {
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The previous page's `nextCursor`.
    #[param(value_type = Option<EventId>)]
    cursor: Option<String>,
}

/// A page of events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    events: Vec<EventSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Events in creation order, `limit` (default 50, at most 100) at a time, as summaries: each
/// section's counts, no seat ids (`GET /events/{eventId}` and the seat maps have those).
#[utoipa::path(get, path = "/events", operation_id = "listEvents", tag = "events", params(ListQuery),
    responses((status = 200, description = "A page of events", body = EventPage), ListErrors))]
pub async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<EventPage>, AppError> {
    let limit = super::page_limit_of(query.limit, super::MAX_EVENTS_PAGE)?;
    let after = query.cursor.map(EventId::parse).transpose()?;
    let (events, next_cursor) = state.store.list_events(after.as_ref(), limit).await?;
    Ok(Json(EventPage {
        events,
        next_cursor,
    }))
}

/// One event with its sections and their live `remaining` counts. With `If-None-Match`
/// naming its current `ETag`: `304` and no body.
#[utoipa::path(get, path = "/events/{eventId}", operation_id = "getEvent", tag = "events",
    params(("eventId" = EventId, Path),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer"),
        ("Cache-Control" = Option<String>, Header, description = "`no-cache`: read Redis, not this replica's read view")),
    responses((status = 200, description = "The event", body = EventView,
        headers(("ETag" = String, description = "`\"<version>-<locks>-<holds>\"`: the event's version this shows (and expired locks and holds); changes whenever what this shows changes"),
        ("X-Read-Source" = String, description = "`view`: this replica's read view (a change behind at most its delivery time); `redis`: read in Redis"))),
        NotModified, ShowErrors))]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ids(event_id): Ids<EventId>,
) -> Result<Response, AppError> {
    let (answer, source) = state
        .views
        .event(&event_id, &if_none_match(&headers), no_cache(&headers))
        .await?;
    let mut response = match answer {
        Conditional::NotModified(tag) => not_modified(&tag),
        Conditional::Fresh { tag, data } => ([(header::ETAG, tag)], Json(data)).into_response(),
    };
    read_source(&mut response, source);
    Ok(response)
}

/// Whether the request asks for an answer from Redis, not from this replica's view
/// (`Cache-Control: no-cache`, RFC 9111).
pub(super) fn no_cache(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"))
}

/// Says where a read's answer came from: `X-Read-Source: view` (this replica's read view, see
/// `crate::views`) or `redis`.
pub(super) fn read_source(response: &mut Response, source: crate::views::Source) {
    response.headers_mut().insert(
        "x-read-source",
        header::HeaderValue::from_static(source.as_str()),
    );
}

/// Every `If-None-Match` the request carries, as one list (the read scripts match it).
pub(super) fn if_none_match(headers: &HeaderMap) -> String {
    let values: Vec<&str> = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.join(",")
}

/// `304 Not Modified` with the current tag.
pub(super) fn not_modified(tag: &str) -> Response {
    (StatusCode::NOT_MODIFIED, [(header::ETAG, tag.to_owned())]).into_response()
}

/// The `304` of the routes that answer `If-None-Match`, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[response(status = 304, description = "Unchanged since the `ETag` sent",
    headers(("ETag" = String, description = "The current `ETag`"),
        ("X-Read-Source" = String, description = "`view` or `redis`, as for a `200`")))]
pub(super) struct NotModified;
