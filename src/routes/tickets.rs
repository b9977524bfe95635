//! Tickets and check-in (docs/tickets.md): `GET /bookings/{bookingId}/tickets`, `GET
//! /bookings/{bookingId}/tickets/{ticketId}/qr.svg`, `GET /tickets/keys`, `POST
//! /events/{eventId}/checkins`, `POST /events/{eventId}/checkins/batch`, `GET
//! /events/{eventId}/checkins/revoked`, `GET /events/{eventId}/checkins/stats`.
//!
//! A code is verified here, with the replica's keys, before Redis is asked anything: a forged,
//! altered or foreign code is answered `invalid` (or `wrong_event`) without a Redis call.

use crate::auth::Caller;
use crate::domain::booking::{BookingRecord, BookingStatus};
use crate::domain::ids::{BookingId, EventId, ID_PATTERN};
use crate::domain::role::Role;
use crate::domain::ticket::{
    self, CheckinResult, ScanAnswer, ScannedTicket, TicketClaims, TicketView,
};
use crate::domain::time::parse_rfc3339_ms;
use crate::error::AppError;
use crate::extract::{Ids, JsonBody, QueryParams};
use crate::state::AppState;
use crate::store::Scan;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(qr))
        .routes(routes!(keys))
        .routes(routes!(check_in))
        .routes(routes!(check_in_batch))
        .routes(routes!(revoked))
        .routes(routes!(stats))
}

crate::error_responses!(TicketsErrors: Unauthenticated, BookingNotFound, StoreUnavailable);
crate::error_responses!(QrErrors: Unauthenticated, BookingNotFound, TicketNotFound, StoreUnavailable);
crate::error_responses!(CheckinErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(KeysErrors: HeadersTooLarge);
crate::error_responses!(ReadErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    StoreUnavailable);

/// Scans in one batch, at most.
const MAX_BATCH: usize = 1000;
/// The largest `since`: versions are counters far below it, and clients in JavaScript read
/// integers up to it exactly.
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
/// Revoked tickets listed per answer, at most.
const MAX_REVOKED: usize = 10_000;

/// A booking id in a path: not one of ours, no such booking.
fn booking_id(raw: &str) -> Result<BookingId, AppError> {
    BookingId::parse(raw).ok_or(AppError::BookingNotFound)
}

/// The booking's tickets: one per seat, or one per unit of general admission.
fn tickets_of(state: &AppState, booking: &BookingRecord) -> Result<Vec<TicketView>, AppError> {
    let booking_uuid = *booking.id.as_uuid();
    (1..=booking.qty)
        .map(|n| {
            let number = u16::try_from(n)
                .map_err(|_| AppError::Internal("a booking of more than 65535 tickets".into()))?;
            let seat = booking
                .seats
                .get(usize::from(number) - 1)
                .map(ToString::to_string);
            let claims = TicketClaims {
                booking_id: booking_uuid,
                number,
                event_id: booking.event_id.to_string(),
                section_id: booking.section_id.to_string(),
                seat: seat.clone(),
            };
            Ok(TicketView {
                id: claims.ticket_id(),
                booking_id: booking.id.to_string(),
                event_id: booking.event_id.to_string(),
                section_id: booking.section_id.to_string(),
                seat,
                code: state.tickets.sign(&claims).map_err(AppError::Internal)?,
            })
        })
        .collect()
}

/// The booking, if the caller may see its tickets: its user, staff, whoever manages its
/// event. A cancelled booking has no tickets to show (they are revoked).
async fn visible_booking(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<BookingRecord, AppError> {
    let booking = state
        .store
        .booking_for_tickets(&booking_id(raw)?)
        .await?
        .ok_or(AppError::BookingNotFound)?;
    let visible = caller.user().is_some_and(|user| user == &booking.user_id)
        || caller.role_name() == Role::Staff.as_str()
        || state
            .store
            .manages(&booking.event_id, &caller.actor())
            .await?;
    if !visible {
        return Err(AppError::BookingNotFound);
    }
    Ok(booking)
}

/// `GET /bookings/{bookingId}/tickets`.
#[derive(Serialize, ToSchema)]
pub struct TicketList {
    /// Empty for a cancelled booking: its tickets are revoked.
    tickets: Vec<TicketView>,
}

/// A booking's tickets with their signed codes: its user's, or anyone's for staff and for
/// whoever manages its event. The codes are the same on every call.
#[utoipa::path(get, path = "/bookings/{bookingId}/tickets", operation_id = "listTickets",
    tag = "tickets", security(("bearer" = [])),
    params(("bookingId" = String, Path, format = Uuid)),
    responses((status = 200, description = "The tickets", body = TicketList), TicketsErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<String>,
) -> Result<Json<TicketList>, AppError> {
    let booking = visible_booking(&state, &caller, &id).await?;
    let tickets = if booking.status == BookingStatus::Confirmed {
        tickets_of(&state, &booking)?
    } else {
        Vec::new()
    };
    Ok(Json(TicketList { tickets }))
}

/// One ticket's code as a QR code (SVG), for a phone to show at the door.
#[utoipa::path(get, path = "/bookings/{bookingId}/tickets/{ticketId}/qr.svg", operation_id = "ticketQr",
    tag = "tickets", security(("bearer" = [])),
    params(("bookingId" = String, Path, format = Uuid),
        ("ticketId" = String, Path, description = "`<bookingId>.<n>`")),
    responses((status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        QrErrors))]
pub async fn qr(
    State(state): State<AppState>,
    caller: Caller,
    Ids((booking, ticket)): Ids<(String, String)>,
) -> Result<Response, AppError> {
    let booking = visible_booking(&state, &caller, &booking).await?;
    if booking.status != BookingStatus::Confirmed {
        return Err(AppError::TicketNotFound);
    }
    let ticket = tickets_of(&state, &booking)?
        .into_iter()
        .find(|t| t.id == ticket)
        .ok_or(AppError::TicketNotFound)?;
    let svg = ticket::qr_svg(&ticket.code).map_err(AppError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

/// `GET /tickets/keys`: a JWK Set (RFC 7517) of Ed25519 keys (RFC 8037).
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    /// The signing key first, then retired keys whose codes still verify.
    #[schema(value_type = Vec<Object>, example = json!([{"kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "pZTIaQ", "alg": "EdDSA", "use": "sig"}]))]
    keys: Vec<serde_json::Value>,
}

/// The public keys ticket codes are signed with: a scanner that has them verifies codes
/// offline (`kid` names the key in every code). No token needed.
#[utoipa::path(get, path = "/tickets/keys", operation_id = "ticketKeys", tag = "tickets",
    responses((status = 200, description = "The keys", body = Jwks), KeysErrors))]
pub async fn keys(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.tickets.jwks()),
    )
        .into_response()
}

/// One scan.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanBody {
    /// The ticket's code, as its QR code holds it.
    #[schema(max_length = 512, min_length = 1)]
    code: String,
    /// Which scanner (door, device) scanned it.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "door-1")]
    scanner_id: String,
    /// The scanner's id for this scan: the same scan sent again (a retry after a timeout, a
    /// batch uploaded twice) gets the same answer and changes nothing.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "9f8c2a")]
    nonce: String,
    /// When the scanner scanned it (RFC 3339), for scans uploaded later.
    #[schema(value_type = Option<String>, format = DateTime)]
    scanned_at: Option<String>,
}

fn check_name(field: &str, value: &str) -> Result<(), AppError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidRequest(format!(
            "{field} must match {ID_PATTERN}"
        )))
    }
}

/// The scan checked as input (a 400 for a malformed one).
fn checked(scan: &ScanBody, at: &str) -> Result<Option<i64>, AppError> {
    check_name(&format!("{at}scannerId"), &scan.scanner_id)?;
    check_name(&format!("{at}nonce"), &scan.nonce)?;
    if scan.code.is_empty() || scan.code.len() > 512 {
        return Err(AppError::InvalidRequest(format!(
            "{at}code must be 1 to 512 characters"
        )));
    }
    scan.scanned_at
        .as_deref()
        .map(|t| {
            parse_rfc3339_ms(t).ok_or_else(|| {
                AppError::InvalidRequest(format!("{at}scannedAt must be an RFC 3339 time"))
            })
        })
        .transpose()
}

/// The scan for the script, or the answer it gets without Redis.
fn prepare(
    state: &AppState,
    event: &EventId,
    scan: &ScanBody,
    scanned_at: Option<i64>,
) -> Result<Scan, Box<ScanAnswer>> {
    let claims = state.tickets.verify(&scan.code).map_err(|invalid| {
        Box::new(ScanAnswer::refused(
            CheckinResult::Invalid,
            invalid.reason(),
            None,
        ))
    })?;
    let ticket = ScannedTicket {
        id: claims.ticket_id(),
        booking_id: claims.booking_id.hyphenated().to_string(),
        section_id: claims.section_id.clone(),
        seat: claims.seat.clone(),
    };
    if claims.event_id != event.as_str() {
        return Err(Box::new(ScanAnswer::refused(
            CheckinResult::WrongEvent,
            &format!("a ticket of event {}", claims.event_id),
            Some(ticket),
        )));
    }
    Ok(Scan {
        ticket_id: ticket.id,
        booking_id: ticket.booking_id,
        number: claims.number,
        section_id: claims.section_id,
        seat: claims.seat,
        scanner_id: scan.scanner_id.clone(),
        nonce: scan.nonce.clone(),
        scanned_at,
    })
}

/// Staff, admins and (for their events) organizers scan; in open mode anyone.
async fn require_scanner(
    state: &AppState,
    caller: &Caller,
    event: &EventId,
) -> Result<(), AppError> {
    caller.require(Role::Staff)?;
    if caller.role_name() == "organizer" && !state.store.manages(event, &caller.actor()).await? {
        return Err(AppError::Forbidden(
            "organizers check in only at events they manage".into(),
        ));
    }
    Ok(())
}

/// Every scan checked as input (a 400 naming the first bad field): their `scannedAt`s.
fn checked_all(scans: &[ScanBody]) -> Result<Vec<Option<i64>>, AppError> {
    scans
        .iter()
        .enumerate()
        .map(|(i, scan)| {
            let at = if scans.len() == 1 {
                String::new()
            } else {
                format!("scans[{i}].")
            };
            checked(scan, &at)
        })
        .collect()
}

/// Scans checked as input first (a malformed one is a 400 whoever sends it), then who may
/// scan, then applied.
async fn scanned(
    state: &AppState,
    caller: &Caller,
    event: &EventId,
    scans: &[ScanBody],
) -> Result<Vec<ScanAnswer>, AppError> {
    let scanned_at = checked_all(scans)?;
    require_scanner(state, caller, event).await?;
    apply(state, event, scans, &scanned_at).await
}

/// The answers to `scans` (checked by [`checked_all`]), in order: invalid and foreign codes
/// answered here, the rest by one script call.
async fn apply(
    state: &AppState,
    event: &EventId,
    scans: &[ScanBody],
    scanned_at: &[Option<i64>],
) -> Result<Vec<ScanAnswer>, AppError> {
    let mut answers: Vec<Option<ScanAnswer>> = Vec::with_capacity(scans.len());
    let mut valid = Vec::new();
    for (scan, scanned_at) in scans.iter().zip(scanned_at) {
        match prepare(state, event, scan, *scanned_at) {
            Ok(scan) => {
                valid.push(scan);
                answers.push(None);
            }
            Err(answer) => answers.push(Some(*answer)),
        }
    }
    if valid.is_empty() {
        // Nothing to record; the event must still exist.
        state.store.require_event(event).await?;
    } else {
        let mut applied = state.store.check_in(event, &valid).await?.into_iter();
        for answer in answers.iter_mut().filter(|a| a.is_none()) {
            *answer = applied.next();
        }
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| AppError::Internal("the check-in script answered too few".into())))
        .collect()
}

/// Checks a ticket in, exactly once across every door and replica: `ok` for the first scan
/// of a ticket, `already_redeemed` (with the first check-in) for every later one, `revoked`
/// for a cancelled booking's ticket, `wrong_event` for another event's, `invalid` for a code
/// that does not verify (answered without Redis). The answer is 200 whatever the result; a
/// scan sent again with the same `scannerId` and `nonce` gets the same answer.
#[utoipa::path(post, path = "/events/{eventId}/checkins", operation_id = "checkIn", tag = "tickets",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path)),
    request_body = ScanBody,
    responses((status = 200, description = "The scan's result", body = ScanAnswer), CheckinErrors))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
    JsonBody(scan): JsonBody<ScanBody>,
) -> Result<Json<ScanAnswer>, AppError> {
    let answer = scanned(&state, &caller, &event, std::slice::from_ref(&scan))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal("no answer to a scan".into()))?;
    Ok(Json(answer))
}

/// `POST /events/{eventId}/checkins/batch`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchBody {
    /// What a scanner accepted while offline, in the order it scanned (at most 1000).
    #[schema(max_items = 1000, min_items = 1)]
    scans: Vec<ScanBody>,
}

/// A ticket that more than one scanner let in: the check-in that counts, and this scan.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    ticket_id: String,
    first_checkin: crate::domain::ticket::Checkin,
    scan: crate::domain::ticket::Checkin,
}

#[derive(Serialize, ToSchema)]
pub struct BatchAnswer {
    /// One answer per scan, in order.
    answers: Vec<ScanAnswer>,
    /// The scans of this batch whose ticket another scanner had checked in first: both
    /// admitted someone, offline.
    conflicts: Vec<Conflict>,
}

/// Uploads the scans an offline scanner accepted: each applied as `POST
/// /events/{eventId}/checkins` is, in order, in one step. The same batch uploaded again
/// changes nothing and gets the same answers.
#[utoipa::path(post, path = "/events/{eventId}/checkins/batch", operation_id = "checkInBatch",
    tag = "tickets", security(("bearer" = [])),
    params(("eventId" = EventId, Path)),
    request_body = BatchBody,
    responses((status = 200, description = "One answer per scan", body = BatchAnswer), CheckinErrors))]
pub async fn check_in_batch(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
    JsonBody(batch): JsonBody<BatchBody>,
) -> Result<Json<BatchAnswer>, AppError> {
    if batch.scans.is_empty() || batch.scans.len() > MAX_BATCH {
        return Err(AppError::InvalidRequest(format!(
            "scans: 1 to {MAX_BATCH} scans"
        )));
    }
    let answers = scanned(&state, &caller, &event, &batch.scans).await?;
    let conflicts = answers
        .iter()
        .filter(|a| a.result == CheckinResult::AlreadyRedeemed)
        .filter_map(|a| {
            let (ticket, first, scan) = (
                a.ticket.as_ref()?,
                a.first_checkin.as_ref()?,
                a.scan.as_ref()?,
            );
            (first.scanner_id != scan.scanner_id).then(|| Conflict {
                ticket_id: ticket.id.clone(),
                first_checkin: first.clone(),
                scan: scan.clone(),
            })
        })
        .collect();
    Ok(Json(BatchAnswer { answers, conflicts }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevokedQuery {
    /// Only tickets revoked after this version (the `version` of the last answer; 0: all).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    since: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedTicket {
    ticket_id: String,
    /// The event version that revoked it.
    version: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedList {
    /// The event's version as of this answer: ask with `since` = it next time (when `more`
    /// is false).
    version: u64,
    revoked: Vec<RevokedTicket>,
    /// More than 10,000: ask again with `since` = the last one's version.
    more: bool,
}

/// Tickets revoked (their booking cancelled) since a version: what an offline scanner must
/// refuse.
#[utoipa::path(get, path = "/events/{eventId}/checkins/revoked", operation_id = "revokedTickets",
    tag = "tickets", security(("bearer" = [])),
    params(("eventId" = EventId, Path), RevokedQuery),
    responses((status = 200, description = "Revoked tickets", body = RevokedList), ReadErrors))]
pub async fn revoked(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
    QueryParams(query): QueryParams<RevokedQuery>,
) -> Result<Json<RevokedList>, AppError> {
    let since = match query.since {
        None => 0,
        Some(since @ 0..=MAX_SAFE_INTEGER) => since.unsigned_abs(),
        Some(_) => {
            return Err(AppError::InvalidRequest(format!(
                "since must be 0 to {MAX_SAFE_INTEGER}"
            )));
        }
    };
    require_scanner(&state, &caller, &event).await?;
    let listed = state
        .store
        .revoked_tickets(&event, since, MAX_REVOKED)
        .await?;
    Ok(Json(RevokedList {
        version: listed.version,
        revoked: listed
            .tickets
            .into_iter()
            .map(|(ticket_id, version)| RevokedTicket { ticket_id, version })
            .collect(),
        more: listed.more,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionCheckins {
    section_id: String,
    checked_in: u64,
    /// Tickets in confirmed bookings.
    sold: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckinStats {
    sections: Vec<SectionCheckins>,
    checked_in: u64,
    sold: u64,
}

/// Tickets checked in and sold, per section and in all.
#[utoipa::path(get, path = "/events/{eventId}/checkins/stats", operation_id = "checkinStats",
    tag = "tickets", security(("bearer" = [])),
    params(("eventId" = EventId, Path)),
    responses((status = 200, description = "Counts", body = CheckinStats), ReadErrors))]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Ids(event): Ids<EventId>,
) -> Result<Json<CheckinStats>, AppError> {
    require_scanner(&state, &caller, &event).await?;
    let counts = state.store.checkin_counts(&event).await?;
    let sections: Vec<SectionCheckins> = counts
        .into_iter()
        .map(|(section_id, (checked_in, sold))| SectionCheckins {
            section_id,
            checked_in,
            sold,
        })
        .collect();
    Ok(Json(CheckinStats {
        checked_in: sections.iter().map(|s| s.checked_in).sum(),
        sold: sections.iter().map(|s| s.sold).sum(),
        sections,
    }))
}
