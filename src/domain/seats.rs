//! The seat map of an event: every named seat with its status, derived from three facts kept
//! in Redis (the booked-seats bitmap, the live locks with their expiry, Redis's clock).
//!
//! It serializes straight from the event document: a 5000-seat map is written out without a
//! copy of any seat id.

use super::event::EventRecord;
use super::ids::{RowName, SeatId, SectionId};
use super::time::Millis;
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeatStatus {
    Available,
    Locked,
    Booked,
}

/// One seat of a seat map.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Seat)]
pub struct SeatView<'a> {
    #[schema(value_type = SeatId)]
    pub id: &'a SeatId,
    #[schema(value_type = SectionId)]
    pub section_id: &'a SectionId,
    /// The seat's row, for a section given by rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RowName>)]
    pub row: Option<&'a RowName>,
    pub status: SeatStatus,
    /// When the lock ends; who holds it is never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_expires_at: Option<Millis>,
}

/// Whether bit `position` of a Redis bitmap is set (bit 0 is the high bit of byte 0). Bits past
/// the end of the string are 0, as Redis reads them.
pub fn bit_is_set(bitmap: &[u8], position: usize) -> bool {
    bitmap
        .get(position / 8)
        .is_some_and(|byte| byte & (0x80 >> (position % 8)) != 0)
}

#[derive(Debug)]
pub struct SeatMap {
    event: std::sync::Arc<EventRecord>,
    booked: Vec<u8>,
    lock_expiry: HashMap<String, i64>,
    now_ms: i64,
}

/// `booked` is the event's booked-seats bitmap, `lock_expiry` the lock index (seat -> expiry
/// in ms), `now_ms` Redis's clock: the same clock that expires the lock keys.
pub fn seat_map(
    event: std::sync::Arc<EventRecord>,
    booked: Vec<u8>,
    lock_expiry: HashMap<String, i64>,
    now_ms: i64,
) -> SeatMap {
    SeatMap {
        event,
        booked,
        lock_expiry,
        now_ms,
    }
}

impl SeatMap {
    /// How many seats the map has.
    pub fn len(&self) -> usize {
        self.event
            .sections
            .iter()
            .map(|s| s.seats.as_ref().map_or(0, Vec::len))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seats in the order the event lists them: their positions.
    pub fn seats(&self) -> impl Iterator<Item = SeatView<'_>> {
        self.event
            .sections
            .iter()
            .flat_map(|section| {
                section
                    .seats
                    .iter()
                    .flatten()
                    .zip(section.seat_rows())
                    .map(move |(seat, row)| (section, seat, row))
            })
            .enumerate()
            .map(|(position, (section, seat, row))| {
                let expires = self
                    .lock_expiry
                    .get(seat.as_str())
                    .copied()
                    .filter(|&at| at > self.now_ms);
                let status = if bit_is_set(&self.booked, position) {
                    SeatStatus::Booked
                } else if expires.is_some() {
                    SeatStatus::Locked
                } else {
                    SeatStatus::Available
                };
                SeatView {
                    id: seat,
                    section_id: &section.id,
                    row,
                    status,
                    lock_expires_at: expires.filter(|_| status == SeatStatus::Locked).map(Millis),
                }
            })
    }
}

impl Serialize for SeatMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for seat in self.seats() {
            seq.serialize_element(&seat)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::bit_is_set;

    #[test]
    fn bits_are_read_as_redis_numbers_them() {
        // SETBIT k 0 1 and SETBIT k 9 1 give the bytes 0x80 0x40.
        let bitmap = [0x80, 0x40];
        let set: Vec<usize> = (0..20).filter(|&p| bit_is_set(&bitmap, p)).collect();
        assert_eq!(set, [0, 9]);
    }
}
