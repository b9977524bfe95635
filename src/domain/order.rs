//! Orders: a hold turned into something to pay for. The record is what the order scripts
//! (`lua/order_*.lua`) store; the view is what the API shows. Money is whole cents inside.
//!
//! The life of an order (docs/orders.md):
//!
//! ```text
//! pending_payment --payment that matches, in time------------------> paid
//!        |        --payment with a wrong amount or currency--------> payment_mismatch
//!        |                                                    (keeps its inventory; a matching
//!        |                                                     payment in time still pays it)
//!        |--deadline passes (on Redis's clock)--------------------> expired
//!        |--its user cancels----------------------------------------> cancelled
//! expired / cancelled --payment arrives late: all still free------> paid (revived)
//!                     --payment arrives late: something was sold--> refund_required
//! paid --cancelled (organizer, admin; buyer until cancellableUntil)-> cancelled, refund owed
//! ```

use super::ids::{BookingId, EventId, HoldId, OrderId, SeatId, SectionId, UserId};
use super::money::Money;
use super::time::Millis;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Waiting for its payment until `paymentDeadline`; its seats or tickets are taken.
    PendingPayment,
    /// A payment arrived whose amount or currency differs: not paid; kept for a person to
    /// resolve. Its inventory stays taken until `paymentDeadline`.
    PaymentMismatch,
    /// Paid: its booking exists (`bookingId`).
    Paid,
    /// Not paid by its deadline: everything went back on sale.
    Expired,
    /// Cancelled: by its user while pending, or (paid) by an organizer, an admin or its user
    /// before the event's `cancellableUntil`; `refund` says what is owed.
    Cancelled,
    /// Paid after its deadline when some of its seats or tickets were sold meanwhile:
    /// nothing was booked, `refund` says what is owed.
    RefundRequired,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::PaymentMismatch => "payment_mismatch",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::RefundRequired => "refund_required",
        }
    }

    /// Still waiting for money: its deadline decides whether it has expired.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingPayment | OrderStatus::PaymentMismatch
        )
    }
}

/// What an order is for: one section's tickets or seats (a hold is one section).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub section_id: SectionId,
    pub qty: u32,
    /// Reserved seating: the seats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub seats: Vec<SeatId>,
    #[schema(value_type = Money)]
    #[serde(serialize_with = "cents_as_money")]
    pub unit_price: i64,
}

/// A payment the order received, as the provider reported it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// `stripe`, or what an admin named (`POST /orders/{orderId}/payments`).
    pub provider: String,
    /// The provider's id of the event or payment: applied once.
    pub reference: String,
    #[schema(value_type = Money)]
    #[serde(serialize_with = "cents_as_money")]
    pub amount: i64,
    pub currency: String,
    /// What it did: `paid`, `revived` (paid after expiry, everything still free),
    /// `mismatch`, `refund_required` (late, something sold meanwhile), `duplicate` (the order
    /// was paid already: refund owed).
    pub result: String,
    pub received_at: Millis,
}

/// Money owed back to the buyer; carrying it out at the provider is the payment side's job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    #[schema(value_type = Money)]
    #[serde(serialize_with = "cents_as_money")]
    pub amount: i64,
    /// `owed`.
    pub status: String,
}

/// An order as the scripts store it, and (with its status as of now) as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub event_id: EventId,
    pub hold_id: HoldId,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub items: Vec<OrderItem>,
    /// The sum of the items, computed by the script from the section prices.
    #[schema(value_type = Money)]
    #[serde(serialize_with = "cents_as_money")]
    pub amount: i64,
    /// ISO 4217, the event's.
    pub currency: String,
    /// Until when the order keeps its seats or tickets without payment.
    pub payment_deadline: Millis,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<Millis>,
    /// Once paid: the booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<BookingId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// Every payment received, in order.
    #[serde(
        default,
        deserialize_with = "list_or_empty_object",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schema(required = false)]
    pub payments: Vec<Payment>,
}

impl Order {
    /// As of `now` (Redis's clock): an open order past its deadline has expired, whether or
    /// not a script has written so yet (its inventory is back already: it was held until then).
    pub fn as_of(mut self, now: i64) -> Self {
        if self.status.is_open() && self.payment_deadline.0 <= now {
            self.status = OrderStatus::Expired;
        }
        self
    }
}

fn cents_as_money<S: serde::Serializer>(cents: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    Money::from_cents(*cents).serialize(serializer)
}

/// Lua's cjson writes an empty list as `{}`: a list field a script rewrote.
pub(crate) fn list_or_empty_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrObject<T> {
        List(Vec<T>),
        Empty {},
    }
    Ok(match ListOrObject::deserialize(deserializer)? {
        ListOrObject::List(list) => list,
        ListOrObject::Empty {} => Vec::new(),
    })
}

/// Whether an event's direct booking routes need payment (`POST /events`, `payment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentPolicy {
    /// Booking is final when asked (the direct routes book).
    #[default]
    None,
    /// Buyers book through an order and its payment; the direct routes answer `402
    /// PAYMENT_REQUIRED` to them (organizers and admins may still book directly).
    Required,
}

impl PaymentPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentPolicy::None => "none",
            PaymentPolicy::Required => "required",
        }
    }
}

/// ISO 4217 currencies whose smallest unit is the unit itself (Stripe's list of zero-decimal
/// currencies): a provider's amount `500` is 500.00.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
/// ISO 4217 currencies with three decimals: a provider's amount `1230` is 1.23.
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// Whether `cents` is a whole number of the currency's smallest unit (a zero-decimal
/// currency has no cents).
pub fn is_whole_in(cents: i64, currency: &str) -> bool {
    !ZERO_DECIMAL.contains(&currency) || cents % 100 == 0
}

/// A currency code: three capital letters (ISO 4217).
pub fn valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// A provider's amount (in the currency's smallest unit, as Stripe sends it) as cents of
/// this service's prices; `None` if it is no whole number of cents.
pub fn provider_amount_in_cents(amount: i64, currency: &str) -> Option<i64> {
    let currency = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency.as_str()) {
        amount.checked_mul(100)
    } else if THREE_DECIMAL.contains(&currency.as_str()) {
        (amount % 10 == 0).then_some(amount / 10)
    } else {
        Some(amount)
    }
}

/// Cents of this service as the provider's amount (the inverse of
/// [`provider_amount_in_cents`]): what a test webhook for an order carries.
pub fn cents_in_provider_amount(cents: i64, currency: &str) -> i64 {
    let currency = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency.as_str()) {
        cents / 100
    } else if THREE_DECIMAL.contains(&currency.as_str()) {
        cents * 10
    } else {
        cents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_amounts_follow_the_currency_s_decimals() {
        assert_eq!(provider_amount_in_cents(4999, "eur"), Some(4999));
        assert_eq!(provider_amount_in_cents(500, "JPY"), Some(50_000));
        assert_eq!(provider_amount_in_cents(1230, "KWD"), Some(123));
        assert_eq!(provider_amount_in_cents(1231, "KWD"), None);
        for (cents, currency) in [(4999, "EUR"), (50_000, "JPY"), (123, "KWD")] {
            let amount = cents_in_provider_amount(cents, currency);
            assert_eq!(provider_amount_in_cents(amount, currency), Some(cents));
        }
        assert!(valid_currency("EUR"));
        assert!(!valid_currency("eur"));
        assert!(!valid_currency("EURO"));
    }

    #[test]
    fn an_open_order_past_its_deadline_shows_as_expired() {
        let json = r#"{"id":"01900000-0000-7000-8000-000000000001","eventId":"e1",
            "holdId":"01900000-0000-7000-8000-000000000002","userId":"ann",
            "status":"pending_payment","items":[{"sectionId":"s1","qty":2,"unitPrice":2500}],
            "amount":5000,"currency":"EUR","paymentDeadline":1000,"createdAt":10,
            "payments":{}}"#;
        let order: Order = serde_json::from_str(json).expect("an order as stored");
        assert_eq!(order.clone().as_of(999).status, OrderStatus::PendingPayment);
        assert_eq!(order.as_of(1000).status, OrderStatus::Expired);
    }
}
