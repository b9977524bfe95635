//! The OpenAPI 3.1 document, generated from the code: every route is registered through
//! `utoipa_axum`'s `routes!`, which adds it to the document as it adds it to the router, so
//! a route cannot exist undocumented. Served at `GET /openapi.json`, with Swagger UI at
//! `GET /docs` (its files are compiled into the binary: nothing is fetched from a CDN).

use crate::app::AppState;
use crate::config::Settings;
use crate::error::ErrorCode;
use crate::error::openapi::{ErrorBody, ErrorDetail};
use axum::Router;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// `bearer`: a JWT in `Authorization: Bearer <token>` (jwt mode, the default).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose sub is the user and role (buyer, organizer, admin) what it \
                         may do; `boxoffice token --user alice` mints one. Not needed with \
                         AUTH_MODE=open.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerAuth),
    info(
        title = "boxoffice",
        description = "A ticket booking API that cannot oversell. Every error is \
            `{\"error\": {\"code\", \"message\", ...}}` with a code from the `ErrorCode` table.",
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode, crate::store::Change)),
    tags(
        (name = "events", description = "Events and their sections"),
        (name = "bookings", description = "Booking by quantity, listing, cancelling"),
        (name = "seats", description = "Reserved seats: seat maps, locks"),
        (name = "holds", description = "Checkout holds: several seats or a quantity, held together, then confirmed or released"),
        (name = "demo", description = "The seed systems' routes, on the demo event"),
        (name = "health", description = "Liveness and readiness"),
        (name = "docs", description = "This document"),
        (name = "page", description = "The seat-map page for people"),
        (name = "queue", description = "Waiting rooms: join, wait, be admitted"),
    )
)]
pub struct ApiDoc;

/// The document with what only the running configuration knows, and `/openapi.json` itself.
/// It stays JSON from here on: utoipa's schema types have no room for some of what is added
/// (`oneOf` beside an object's properties), and would drop it on the way back.
pub fn finish(api: utoipa::openapi::OpenApi, settings: &Settings) -> Value {
    let mut doc = serde_json::to_value(&api).unwrap_or(Value::Null);
    if let Some(qty) = doc.pointer_mut("/components/schemas/BookBody/properties/qty") {
        qty["maximum"] = json!(settings.max_qty_per_booking);
        qty["description"] = json!(format!(
            "1 to MAX_QTY_PER_BOOKING ({} here)",
            settings.max_qty_per_booking
        ));
    }
    if let Some(seats) = doc.pointer_mut("/components/schemas/NewSection/properties/seats") {
        // A seat appears once in its event (utoipa has no attribute for uniqueItems).
        seats["uniqueItems"] = json!(true);
    }
    if let Some(section) = doc.pointer_mut("/components/schemas/NewSection") {
        // Exactly one of `capacity` (general admission), `seats` or `rows` (reserved), given
        // and not null: `oneOf` admits a body that matches one branch, not both, not neither.
        let given = |field: &str, kind: &str| json!({ "required": [field], "properties": { field: { "type": kind } } });
        section["oneOf"] = json!([
            given("capacity", "integer"),
            given("seats", "array"),
            given("rows", "array"),
        ]);
    }
    if let Some(hold) = doc.pointer_mut("/components/schemas/NewHold") {
        let max = settings.max_qty_per_booking;
        hold["properties"]["seats"]["maxItems"] = json!(max);
        hold["properties"]["seats"]["uniqueItems"] = json!(true);
        hold["properties"]["qty"]["maximum"] = json!(max);
        // Named seats, or a section and a quantity: not both, not neither.
        let given = |field: &str, kind: &str| json!({ "required": [field], "properties": { field: { "type": kind } } });
        hold["oneOf"] = json!([
            { "allOf": [given("seats", "array")],
              "not": { "anyOf": [given("sectionId", "string"), given("qty", "integer"),
                                 given("together", "boolean")] } },
            { "allOf": [given("sectionId", "string"), given("qty", "integer")],
              "not": given("seats", "array") },
        ]);
    }
    if let Some(paths) = doc.pointer_mut("/paths").and_then(Value::as_object_mut) {
        paths.insert(
            "/openapi.json".into(),
            json!({ "get": {
                "tags": ["docs"],
                "summary": "This OpenAPI document",
                "operationId": "openapi",
                "responses": { "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": { "application/json": { "schema": { "type": "object" } } }
                } }
            } }),
        );
    }
    doc
}

/// `GET /openapi.json` and the Swagger UI at `GET /docs`.
pub fn router(api: Value) -> Router<AppState> {
    SwaggerUi::new("/docs")
        .external_url_unchecked("/openapi.json", api)
        .into()
}
