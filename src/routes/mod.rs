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
mod orders;
mod organizers;
mod page;
mod payments;
mod queue;
mod seats;
mod stream;
mod tickets;
mod webhooks;

use crate::config::Settings;
use crate::openapi::{self, ApiDoc};
use crate::state::AppState;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every route, each resource's from its own module, and the document that describes them.
pub fn router(settings: &Settings) -> Router<AppState> {
    let (router, api) = documented().split_for_parts();
    let mut doc = openapi::finish(api, settings);
    stream::describe_events(&mut doc);
    queue::describe_events(&mut doc);
    router
        .merge(openapi::router(doc))
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
        .merge(orders::router())
        .merge(payments::router())
        .merge(webhooks::router())
        .merge(tickets::router())
        .merge(stream::router())
        .merge(page::router())
        .merge(queue::router())
        .merge(demo::router())
}

/// Serves `handler` at `path` too: the seed systems' name for the `POST` operation at `of`,
/// which must be registered already. The document gets a copy of that operation under
/// `operation_id` (unique, as the OpenAPI spec requires), so the alias is documented from the
/// one `#[utoipa::path]` of its original and the two cannot drift apart.
fn alias<H, T>(
    mut router: OpenApiRouter<AppState>,
    path: &str,
    of: &str,
    operation_id: &str,
    handler: H,
) -> OpenApiRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let paths = &mut router.get_openapi_mut().paths.paths;
    let mut operation = paths
        .get(of)
        .and_then(|item| item.post.clone())
        .unwrap_or_else(|| panic!("alias {path}: POST {of} is not registered before it"));
    operation.operation_id = Some(operation_id.to_owned());
    operation.summary = Some(format!("The same as `POST {of}`"));
    operation.description = None;
    paths.entry(path.to_owned()).or_default().post = Some(operation);
    router.route(path, axum::routing::post(handler))
}

/// Registers `T` (and the schemas it refers to) in the document's components: for a schema
/// only an `IntoResponses` type refers to.
fn with_schema<T: utoipa::ToSchema>(
    mut router: OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    let components = router
        .get_openapi_mut()
        .components
        .get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    router
}

/// Documents the `200` of the stream operation `(path, GET)` as its Server-Sent Events: the
/// schema is one event as a client parses it (`event`, `id`, `data`, `retry`), a `oneOf` with
/// one object per event name (`(name, has an id, the schema of its JSON data)`), as OpenAPI
/// 3.1 describes `text/event-stream` and as schemathesis checks each event of the answer.
fn describe_sse(
    doc: &mut serde_json::Value,
    path: &str,
    title: &str,
    events: &[(&str, bool, serde_json::Value)],
) {
    use serde_json::json;
    let variants: Vec<serde_json::Value> = events
        .iter()
        .map(|(name, with_id, data)| {
            let mut required = vec!["event", "data"];
            let mut properties = json!({
                "event": { "type": "string", "enum": [name] },
                "data": { "type": "string", "contentMediaType": "application/json",
                          "contentSchema": data },
                "retry": { "type": "integer" },
            });
            if *with_id {
                required.push("id");
                properties["id"] = json!({ "type": "string", "pattern": "^[0-9]+$" });
            }
            json!({ "type": "object", "title": format!("{title}_{name}"),
                    "required": required, "properties": properties })
        })
        .collect();
    let pointer = format!(
        "/paths/{}/get/responses/200/content/text~1event-stream",
        path.replace('~', "~0").replace('/', "~1")
    );
    if let Some(content) = doc.pointer_mut(&pointer) {
        content["schema"] = json!({ "title": title, "oneOf": variants });
    }
}

/// A Server-Sent Events answer: the events `next` yields from `source`, until it yields none
/// or `STREAM_MAX_LIFETIME_MS` has passed; a keep-alive comment after `STREAM_KEEPALIVE_MS`
/// without an event; and `X-Accel-Buffering: no`, so that nginx passes each event on at once.
fn sse<S, F, Fut>(settings: &Settings, source: S, next: F) -> axum::response::Response
where
    S: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(axum::response::sse::Event, S)>> + Send + 'static,
{
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    use std::time::Duration;
    let lifetime = tokio::time::sleep(Duration::from_millis(settings.stream_max_lifetime_ms));
    let events = futures_util::stream::unfold(source, next)
        .take_until(lifetime)
        .map(Ok::<_, std::convert::Infallible>);
    let keep_alive = axum::response::sse::KeepAlive::new()
        .interval(Duration::from_millis(settings.stream_keepalive_ms));
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
            ("orders.rs", include_str!("orders.rs")),
            ("organizers.rs", include_str!("organizers.rs")),
            ("page.rs", include_str!("page.rs")),
            ("payments.rs", include_str!("payments.rs")),
            ("queue.rs", include_str!("queue.rs")),
            ("seats.rs", include_str!("seats.rs")),
            ("stream.rs", include_str!("stream.rs")),
            ("tickets.rs", include_str!("tickets.rs")),
            ("webhooks.rs", include_str!("webhooks.rs")),
        ];
        let plain_route = concat!(".", "route(");
        for (file, source) in sources {
            if file == "mod.rs" {
                // `alias` routes only what it documents, by a copy of a documented operation.
                let start = source.find("fn alias<").expect("alias is in mod.rs");
                let end = start + source[start..].find("\n}\n").expect("alias ends");
                let rest = format!("{}{}", &source[..start], &source[end..]);
                assert!(
                    !rest.contains(plain_route),
                    "src/routes/mod.rs routes without documenting"
                );
                continue;
            }
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
