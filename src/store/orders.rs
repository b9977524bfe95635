//! Orders: made from a live hold, paid by a provider's report or an admin, cancelled; read and
//! listed. Every change is one script (`lua/order_*.lua`); reads here only learn an order's
//! event (which never changes) to name the script's keys, and the script checks again.

use super::bookings::{event_index, require_event};
use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EventKeys, Scope};
use super::scripts::{OrderCancelArgs, OrderCreateArgs, OrderPayArgs};
use super::{RedisTime, Store, parse_document, redis_millis, with_fresh_id};
use crate::domain::ids::{BookingId, EventId, HoldId, OrderId, UserId};
use crate::domain::order::{Order, OrderStatus};
use crate::domain::role::Actor;
use crate::error::AppError;
use serde::Deserialize;

/// A payment as its provider reported it, in this service's cents.
#[derive(Debug, Clone)]
pub struct PaymentReport {
    /// `stripe`, or what an admin names.
    pub provider: String,
    /// The provider's id of the payment: each is applied once.
    pub reference: String,
    pub amount_cents: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

/// What a payment did (`lua/order_pay.lua`).
#[derive(Debug, Deserialize)]
pub struct PaymentOutcome {
    pub order: Order,
    /// `paid`, `revived`, `mismatch`, `duplicate` or `refund_required`.
    pub result: String,
    /// The same provider reference came before: nothing changed.
    #[serde(default)]
    pub replayed: bool,
}

/// `GET /orders` filters.
#[derive(Debug, Clone)]
pub struct OrderFilter {
    /// One event's orders; else the user's orders in every event they ordered in.
    pub event_id: Option<EventId>,
    /// Only this user's (none: anyone's, for whoever manages `event_id`).
    pub user_id: Option<UserId>,
    pub status: Option<OrderStatus>,
    /// Only orders with an id greater than this (the previous page's `nextCursor`: a UUID,
    /// lower case, hyphenated).
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_cursor: Option<String>,
}

impl Store {
    /// The user's live hold becomes an order waiting for payment until now +
    /// `payment_ttl_ms`; exactly once per Idempotency-Key.
    pub async fn create_order(
        &self,
        event: &EventId,
        hold: &HoldId,
        user: &UserId,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Order, AppError> {
        let fingerprint = format!("order|{event}|{hold}");
        let script = &self.scripts.order_create;
        self.bounded(async {
            let claim = idempotency.map(|key| (key, fingerprint.as_str()));
            self.register_booking(user, event, claim).await?;
            let fresh = || OrderId::new(keys::event_slot(event));
            let created = with_fresh_id("order", fresh, |id| {
                let fingerprint = &fingerprint;
                async move {
                    let scope = Scope::event(event)
                        .user(user)
                        .hold(hold)
                        .order(&id)
                        .idempotency(idempotency.map(IdempotencyKey::as_str));
                    let invocation = script.call_in(
                        &scope,
                        OrderCreateArgs {
                            user: user.to_string(),
                            order_id: id.to_string(),
                            event_id: event.to_string(),
                            payment_ttl_ms: self.limits.order_payment_ttl_ms.to_string(),
                            fingerprint: idempotency.map(|_| fingerprint.clone()),
                            ttl_ms: idempotency.map(|_| IDEMPOTENCY_TTL_MS.to_string()),
                        },
                    )?;
                    self.run_script::<Order>(script.name, &invocation).await
                }
            })
            .await
            .inspect(|_| self.written.mark(event));
            self.wrote(event);
            created
        })
        .await
    }

    /// The order as of now on Redis's clock (an open order past its deadline shows expired).
    pub async fn order(&self, id: &OrderId) -> Result<Option<Order>, AppError> {
        self.bounded(async {
            let (raw, now): (Option<String>, RedisTime) = redis::pipe()
                .get(keys::order(id))
                .cmd("TIME")
                .query_async(&mut self.conn().await?)
                .await?;
            raw.map(|raw| {
                parse_document::<Order>("order", &raw).map(|o| o.as_of(redis_millis(now)))
            })
            .transpose()
        })
        .await
    }

    /// Applies a payment to the order, once per provider reference. With
    /// `REDIS_MIN_REPLICAS_ACK`, a payment that made a booking is answered once replicas have
    /// it (the provider retries otherwise, and the retry replays).
    pub async fn pay_order(
        &self,
        id: &OrderId,
        report: &PaymentReport,
    ) -> Result<PaymentOutcome, AppError> {
        let script = &self.scripts.order_pay;
        self.bounded(async {
            let order = self.order_record(id).await?;
            let order = &order;
            let outcome = with_fresh_id(
                "booking",
                || BookingId::new(id.slot()),
                |booking| async move {
                    let scope = Scope::event(&order.event_id)
                        .user(&order.user_id)
                        .order(id)
                        .booking(&booking);
                    let invocation = script.call_in(
                        &scope,
                        OrderPayArgs {
                            provider: report.provider.clone(),
                            reference: report.reference.clone(),
                            amount: report.amount_cents.to_string(),
                            currency: report.currency.clone(),
                            booking_id: booking.to_string(),
                        },
                    )?;
                    self.run_script::<PaymentOutcome>(script.name, &invocation)
                        .await
                },
            )
            .await;
            self.wrote(&order.event_id);
            let outcome = outcome?;
            self.written.mark(&order.event_id);
            if let Some(made) = outcome.order.booking_id {
                self.acknowledge(&made).await?;
            }
            Ok(outcome)
        })
        .await
    }

    /// Cancels an order for `actor` (its user, or whoever manages its event: the script
    /// checks, with the order's status), counted against the actor's rate limit.
    pub async fn cancel_order(&self, id: &OrderId, actor: &Actor) -> Result<Order, AppError> {
        let script = &self.scripts.order_cancel;
        self.bounded(async {
            let order = self.order_record(id).await?;
            // In open mode the actor is nobody in particular: the order's user.
            let acting = if actor.user.is_empty() {
                order.user_id.clone()
            } else {
                UserId::parse(actor.user.clone())?
            };
            self.check_user_rate(&acting).await?;
            let invocation = script.call_in(
                &Scope::event(&order.event_id).user(&order.user_id).order(id),
                OrderCancelArgs {
                    actor: acting.to_string(),
                    role: actor.role.to_owned(),
                },
            )?;
            let cancelled = self.run_script::<Order>(script.name, &invocation).await;
            self.wrote(&order.event_id);
            let cancelled = cancelled??;
            self.written.mark(&order.event_id);
            Ok(cancelled)
        })
        .await
    }

    /// The stored order, to learn its event and user (which never change).
    async fn order_record(&self, id: &OrderId) -> Result<Order, AppError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(keys::order(id))
            .query_async(&mut self.conn().await?)
            .await?;
        let raw = raw.ok_or(AppError::OrderNotFound)?;
        parse_document("order", &raw)
    }

    /// Orders in id (= creation) order, as of now: one event's (all of them, or one user's),
    /// or one user's in every event they ordered in.
    pub async fn list_orders(&self, filter: &OrderFilter) -> Result<OrderPage, AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            let events: Vec<EventId> = match (&filter.event_id, &filter.user_id) {
                (Some(event), _) => {
                    require_event(&mut conn, event).await?;
                    vec![event.clone()]
                }
                (None, Some(user)) => event_index(&mut conn, keys::user_events(user)).await?,
                (None, None) => {
                    return Err(AppError::InvalidRequest(
                        "name an eventId to list anyone's orders".into(),
                    ));
                }
            };
            let from = filter
                .after
                .as_ref()
                .map_or_else(|| "-".to_owned(), |after| format!("({after}"));
            let mut ids: Vec<OrderId> = Vec::new();
            // The smallest last id of an index page that was full: past it, that index may
            // have more, so the page stops there and the cursor goes on from it.
            let mut horizon: Option<OrderId> = None;
            for event in &events {
                let e = EventKeys::new(event);
                let index = filter
                    .user_id
                    .as_ref()
                    .map_or_else(|| e.orders(), |user| e.user_orders(user));
                let page: Vec<String> = redis::cmd("ZRANGE")
                    .arg(index)
                    .arg(&from)
                    .arg("+")
                    .arg("BYLEX")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(MAX_SCAN)
                    .query_async(&mut conn)
                    .await?;
                let page: Vec<OrderId> = page.iter().filter_map(|id| OrderId::parse(id)).collect();
                if page.len() >= MAX_SCAN
                    && let Some(last) = page.last()
                {
                    horizon = Some(horizon.map_or(*last, |h| h.min(*last)));
                }
                ids.extend(page);
            }
            ids.sort();
            if let Some(horizon) = horizon {
                ids.retain(|id| *id <= horizon);
            }
            let now: RedisTime = redis::cmd("TIME").query_async(&mut conn).await?;
            let now = redis_millis(now);
            let mut orders = Vec::new();
            let mut last = None;
            for chunk in ids.chunks(100) {
                let docs = self.order_documents(chunk).await?;
                for (id, doc) in chunk.iter().zip(docs) {
                    if orders.len() == filter.limit {
                        return Ok(OrderPage {
                            orders,
                            next_cursor: last.map(|id: OrderId| id.to_string()),
                        });
                    }
                    last = Some(*id);
                    let Some(doc) = doc else { continue };
                    let order = parse_document::<Order>("order", &doc)?.as_of(now);
                    if filter.status.is_none_or(|status| status == order.status) {
                        orders.push(order);
                    }
                }
            }
            Ok(OrderPage {
                orders,
                next_cursor: horizon.map(|h| h.to_string()),
            })
        })
        .await
    }
}

impl Store {
    /// The documents of `ids`, in their order: one pipeline per slot (an event's orders share
    /// its slot), so that it works on a cluster too.
    async fn order_documents(&self, ids: &[OrderId]) -> Result<Vec<Option<String>>, AppError> {
        let mut by_slot: std::collections::BTreeMap<u16, Vec<usize>> = Default::default();
        for (i, id) in ids.iter().enumerate() {
            by_slot.entry(id.slot()).or_default().push(i);
        }
        let mut docs = vec![None; ids.len()];
        let mut conn = self.conn().await?;
        for positions in by_slot.values() {
            let mut pipe = redis::pipe();
            for &i in positions {
                pipe.get(keys::order(&ids[i]));
            }
            let found: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for (&i, doc) in positions.iter().zip(found) {
                docs[i] = doc;
            }
        }
        Ok(docs)
    }
}

/// Order ids read from one index per page at most.
const MAX_SCAN: usize = 1000;
