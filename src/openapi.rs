//! The OpenAPI 3.1 document, generated from the code: every route is registered through
//! `utoipa_axum`'s `routes!`, which adds it to the document as it adds it to the router, so
//! a route cannot exist undocumented. Served at `GET /openapi.json`, with Swagger UI at
//! `GET /docs` (its files are compiled into the binary: nothing is fetched from a CDN).

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
        (name = "orders", description = "Orders and their payment: a hold becomes an order, a payment makes it a booking"),
        (name = "tickets", description = "Signed ticket codes, their QR codes and keys; check-in at the door, exactly once"),
        (name = "webhooks", description = "Endpoints told of every booking, order and sell-out, signed by Standard Webhooks v1"),
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
    if let Some(hold) = doc.pointer_mut("/components/schemas/NewHold") {
        let max = settings.max_qty_per_booking;
        hold["properties"]["seats"]["maxItems"] = json!(max);
        hold["properties"]["seats"]["uniqueItems"] = json!(true);
        hold["properties"]["qty"]["maximum"] = json!(max);
    }
    // Exactly one of a section's `capacity` (general admission), `seats` or `rows`
    // (reserved); a hold's named `seats`, or its `sectionId` and `qty`. Each as a complete
    // object schema of its own (the others absent or null), so that client generators make a
    // type per variant and validators need no fragment logic.
    variants(
        &mut doc,
        "NewSection",
        &[
            ("NewGeneralSection", &["capacity"], &["seats", "rows"]),
            ("NewSeatedSection", &["seats"], &["capacity", "rows"]),
            ("NewRowsSection", &["rows"], &["capacity", "seats"]),
        ],
    );
    variants(
        &mut doc,
        "NewHold",
        &[
            (
                "NewSeatsHold",
                &["seats"],
                &["sectionId", "qty", "together"],
            ),
            ("NewQuantityHold", &["sectionId", "qty"], &["seats"]),
        ],
    );
    if let Some(paths) = doc.pointer_mut("/paths").and_then(Value::as_object_mut) {
        paths.insert(
            "/openapi.json".into(),
            json!({ "get": {
                "tags": ["docs"],
                "summary": "This OpenAPI document",
                "operationId": "getOpenApiDocument",
                "responses": { "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": { "application/json": { "schema": { "type": "object" } } }
                } }
            } }),
        );
    }
    doc
}

/// Replaces the schema `name` by a `oneOf` of complete object schemas, one per variant: the
/// original's properties, with `given` required and not null, and `absent` only null.
fn variants(doc: &mut Value, name: &str, list: &[(&str, &[&str], &[&str])]) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(original) = schemas.get(name).cloned() else {
        return;
    };
    let mut refs = Vec::new();
    for (variant, given, absent) in list {
        let mut schema = original.clone();
        if let Some(object) = schema.as_object_mut() {
            object.remove("oneOf");
            object.insert("title".into(), json!(variant));
        }
        let required: Vec<Value> = original["required"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain(given.iter().map(|g| json!(g)))
            .collect();
        schema["required"] = Value::Array(required);
        for field in *given {
            let property = &mut schema["properties"][*field];
            *property = not_null(property.take());
        }
        for field in *absent {
            schema["properties"][*field] = json!({ "type": "null" });
        }
        schemas.insert((*variant).to_owned(), schema);
        refs.push(json!({ "$ref": format!("#/components/schemas/{variant}") }));
    }
    schemas.insert(
        name.to_owned(),
        json!({ "description": original["description"], "oneOf": refs }),
    );
}

/// A property's schema without its `null` alternative (`type: [T, "null"]` or
/// `oneOf: [S, {type: null}]`).
fn not_null(mut property: Value) -> Value {
    if let Some(types) = property["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            property["type"] = kept[0].clone();
        }
    }
    if let Some(options) = property["oneOf"].as_array() {
        let kept: Vec<Value> = options
            .iter()
            .filter(|o| o["type"] != "null")
            .cloned()
            .collect();
        if kept.len() == 1 {
            return kept[0].clone();
        }
    }
    property
}

/// `GET /openapi.json` and the Swagger UI at `GET /docs`.
pub fn router<S: Clone + Send + Sync + 'static>(api: Value) -> Router<S> {
    SwaggerUi::new("/docs")
        .external_url_unchecked("/openapi.json", api)
        .into()
}
