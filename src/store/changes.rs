//! Reading an event's change stream (`bo:{E}:changes`), which the scripts write in the same step
//! as the change itself (`announce` in `lua/lib.lua`). Each entry's id is `<version>-0`, and
//! every version has its entry, so a reader that resumes after version `v` missed nothing if
//! and only if the stream still holds `v + 1` (or nothing happened since): [`Since::complete`].
//!
//! Reads are [`Store::changes_since`] on the shared connection, both to catch a subscriber up
//! and for this replica's follower of an event, which [`Store::change_notices`] wakes (see
//! `src/live.rs`): no connection per event, nothing blocking.

use super::Store;
use super::keys::EventKeys;
use crate::domain::ids::EventId;
use crate::domain::time::Millis;
use crate::error::AppError;
use serde::Serialize;
use utoipa::ToSchema;

/// Entries read per call.
const BATCH: usize = 1000;

/// One change of availability (the `data` of an SSE `change` event). Absent fields did not
/// change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The event's version after this change: the SSE `id`.
    pub version: u64,
    /// The section it happened in (absent when expired seat locks of several sections were
    /// cleared at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// The section's `remaining` after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
    /// The new status of `seats`: `available`, `locked` or `booked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seats: Vec<String>,
    /// For `locked`: when the lock ends unless extended or confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    /// For read views only, never sent: a general admission hold made or moved
    /// (`<holdId> <qty> <expiresAt>`) or gone (`<holdId>`).
    #[serde(skip)]
    pub hold: Option<String>,
}

impl Change {
    /// From a stream entry: id `<version>-0` and its fields.
    fn from_entry(id: &str, fields: &[String]) -> Option<Self> {
        let version = id.split_once('-')?.0.parse().ok()?;
        let mut change = Change {
            version,
            section: None,
            remaining: None,
            status: None,
            seats: Vec::new(),
            expires_at: None,
            hold: None,
        };
        for pair in fields.chunks_exact(2) {
            let value = &pair[1];
            match pair[0].as_str() {
                "section" => change.section = Some(value.clone()),
                "remaining" => change.remaining = value.parse().ok(),
                "status" => change.status = Some(value.clone()),
                "seats" => change.seats = value.split(' ').map(str::to_owned).collect(),
                "expiresAt" => change.expires_at = value.parse().ok().map(Millis),
                "hold" => change.hold = Some(value.clone()),
                _ => {}
            }
        }
        Some(change)
    }
}

/// What happened after a version.
#[derive(Debug)]
pub struct Since {
    /// The event's version when read.
    pub version: u64,
    /// Changes after the version asked for, oldest first (at most a batch: read on from the
    /// last one).
    pub changes: Vec<Change>,
    /// False when changes after that version are no longer kept (trimmed) or the version is
    /// from another life of the event: the reader must reload.
    pub complete: bool,
}

/// Entries as XRANGE / XREAD return them.
type Entries = Vec<(String, Vec<String>)>;

fn changes_of(entries: Entries) -> Vec<Change> {
    entries
        .iter()
        .filter_map(|(id, fields)| Change::from_entry(id, fields))
        .collect()
}

impl Store {
    /// The event's current version; `EventNotFound` if there is no such event.
    pub async fn event_version(&self, event: &EventId) -> Result<u64, AppError> {
        let keys = EventKeys::new(event);
        self.bounded(async {
            let (exists, version): (bool, Option<u64>) = redis::pipe()
                .exists(keys.event())
                .get(keys.version())
                .query_async(&mut self.conn().await?)
                .await?;
            if !exists {
                return Err(AppError::EventNotFound);
            }
            Ok(version.unwrap_or(0))
        })
        .await
    }

    /// The changes after version `after` (see [`Since`]).
    pub async fn changes_since(&self, event: &EventId, after: u64) -> Result<Since, AppError> {
        let keys = EventKeys::new(event);
        self.bounded(async {
            let (version, entries): (Option<u64>, Entries) = redis::pipe()
                .get(keys.version())
                .cmd("XRANGE")
                .arg(keys.changes())
                .arg(format!("{}-0", after.saturating_add(1)))
                .arg("+")
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut self.conn().await?)
                .await?;
            let version = version.unwrap_or(0);
            let changes = changes_of(entries);
            let complete = match changes.first() {
                Some(first) => first.version == after + 1,
                None => after == version,
            };
            Ok(Since {
                version,
                changes,
                complete,
            })
        })
        .await
    }

    /// This replica's subscription to the change notices every script publishes with a
    /// change (`announce` in lua/lib.lua): `<eventId> <version>` on [`CHANGES_CHANNEL`].
    pub async fn change_notices(&self) -> Result<redis::aio::PubSub, AppError> {
        let mut pubsub = self.topology.pubsub(self.response_timeout).await?;
        tokio::time::timeout(self.response_timeout, pubsub.subscribe(CHANGES_CHANNEL))
            .await
            .map_err(|_| AppError::StoreUnavailable("subscribing timed out".into()))??;
        Ok(pubsub)
    }
}

/// The channel of change notices (also in lua/lib.lua, `CHANGES_CHANNEL`).
pub const CHANGES_CHANNEL: &str = "bo:changes";

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn entries_become_changes() {
        let fields = |pairs: &[&str]| pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let change = Change::from_entry(
            "42-0",
            &fields(&[
                "section",
                "s1",
                "status",
                "locked",
                "seats",
                "A1 A2",
                "expiresAt",
                "1700000000000",
            ]),
        )
        .unwrap();
        assert_eq!(change.version, 42);
        assert_eq!(change.seats, ["A1", "A2"]);
        assert_eq!(
            change.expires_at,
            Some(crate::domain::time::Millis(1_700_000_000_000))
        );
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            serde_json::json!({"version": 42, "section": "s1", "status": "locked",
                               "seats": ["A1", "A2"], "expiresAt": "2023-11-14T22:13:20.000Z"})
        );
        let ga = Change::from_entry("7-0", &fields(&["section", "s2", "remaining", "9"])).unwrap();
        assert_eq!(
            serde_json::to_value(&ga).unwrap(),
            serde_json::json!({"version": 7, "section": "s2", "remaining": 9})
        );
        assert!(Change::from_entry("x", &[]).is_none());
    }
}
