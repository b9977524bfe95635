//! The demo event behind the seed systems' routes (`GET /seats`, `POST /lock/{seatId}`, ...):
//! seats `1..=DEMO_SEATS`, made at start (and again if Redis lost it) unless it exists.

use super::Store;
use crate::domain::event::{EventRecord, SectionRecord};
use crate::domain::ids::{EventId, SeatId, SectionId};
use crate::domain::time::now_ms;
use crate::error::AppError;

pub const DEMO_EVENT_ID: &str = "demo";

/// The demo event's id.
pub fn demo_event() -> Result<EventId, AppError> {
    Ok(EventId::parse(DEMO_EVENT_ID)?)
}

impl Store {
    /// Creates the demo event unless it exists: a replica starting later never resets its
    /// seats.
    pub async fn ensure_demo_event(&self, seats: u32) -> Result<(), AppError> {
        if seats == 0 {
            return Ok(());
        }
        let seat_ids = (1..=seats)
            .map(|n| SeatId::parse(n.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let record = EventRecord {
            id: demo_event()?,
            name: "Demo event".to_owned(),
            created_at: now_ms(),
            sections: vec![SectionRecord {
                id: SectionId::parse("main".to_owned())?,
                name: "Main hall".to_owned(),
                price: 0,
                capacity: seats,
                seats: Some(seat_ids),
                rows: None,
                max_per_user: None,
            }],
            max_per_user: None,
            waiting_room: None,
            payment: Default::default(),
            currency: "EUR".to_owned(),
            cancellable_until: None,
            cancellation_fee_percent: 0,
        };
        if self.create_event(&record, None).await? {
            tracing::info!(seats, "created the demo event");
        }
        Ok(())
    }
}
