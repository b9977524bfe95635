//! One error type for the whole service. Every failure a client can see is a variant here, and
//! [`IntoResponse`] turns each into `{"error": {"code", "message", ...}}` with its status code, so
//! no handler builds an error body by hand and no error ever leaves as plain text.

use crate::domain::time::rfc3339;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidRequest(String),
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
    #[error("only {remaining} left, {requested} requested")]
    InsufficientInventory {
        requested: u32,
        remaining: i64,
        /// On reserved sections: how many of the remaining seats nobody holds a lock on.
        unlocked: Option<i64>,
    },
    #[error("seat is already booked")]
    SeatBooked,
    #[error("seat is locked by another user")]
    SeatLocked { expires_at: i64 },
    #[error("seat is not locked (never locked, released, or the lock expired)")]
    SeatNotLocked,
    #[error("the seat is locked by another user")]
    LockNotOwned,
    #[error("booking is already cancelled")]
    BookingAlreadyCancelled,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the booking store is unavailable, retry shortly")]
    StoreUnavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            InvalidRequest(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RouteNotFound { .. }
            | EventNotFound
            | SectionNotFound
            | SeatNotFound
            | BookingNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            InsufficientInventory { .. } | SeatBooked | SeatNotLocked | BookingAlreadyCancelled => {
                StatusCode::CONFLICT
            }
            SeatLocked { .. } => StatusCode::LOCKED,
            LockNotOwned => StatusCode::FORBIDDEN,
            IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use AppError::*;
        match self {
            InvalidRequest(_) => "INVALID_REQUEST",
            PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            RouteNotFound { .. } => "ROUTE_NOT_FOUND",
            MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            EventNotFound => "EVENT_NOT_FOUND",
            SectionNotFound => "SECTION_NOT_FOUND",
            SeatNotFound => "SEAT_NOT_FOUND",
            BookingNotFound => "BOOKING_NOT_FOUND",
            InsufficientInventory { .. } => "INSUFFICIENT_INVENTORY",
            SeatBooked => "SEAT_BOOKED",
            SeatLocked { .. } => "SEAT_LOCKED",
            SeatNotLocked => "SEAT_NOT_LOCKED",
            LockNotOwned => "LOCK_NOT_OWNED",
            BookingAlreadyCancelled => "BOOKING_ALREADY_CANCELLED",
            IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            StoreUnavailable(_) => "STORE_UNAVAILABLE",
            Internal(_) => "INTERNAL",
        }
    }

    /// Fields beside `code` and `message` that help the client decide what to do next.
    fn details(&self) -> Map<String, Value> {
        let mut details = Map::new();
        match self {
            AppError::InsufficientInventory {
                requested,
                remaining,
                unlocked,
            } => {
                details.insert("requested".into(), json!(requested));
                details.insert("remaining".into(), json!(remaining));
                if let Some(unlocked) = unlocked {
                    details.insert("unlocked".into(), json!(unlocked));
                }
            }
            AppError::SeatLocked { expires_at } => {
                details.insert("lockExpiresAt".into(), json!(rfc3339(*expires_at)));
            }
            _ => {}
        }
        details
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::StoreUnavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            _ => tracing::debug!(code = self.code(), "request refused"),
        }
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.to_string()));
        error.extend(self.details());
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
            JsonRejection::JsonDataError(e) => AppError::InvalidRequest(clean_serde_message(
                &e.body_text(),
                "Failed to deserialize the JSON body into the target type: ",
            )),
            JsonRejection::JsonSyntaxError(e) => AppError::InvalidRequest(clean_serde_message(
                &e.body_text(),
                "Failed to parse the request body as JSON: ",
            )),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge {
                    limit: crate::app::MAX_BODY_BYTES,
                }
            }
            other => AppError::InvalidRequest(other.body_text()),
        }
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

/// serde's messages are good; axum's prefixes are noise in an API error.
fn clean_serde_message(text: &str, prefix: &str) -> String {
    let text = text.strip_prefix(prefix).unwrap_or(text);
    format!("invalid request: {text}")
}
