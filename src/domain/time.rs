//! Timestamps: milliseconds since the Unix epoch inside the service and in Redis, RFC 3339 in
//! the API.

use serde::Serializer;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Redis's clock as a replica estimates it between reads: what `TIME` said at a read, plus the
/// time this process has counted since (expiry is on Redis's clock; a replica's views answer
/// with this estimate).
#[derive(Debug, Clone, Copy)]
pub struct RedisClock {
    said: i64,
    at: Instant,
}

impl RedisClock {
    /// Redis's clock read now: `said`, in ms.
    pub fn read(said: i64) -> Self {
        Self {
            said,
            at: Instant::now(),
        }
    }

    /// Redis's clock now, as estimated (ms).
    pub fn now_ms(&self) -> i64 {
        self.said + i64::try_from(self.at.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// How long since it was read.
    pub fn age(&self) -> std::time::Duration {
        self.at.elapsed()
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-11-21T10:18:20.123Z`.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}

/// The inverse of [`rfc3339`]: milliseconds since the epoch, or `None` if `text` is not an
/// RFC 3339 time.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// A moment in the API: milliseconds since the epoch inside, RFC 3339 on the wire (and in the
/// OpenAPI document, a `date-time` string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl serde::Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&rfc3339(self.0))
    }
}

/// As stored and as scripts send it: a number of milliseconds.
impl<'de> serde::Deserialize<'de> for Millis {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Self)
    }
}

impl utoipa::PartialSchema for Millis {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Millis {}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_milliseconds() {
        assert_eq!(
            super::rfc3339(1_795_000_000_123),
            "2026-11-18T11:06:40.123Z"
        );
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
