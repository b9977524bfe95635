//! Webhook endpoints (docs/webhooks.md): `POST /webhooks`, `GET /webhooks`, `GET` and
//! `DELETE /webhooks/{webhookId}`, `POST /webhooks/{webhookId}/rotate-secret`, `GET
//! /webhooks/{webhookId}/messages`, `POST /webhooks/{webhookId}/messages/{messageId}/retry`.
//! Admins manage every endpoint; an organizer registers endpoints for events they manage and
//! manages those; buyers none. Delivery is `crate::webhooks`.

use crate::auth::Caller;
use crate::domain::ids::EventId;
use crate::domain::role::Role;
use crate::domain::time::now_ms;
use crate::domain::webhook::{
    self, EndpointRecord, EndpointView, MessageStatus, MessageView, SecretRecord,
};
use crate::error::AppError;
use crate::extract::{Ids, JsonBody, QueryParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(messages))
        .routes(routes!(retry))
}

crate::error_responses!(CreateErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(ListErrors: Unauthenticated, Forbidden, StoreUnavailable);
crate::error_responses!(ShowErrors: Unauthenticated, Forbidden, WebhookNotFound, StoreUnavailable);
crate::error_responses!(MessagesErrors: InvalidRequest, Unauthenticated, Forbidden, WebhookNotFound,
    StoreUnavailable);
crate::error_responses!(RetryErrors: Unauthenticated, Forbidden, WebhookNotFound, MessageNotFound,
    StoreUnavailable);

/// `POST /webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    /// Where messages are POSTed: `http` or `https`; never a private, loopback or link-local
    /// address (unless WEBHOOK_ALLOW_PRIVATE); redirects are not followed.
    #[schema(
        example = "https://example.com/boxoffice-hook",
        max_length = 2048,
        pattern = "^https?://[^/?#@\\s]+"
    )]
    url: String,
    /// Message types to send (`booking.created`, `booking.cancelled`, `order.created`,
    /// `order.paid`, `order.expired`, `order.cancelled`, `order.refund_required`,
    /// `event.sold_out`, `checkin.redeemed`), or `["*"]` for all.
    #[schema(example = json!(["order.paid", "booking.cancelled"]))]
    types: Vec<String>,
    /// Only messages about this event (required for organizers: an event they manage).
    #[schema(value_type = Option<EventId>)]
    event_id: Option<String>,
}

/// A webhook endpoint id (a UUID); anything else names no endpoint.
fn endpoint_id(raw: &str) -> Result<String, AppError> {
    uuid::Uuid::try_parse(raw)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| AppError::WebhookNotFound)
}

/// Only admins and organizers manage endpoints (in open mode, anyone).
fn require_manager(caller: &Caller) -> Result<(), AppError> {
    caller.require(Role::Organizer)
}

/// Whether the caller manages `endpoint`: its creator or an admin (anyone in open mode).
fn manages(caller: &Caller, endpoint: &EndpointRecord) -> bool {
    let actor = caller.actor();
    matches!(actor.role, "admin" | "open") || actor.user == endpoint.created_by
}

/// The endpoint, if it exists and the caller manages it; else 404.
async fn managed(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<EndpointRecord, AppError> {
    require_manager(caller)?;
    let id = endpoint_id(raw_id)?;
    state
        .store
        .webhook(&id)
        .await?
        .filter(|endpoint| manages(caller, endpoint))
        .ok_or(AppError::WebhookNotFound)
}

/// Registers an endpoint. The answer carries its signing `secret` (`whsec_...`), shown this
/// once: every message is signed with it by Standard Webhooks v1 (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature` headers).
#[utoipa::path(post, path = "/webhooks", operation_id = "createWebhook", tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateBody,
    responses((status = 201, description = "Registered; `secret` is shown only here", body = EndpointView,
        headers(("Location" = String, description = "The endpoint's URL"))), CreateErrors))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, AppError> {
    require_manager(&caller)?;
    let url = webhook::check_url(body.url.trim(), state.settings.webhooks.allow_private)
        .map_err(AppError::InvalidRequest)?;
    webhook::check_types(&body.types).map_err(AppError::InvalidRequest)?;
    let event_id = body.event_id.map(EventId::parse).transpose()?;
    let actor = caller.actor();
    match &event_id {
        Some(event) => {
            state.store.require_event(event).await?;
            if !state.store.manages(event, &actor).await? {
                return Err(AppError::Forbidden("you do not manage this event".into()));
            }
        }
        None if !matches!(actor.role, "admin" | "open") => {
            return Err(AppError::Forbidden(
                "an organizer's endpoint names the event it is for (eventId)".into(),
            ));
        }
        None => {}
    }
    let secret = webhook::new_secret();
    let record = EndpointRecord {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        url: url.to_string(),
        types: body.types,
        event_id: event_id.map(|e| e.to_string()),
        created_by: actor.user,
        created_at: now_ms(),
        secrets: vec![SecretRecord {
            secret: secret.clone(),
            expires_at: None,
        }],
        disabled: None,
        failing_since: None,
    };
    state.store.create_webhook(&record).await?;
    let location = format!("/webhooks/{}", record.id);
    let mut view = EndpointView::from(record);
    view.secret = Some(secret);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    webhooks: Vec<EndpointView>,
}

/// The endpoints the caller manages (an admin: all), oldest first.
#[utoipa::path(get, path = "/webhooks", operation_id = "listWebhooks", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, description = "Endpoints", body = EndpointList), ListErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<EndpointList>, AppError> {
    require_manager(&caller)?;
    let webhooks = state
        .store
        .webhooks()
        .await?
        .into_iter()
        .filter(|endpoint| manages(&caller, endpoint))
        .map(EndpointView::from)
        .collect();
    Ok(Json(EndpointList { webhooks }))
}

/// One endpoint (without its secret).
#[utoipa::path(get, path = "/webhooks/{webhookId}", operation_id = "getWebhook", tag = "webhooks",
    security(("bearer" = [])),
    params(("webhookId" = String, Path, format = Uuid)),
    responses((status = 200, description = "The endpoint", body = EndpointView), ShowErrors))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<String>,
) -> Result<Json<EndpointView>, AppError> {
    Ok(Json(managed(&state, &caller, &id).await?.into()))
}

/// Deletes an endpoint and every message kept for it; nothing more is sent to it.
#[utoipa::path(delete, path = "/webhooks/{webhookId}", operation_id = "deleteWebhook", tag = "webhooks",
    security(("bearer" = [])),
    params(("webhookId" = String, Path, format = Uuid)),
    responses((status = 204, description = "Deleted"), ShowErrors))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<String>,
) -> Result<StatusCode, AppError> {
    let endpoint = managed(&state, &caller, &id).await?;
    state
        .store
        .delete_webhook(&endpoint.id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once in the answer. The old one keeps signing beside it for
/// `WEBHOOK_SECRET_OVERLAP_S` (default 24 h): each message then carries both signatures, so a
/// receiver can switch secrets without losing one.
#[utoipa::path(post, path = "/webhooks/{webhookId}/rotate-secret", operation_id = "rotateWebhookSecret",
    tag = "webhooks", security(("bearer" = [])),
    params(("webhookId" = String, Path, format = Uuid)),
    responses((status = 200, description = "Rotated; `secret` is the new one, shown only here", body = EndpointView),
        ShowErrors))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<String>,
) -> Result<Json<EndpointView>, AppError> {
    let endpoint = managed(&state, &caller, &id).await?;
    let secret = webhook::new_secret();
    let overlap_ms = state
        .settings
        .webhooks
        .secret_overlap_s
        .saturating_mul(1000);
    let record = state
        .store
        .rotate_webhook_secret(&endpoint.id, &caller.actor(), &secret, overlap_ms)
        .await?;
    let mut view = EndpointView::from(record);
    view.secret = Some(secret);
    Ok(Json(view))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Only messages with this status.
    status: Option<MessageStatus>,
    /// At most this many, newest first (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageList {
    messages: Vec<MessageView>,
}

/// Messages kept for the endpoint (until `WEBHOOK_RETENTION_S` after their last attempt),
/// newest first, with every attempt.
#[utoipa::path(get, path = "/webhooks/{webhookId}/messages", operation_id = "listWebhookMessages",
    tag = "webhooks", security(("bearer" = [])),
    params(("webhookId" = String, Path, format = Uuid), MessagesQuery),
    responses((status = 200, description = "Messages", body = MessageList), MessagesErrors))]
pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<String>,
    QueryParams(query): QueryParams<MessagesQuery>,
) -> Result<Json<MessageList>, AppError> {
    let limit = super::page_limit(query.limit)?;
    let endpoint = managed(&state, &caller, &id).await?;
    let messages = state
        .store
        .webhook_messages(&endpoint.id, query.status, limit)
        .await?
        .into_iter()
        .map(MessageView::from)
        .collect();
    Ok(Json(MessageList { messages }))
}

/// Attempts a message again now (whatever its status); a disabled endpoint is enabled again.
#[utoipa::path(post, path = "/webhooks/{webhookId}/messages/{messageId}/retry",
    operation_id = "retryWebhookMessage", tag = "webhooks", security(("bearer" = [])),
    params(("webhookId" = String, Path, format = Uuid), ("messageId" = String, Path)),
    responses((status = 202, description = "Due now", body = MessageView), RetryErrors))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Ids((id, message)): Ids<(String, String)>,
) -> Result<(StatusCode, Json<MessageView>), AppError> {
    let endpoint = managed(&state, &caller, &id).await?;
    if message.len() > 200 || !message.starts_with("msg_") {
        return Err(AppError::MessageNotFound);
    }
    let record = state
        .store
        .retry_webhook_message(&endpoint.id, &message, &caller.actor())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(record.into())))
}
