//! Every error code a client can see, its HTTP status and when it happens: one table, from
//! which the API's answers ([`super::AppError`]), the OpenAPI error schema, the mapping of the
//! Lua scripts' refusals and the checks on `nginx/nginx.conf` and the API guide (docs/api.md) all come. A code
//! spelled differently anywhere else fails a unit test, not a request in production.

use axum::http::StatusCode;
use std::fmt;
use std::str::FromStr;

/// Who answers with a code: the service itself, or nginx in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    Nginx,
}

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, $status:ident, $origin:ident; )+) => {
        /// An error code, as it appears in `{"error": {"code": ...}}`.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
        )]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ #[serde(rename = $code)] $variant, )+
        }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)+ }
            }

            pub const fn origin(self) -> Origin {
                match self { $(ErrorCode::$variant => Origin::$origin,)+ }
            }

            /// When it happens, in a sentence (the OpenAPI document and docs/api.md say the same).
            pub fn when(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!($($doc),+).trim_ascii(),)+ }
            }
        }

        impl FromStr for ErrorCode {
            type Err = UnknownCode;
            fn from_str(code: &str) -> Result<Self, UnknownCode> {
                match code {
                    $($code => Ok(ErrorCode::$variant),)+
                    _ => Err(UnknownCode(code.to_owned())),
                }
            }
        }
    };
}

error_codes! {
    /// Malformed JSON; a missing or wrong-typed field; a value out of its range; an id not
    /// matching `[A-Za-z0-9_-]{1,64}`.
    InvalidRequest = "INVALID_REQUEST", BAD_REQUEST, Api;
    /// No token, or one that is malformed, expired, not valid yet, badly signed, signed with
    /// an algorithm no configured key has, or for another audience or issuer; with
    /// `WWW-Authenticate: Bearer`.
    Unauthenticated = "UNAUTHENTICATED", UNAUTHORIZED, Api;
    /// The token's user may not do this: act as another user (`userId` or `?user=` that is not
    /// the token's `sub`), or do what needs another role (creating events needs `organizer`).
    Forbidden = "FORBIDDEN", FORBIDDEN, Api;
    /// Confirm or unlock of a seat somebody else holds.
    LockNotOwned = "LOCK_NOT_OWNED", FORBIDDEN, Api;
    /// The event's waiting room is on: booking, holding or locking needs a live admission, sent
    /// as `Admission-Token` (from `POST /events/{eventId}/queue`); none was sent, or it is for
    /// another user or event, expired, or already used by a booking.
    AdmissionRequired = "ADMISSION_REQUIRED", FORBIDDEN, Api;
    /// No such event.
    EventNotFound = "EVENT_NOT_FOUND", NOT_FOUND, Api;
    /// No such section in this event.
    SectionNotFound = "SECTION_NOT_FOUND", NOT_FOUND, Api;
    /// No such seat in this event.
    SeatNotFound = "SEAT_NOT_FOUND", NOT_FOUND, Api;
    /// No such booking.
    BookingNotFound = "BOOKING_NOT_FOUND", NOT_FOUND, Api;
    /// No such order, or one the caller may not see (another buyer's).
    OrderNotFound = "ORDER_NOT_FOUND", NOT_FOUND, Api;
    /// No such webhook endpoint, or one the caller may not manage (another organizer's).
    WebhookNotFound = "WEBHOOK_NOT_FOUND", NOT_FOUND, Api;
    /// No such ticket in this booking (or its booking was cancelled: its tickets are revoked).
    TicketNotFound = "TICKET_NOT_FOUND", NOT_FOUND, Api;
    /// No such message kept for this webhook endpoint (never sent to it, or past
    /// WEBHOOK_RETENTION_S).
    MessageNotFound = "MESSAGE_NOT_FOUND", NOT_FOUND, Api;
    /// The event requires payment: buyers book through an order (`POST
    /// /events/{eventId}/holds/{holdId}/order`) and pay it; only whoever manages the event
    /// books directly.
    PaymentRequired = "PAYMENT_REQUIRED", PAYMENT_REQUIRED, Api;
    /// A payment webhook whose `Stripe-Signature` is missing, malformed, not made with
    /// `STRIPE_WEBHOOK_SECRET`, or more than 300 s old; nothing changed.
    InvalidSignature = "INVALID_SIGNATURE", BAD_REQUEST, Api;
    /// No such hold for this user: never made, someone else's, released, confirmed, or
    /// expired (a confirm of an expired hold is `HOLD_EXPIRED`).
    HoldNotFound = "HOLD_NOT_FOUND", NOT_FOUND, Api;
    /// No such place in this event's waiting room for this user.
    QueueTicketNotFound = "QUEUE_TICKET_NOT_FOUND", NOT_FOUND, Api;
    /// No such route.
    RouteNotFound = "ROUTE_NOT_FOUND", NOT_FOUND, Api;
    /// The route exists, the method does not (the `Allow` header lists those that do).
    MethodNotAllowed = "METHOD_NOT_ALLOWED", METHOD_NOT_ALLOWED, Api;
    /// Fewer left than asked; details `remaining`, `requested` (and `unlocked` on reserved
    /// sections where some of the remaining seats are held).
    InsufficientInventory = "INSUFFICIENT_INVENTORY", CONFLICT, Api;
    /// The seat is sold; for a hold, detail `seats`: those of its seats that are.
    SeatBooked = "SEAT_BOOKED", CONFLICT, Api;
    /// Confirm or unlock of a seat nobody holds, including after the lock expired.
    SeatNotLocked = "SEAT_NOT_LOCKED", CONFLICT, Api;
    /// Joining the waiting room of an event that has none switched on.
    WaitingRoomOff = "WAITING_ROOM_OFF", CONFLICT, Api;
    /// A second cancel of the same booking.
    BookingAlreadyCancelled = "BOOKING_ALREADY_CANCELLED", CONFLICT, Api;
    /// Cancel of a booking an order paid for: cancel the order (`DELETE /orders/{orderId}`),
    /// which says what is owed back.
    BookingHasOrder = "BOOKING_HAS_ORDER", CONFLICT, Api;
    /// Cancel of an order that is expired, cancelled or waiting for a refund; or, by its
    /// buyer, of a paid order after the event's `cancellableUntil` (or on an event without one).
    OrderNotCancellable = "ORDER_NOT_CANCELLABLE", CONFLICT, Api;
    /// A hold asked for `qty` seats together, and no row has that many free side by side
    /// (fewer may be free in all: `INSUFFICIENT_INVENTORY` then); detail `requested`.
    NoAdjacentSeats = "NO_ADJACENT_SEATS", CONFLICT, Api;
    /// Confirm or extend of a hold whose time ran out; its seats or tickets are free again.
    HoldExpired = "HOLD_EXPIRED", CONFLICT, Api;
    /// The hold was extended `HOLD_MAX_EXTENSIONS` times, or reached `HOLD_MAX_LIFETIME_MS`
    /// after it was made.
    HoldExtensionLimit = "HOLD_EXTENSION_LIMIT", CONFLICT, Api;
    /// The user would hold (live seat locks) plus have booked more than the event's or the
    /// section's `maxPerUser`, or hold more than `MAX_LOCKS_PER_USER` live locks in the event;
    /// details `limit`, `current`.
    UserLimitReached = "USER_LIMIT_REACHED", CONFLICT, Api;
    /// The request head did not arrive within `HTTP_HEADER_TIMEOUT_MS`, or the body sent nothing
    /// for `HTTP_BODY_TIMEOUT_MS` (nginx: `client_header_timeout`, `client_body_timeout`).
    RequestTimeout = "REQUEST_TIMEOUT", REQUEST_TIMEOUT, Api;
    /// A body over 64 KiB.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", PAYLOAD_TOO_LARGE, Api;
    /// The request's headers are larger than 16 KiB in all (nginx: a header line over 8 KiB).
    HeadersTooLarge = "HEADERS_TOO_LARGE", REQUEST_HEADER_FIELDS_TOO_LARGE, Api;
    /// A non-empty body that is not `application/json`.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA_TYPE, Api;
    /// An `Idempotency-Key` sent again with a different request.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", UNPROCESSABLE_ENTITY, Api;
    /// A lock attempt on a seat another user holds; detail `lockExpiresAt` (never who); for
    /// a hold, also `seats`: those of its seats that others hold.
    SeatLocked = "SEAT_LOCKED", LOCKED, Api;
    /// More writes per second than `RATE_LIMIT_PER_USER` or `RATE_LIMIT_PER_IP` allow, counted
    /// across all replicas; or more open streams than `STREAM_MAX_PER_CLIENT` or `STREAM_MAX_PER_REPLICA`; with
    /// `Retry-After` (seconds) and detail `retryAfterMs`.
    RateLimited = "RATE_LIMITED", TOO_MANY_REQUESTS, Api;
    /// A bug: the answer is logged with its cause. Never expected.
    Internal = "INTERNAL", INTERNAL_SERVER_ERROR, Api;
    /// Redis cannot be reached or used in time; with `Retry-After: 1`. For a write the
    /// outcome is unknown: retry with the same `Idempotency-Key`.
    StoreUnavailable = "STORE_UNAVAILABLE", SERVICE_UNAVAILABLE, Api;
    /// This replica has `HTTP_MAX_CONNECTIONS` connections open; the new connection is closed
    /// after this answer, with `Retry-After: 1`.
    Overloaded = "OVERLOADED", SERVICE_UNAVAILABLE, Api;
    /// `REDIS_MIN_REPLICAS_ACK` is set and the booking was made on the Redis primary, but
    /// fewer replicas confirmed it in time; detail `bookingId`. It is lost only if the primary
    /// fails before replicating it: `GET /bookings/{bookingId}`, or retry with the same
    /// `Idempotency-Key` (which finds it instead of booking again). With `Retry-After: 1`.
    NotReplicated = "NOT_REPLICATED", SERVICE_UNAVAILABLE, Api;
    /// (nginx) The replica failed before answering; a booking may or may not have been made:
    /// retry with the same `Idempotency-Key`.
    BadGateway = "BAD_GATEWAY", BAD_GATEWAY, Nginx;
    /// (nginx) No replica is available.
    NoReplicaAvailable = "NO_REPLICA_AVAILABLE", SERVICE_UNAVAILABLE, Nginx;
    /// (nginx) The replica did not answer in time; a booking may or may not have been made:
    /// retry with the same `Idempotency-Key`.
    GatewayTimeout = "GATEWAY_TIMEOUT", GATEWAY_TIMEOUT, Nginx;
}

/// The schema: a string, one of the table's codes.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("What went wrong; see the error table of docs/api.md"))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// A code that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_serialize_as_written() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(
                serde_json::to_value(code).expect("serializes"),
                serde_json::json!(code.as_str())
            );
            assert!(!code.when().is_empty());
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
        assert!("NOPE".parse::<ErrorCode>().is_err());
    }

    /// Every code nginx answers with itself is in the table.
    #[test]
    fn nginx_speaks_the_codes_of_the_table() {
        let conf = include_str!("../../nginx/nginx.conf");
        let mut found = 0;
        for part in conf.split(r#""code":""#).skip(1) {
            let code = part.split('"').next().unwrap_or("");
            assert!(code.parse::<ErrorCode>().is_ok(), "nginx.conf uses {code}");
            found += 1;
        }
        assert!(found >= 4, "nginx.conf answers its own errors in JSON");
        for code in ErrorCode::ALL
            .iter()
            .filter(|c| c.origin() == Origin::Nginx)
        {
            assert!(
                conf.contains(code.as_str()),
                "{code} is nginx's, nginx.conf lacks it"
            );
        }
    }

    /// The API guide's error table lists every code.
    #[test]
    fn the_api_guide_lists_every_code() {
        let guide = include_str!("../../docs/api.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | `{code}` |", code.status().as_u16());
            assert!(
                guide.contains(&row),
                "docs/api.md's error table lacks {row}"
            );
        }
    }
}
