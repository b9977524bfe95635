//! Events and their sections: the request that creates one, the record kept in Redis, and the
//! view the API returns.

use super::ids::{EventId, RowName, SeatId, SectionId};
use super::money::Money;
use super::order::{PaymentPolicy, is_whole_in, valid_currency};
use super::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// What a name may be: 1 to 200 characters, no control characters, not only white space
/// (leading and trailing white space is dropped). The same rule as JSON Schema:
pub const NAME_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SECTIONS: usize = 100;
/// General admission capacity per section.
pub const MAX_CAPACITY: u32 = 1_000_000;
/// Named seats per event, across its sections.
pub const MAX_SEATS_PER_EVENT: usize = 10_000;
/// Seats in one row.
pub const MAX_SEATS_PER_ROW: u32 = 1_000;

/// The schema of a name: [`NAME_PATTERN`], 1 to [`MAX_NAME_CHARS`] characters.
fn name_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .pattern(Some(NAME_PATTERN))
        .build()
}

/// Body of `POST /events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// Sections in the order given get the ids `s1`, `s2`, ...
    #[serde(deserialize_with = "super::object::vec")]
    #[schema(min_items = 1, max_items = 100)]
    pub sections: Vec<NewSection>,
    /// The most tickets one user may hold (live seat locks) plus have booked in the event.
    #[serde(default, deserialize_with = "super::whole::deserialize_option")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_per_user: Option<u32>,
    /// A waiting room for the on-sale (docs/waiting-room.md); an organizer can change it
    /// later (`PUT /events/{eventId}/waiting-room`).
    #[serde(default)]
    pub waiting_room: Option<super::queue::WaitingRoom>,
    /// `required`: buyers book through an order and pay it (docs/orders.md); the direct
    /// booking routes answer them `402 PAYMENT_REQUIRED`. Default `none`: a booking is final
    /// when asked.
    #[serde(default)]
    pub payment: Option<PaymentPolicy>,
    /// ISO 4217, for every price of the event. Default `EUR`.
    #[serde(default)]
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// Until when a buyer may cancel a paid order themselves (RFC 3339); organizers and
    /// admins may always. Default: never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancellable_until: Option<String>,
    /// Kept from the refund of a cancelled paid order, in percent of what was paid. Default 0.
    #[serde(default, deserialize_with = "super::whole::deserialize_option")]
    #[schema(minimum = 0, maximum = 100)]
    pub cancellation_fee_percent: Option<u32>,
}

/// A section: general admission (a `capacity`, sold by quantity) or reserved seating, given
/// as `rows` (seats `A1..A20`, ...) or as a list of named `seats` (one row); seat names are
/// unique in the whole event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSection {
    #[schema(schema_with = name_schema)]
    pub name: String,
    pub price: Money,
    /// General admission: how many tickets. Not with `seats`.
    #[serde(default, deserialize_with = "super::whole::deserialize_option")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub capacity: Option<u32>,
    /// Reserved seating: the seats, in order (at most 10000 in an event), as one row. Not with
    /// `capacity` or `rows`.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10_000)]
    pub seats: Option<Vec<SeatId>>,
    /// Reserved seating by rows, the best first: `{"name":"A","count":20}` gives the seats
    /// `A1..A20`, side by side in that order. Not with `capacity` or `seats`.
    #[serde(default, deserialize_with = "super::object::option_vec")]
    #[schema(min_items = 1, max_items = 10_000)]
    pub rows: Option<Vec<Row>>,
    /// The most tickets one user may hold plus have booked in this section.
    #[serde(default, deserialize_with = "super::whole::deserialize_option")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_per_user: Option<u32>,
}

/// A row of a reserved section: `count` seats named `<name>1` to `<name><count>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Row {
    pub name: RowName,
    #[serde(deserialize_with = "super::whole::deserialize")]
    #[schema(minimum = 1, maximum = 1000)]
    pub count: u32,
}

/// An event as stored: everything about it that never changes after creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub id: EventId,
    pub name: String,
    pub created_at: i64,
    pub sections: Vec<SectionRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
    /// The waiting room it was created with (lua/create_event.lua sets it up in the same step;
    /// later changes live in Redis only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_room: Option<WaitingRoomRecord>,
    #[serde(default)]
    pub payment: PaymentPolicy,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellable_until: Option<i64>,
    #[serde(default)]
    pub cancellation_fee_percent: u32,
}

fn default_currency() -> String {
    "EUR".to_owned()
}

/// Waiting room settings as the scripts read them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingRoomRecord {
    pub enabled: bool,
    pub rate: u32,
    pub max: u32,
    pub ttl_ms: u64,
    pub order: String,
    pub start_ms: i64,
}

impl From<super::queue::QueueSettings> for WaitingRoomRecord {
    fn from(s: super::queue::QueueSettings) -> Self {
        Self {
            enabled: s.enabled,
            rate: s.admit_per_minute,
            max: s.max_active,
            ttl_ms: s.ttl_ms,
            order: s.order.as_str().into(),
            start_ms: s.start_ms,
        }
    }
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
    /// When the section was given by rows: they cover `seats` in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Row>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
}

impl SectionRecord {
    /// The row of each seat, in seat order (`None` for a section given as a list of seats).
    pub fn seat_rows(&self) -> impl Iterator<Item = Option<&RowName>> + '_ {
        let from_rows = self
            .rows
            .iter()
            .flatten()
            .flat_map(|row| std::iter::repeat_n(Some(&row.name), row.count as usize));
        let listed = self
            .rows
            .is_none()
            .then(|| std::iter::repeat_n(None, self.seats.as_ref().map_or(0, Vec::len)))
            .into_iter()
            .flatten();
        from_rows.chain(listed)
    }
}

/// The seats of `rows`, in order.
fn seats_of_rows(at: &str, rows: &[Row]) -> Result<Vec<SeatId>, String> {
    let mut seats = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if !(1..=MAX_SEATS_PER_ROW).contains(&row.count) {
            return Err(format!(
                "{at}.rows[{index}].count must be 1 to {MAX_SEATS_PER_ROW}"
            ));
        }
        if seats.len() + row.count as usize > MAX_SEATS_PER_EVENT {
            return Err(format!(
                "an event may have at most {MAX_SEATS_PER_EVENT} named seats"
            ));
        }
        for n in 1..=row.count {
            let seat = SeatId::parse(format!("{}{n}", row.name)).map_err(|_| {
                format!(
                    "{at}.rows[{index}]: seat {}{n} is not a valid seat id ({})",
                    row.name,
                    super::ids::ID_PATTERN
                )
            })?;
            seats.push(seat);
        }
    }
    Ok(seats)
}

impl EventRecord {
    pub fn section(&self, id: &SectionId) -> Option<&SectionRecord> {
        self.sections.iter().find(|s| &s.id == id)
    }
}

fn checked_name(what: &str, name: &str) -> Result<String, String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{what} must be at most {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{what} must not be empty"));
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
            let (seats, rows) = match (section.seats, section.rows) {
                (Some(_), Some(_)) => {
                    return Err(format!("{at}: give seats or rows, not both"));
                }
                (None, Some(rows)) if rows.is_empty() => {
                    return Err(format!("{at}.rows must not be empty"));
                }
                (None, Some(rows)) => (Some(seats_of_rows(&at, &rows)?), Some(rows)),
                (seats, None) => (seats, None),
            };
            let capacity = match (&seats, section.capacity) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "{at}: a reserved section's capacity is its number of seats: leave capacity out"
                    ));
                }
                (Some(seats), None) => {
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
                    seats.len() as u32
                }
                (None, Some(capacity)) if (1..=MAX_CAPACITY).contains(&capacity) => capacity,
                (None, Some(_)) => {
                    return Err(format!("{at}.capacity must be 1 to {MAX_CAPACITY}"));
                }
                (None, None) => {
                    return Err(format!("{at} needs a capacity, rows or a list of seats"));
                }
            };
            let id = SectionId::parse(format!("s{}", index + 1)).map_err(|e| e.to_string())?;
            if section.max_per_user == Some(0)
                || section.max_per_user.is_some_and(|m| m > MAX_CAPACITY)
            {
                return Err(format!("{at}.maxPerUser must be 1 to {MAX_CAPACITY}"));
            }
            sections.push(SectionRecord {
                id,
                name,
                price: section.price.cents(),
                capacity,
                seats,
                rows,
                max_per_user: section.max_per_user,
            });
        }
        if self.max_per_user == Some(0) || self.max_per_user.is_some_and(|m| m > MAX_CAPACITY) {
            return Err(format!("maxPerUser must be 1 to {MAX_CAPACITY}"));
        }
        let currency = self.currency.unwrap_or_else(default_currency);
        if !valid_currency(&currency) {
            return Err("currency must be an ISO 4217 code: three capital letters".into());
        }
        if let Some(section) = sections.iter().find(|s| !is_whole_in(s.price, &currency)) {
            return Err(format!(
                "{currency} has no cents: the price of {} must be a whole number",
                section.id
            ));
        }
        let cancellable_until = self
            .cancellable_until
            .map(|text| {
                super::time::parse_rfc3339_ms(&text)
                    .ok_or_else(|| "cancellableUntil must be an RFC 3339 time".to_owned())
            })
            .transpose()?;
        let cancellation_fee_percent = self.cancellation_fee_percent.unwrap_or(0);
        if cancellation_fee_percent > 100 {
            return Err("cancellationFeePercent must be 0 to 100".into());
        }
        Ok(EventRecord {
            id,
            name,
            created_at,
            sections,
            max_per_user: self.max_per_user,
            waiting_room: self
                .waiting_room
                .map(|room| room.settings(created_at).map(WaitingRoomRecord::from))
                .transpose()
                .map_err(|e| format!("waitingRoom: {e}"))?,
            payment: self.payment.unwrap_or_default(),
            currency,
            cancellable_until,
            cancellation_fee_percent,
        })
    }
}

/// An event with its sections and their live `remaining` counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: EventId,
    pub name: String,
    pub created_at: Millis,
    pub sections: Vec<SectionView>,
    /// Per-user limit on the event, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
    pub payment: PaymentPolicy,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellable_until: Option<Millis>,
    pub cancellation_fee_percent: u32,
}

/// How a section is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Seating {
    /// By quantity.
    General,
    /// Named seats.
    Reserved,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub id: SectionId,
    pub name: String,
    pub price: Money,
    pub seating: Seating,
    pub capacity: u32,
    /// Tickets (or seats) not sold.
    pub remaining: i64,
    /// Reserved seating: the seats, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<SeatId>>,
    /// Reserved seating given by rows: the rows, the best first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Row>>,
    /// Per-user limit on the section, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
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
                    Seating::Reserved
                } else {
                    Seating::General
                },
                id: s.id,
                name: s.name,
                price: Money::from_cents(s.price),
                capacity: s.capacity,
                seats: s.seats,
                rows: s.rows,
                max_per_user: s.max_per_user,
            })
            .collect();
        Self {
            id: record.id,
            name: record.name,
            created_at: Millis(record.created_at),
            sections,
            max_per_user: record.max_per_user,
            payment: record.payment,
            currency: record.currency,
            cancellable_until: record.cancellable_until.map(Millis),
            cancellation_fee_percent: record.cancellation_fee_percent,
        }
    }
}

/// What a listing shows of an event: its sections and their counts, never its seat ids (an
/// event of 10,000 seats lists in a few hundred bytes; `GET /events/{eventId}` and the seat
/// maps have the seats). Stored at creation beside the event (`summary`), so a listing never
/// reads a whole event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryRecord {
    pub id: EventId,
    pub name: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
    pub sections: Vec<SectionSummaryRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionSummaryRecord {
    pub id: SectionId,
    pub name: String,
    /// Cents.
    pub price: i64,
    pub capacity: u32,
    pub reserved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
}

impl From<&EventRecord> for SummaryRecord {
    fn from(event: &EventRecord) -> Self {
        Self {
            id: event.id.clone(),
            name: event.name.clone(),
            created_at: event.created_at,
            max_per_user: event.max_per_user,
            sections: event
                .sections
                .iter()
                .map(|s| SectionSummaryRecord {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    price: s.price,
                    capacity: s.capacity,
                    reserved: s.seats.is_some(),
                    rows: s.rows.as_ref().map(|rows| rows.len() as u32),
                    max_per_user: s.max_per_user,
                })
                .collect(),
        }
    }
}

/// An event in `GET /events`: sections with live `remaining` counts, no seat ids.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    pub id: EventId,
    pub name: String,
    pub created_at: Millis,
    pub sections: Vec<SectionSummary>,
    /// Per-user limit on the event, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionSummary {
    pub id: SectionId,
    pub name: String,
    pub price: Money,
    pub seating: Seating,
    pub capacity: u32,
    /// Tickets (or seats) not sold.
    pub remaining: i64,
    /// Reserved seating given by rows: how many rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u32>,
    /// Per-user limit on the section, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
}

impl EventSummary {
    /// `remaining` maps section ids to their live counters.
    pub fn new(record: SummaryRecord, remaining: &HashMap<SectionId, i64>) -> Self {
        Self {
            id: record.id,
            name: record.name,
            created_at: Millis(record.created_at),
            max_per_user: record.max_per_user,
            sections: record
                .sections
                .into_iter()
                .map(|s| SectionSummary {
                    remaining: remaining.get(&s.id).copied().unwrap_or(0),
                    seating: if s.reserved {
                        Seating::Reserved
                    } else {
                        Seating::General
                    },
                    id: s.id,
                    name: s.name,
                    price: Money::from_cents(s.price),
                    capacity: s.capacity,
                    rows: s.rows,
                    max_per_user: s.max_per_user,
                })
                .collect(),
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

    /// The schema says what `checked_name` checks.
    #[test]
    fn the_name_schema_is_the_name_rule() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(NewEvent::schema()).expect("schema");
        assert_eq!(
            schema.pointer("/properties/name/pattern"),
            Some(&serde_json::json!(NAME_PATTERN))
        );
        let section = serde_json::to_value(NewSection::schema()).expect("schema");
        assert_eq!(
            section.pointer("/properties/name/pattern"),
            Some(&serde_json::json!(NAME_PATTERN))
        );
        for (name, ok) in [
            ("a", true),
            (" a ", true),
            ("   ", false),
            ("a\u{1c}", false),
        ] {
            assert_eq!(checked_name("name", name).is_ok(), ok, "{name:?}");
        }
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
    fn rows_give_their_seats_in_order() {
        let event = record(
            r#"{"name":"Gig","sections":[{"name":"Stalls","price":60,
                "rows":[{"name":"A","count":3},{"name":"B","count":2.0}]}]}"#,
        )
        .expect("a valid event");
        let section = &event.sections[0];
        let seats: Vec<&str> = section.seats.iter().flatten().map(SeatId::as_str).collect();
        assert_eq!(seats, ["A1", "A2", "A3", "B1", "B2"]);
        assert_eq!(section.capacity, 5);
        let rows: Vec<Option<&str>> = section
            .seat_rows()
            .map(|r| r.map(RowName::as_str))
            .collect();
        assert_eq!(
            rows,
            [Some("A"), Some("A"), Some("A"), Some("B"), Some("B")]
        );
        let listed =
            record(r#"{"name":"x","sections":[{"name":"a","price":1,"seats":["x","y"]}]}"#)
                .expect("valid");
        assert_eq!(
            listed.sections[0].seat_rows().collect::<Vec<_>>(),
            [None, None]
        );
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
                "a capacity, rows or",
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
                r#"{"name":"x","sections":[{"name":"a","price":1,"seats":["1"],"capacity":1}]}"#,
                "leave capacity out",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"rows":[]}]}"#,
                "rows must not be empty",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"seats":["A1"],"rows":[{"name":"A","count":1}]}]}"#,
                "not both",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"rows":[{"name":"A","count":0}]}]}"#,
                "rows[0].count must be 1 to 1000",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"rows":[{"name":"A","count":1001}]}]}"#,
                "rows[0].count must be 1 to 1000",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"rows":[{"name":"A1","count":1},{"name":"A","count":11}]}]}"#,
                "seat A11 appears twice",
            ),
            (
                r#"{"name":"x","sections":[{"name":"a","price":1,"rows":[{"name":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","count":10}]}]}"#,
                "not a valid seat id",
            ),
        ];
        for (json, expected) in cases {
            let err = record(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
