//! The HTTP API: which route runs which handler. Handlers validate input, call one [`Store`]
//! operation and shape the reply; they hold no state of their own.
//!
//! [`Store`]: crate::store::Store

mod bookings;
mod demo;
mod events;
mod fallback;
mod health;
mod seats;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};

pub use demo::ensure_demo_event;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/events", post(events::create).get(events::list))
        .route("/events/create", post(events::create))
        .route("/events/{event_id}", get(events::show))
        .route("/events/{event_id}/seats", get(seats::list))
        .route("/events/{event_id}/seats/{seat_id}/lock", post(seats::lock))
        .route(
            "/events/{event_id}/seats/{seat_id}/confirm",
            post(seats::confirm),
        )
        .route(
            "/events/{event_id}/seats/{seat_id}/unlock",
            post(seats::unlock),
        )
        .route("/book", post(bookings::book))
        .route("/bookings", post(bookings::book).get(bookings::list))
        .route(
            "/bookings/{booking_id}",
            get(bookings::show).delete(bookings::cancel),
        )
        // The seed systems' routes, on the demo event.
        .route("/seats", get(demo::seats))
        .route("/lock", post(demo::lock))
        .route("/lock/{seat_id}", post(demo::lock_by_path))
        .route("/confirm", post(demo::confirm))
        .route("/confirm/{seat_id}", post(demo::confirm_by_path))
        .route("/unlock", post(demo::unlock))
        .route("/unlock/{seat_id}", post(demo::unlock_by_path))
        .route("/release", post(demo::unlock))
        .route("/release/{seat_id}", post(demo::unlock_by_path))
        .fallback(fallback::route_not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
}

/// `?limit=` of list routes.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

fn page_limit(limit: Option<usize>) -> Result<usize, crate::error::AppError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(crate::error::AppError::InvalidRequest(format!(
            "limit must be 1 to {MAX_PAGE}"
        ))),
    }
}
