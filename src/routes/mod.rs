//! The HTTP API: which route runs which handler. Handlers validate input, call one [`Store`]
//! operation and shape the reply; they hold no state of their own.
//!
//! [`Store`]: crate::store::Store

mod bookings;
mod demo;
mod events;
mod fallback;
mod health;
mod holds;
mod organizers;
mod page;
mod queue;
mod seats;
mod stream;

use crate::config::Settings;
use crate::openapi::{self, ApiDoc};
use crate::state::AppState;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every route, each resource's from its own module, and the document that describes them.
pub fn router(settings: &Settings) -> Router<AppState> {
    let (router, api) = documented().split_for_parts();
    router
        .merge(openapi::router(openapi::finish(api, settings)))
        .fallback(fallback::route_not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
}

/// The API's routes, registered with their documentation.
pub fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(events::router())
        .merge(organizers::router())
        .merge(bookings::router())
        .merge(seats::router())
        .merge(holds::router())
        .merge(stream::router())
        .merge(page::router())
        .merge(queue::router())
        .merge(demo::router())
}

/// A Server-Sent Events answer: the events `next` yields from `source`, until it yields none;
/// a keep-alive comment after `keepalive_ms` without one (STREAM_KEEPALIVE_MS); and
/// `X-Accel-Buffering: no`, so that nginx passes each event on at once.
fn sse<S, F, Fut>(keepalive_ms: u64, source: S, next: F) -> axum::response::Response
where
    S: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(axum::response::sse::Event, S)>> + Send + 'static,
{
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let events = futures_util::stream::unfold(source, next).map(Ok::<_, std::convert::Infallible>);
    let keep_alive = axum::response::sse::KeepAlive::new()
        .interval(std::time::Duration::from_millis(keepalive_ms));
    let mut response = axum::response::sse::Sse::new(events)
        .keep_alive(keep_alive)
        .into_response();
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

/// `?limit=` of list routes.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// Events per page of `GET /events` at most.
const MAX_EVENTS_PAGE: usize = 100;

fn page_limit(limit: Option<usize>) -> Result<usize, crate::error::AppError> {
    page_limit_of(limit, MAX_PAGE)
}

fn page_limit_of(limit: Option<usize>, max: usize) -> Result<usize, crate::error::AppError> {
    match limit {
        None => Ok(DEFAULT_PAGE.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(crate::error::AppError::InvalidRequest(format!(
            "limit must be 1 to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    /// Routes are registered only through `routes!(handler)`, which documents each in the
    /// OpenAPI document as it routes it: axum's plain route method would route something the
    /// document lacks.
    #[test]
    fn every_route_is_registered_with_its_documentation() {
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("bookings.rs", include_str!("bookings.rs")),
            ("demo.rs", include_str!("demo.rs")),
            ("events.rs", include_str!("events.rs")),
            ("health.rs", include_str!("health.rs")),
            ("holds.rs", include_str!("holds.rs")),
            ("organizers.rs", include_str!("organizers.rs")),
            ("page.rs", include_str!("page.rs")),
            ("queue.rs", include_str!("queue.rs")),
            ("seats.rs", include_str!("seats.rs")),
            ("stream.rs", include_str!("stream.rs")),
        ];
        let plain_route = concat!(".", "route(");
        for (file, source) in sources {
            assert!(
                !source.contains(plain_route),
                "src/routes/{file} routes without documenting (use routes!)"
            );
        }
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes"))
            .expect("src/routes")
            .count();
        assert_eq!(
            files,
            sources.len() + 1,
            "a file in src/routes is not checked here"
        );
    }
}
