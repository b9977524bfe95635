//! Bookings: the record the Lua scripts write (one JSON document per booking) and the API view.

use super::ids::{BookingId, EventId, SeatId, SectionId, UserId};
use super::money::Money;
use super::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

/// A booking as the scripts store it (`lua/book.lua`, `lua/confirm_seat.lua`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingRecord {
    pub id: BookingId,
    pub event_id: EventId,
    pub section_id: SectionId,
    pub qty: u32,
    /// The seats taken, for reserved sections; absent for general admission.
    #[serde(default)]
    pub seats: Vec<SeatId>,
    pub user_id: UserId,
    /// Cents, copied from the section when booked.
    pub unit_price: i64,
    pub status: BookingStatus,
    pub created_at: i64,
    #[serde(default)]
    pub cancelled_at: Option<i64>,
}

/// A booking as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingView {
    pub id: BookingId,
    pub event_id: EventId,
    /// In listings and `GET /bookings/{bookingId}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    pub section_id: SectionId,
    /// In listings and `GET /bookings/{bookingId}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    pub qty: u32,
    /// Reserved seating: the seats booked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub seats: Vec<SeatId>,
    pub user_id: UserId,
    pub unit_price: Money,
    pub total_price: Money,
    pub status: BookingStatus,
    pub created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Millis>,
    /// The section's remaining count right after this booking was made or cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
}

impl From<BookingRecord> for BookingView {
    fn from(b: BookingRecord) -> Self {
        let unit_price = Money::from_cents(b.unit_price);
        Self {
            id: b.id,
            event_id: b.event_id,
            event_name: None,
            section_id: b.section_id,
            section_name: None,
            qty: b.qty,
            seats: b.seats,
            user_id: b.user_id,
            unit_price,
            total_price: unit_price
                .times(b.qty)
                .unwrap_or(Money::from_cents(i64::MAX)),
            status: b.status,
            created_at: Millis(b.created_at),
            cancelled_at: b.cancelled_at.map(Millis),
            remaining: None,
        }
    }
}
