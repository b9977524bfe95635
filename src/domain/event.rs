//! Events and their sections: the request that creates one, the record kept in Redis, and the
//! view the API returns.

use super::ids::{EventId, SeatId, SectionId};
use super::money::Money;
use super::time::serialize_ms;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SECTIONS: usize = 100;
/// General admission capacity per section.
pub const MAX_CAPACITY: u32 = 1_000_000;
/// Named seats per event, across its sections.
pub const MAX_SEATS_PER_EVENT: usize = 10_000;

/// Body of `POST /events`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    pub name: String,
    pub sections: Vec<NewSection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSection {
    pub name: String,
    pub price: Money,
    /// Required for general admission; for reserved seating it may be given and must then
    /// equal the number of seats.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Named seats make the section reserved seating.
    #[serde(default)]
    pub seats: Option<Vec<SeatId>>,
}

/// An event as stored: everything about it that never changes after creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub id: EventId,
    pub name: String,
    pub created_at: i64,
    pub sections: Vec<SectionRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionRecord {
    pub id: SectionId,
    pub name: String,
    /// Cents.
    pub price: i64,
    pub capacity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<SeatId>>,
}

impl EventRecord {
    pub fn section(&self, id: &SectionId) -> Option<&SectionRecord> {
        self.sections.iter().find(|s| &s.id == id)
    }
}

fn checked_name(what: &str, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{what} must be at most {MAX_NAME_CHARS} characters"
        ));
    }
    Ok(name.to_owned())
}

impl NewEvent {
    /// Checks every rule and assigns section ids (`s1`, `s2`, ... in the order given).
    pub fn into_record(self, id: EventId, created_at: i64) -> Result<EventRecord, String> {
        let name = checked_name("name", &self.name)?;
        if self.sections.is_empty() || self.sections.len() > MAX_SECTIONS {
            return Err(format!("sections must hold 1 to {MAX_SECTIONS} sections"));
        }
        let mut seen_seats = HashSet::new();
        let mut sections = Vec::with_capacity(self.sections.len());
        for (index, section) in self.sections.into_iter().enumerate() {
            let at = format!("sections[{index}]");
            let name = checked_name(&format!("{at}.name"), &section.name)?;
            let capacity = match (&section.seats, section.capacity) {
                (Some(seats), capacity) => {
                    if seats.is_empty() {
                        return Err(format!("{at}.seats must not be empty"));
                    }
                    for seat in seats {
                        if !seen_seats.insert(seat.clone()) {
                            return Err(format!("{at}.seats: seat {seat} appears twice"));
                        }
                    }
                    if seen_seats.len() > MAX_SEATS_PER_EVENT {
                        return Err(format!(
                            "an event may have at most {MAX_SEATS_PER_EVENT} named seats"
                        ));
                    }
                    let count = seats.len() as u32;
                    if capacity.is_some_and(|c| c != count) {
                        return Err(format!(
                            "{at}.capacity must equal the number of seats ({count}) or be left out"
                        ));
                    }
                    count
                }
                (None, Some(capacity)) if (1..=MAX_CAPACITY).contains(&capacity) => capacity,
                (None, Some(_)) => {
                    return Err(format!("{at}.capacity must be 1 to {MAX_CAPACITY}"));
                }
                (None, None) => {
                    return Err(format!("{at} needs a capacity or a list of seats"));
                }
            };
            let id = SectionId::parse(format!("s{}", index + 1)).map_err(|e| e.to_string())?;
            sections.push(SectionRecord {
                id,
                name,
                price: section.price.cents(),
                capacity,
                seats: section.seats,
            });
        }
        Ok(EventRecord {
            id,
            name,
            created_at,
            sections,
        })
    }
}

/// `GET /events/{id}` and friends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: EventId,
    pub name: String,
    #[serde(serialize_with = "serialize_ms")]
    pub created_at: i64,
    pub sections: Vec<SectionView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub id: SectionId,
    pub name: String,
    pub price: Money,
    /// `general` (booked by quantity) or `reserved` (named seats).
    pub seating: &'static str,
    pub capacity: u32,
    pub remaining: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<SeatId>>,
}

impl EventView {
    /// `remaining` maps section ids to their live counters.
    pub fn new(record: EventRecord, remaining: &HashMap<SectionId, i64>) -> Self {
        let sections = record
            .sections
            .into_iter()
            .map(|s| SectionView {
                remaining: remaining.get(&s.id).copied().unwrap_or(0),
                seating: if s.seats.is_some() {
                    "reserved"
                } else {
                    "general"
                },
                id: s.id,
                name: s.name,
                price: Money::from_cents(s.price),
                capacity: s.capacity,
                seats: s.seats,
            })
            .collect();
        Self {
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            sections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Result<EventRecord, String> {
        let event: NewEvent = serde_json::from_str(json).map_err(|e| e.to_string())?;
        event.into_record(EventId::parse("e1").expect("valid id"), 0)
    }

    #[test]
    fn assigns_section_ids_and_capacity_from_seats() {
        let event = record(
            r#"{"name":" Gig ","sections":[{"name":"Floor","price":10,"capacity":100},
                {"name":"Box","price":99.5,"seats":["A1","A2"]}]}"#,
        )
        .expect("a valid event");
        assert_eq!(event.name, "Gig");
        assert_eq!(event.sections[0].id.as_str(), "s1");
        assert_eq!(event.sections[1].id.as_str(), "s2");
        assert_eq!(event.sections[1].capacity, 2);
        assert_eq!(event.sections[1].price, 9950);
    }

    #[test]
    fn refuses_what_cannot_be_sold() {
        let cases = [
            (
                r#"{"name":"","sections":[{"name":"a","price":1,"capacity":1}]}"#,
                "name",
            ),
            (r#"{"name":"x","sections":[]}"#, "sections"),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1}]}"#,
                "capacity or",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"capacity":0}]}"#,
                "capacity must",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"seats":[]}]}"#,
                "empty",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"seats":["1","1"]}]}"#,
                "twice",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"seats":["1"],"capacity":2}]}"#,
                "equal",
            ),
        ];
        for (json, expected) in cases {
            let err = record(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
