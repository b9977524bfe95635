//! Identifiers.
//!
//! Everything a client can name (events, sections, seats, users) must match `[A-Za-z0-9_-]{1,64}`
//! before it gets near a Redis key. That keeps key names unambiguous (no `:`, `{` or `}` inside an
//! id, so an id can never move a key to another hash slot) and bounded in size.
//!
//! Booking ids are UUIDv7 (they sort by creation time) whose last 14 random bits carry the cluster
//! hash slot of the booking's event: see [`crate::store::keys`] for why.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type};
use uuid::Uuid;

pub const ID_PATTERN: &str = "[A-Za-z0-9_-]{1,64}";
const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid id, phrased for an API error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    pub field: &'static str,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must match {ID_PATTERN}", self.field)
    }
}

/// Checks any id against the pattern; `field` names it in the error.
pub fn check_id(field: &'static str, value: &str) -> Result<(), InvalidId> {
    if is_valid_id(value) {
        Ok(())
    } else {
        Err(InvalidId { field })
    }
}

fn is_valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! id_type {
    ($(#[doc = $doc:literal])* $name:ident, $field:literal) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const FIELD: &'static str = $field;

            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                if is_valid_id(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidId { field: $field })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(value).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                id_schema(concat!($($doc),*)).into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// An id's schema: a string of `[A-Za-z0-9_-]`, 1 to 64 characters.
fn id_schema(description: &str) -> Object {
    let description = description.trim();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{ID_PATTERN}$")))
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .description(Some(description))
        .build()
}

id_type!(
    /// An event, e.g. a concert on one night.
    EventId,
    "eventId"
);
id_type!(
    /// A section of an event: general admission (a counter) or reserved seating (named seats).
    SectionId,
    "sectionId"
);
id_type!(
    /// A named seat, unique within its event.
    SeatId,
    "seatId"
);
id_type!(
    /// A row of a reserved section: its seats are the row's name followed by 1, 2, ...
    RowName,
    "row"
);
id_type!(
    /// Whoever books or holds a lock: a token's `sub` (AUTH_MODE=jwt), or in open mode the
    /// name the client sends.
    UserId,
    "userId"
);

impl UserId {
    /// The user of requests that name none (the seed systems' convention).
    pub fn anonymous() -> Self {
        Self("anonymous".to_owned())
    }
}

impl SeatId {
    /// Seat ids in the seed systems' requests may be JSON numbers (`{"seatId": 3}`).
    pub fn deserialize_string_or_number<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        let whole =
            |n: &serde_json::Number| super::whole::whole(n).filter(|&n| n <= MAX_SEAT_NUMBER);
        let text = match Raw::deserialize(deserializer) {
            Ok(Raw::Text(text)) => text,
            Ok(Raw::Number(number)) if whole(&number).is_some() => {
                whole(&number).map(|n| n.to_string()).unwrap_or_default()
            }
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "seatId must be a string or an integer from 0 to {MAX_SEAT_NUMBER}"
                )));
            }
        };
        Self::parse(text).map_err(serde::de::Error::custom)
    }
}

/// The largest seat number the seed routes take as a JSON number.
pub const MAX_SEAT_NUMBER: u64 = 999_999_999;

/// A seat as the seed routes name it: a seat id, or a seat number.
pub struct SeatRef;

impl utoipa::PartialSchema for SeatRef {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::OneOfBuilder;
        OneOfBuilder::new()
            .item(id_schema("A seat id"))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(MAX_SEAT_NUMBER as i64))
                    .description(Some("A seat number")),
            )
            .into()
    }
}

impl utoipa::ToSchema for SeatRef {}

/// An id that names its event's hash slot: a UUIDv7 whose last 14 bits carry the slot, so that
/// its document can live in the event's slot and still be found by id alone (store/keys.rs).
macro_rules! slotted_id {
    ($(#[doc = $doc:literal])* $Name:ident, $description:literal) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $Name(Uuid);

        impl $Name {
            /// A fresh id for an event that lives in `slot` (0..16384).
            pub fn new(slot: u16) -> Self {
                let mut bytes = *Uuid::now_v7().as_bytes();
                // Bytes 14..16 are random bits of rand_b (the counter that keeps ids
                // monotonic sits above them), so overwriting 14 of them keeps a valid,
                // time-ordered v7 UUID.
                bytes[14] = (bytes[14] & 0xC0) | ((slot >> 8) as u8 & 0x3F);
                bytes[15] = slot as u8;
                Self(Uuid::from_bytes(bytes))
            }

            /// Parses a client-supplied id. `None` for anything that cannot be one of ours.
            pub fn parse(value: &str) -> Option<Self> {
                let uuid = Uuid::try_parse(value).ok()?;
                (uuid.get_version_num() == 7).then_some(Self(uuid))
            }

            /// The UUID it is.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The hash slot of its event.
            pub fn slot(&self) -> u16 {
                let bytes = self.0.as_bytes();
                (u16::from(bytes[14] & 0x3F) << 8) | u16::from(bytes[15])
            }
        }

        impl utoipa::PartialSchema for $Name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .description(Some($description))
                    .into()
            }
        }

        impl utoipa::ToSchema for $Name {}

        impl fmt::Display for $Name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lowercase hyphenated: its byte order is its time order, which listings
                // rely on.
                write!(f, "{}", self.0.hyphenated())
            }
        }
    };
}

slotted_id!(
    /// A booking's id (its document: `bo:{<slot tag>}:booking:<id>`).
    BookingId,
    "A booking: a UUIDv7 (ids sort by creation time)"
);

slotted_id!(
    /// An order's id (its document: `bo:{<slot tag>}:order:<id>`).
    OrderId,
    "An order: a UUIDv7 (ids sort by creation time)"
);

/// A checkout hold's id: a UUIDv7, kept under its event's keys (the route names the event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HoldId(Uuid);

impl HoldId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses a client-supplied id. `None` for anything that cannot be a hold id of ours.
    pub fn parse(value: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(value).ok()?;
        (uuid.get_version_num() == 7).then_some(Self(uuid))
    }
}

impl Default for HoldId {
    fn default() -> Self {
        Self::new()
    }
}

impl utoipa::PartialSchema for HoldId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .description(Some("A checkout hold: a UUIDv7"))
            .into()
    }
}

impl utoipa::ToSchema for HoldId {}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_pattern_and_nothing_else() {
        assert!(EventId::parse("concert-2026_A").is_ok());
        assert!(EventId::parse("a".repeat(64)).is_ok());
        for bad in ["", "a b", "a:b", "{a}", "é", "a/b", &"a".repeat(65)] {
            assert_eq!(
                EventId::parse(bad),
                Err(InvalidId { field: "eventId" }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn booking_ids_carry_their_slot_and_stay_time_ordered_v7() {
        let mut previous = BookingId::new(0);
        for slot in [0u16, 1, 255, 256, 8191, 16383] {
            let id = BookingId::new(slot);
            assert_eq!(id.slot(), slot);
            assert_eq!(id.0.get_version_num(), 7);
            assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(BookingId::parse(&id.to_string()), Some(id));
            assert!(id.to_string() > previous.to_string(), "ids sort by time");
            previous = id;
        }
        assert_eq!(BookingId::parse("not-a-uuid"), None);
        assert_eq!(BookingId::parse(&Uuid::nil().to_string()), None);
    }
}
