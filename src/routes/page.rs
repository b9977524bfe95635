//! `GET /`: the seat-map page (`web/index.html`), and `GET /checkin`: the door page
//! (`web/checkin.html`); compiled into the binary, so every replica serves them and they need
//! nothing from the network. They use the API as any client does.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(checkin_page))
}

const PAGE: &str = include_str!("../../web/index.html");
const CHECKIN_PAGE: &str = include_str!("../../web/checkin.html");

/// What the page may do: run its own inline script and style, and talk to this origin only.
const POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The seat-map page: pick an event, see its seats and sections live, hold and book.
#[utoipa::path(get, path = "/", operation_id = "getSeatMapPage", tag = "page",
    responses((status = 200, description = "The seat-map page (HTML)", content_type = "text/html",
        body = String)))]
pub async fn page() -> impl IntoResponse {
    html(PAGE)
}

fn html(page: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        page,
    )
}

/// The door page: staff sign in, pick the event, scan or type ticket codes, see each result.
#[utoipa::path(get, path = "/checkin", operation_id = "getCheckinPage", tag = "page",
    responses((status = 200, description = "The check-in page (HTML)", content_type = "text/html",
        body = String)))]
pub async fn checkin_page() -> impl IntoResponse {
    html(CHECKIN_PAGE)
}
