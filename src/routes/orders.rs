//! Orders (docs/orders.md): `POST /events/{eventId}/holds/{holdId}/order` makes one of a live
//! hold; `GET /orders/{orderId}`, `GET /orders`, `DELETE /orders/{orderId}`; `POST
//! /orders/{orderId}/payments` records a payment by hand (admins), as the Stripe webhook
//! (routes/payments.rs) does for Stripe.

use crate::auth::Caller;
use crate::domain::ids::{EventId, HoldId, OrderId};
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderStatus, valid_currency};
use crate::domain::role::Role;
use crate::error::AppError;
use crate::extract::{
    Acting, Idempotency, IdempotencyHeader, Ids, JsonBody, QueryParams, UserBody, UserQuery,
};
use crate::state::AppState;
use crate::store::{OrderFilter, OrderPage, PaymentOutcome, PaymentReport};
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
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(show, cancel))
        .routes(routes!(record_payment))
}

crate::error_responses!(CreateErrors: InvalidRequest, Unauthenticated, Forbidden, HoldNotFound,
    HoldExpired, SeatNotLocked, IdempotencyKeyReused, RateLimited, PayloadTooLarge,
    UnsupportedMediaType, StoreUnavailable);
crate::error_responses!(ShowErrors: InvalidRequest, Unauthenticated, OrderNotFound, StoreUnavailable);
crate::error_responses!(ListErrors: InvalidRequest, Unauthenticated, Forbidden, EventNotFound,
    StoreUnavailable);
crate::error_responses!(CancelErrors: InvalidRequest, Unauthenticated, OrderNotFound,
    OrderNotCancellable, RateLimited, StoreUnavailable);
crate::error_responses!(PaymentErrors: InvalidRequest, Unauthenticated, Forbidden, OrderNotFound,
    PayloadTooLarge, UnsupportedMediaType, StoreUnavailable, NotReplicated);

/// Turns the caller's live hold into an order waiting for payment: its seats or tickets stay
/// taken until `paymentDeadline` (now + `ORDER_PAYMENT_TTL_MS`), whatever the hold's own
/// expiry; `amount` is the section's price times the quantity. Pay it through the payment
/// provider with `metadata.orderId` (docs/orders.md).
#[utoipa::path(post, path = "/events/{eventId}/holds/{holdId}/order", operation_id = "createOrder", tag = "orders",
    security(("bearer" = [])),
    params(("eventId" = EventId, Path), ("holdId" = HoldId, Path), UserQuery, IdempotencyHeader),
    request_body(content = Option<UserBody>, description = "Optional with a token"),
    responses((status = 201, description = "Waiting for payment until `paymentDeadline`", body = Order,
        headers(("Location" = String, description = "The order's URL"))), CreateErrors))]
pub async fn create(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    Ids((event, hold)): Ids<(EventId, HoldId)>,
    acting: Acting,
) -> Result<Response, AppError> {
    let user = acting.user()?;
    let order = state
        .store
        .create_order(&event, &hold, &user, key.as_ref())
        .await?;
    metrics::counter!("boxoffice_orders_total").increment(1);
    let location = format!("/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(order),
    )
        .into_response())
}

/// Whether the caller may see `order`: its user, or whoever manages its event.
async fn may_see(state: &AppState, caller: &Caller, order: &Order) -> Result<bool, AppError> {
    Ok(caller.user() == Some(&order.user_id)
        || state
            .store
            .manages(&order.event_id, &caller.actor())
            .await?)
}

/// One order, as of now (an open order past its deadline is `expired`): its user's, or any
/// of an event the caller manages.
#[utoipa::path(get, path = "/orders/{orderId}", operation_id = "getOrder", tag = "orders",
    security(("bearer" = [])),
    params(("orderId" = OrderId, Path)),
    responses((status = 200, description = "The order", body = Order), ShowErrors))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<OrderId>,
) -> Result<Json<Order>, AppError> {
    let order = state
        .store
        .order(&id)
        .await?
        .ok_or(AppError::OrderNotFound)?;
    if !may_see(&state, &caller, &order).await? {
        return Err(AppError::OrderNotFound);
    }
    Ok(Json(order))
}

/// Cancels an order. Open (waiting for payment): its user, or whoever manages the event; its
/// seats or tickets go back at once. Paid: an organizer or admin, or its user until the
/// event's `cancellableUntil`; its booking is cancelled and `refund` says what is owed
/// (the amount paid minus `cancellationFeePercent`).
#[utoipa::path(delete, path = "/orders/{orderId}", operation_id = "cancelOrder", tag = "orders",
    security(("bearer" = [])),
    params(("orderId" = OrderId, Path)),
    responses((status = 200, description = "Cancelled", body = Order), CancelErrors))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<OrderId>,
) -> Result<Json<Order>, AppError> {
    let order = state.store.cancel_order(&id, &caller.actor()).await?;
    metrics::counter!("boxoffice_orders_cancelled_total").increment(1);
    Ok(Json(order))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// One event's orders. Whoever manages it sees anyone's (or `user`'s); anyone else their
    /// own.
    #[param(value_type = Option<EventId>)]
    event_id: Option<String>,
    /// Only orders with this status (as of now).
    status: Option<OrderStatus>,
    /// Whose orders: with a token, yourself (or, managing `eventId`, anyone); in open mode
    /// required without `eventId`.
    #[param(value_type = Option<crate::domain::ids::UserId>)]
    user: Option<String>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The previous page's `nextCursor`.
    #[param(value_type = Option<OrderId>)]
    cursor: Option<String>,
}

/// A page of orders.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    orders: Vec<Order>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Orders, oldest first, as of now: the caller's own in every event; with `eventId`, that
/// event's (anyone's, for whoever manages it).
#[utoipa::path(get, path = "/orders", operation_id = "listOrders", tag = "orders",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of orders", body = OrderList), ListErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<OrderList>, AppError> {
    // Every parameter is checked before who may see what: a malformed request is a 400.
    let named = UserQuery { user: query.user }.user()?;
    let event_id = query.event_id.map(EventId::parse).transpose()?;
    let limit = super::page_limit(query.limit)?;
    let after = query
        .cursor
        .map(|c| {
            uuid::Uuid::try_parse(&c)
                .map(|id| id.hyphenated().to_string())
                .map_err(|_| AppError::InvalidRequest("cursor must be an order id".into()))
        })
        .transpose()?;
    let manages = match &event_id {
        Some(event) => state.store.manages(event, &caller.actor()).await?,
        None => false,
    };
    let user_id = if manages {
        named
    } else {
        Some(caller.acting_in_query(named)?)
    };
    let OrderPage {
        orders,
        next_cursor,
    } = state
        .store
        .list_orders(&OrderFilter {
            event_id,
            user_id,
            status: query.status,
            after,
            limit,
        })
        .await?;
    Ok(Json(OrderList {
        orders,
        next_cursor,
    }))
}

/// A payment received outside a provider's webhook.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPayment {
    /// Who took the money (`bank-transfer`, `box-office`, another provider's name).
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    provider: String,
    /// The provider's id of the payment: a payment with the same provider and reference is
    /// applied once.
    #[schema(min_length = 1, max_length = 200)]
    reference: String,
    /// As prices are written (`49.99`).
    amount: Money,
    /// ISO 4217.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
}

/// What a payment did to its order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentReply {
    /// `paid`, `revived` (paid after expiry, everything still free), `mismatch` (wrong amount
    /// or currency: not paid), `duplicate` (paid already: refund owed) or `refund_required`
    /// (late, something sold meanwhile: refund owed).
    result: String,
    /// This provider reference was applied before: nothing changed now.
    replayed: bool,
    order: Order,
}

impl From<PaymentOutcome> for PaymentReply {
    fn from(outcome: PaymentOutcome) -> Self {
        Self {
            result: outcome.result,
            replayed: outcome.replayed,
            order: outcome.order,
        }
    }
}

/// Records a payment received by other means (bank transfer, the box office, another
/// provider), as the Stripe webhook does for Stripe. Admins only.
#[utoipa::path(post, path = "/orders/{orderId}/payments", operation_id = "recordPayment", tag = "orders",
    security(("bearer" = [])),
    params(("orderId" = OrderId, Path)),
    request_body = NewPayment,
    responses((status = 200, description = "Applied (or applied before: `replayed`)", body = PaymentReply),
        PaymentErrors))]
pub async fn record_payment(
    State(state): State<AppState>,
    caller: Caller,
    Ids(id): Ids<OrderId>,
    JsonBody(body): JsonBody<NewPayment>,
) -> Result<Json<PaymentReply>, AppError> {
    caller.require(Role::Admin)?;
    let provider_ok = !body.provider.is_empty()
        && body.provider.len() <= 32
        && body
            .provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !provider_ok {
        return Err(AppError::InvalidRequest(
            "provider must be 1 to 32 of a-z, 0-9, _ and -".into(),
        ));
    }
    if body.reference.is_empty() || body.reference.chars().count() > 200 {
        return Err(AppError::InvalidRequest(
            "reference must be 1 to 200 characters".into(),
        ));
    }
    if !valid_currency(&body.currency) {
        return Err(AppError::InvalidRequest(
            "currency must be an ISO 4217 code: three capital letters".into(),
        ));
    }
    let report = PaymentReport {
        provider: body.provider,
        reference: body.reference,
        amount_cents: body.amount.cents(),
        currency: body.currency,
    };
    Ok(Json(state.store.pay_order(&id, &report).await?.into()))
}
