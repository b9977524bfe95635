//! `POST /payments/stripe/webhook`: Stripe's events, in Stripe's format and signature
//! (domain/stripe.rs). A payment for an order is applied by one script, once per payment
//! (lua/order_pay.lua); the answer is 2xx only once its outcome is stored, so Stripe retries
//! anything else, and a retry changes nothing.

use crate::domain::ids::OrderId;
use crate::domain::order::provider_amount_in_cents;
use crate::domain::stripe;
use crate::domain::time::now_ms;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::PaymentReport;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stripe_webhook))
}

crate::error_responses!(WebhookErrors: InvalidRequest, InvalidSignature, PayloadTooLarge,
    StoreUnavailable, NotReplicated);

/// What became of a Stripe event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReply {
    pub received: bool,
    /// The order it paid, if it concerned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// What the payment did (`paid`, `revived`, `mismatch`, `duplicate`, `refund_required`), or
    /// `ignored`.
    pub result: String,
    /// The order's status after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why an event was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// This payment was applied before: nothing changed now.
    pub replayed: bool,
}

fn ignored(reason: String) -> Json<WebhookReply> {
    tracing::info!(%reason, "stripe event ignored");
    metrics::counter!("boxoffice_payment_events_ignored_total").increment(1);
    Json(WebhookReply {
        received: true,
        order_id: None,
        result: "ignored".into(),
        status: None,
        reason: Some(reason),
        replayed: false,
    })
}

/// Stripe's webhook. Verifies `Stripe-Signature` (HMAC-SHA256 with `STRIPE_WEBHOOK_SECRET`, at
/// most 300 s old) on the raw body; then `checkout.session.completed` (when `payment_status` is
/// `paid`) and `payment_intent.succeeded` pay the order named in `data.object.metadata.orderId`
/// with `amount_total` / `amount_received` and `currency`. Each payment applies once; other
/// events, and events for no order of ours, are acknowledged and ignored.
#[utoipa::path(post, path = "/payments/stripe/webhook", operation_id = "stripeWebhook", tag = "orders",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`")),
    request_body(content = serde_json::Value, description = "A Stripe event", content_type = "application/json"),
    responses((status = 200, description = "Stored (or ignored, or applied before)", body = WebhookReply),
        WebhookErrors))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookReply>, AppError> {
    // An empty secret is no secret: it would let anyone sign.
    let secret = state
        .settings
        .stripe_webhook_secret
        .as_deref()
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| {
            AppError::InvalidSignature("STRIPE_WEBHOOK_SECRET is not set on this replica".into())
        })?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    stripe::verify(signature, &body, secret, now_ms() / 1000)
        .map_err(AppError::InvalidSignature)?;
    let event: stripe::Event = serde_json::from_slice(&body)
        .map_err(|e| AppError::InvalidRequest(format!("not a Stripe event: {e}")))?;
    let payment = match stripe::payment(&event) {
        Ok(payment) => payment,
        Err(reason) => return Ok(ignored(reason)),
    };
    let Some(order_id) = OrderId::parse(&payment.order_id) else {
        return Ok(ignored(format!(
            "{} is no order id of ours",
            payment.order_id
        )));
    };
    let Some(amount_cents) = provider_amount_in_cents(payment.amount, &payment.currency) else {
        return Ok(ignored(format!(
            "{} {} is no whole number of cents",
            payment.amount, payment.currency
        )));
    };
    let report = PaymentReport {
        provider: "stripe".into(),
        reference: payment.reference,
        amount_cents,
        currency: payment.currency,
    };
    let outcome = match state.store.pay_order(&order_id, &report).await {
        Err(AppError::OrderNotFound) => {
            return Ok(ignored(format!("no order {order_id}")));
        }
        other => other?,
    };
    metrics::counter!("boxoffice_payments_total", "result" => outcome.result.clone()).increment(1);
    Ok(Json(WebhookReply {
        received: true,
        order_id: Some(order_id.to_string()),
        status: Some(outcome.order.status.as_str().to_owned()),
        result: outcome.result,
        reason: None,
        replayed: outcome.replayed,
    }))
}
