//! What an error answer says beside `code` and `message`, named once: a script's refusal
//! (`refuse(code, extra)` in `lua/lib.lua`, whose `extra` uses these names) is read into
//! [`Details`], the JSON answer is written from it, and the OpenAPI `ErrorDetail` schema is
//! generated from it. A name cannot change on the way.

use crate::domain::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    /// `INSUFFICIENT_INVENTORY`, `NO_ADJACENT_SEATS`: how many were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u32>,
    /// `INSUFFICIENT_INVENTORY`: how many are left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    /// `INSUFFICIENT_INVENTORY` on reserved sections: how many of those nobody holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocked: Option<i64>,
    /// `USER_LIMIT_REACHED`: the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// `USER_LIMIT_REACHED`: what the user holds and has booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    /// `RATE_LIMITED`: when to try again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// `SEAT_LOCKED`: when the lock ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_expires_at: Option<Millis>,
    /// `SEAT_LOCKED`, `SEAT_BOOKED` for a hold: which of its seats are taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub seats: Vec<String>,
    /// `NOT_REPLICATED`: the booking that was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub booking_id: Option<String>,
    /// `STORE_UNAVAILABLE` from `/readyz`: `unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `STORE_UNAVAILABLE` from `/readyz`: why Redis cannot be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script's names are the API's: what `refuse` sends comes out under the same name.
    #[test]
    fn a_refusal_is_answered_under_the_names_it_was_sent_with() {
        let from_lua = r#"{"requested":3,"remaining":1,"unlocked":0,"limit":4,"current":4,
            "retryAfterMs":250,"lockExpiresAt":1700000000000,"seats":["A1"]}"#;
        let details: Details = serde_json::from_str(from_lua).expect("a refusal's details");
        let answer = serde_json::to_value(&details).expect("json");
        assert_eq!(
            answer,
            serde_json::json!({"requested": 3, "remaining": 1, "unlocked": 0, "limit": 4,
                "current": 4, "retryAfterMs": 250, "lockExpiresAt": "2023-11-14T22:13:20.000Z",
                "seats": ["A1"]})
        );
        assert_eq!(
            serde_json::to_value(Details::default()).expect("json"),
            serde_json::json!({})
        );
    }
}
