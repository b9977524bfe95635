//! Outgoing webhooks: endpoints, the messages sent to them, and how a message is signed
//! (Standard Webhooks v1, <https://www.standardwebhooks.com>).
//!
//! A message's body is `{"type", "timestamp", "data"}`, `data` being the booking or order as
//! the API shows it. Its id (`webhook-id`) is made from the event and the outbox entry it came
//! from, so every retry, from any replica, sends the same id and the same bytes.

use crate::domain::booking::{BookingRecord, BookingView};
use crate::domain::order::Order;
use crate::domain::time::{Millis, rfc3339};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::IpAddr;
use utoipa::ToSchema;

/// Every message type, as `types` of an endpoint may name them (or `*` for all).
pub const MESSAGE_TYPES: &[&str] = &[
    "booking.created",
    "booking.cancelled",
    "order.created",
    "order.paid",
    "order.expired",
    "order.cancelled",
    "order.refund_required",
    "event.sold_out",
    "checkin.redeemed",
];

/// The prefix of a signing secret; the rest is base64 of the key's bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// An endpoint as stored (`bo:{wh:<id>}:endpoint`); times in ms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRecord {
    pub id: String,
    pub url: String,
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    /// Newest first; a rotated-out one carries when it stops signing.
    pub secrets: Vec<SecretRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRecord {
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Why and since when an endpoint gets nothing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    pub at: Millis,
    pub reason: String,
}

impl EndpointRecord {
    /// Whether a message of `kind` about `event` goes to this endpoint.
    pub fn wants(&self, kind: &str, event: &str) -> bool {
        self.disabled.is_none()
            && self.event_id.as_deref().is_none_or(|e| e == event)
            && self.types.iter().any(|t| t == "*" || t == kind)
    }

    /// The secrets that sign at `now` (ms): the newest, and rotated-out ones until they expire.
    pub fn signing_secrets(&self, now: i64) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
            .map(|s| s.secret.as_str())
    }
}

/// An endpoint as the API shows it (never its secrets, but at creation and rotation).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    /// Message types sent to it; `*` for all.
    pub types: Vec<String>,
    /// Only messages about this event; absent: every event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub created_at: Millis,
    /// Set when the endpoint gets nothing more (it answered 410, or failed for
    /// WEBHOOK_DISABLE_AFTER_S).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// Since when every attempt has failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Millis>,
    /// The signing secret: only in the answer that made it (creation, rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<EndpointRecord> for EndpointView {
    fn from(record: EndpointRecord) -> Self {
        Self {
            id: record.id,
            url: record.url,
            types: record.types,
            event_id: record.event_id,
            created_at: Millis(record.created_at),
            disabled: record.disabled,
            failing_since: record.failing_since.map(Millis),
            secret: None,
        }
    }
}

/// A message to one endpoint, as stored in the endpoint's slot; times in ms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub event_id: String,
    /// The exact bytes sent (and signed) on every attempt.
    pub body: String,
    pub created_at: i64,
    pub status: MessageStatus,
    #[serde(
        default,
        deserialize_with = "crate::domain::order::list_or_empty_object"
    )]
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its next attempt, or being attempted.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Every attempt of the schedule failed, or the endpoint answered 410.
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub at: Millis,
    /// The endpoint's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// What went wrong, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A message as `GET /webhooks/{id}/messages` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// The `webhook-id` it is sent with.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub event_id: String,
    pub status: MessageStatus,
    pub created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Millis>,
    pub attempts: Vec<Attempt>,
    /// The body sent: `{"type", "timestamp", "data"}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<MessageRecord> for MessageView {
    fn from(record: MessageRecord) -> Self {
        Self {
            payload: serde_json::from_str(&record.body).unwrap_or(serde_json::Value::Null),
            id: record.id,
            kind: record.kind,
            event_id: record.event_id,
            status: record.status,
            created_at: Millis(record.created_at),
            next_attempt_at: record.next_attempt_at.map(Millis),
            attempts: record.attempts,
        }
    }
}

/// The `webhook-id` of the outbox entry `entry` (`<ms>-<seq>`) of `event`.
pub fn message_id(event: &str, entry: &str) -> String {
    format!("msg_{event}_{entry}")
}

/// When an outbox entry was written: the ms of its id.
pub fn entry_ms(entry: &str) -> Option<i64> {
    entry.split('-').next()?.parse().ok()
}

/// The body of the message for an outbox entry of `kind` with the stored document `data`,
/// written at `ms`: the document as the API shows it. `None` for an entry this version does
/// not know how to show (it is then skipped, and logged by the caller).
pub fn message_body(kind: &str, data: &str, ms: i64) -> Option<String> {
    let data: serde_json::Value = match kind {
        "booking.created" | "booking.cancelled" => {
            let record: BookingRecord = serde_json::from_str(data).ok()?;
            serde_json::to_value(BookingView::from(record)).ok()?
        }
        "order.created"
        | "order.paid"
        | "order.expired"
        | "order.cancelled"
        | "order.refund_required" => {
            serde_json::to_value(serde_json::from_str::<Order>(data).ok()?).ok()?
        }
        "event.sold_out" => serde_json::from_str(data).ok()?,
        "checkin.redeemed" => serde_json::to_value(
            serde_json::from_str::<crate::domain::ticket::Redeemed>(data).ok()?,
        )
        .ok()?,
        _ => return None,
    };
    serde_json::to_string(&serde_json::json!({
        "type": kind,
        "timestamp": rfc3339(ms),
        "data": data,
    }))
    .ok()
}

/// `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` for each
/// secret, space-separated. Secrets that are not `whsec_<base64>` are skipped.
pub fn signature<'a>(
    secrets: impl Iterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut signatures = Vec::new();
    for secret in secrets {
        let Some(key) = secret
            .strip_prefix(SECRET_PREFIX)
            .and_then(|k| BASE64.decode(k).ok())
        else {
            continue;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            continue;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        signatures.push(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())));
    }
    signatures.join(" ")
}

/// A new signing secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(&uuid::Uuid::new_v4().as_bytes()[..8])
        .copied()
        .collect();
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// Addresses an endpoint may not have unless WEBHOOK_ALLOW_PRIVATE: loopback, private,
/// link-local, unspecified, shared (carrier NAT), unique-local and multicast ranges, so a
/// webhook cannot be aimed at the service's own network (server-side request forgery).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// An endpoint URL as accepted: `http` or `https`, a host, no credentials, at most 2048
/// bytes; an address literal in a private range only with `allow_private`. (A host name is
/// checked when it is resolved, at every delivery.)
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    if url.len() > 2048 {
        return Err("url is longer than 2048 bytes".into());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("url is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("url must be http or https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("url may not carry credentials".into());
    }
    let ip = match parsed.host() {
        None => return Err("url has no host".into()),
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        }
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = ip
        && is_private(ip)
        && !allow_private
    {
        return Err(format!(
            "url points at {ip}, a private, loopback or link-local address, which this \
             service does not deliver to (WEBHOOK_ALLOW_PRIVATE)"
        ));
    }
    Ok(parsed)
}

/// `types` as accepted: at least one, each a known type or `*`, no repeats.
pub fn check_types(types: &[String]) -> Result<(), String> {
    if types.is_empty() {
        return Err("types must name at least one message type, or \"*\"".into());
    }
    for (i, kind) in types.iter().enumerate() {
        if kind != "*" && !MESSAGE_TYPES.contains(&kind.as_str()) {
            return Err(format!(
                "types[{i}] {kind:?} is not a message type; known: {}",
                MESSAGE_TYPES.join(", ")
            ));
        }
        if types[..i].contains(kind) {
            return Err(format!("types[{i}] {kind:?} is named twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused_and_public_ones_accepted() {
        for url in [
            "http://127.0.0.1:9/x",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        for url in ["https://93.184.215.14/hook", "https://hooks.example.com/in"] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
        for url in [
            "ftp://example.com/",
            "https://u:p@example.com/",
            "not a url",
        ] {
            assert!(check_url(url, true).is_err(), "{url}");
        }
    }

    #[test]
    fn signatures_follow_the_specification_example() {
        // The example of the Standard Webhooks specification (its README, "Verifying").
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(
            std::iter::once(secret),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotated_out_secret_signs_until_it_expires() {
        let endpoint = EndpointRecord {
            id: "e".into(),
            url: "http://x".into(),
            types: vec!["*".into()],
            event_id: None,
            created_by: "u".into(),
            created_at: 0,
            secrets: vec![
                SecretRecord {
                    secret: "new".into(),
                    expires_at: None,
                },
                SecretRecord {
                    secret: "old".into(),
                    expires_at: Some(100),
                },
            ],
            disabled: None,
            failing_since: None,
        };
        assert_eq!(endpoint.signing_secrets(99).count(), 2);
        assert_eq!(endpoint.signing_secrets(100).collect::<Vec<_>>(), ["new"]);
    }
}
