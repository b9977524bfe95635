//! One error type for the whole service. Every failure a client can see is a variant here, and
//! [`IntoResponse`] turns each into `{"error": {"code", "message", ...}}` with its status code, so
//! no handler builds an error body by hand and no error ever leaves as plain text. Codes and
//! statuses come from the table in [`code`].

pub mod code;
pub mod details;
pub mod openapi;

pub use code::ErrorCode;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use details::Details;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    RequestTimeout(&'static str),
    #[error("the request's headers are {size} bytes; at most {limit} are read")]
    HeadersTooLarge { size: usize, limit: usize },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("expected a JSON body with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("event not found")]
    EventNotFound,
    #[error("section not found in this event")]
    SectionNotFound,
    #[error("seat not found in this event")]
    SeatNotFound,
    #[error("booking not found")]
    BookingNotFound,
    #[error("order not found")]
    OrderNotFound,
    #[error("webhook endpoint not found")]
    WebhookNotFound,
    #[error("no such ticket in this booking")]
    TicketNotFound,
    #[error("no such message for this webhook endpoint")]
    MessageNotFound,
    #[error(
        "this event requires payment: make an order of your hold \
         (POST /events/{{eventId}}/holds/{{holdId}}/order) and pay it"
    )]
    PaymentRequired,
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    BookingHasOrder(String),
    #[error("{0}")]
    OrderNotCancellable(String),
    /// `requested`, `remaining`; on reserved sections `unlocked`: how many of the remaining
    /// seats nobody holds a lock on.
    #[error("only {} left, {} requested", .0.remaining.unwrap_or(0), .0.requested.unwrap_or(0))]
    InsufficientInventory(Box<Details>),
    /// For a hold: the `seats` taken.
    #[error("seat is already booked")]
    SeatBooked(Box<Details>),
    /// `lockExpiresAt`; for a hold: the `seats` taken.
    #[error("seat is locked by another user")]
    SeatLocked(Box<Details>),
    #[error("hold not found")]
    HoldNotFound,
    #[error(
        "this event's waiting room is on: send a live admission as Admission-Token \
         (POST /events/{{eventId}}/queue)"
    )]
    AdmissionRequired,
    #[error("no such place in this event's waiting room for you")]
    QueueTicketNotFound,
    #[error("this event has no waiting room switched on")]
    WaitingRoomOff,
    #[error("no row has {} free seats side by side", .0.requested.unwrap_or(0))]
    NoAdjacentSeats(Box<Details>),
    #[error("the hold expired: its seats or tickets are free again")]
    HoldExpired,
    #[error("the hold cannot be extended further")]
    HoldExtensionLimit,
    /// For a hold: the `seats` whose locks ended.
    #[error("seat is not locked (never locked, released, or the lock expired)")]
    SeatNotLocked(Box<Details>),
    #[error("the seat is locked by another user")]
    LockNotOwned,
    #[error("booking is already cancelled")]
    BookingAlreadyCancelled,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the user's limit is {} and they hold or have booked {}",
        .0.limit.unwrap_or(0), .0.current.unwrap_or(0))]
    UserLimitReached(Box<Details>),
    #[error("too many requests: retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("the booking store is unavailable, retry shortly")]
    StoreUnavailable(String),
    #[error(
        "booking {booking_id} was made, but only {acked} of the {wanted} Redis replicas required \
         confirmed it in time: GET /bookings/{booking_id}, or retry with the same Idempotency-Key"
    )]
    NotReplicated {
        booking_id: String,
        acked: u32,
        wanted: u32,
    },
    /// `/readyz`: unavailable, and why (never where Redis is).
    #[error("this replica cannot use its Redis")]
    NotReady { reason: String },
    #[error("internal error")]
    Internal(String),
    /// An answer some layer made without a body (a static file's 404): its status, in JSON.
    #[error("{}", .0.canonical_reason().unwrap_or("error"))]
    Status(StatusCode),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Status(status) => *status,
            _ => self.code().status(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        use AppError::*;
        match self {
            InvalidRequest(_) => ErrorCode::InvalidRequest,
            Unauthenticated(_) => ErrorCode::Unauthenticated,
            Forbidden(_) => ErrorCode::Forbidden,
            UserLimitReached(_) => ErrorCode::UserLimitReached,
            RateLimited { .. } => ErrorCode::RateLimited,
            PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            RequestTimeout(_) => ErrorCode::RequestTimeout,
            HeadersTooLarge { .. } => ErrorCode::HeadersTooLarge,
            UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            RouteNotFound { .. } => ErrorCode::RouteNotFound,
            MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            EventNotFound => ErrorCode::EventNotFound,
            SectionNotFound => ErrorCode::SectionNotFound,
            SeatNotFound => ErrorCode::SeatNotFound,
            BookingNotFound => ErrorCode::BookingNotFound,
            OrderNotFound => ErrorCode::OrderNotFound,
            WebhookNotFound => ErrorCode::WebhookNotFound,
            TicketNotFound => ErrorCode::TicketNotFound,
            MessageNotFound => ErrorCode::MessageNotFound,
            PaymentRequired => ErrorCode::PaymentRequired,
            InvalidSignature(_) => ErrorCode::InvalidSignature,
            BookingHasOrder(_) => ErrorCode::BookingHasOrder,
            OrderNotCancellable(_) => ErrorCode::OrderNotCancellable,
            InsufficientInventory(_) => ErrorCode::InsufficientInventory,
            SeatBooked(_) => ErrorCode::SeatBooked,
            HoldNotFound => ErrorCode::HoldNotFound,
            AdmissionRequired => ErrorCode::AdmissionRequired,
            QueueTicketNotFound => ErrorCode::QueueTicketNotFound,
            WaitingRoomOff => ErrorCode::WaitingRoomOff,
            NoAdjacentSeats(_) => ErrorCode::NoAdjacentSeats,
            HoldExpired => ErrorCode::HoldExpired,
            HoldExtensionLimit => ErrorCode::HoldExtensionLimit,
            SeatLocked(_) => ErrorCode::SeatLocked,
            SeatNotLocked(_) => ErrorCode::SeatNotLocked,
            LockNotOwned => ErrorCode::LockNotOwned,
            BookingAlreadyCancelled => ErrorCode::BookingAlreadyCancelled,
            IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            StoreUnavailable(_) | NotReady { .. } => ErrorCode::StoreUnavailable,
            NotReplicated { .. } => ErrorCode::NotReplicated,
            Internal(_) => ErrorCode::Internal,
            Status(status) => match status.as_u16() {
                400 => ErrorCode::InvalidRequest,
                401 => ErrorCode::Unauthenticated,
                403 => ErrorCode::Forbidden,
                404 => ErrorCode::RouteNotFound,
                405 => ErrorCode::MethodNotAllowed,
                408 => ErrorCode::RequestTimeout,
                413 => ErrorCode::PayloadTooLarge,
                415 => ErrorCode::UnsupportedMediaType,
                429 => ErrorCode::RateLimited,
                431 => ErrorCode::HeadersTooLarge,
                503 => ErrorCode::StoreUnavailable,
                _ => ErrorCode::Internal,
            },
        }
    }

    /// Fields beside `code` and `message` that help the client decide what to do next.
    fn details(&self) -> Details {
        match self {
            AppError::InsufficientInventory(details)
            | AppError::SeatBooked(details)
            | AppError::SeatLocked(details)
            | AppError::SeatNotLocked(details)
            | AppError::NoAdjacentSeats(details)
            | AppError::UserLimitReached(details) => details.as_ref().clone(),
            AppError::RateLimited { retry_after_ms } => Details {
                retry_after_ms: Some(*retry_after_ms),
                ..Details::default()
            },
            AppError::NotReplicated { booking_id, .. } => Details {
                booking_id: Some(booking_id.clone()),
                ..Details::default()
            },
            AppError::NotReady { reason } => Details {
                status: Some("unavailable".into()),
                reason: Some(reason.clone()),
                ..Details::default()
            },
            _ => Details::default(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_client_error() {
            metrics::counter!("boxoffice_refusals_total", "code" => self.code().as_str())
                .increment(1);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            metrics::counter!("boxoffice_store_unavailable_total").increment(1);
        }
        match &self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::StoreUnavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            AppError::NotReady { reason, .. } => tracing::warn!(%reason, "not ready"),
            _ => tracing::debug!(code = self.code().as_str(), "request refused"),
        }
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code().as_str()));
        error.insert("message".into(), json!(self.to_string()));
        if let Ok(Value::Object(details)) = serde_json::to_value(self.details()) {
            error.extend(details);
        }
        let retry_after = match &self {
            AppError::RateLimited { retry_after_ms } => Some(retry_after_ms.div_ceil(1000).max(1)),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        };
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds.to_string())
                    .unwrap_or(HeaderValue::from_static("1")),
            );
        }
        if let AppError::Unauthenticated(reason) = &self {
            let challenge = format!(
                "Bearer realm=\"boxoffice\", error=\"invalid_token\", error_description=\"{}\"",
                reason.replace(['"', '\\'], "'")
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge)
                    .unwrap_or(HeaderValue::from_static("Bearer realm=\"boxoffice\"")),
            );
        }
        response
    }
}

impl From<crate::domain::ids::InvalidId> for AppError {
    fn from(invalid: crate::domain::ids::InvalidId) -> Self {
        AppError::InvalidRequest(invalid.to_string())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::InvalidRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::InvalidRequest(clean_serde_message(
            &rejection.body_text(),
            "Failed to deserialize query string: ",
        ))
    }
}

impl AppError {
    /// A 400 with serde's message, without axum's prefix.
    pub fn serde_message(text: &str, prefix: &str) -> Self {
        AppError::InvalidRequest(clean_serde_message(text, prefix))
    }

    /// The body stopped arriving (`HTTP_BODY_TIMEOUT_MS`).
    pub fn body_timeout() -> Self {
        AppError::RequestTimeout("the request body stopped arriving (HTTP_BODY_TIMEOUT_MS)")
    }
}

/// Whether reading a body failed because it sent nothing for `HTTP_BODY_TIMEOUT_MS`
/// (tower-http's body timeout, somewhere in the error's sources).
pub fn body_timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// serde's messages are good; axum's prefixes are noise in an API error.
fn clean_serde_message(text: &str, prefix: &str) -> String {
    let text = text.strip_prefix(prefix).unwrap_or(text);
    format!("invalid request: {text}")
}
