//! Checkout holds: several seats, or a quantity of a general admission section, held together
//! for one user while they pay, then confirmed as one booking or released. The record is what
//! the hold scripts (`lua/hold_*.lua`) store; the view is what the API shows.

use super::ids::{BookingId, EventId, HoldId, SeatId, SectionId, UserId};
use super::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /events/{eventId}/holds`: named `seats`, or `sectionId` with `qty`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewHold {
    /// Named seats, all in one section: all held, or none.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10)]
    pub seats: Option<Vec<SeatId>>,
    /// A general admission section to hold `qty` tickets of.
    #[serde(default)]
    pub section_id: Option<SectionId>,
    #[serde(default, deserialize_with = "super::whole::deserialize_option")]
    #[schema(minimum = 1, maximum = 10)]
    pub qty: Option<u32>,
    /// With `sectionId` on a reserved section: `qty` seats side by side in one row (else
    /// 409 `NO_ADJACENT_SEATS`). Without it, side by side if any row can, else the fewest
    /// rows. Best available either way: front rows first, near the row's centre, no single
    /// empty seat left beside the block when the row allows.
    #[serde(default)]
    pub together: Option<bool>,
    /// With a token, the token's user (naming another is 403); in open mode required.
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// What a valid [`NewHold`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldRequest {
    Seats(Vec<SeatId>),
    Quantity {
        section: SectionId,
        qty: u32,
        together: bool,
    },
}

impl NewHold {
    /// Checks the body's shape; `max_qty` is MAX_QTY_PER_BOOKING (a hold becomes one booking).
    pub fn request(&self, max_qty: u32) -> Result<HoldRequest, String> {
        match (&self.seats, &self.section_id, self.qty) {
            (Some(_), None, None) if self.together.is_some() => {
                Err("together goes with sectionId and qty, not with seats".into())
            }
            (Some(seats), None, None) => {
                if seats.is_empty() || seats.len() > max_qty as usize {
                    return Err(format!("seats must list 1 to {max_qty} seats"));
                }
                let mut seen = std::collections::HashSet::new();
                if let Some(twice) = seats.iter().find(|s| !seen.insert(*s)) {
                    return Err(format!("seat {twice} is listed twice"));
                }
                Ok(HoldRequest::Seats(seats.clone()))
            }
            (None, Some(section), Some(qty)) => {
                if !(1..=max_qty).contains(&qty) {
                    return Err(format!("qty must be an integer from 1 to {max_qty}"));
                }
                Ok(HoldRequest::Quantity {
                    section: section.clone(),
                    qty,
                    together: self.together.unwrap_or(false),
                })
            }
            _ => Err("give either seats, or sectionId with qty".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HoldStatus {
    Held,
    Confirmed,
    Released,
}

/// A hold as the scripts store it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldRecord {
    pub id: HoldId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub section_id: SectionId,
    #[serde(default)]
    pub seats: Vec<SeatId>,
    pub qty: u32,
    pub created_at: i64,
    pub expires_at: i64,
    pub extensions_left: u32,
    pub status: HoldStatus,
    #[serde(default)]
    pub booking_id: Option<BookingId>,
}

/// A live hold: its seats (or quantity) are the user's until `expiresAt`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    pub id: HoldId,
    pub event_id: EventId,
    pub section_id: SectionId,
    /// Reserved seating: the seats held.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub seats: Vec<SeatId>,
    pub qty: u32,
    pub user_id: UserId,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// How many more times `extend` may be called.
    pub extensions_left: u32,
    pub status: HoldStatus,
}

impl From<HoldRecord> for HoldView {
    fn from(h: HoldRecord) -> Self {
        Self {
            id: h.id,
            event_id: h.event_id,
            section_id: h.section_id,
            seats: h.seats,
            qty: h.qty,
            user_id: h.user_id,
            created_at: Millis(h.created_at),
            expires_at: Millis(h.expires_at),
            extensions_left: h.extensions_left,
            status: h.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<HoldRequest, String> {
        let body: NewHold = serde_json::from_str(json).map_err(|e| e.to_string())?;
        body.request(4)
    }

    #[test]
    fn a_hold_names_seats_or_a_quantity() {
        assert!(
            matches!(request(r#"{"seats":["A1","A2"]}"#), Ok(HoldRequest::Seats(s)) if s.len() == 2)
        );
        assert!(matches!(
            request(r#"{"sectionId":"s1","qty":4.0}"#),
            Ok(HoldRequest::Quantity { qty: 4, .. })
        ));
        for (json, expected) in [
            (r#"{}"#, "either seats"),
            (
                r#"{"seats":["A1"],"sectionId":"s1","qty":1}"#,
                "either seats",
            ),
            (r#"{"sectionId":"s1"}"#, "either seats"),
            (r#"{"seats":[]}"#, "1 to 4 seats"),
            (r#"{"seats":["A1","A2","A3","A4","A5"]}"#, "1 to 4 seats"),
            (r#"{"seats":["A1","A1"]}"#, "listed twice"),
            (r#"{"sectionId":"s1","qty":5}"#, "qty must be"),
            (r#"{"sectionId":"s1","qty":0}"#, "qty must be"),
            (r#"{"seats":["A1"],"together":true}"#, "together goes with"),
        ] {
            let err = request(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
