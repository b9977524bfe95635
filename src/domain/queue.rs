//! Waiting rooms: an event's settings (set at creation or by an organizer) and a buyer's
//! standing in its queue. The queue itself is kept and moved on by the scripts
//! (`lua/queue_*.lua`; a replica's view of the line is `crate::waiting`).

use super::time::{Millis, parse_rfc3339_ms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_ADMIT_PER_MINUTE: u32 = 1_000_000;
pub const MAX_ACTIVE: u32 = 1_000_000;
pub const MAX_ADMISSION_TTL_SECONDS: u32 = 86_400;

/// In which order the queue admits people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueOrder {
    /// Arrival order.
    #[default]
    Fifo,
    /// Everyone who joined before `salesStartAt` in a random order drawn at that moment, then
    /// later arrivals in arrival order.
    Shuffle,
}

impl QueueOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOrder::Fifo => "fifo",
            QueueOrder::Shuffle => "shuffle",
        }
    }
}

/// An event's waiting room (`waitingRoom` in `POST /events`, and
/// `PUT /events/{eventId}/waiting-room`). While `enabled`, booking, holding and locking seats
/// need an admission (`Admission-Token`) from `POST /events/{eventId}/queue`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitingRoom {
    pub enabled: bool,
    /// Admissions per minute, paced evenly (0 or absent: not paced; then `maxActive` must be
    /// set).
    #[serde(default, deserialize_with = "super::whole::deserialize")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub admit_per_minute: u32,
    /// At most this many admissions alive and unused at once (0 or absent: no cap).
    #[serde(default, deserialize_with = "super::whole::deserialize")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub max_active: u32,
    /// How long an admission lasts (default 600).
    #[serde(
        default = "default_ttl",
        deserialize_with = "super::whole::deserialize"
    )]
    #[schema(minimum = 1, maximum = 86_400)]
    pub admission_ttl_seconds: u32,
    #[serde(default)]
    pub order: QueueOrder,
    /// When admissions start (RFC 3339; default: now). With `shuffle`, everyone who joined
    /// before it is shuffled then.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sales_start_at: Option<String>,
}

fn default_ttl() -> u32 {
    600
}

/// Valid settings, as the scripts keep them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub enabled: bool,
    pub admit_per_minute: u32,
    pub max_active: u32,
    pub ttl_ms: u64,
    pub order: QueueOrder,
    pub start_ms: i64,
}

impl WaitingRoom {
    /// Checks the settings; `now_ms` is the default start.
    pub fn settings(&self, now_ms: i64) -> Result<QueueSettings, String> {
        if self.admit_per_minute > MAX_ADMIT_PER_MINUTE {
            return Err(format!(
                "admitPerMinute must be 0 to {MAX_ADMIT_PER_MINUTE}"
            ));
        }
        if self.max_active > MAX_ACTIVE {
            return Err(format!("maxActive must be 0 to {MAX_ACTIVE}"));
        }
        if self.enabled && self.admit_per_minute == 0 && self.max_active == 0 {
            return Err("a waiting room needs admitPerMinute, maxActive or both".into());
        }
        if !(1..=MAX_ADMISSION_TTL_SECONDS).contains(&self.admission_ttl_seconds) {
            return Err(format!(
                "admissionTtlSeconds must be 1 to {MAX_ADMISSION_TTL_SECONDS}"
            ));
        }
        let start_ms = match &self.sales_start_at {
            None => now_ms,
            Some(text) => parse_rfc3339_ms(text)
                .ok_or_else(|| format!("salesStartAt must be an RFC 3339 time, not {text:?}"))?,
        };
        Ok(QueueSettings {
            enabled: self.enabled,
            admit_per_minute: self.admit_per_minute,
            max_active: self.max_active,
            ttl_ms: u64::from(self.admission_ttl_seconds) * 1000,
            order: self.order,
            start_ms,
        })
    }
}

/// A buyer's place in a waiting room (`POST /events/{eventId}/queue`, and
/// `GET /events/{eventId}/queue/{ticket}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStanding {
    /// Your place, signed (`<shard>.<number>.<signature>`; treat it as opaque): ask
    /// `GET /events/{eventId}/queue/{ticket}` with it.
    pub ticket: String,
    /// `waiting`, `admitted` (send `admissionToken` as `Admission-Token` to book, hold or
    /// lock until `admittedUntil`), or `ended` (the admission was used or expired, or your
    /// turn came and you did not ask within `QUEUE_ABANDON_MS`: join again for a new place).
    pub status: String,
    /// While waiting: how many turns come before yours (exact once your place is in the
    /// line's order, within `QUEUE_REFRESH_MS` of joining; a lower bound before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// While waiting, with a paced waiting room: about how long until your turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admitted_until: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(json: serde_json::Value) -> Result<QueueSettings, String> {
        serde_json::from_value::<WaitingRoom>(json)
            .map_err(|e| e.to_string())?
            .settings(1_000)
    }

    #[test]
    fn settings_are_checked() {
        let ok = room(serde_json::json!({"enabled": true, "admitPerMinute": 600.0})).unwrap();
        assert_eq!(
            (ok.admit_per_minute, ok.ttl_ms, ok.start_ms),
            (600, 600_000, 1_000)
        );
        assert_eq!(ok.order, QueueOrder::Fifo);
        assert!(room(serde_json::json!({"enabled": true})).is_err());
        assert!(room(serde_json::json!({"enabled": false})).is_ok());
        assert!(
            room(serde_json::json!({"enabled": true, "maxActive": 5, "admissionTtlSeconds": 0}))
                .is_err()
        );
        assert!(
            room(serde_json::json!({"enabled": true, "maxActive": 5, "salesStartAt": "soon"}))
                .is_err()
        );
        assert!(
            room(serde_json::json!({"enabled": true, "maxActive": 5, "colour": "red"})).is_err()
        );
        let shuffled = room(
            serde_json::json!({"enabled": true, "maxActive": 5, "order": "shuffle",
            "salesStartAt": "2026-12-03T09:00:00Z"}),
        )
        .unwrap();
        assert_eq!(shuffled.order, QueueOrder::Shuffle);
        assert_eq!(shuffled.start_ms, 1_796_288_400_000);
    }
}
