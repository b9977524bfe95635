//! The seat map of an event: every named seat with its status, derived from three facts kept
//! in Redis (the seats still free, the live locks with their expiry, Redis's clock).

use super::event::EventRecord;
use super::ids::{SeatId, SectionId};
use super::time::serialize_opt_ms;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatStatus {
    Available,
    Locked,
    Booked,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub id: SeatId,
    pub section_id: SectionId,
    pub status: SeatStatus,
    /// When the lock ends; who holds it is never shown.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_ms"
    )]
    pub lock_expires_at: Option<i64>,
}

/// Seats in the order the event lists them.
pub fn seat_map(
    event: &EventRecord,
    free: &HashSet<String>,
    lock_expiry: &HashMap<String, i64>,
    now_ms: i64,
) -> Vec<SeatView> {
    let mut seats = Vec::new();
    for section in &event.sections {
        for seat in section.seats.iter().flatten() {
            let expires = lock_expiry
                .get(seat.as_str())
                .copied()
                .filter(|&at| at > now_ms);
            let status = if !free.contains(seat.as_str()) {
                SeatStatus::Booked
            } else if expires.is_some() {
                SeatStatus::Locked
            } else {
                SeatStatus::Available
            };
            seats.push(SeatView {
                id: seat.clone(),
                section_id: section.id.clone(),
                status,
                lock_expires_at: if status == SeatStatus::Locked {
                    expires
                } else {
                    None
                },
            });
        }
    }
    seats
}
