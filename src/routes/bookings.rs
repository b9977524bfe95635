//! `POST /book` (and `POST /bookings`), `GET /bookings`, `GET|DELETE /bookings/{bookingId}`.

use super::page_limit;
use crate::auth::Caller;
use crate::domain::booking::BookingView;
use crate::domain::ids::{BookingId, EventId, SectionId, UserId, check_id};
use crate::error::AppError;
use crate::extract::{
    AdmissionHeader, AdmissionToken, Idempotency, IdempotencyHeader, JsonBody, PathParams,
    QueryParams, UserQuery,
};
use crate::state::AppState;
use crate::store::{BookCommand, BookingFilter, BookingOutcome, BookingPage};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(book))
        .routes(routes!(list));
    super::alias(router, "/bookings", "/book", "createBooking", book).routes(routes!(show, cancel))
}

crate::error_responses!(BookErrors: InvalidRequest, Unauthenticated, Forbidden, AdmissionRequired, EventNotFound,
    SectionNotFound, InsufficientInventory, UserLimitReached, IdempotencyKeyReused, RateLimited,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable, NotReplicated);
crate::error_responses!(ListErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    StoreUnavailable);
crate::error_responses!(ShowErrors: InvalidRequest, Unauthenticated, BookingNotFound,
    StoreUnavailable);
crate::error_responses!(CancelErrors: InvalidRequest, Unauthenticated, BookingNotFound,
    BookingAlreadyCancelled, IdempotencyKeyReused, RateLimited, StoreUnavailable, NotReplicated);

/// `qty` tickets of one section. On a reserved section, free seats nobody holds are picked.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookBody {
    event_id: EventId,
    section_id: SectionId,
    /// 1 to `MAX_QTY_PER_BOOKING`.
    #[serde(deserialize_with = "crate::domain::whole::deserialize")]
    #[schema(minimum = 1, maximum = 10)]
    qty: u32,
    /// Who books: with a token, the token's user (naming another is 403); in open mode,
    /// default `anonymous`.
    #[serde(default)]
    user_id: Option<UserId>,
}

/// Books `qty` tickets of a section, if that many are left: all or nothing.
#[utoipa::path(post, path = "/book", operation_id = "book", tag = "bookings", params(UserQuery, IdempotencyHeader, AdmissionHeader),
    security(("bearer" = [])),
    request_body = BookBody,
    responses(Booked, BookErrors))]
pub async fn book(
    State(state): State<AppState>,
    caller: Caller,
    Idempotency(key): Idempotency,
    admission: AdmissionToken,
    QueryParams(query): QueryParams<UserQuery>,
    JsonBody(body): JsonBody<BookBody>,
) -> Result<Response, AppError> {
    let max = state.settings.max_qty_per_booking;
    if !(1..=max).contains(&body.qty) {
        return Err(AppError::InvalidRequest(format!(
            "qty must be an integer from 1 to {max}"
        )));
    }
    let user_id = caller.acting(query.user()?.or(body.user_id))?;
    let command = BookCommand {
        admitted: state.admitted(admission.0.as_deref(), &user_id, &body.event_id),
        event_id: body.event_id,
        section_id: body.section_id,
        qty: body.qty,
        user_id,
        role: caller.role_name(),
    };
    let outcome = state.store.book(&command, key.as_ref()).await?;
    Ok(booking_reply(StatusCode::CREATED, outcome, Via::Book))
}

/// The `201` of every route that books, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[response(status = 201, description = "Booked; `remaining` is the section's count right after",
    headers(("Idempotent-Replayed" = String, description = "`true` when this replays an earlier answer")))]
#[allow(dead_code)] // documentation only: `booking_reply` writes the answer
pub(super) struct Booked(BookingView);

/// What made or changed a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Book,
    Confirm,
    Cancel,
}

/// A booking just made or cancelled; `Idempotent-Replayed: true` when it is a replay.
pub(super) fn booking_reply(status: StatusCode, outcome: BookingOutcome, via: Via) -> Response {
    let replayed = outcome.replayed;
    if !replayed {
        match via {
            Via::Book | Via::Confirm => {
                let via = if via == Via::Book { "book" } else { "confirm" };
                metrics::counter!("boxoffice_bookings_total", "via" => via).increment(1);
                metrics::counter!("boxoffice_tickets_booked_total", "via" => via)
                    .increment(u64::from(outcome.booking.qty));
            }
            Via::Cancel => metrics::counter!("boxoffice_cancellations_total").increment(1),
        }
    }
    let mut response = (status, Json(outcome.into_view())).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this event's bookings.
    #[param(value_type = Option<EventId>)]
    event_id: Option<String>,
    /// Only this user's bookings. A buyer sees only their own (naming another is 403).
    #[param(value_type = Option<UserId>)]
    user_id: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The previous page's `nextCursor`.
    #[param(value_type = Option<String>, format = Uuid)]
    cursor: Option<String>,
}

/// A page of bookings.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListReply {
    bookings: Vec<BookingView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Bookings with `eventName` and `sectionName`, oldest first, `limit` (default 50) at a time:
/// a buyer's own; an organizer's view is every booking of the events they manage (any user's,
/// or `userId`'s); admins see every booking.
#[utoipa::path(get, path = "/bookings", operation_id = "listBookings", tag = "bookings", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of bookings", body = ListReply), ListErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListReply>, AppError> {
    // Every parameter is checked before who may see what: a malformed request is a 400.
    let named = query.user_id.map(UserId::parse).transpose()?;
    let event_id = query.event_id.map(EventId::parse).transpose()?;
    let limit = page_limit(query.limit)?;
    let after = query
        .cursor
        .map(|c| {
            Uuid::try_parse(&c)
                .map_err(|_| AppError::InvalidRequest("cursor must be a booking id".into()))
        })
        .transpose()?;
    let actor = caller.actor();
    let (user_id, managed_by) = match (actor.role, &event_id) {
        ("admin" | "open", _) => (named, None),
        ("organizer", Some(event)) if state.store.manages(event, &actor).await? => (named, None),
        ("organizer", None) => (named, caller.user().cloned()),
        _ => (Some(caller.acting(named)?), None),
    };
    let filter = BookingFilter {
        managed_by,
        event_id,
        user_id,
        after,
        limit,
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

/// One booking: the caller's own, or any of an event the caller manages (its organizers,
/// admins); anyone else's is 404.
#[utoipa::path(get, path = "/bookings/{bookingId}", operation_id = "getBooking", tag = "bookings", security(("bearer" = [])),
    params(("bookingId" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$",
        description = "A booking id (a UUID)")),
    responses((status = 200, description = "The booking", body = BookingView), ShowErrors))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<BookingView>, AppError> {
    let id = booking_id(id)?;
    let view = state
        .store
        .booking_view(&id)
        .await?
        .ok_or(AppError::BookingNotFound)?;
    if caller.user().is_some_and(|user| user == &view.user_id)
        || state.store.manages(&view.event_id, &caller.actor()).await?
    {
        return Ok(Json(view));
    }
    Err(AppError::BookingNotFound)
}

/// Cancels a booking: its tickets (and seats) go back on sale, exactly once. Its user, or
/// whoever manages its event (its organizers, admins), may; anyone else gets 404.
#[utoipa::path(delete, path = "/bookings/{bookingId}", operation_id = "cancelBooking", tag = "bookings", security(("bearer" = [])),
    params(("bookingId" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$",
        description = "A booking id (a UUID)"), IdempotencyHeader),
    responses(
        (status = 200, description = "Cancelled; `remaining` is the section's count right after",
            body = BookingView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this replays an earlier answer"))),
        CancelErrors,
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Idempotency(key): Idempotency,
    PathParams(id): PathParams<String>,
) -> Result<Response, AppError> {
    let id = booking_id(id)?;
    let outcome = state
        .store
        .cancel_booking(&id, key.as_ref(), &caller.actor(), caller.user())
        .await?;
    Ok(booking_reply(StatusCode::OK, outcome, Via::Cancel))
}
