//! Tickets and check-in in Redis (docs/tickets.md): a booking's tickets are read from the
//! booking itself; check-ins, their counts, every scan's answer and the revoked tickets live in
//! the event's slot, written by `lua/checkin.lua` and (revocations) by the scripts that cancel.

use super::bookings::{booking_record, require_event};
use super::keys::{EventKeys, Scope};
use super::scripts::CheckinArgs;
use super::{Store, parse_document};
use crate::domain::booking::BookingRecord;
use crate::domain::ids::{BookingId, EventId};
use crate::domain::ticket::ScanAnswer;
use crate::error::AppError;
use serde::Serialize;
use std::collections::BTreeMap;

/// One scan of a verified code, as the check-in script takes it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scan {
    pub ticket_id: String,
    pub booking_id: String,
    pub number: u16,
    pub section_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    pub scanner_id: String,
    pub nonce: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<i64>,
}

/// Tickets revoked since a version.
#[derive(Debug)]
pub struct Revoked {
    /// The event's version now: ask with it next time.
    pub version: u64,
    /// (ticket id, the version that revoked it), oldest first.
    pub tickets: Vec<(String, u64)>,
    /// More were revoked than listed: ask again with the last one's version.
    pub more: bool,
}

/// Per section, in the event's order: (section id, (checked in, sold)).
pub type CheckinCounts = Vec<(String, (u64, u64))>;

impl Store {
    /// The booking whose tickets these are.
    pub async fn booking_for_tickets(
        &self,
        id: &BookingId,
    ) -> Result<Option<BookingRecord>, AppError> {
        self.bounded(async { booking_record(&mut self.conn().await?, id).await })
            .await
    }

    /// Applies `scans` in order, in one script call: one answer each.
    pub async fn check_in(
        &self,
        event: &EventId,
        scans: &[Scan],
    ) -> Result<Vec<ScanAnswer>, AppError> {
        let scans_json = serde_json::to_string(scans)
            .map_err(|e| AppError::Internal(format!("encoding scans: {e}")))?;
        let answers = self
            .bounded(async {
                let script = &self.scripts.checkin;
                let invocation = script.call_in(
                    &Scope::event(event),
                    CheckinArgs {
                        event_id: event.to_string(),
                        scans: scans_json,
                    },
                )?;
                Ok(self
                    .run_script::<Vec<ScanAnswer>>(script.name, &invocation)
                    .await??)
            })
            .await?;
        // `checkin.redeemed` is in the outbox.
        self.written.mark(event);
        Ok(answers)
    }

    /// Tickets revoked after version `since`, at most `limit`.
    pub async fn revoked_tickets(
        &self,
        event: &EventId,
        since: u64,
        limit: usize,
    ) -> Result<Revoked, AppError> {
        let keys = EventKeys::new(event);
        self.bounded(async {
            let mut conn = self.conn().await?;
            require_event(&mut conn, event).await?;
            let (version, listed): (Option<u64>, Vec<(String, u64)>) = redis::pipe()
                .get(keys.version())
                .cmd("ZRANGE")
                .arg(keys.revoked())
                .arg(format!("({since}"))
                .arg("+inf")
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(limit + 1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await?;
            let more = listed.len() > limit;
            let tickets = listed.into_iter().take(limit).collect();
            Ok(Revoked {
                version: version.unwrap_or(0),
                tickets,
                more,
            })
        })
        .await
    }

    /// Per section of the event: tickets checked in and tickets sold. The event document is
    /// the one this replica keeps parsed ([`super::version`]) when it has it.
    pub async fn checkin_counts(&self, event: &EventId) -> Result<CheckinCounts, AppError> {
        let keys = EventKeys::new(event);
        let kept = self.documents.get(event);
        self.bounded(async {
            let mut conn = self.conn().await?;
            let mut pipe = redis::pipe();
            match &kept {
                // Only whether it still exists.
                Some(_) => pipe.cmd("EXISTS").arg(keys.event()),
                None => pipe.get(keys.event()),
            };
            let (found, sections, checked): (
                redis::Value,
                BTreeMap<String, String>,
                BTreeMap<String, u64>,
            ) = pipe
                .hgetall(keys.sections())
                .hgetall(keys.checkin_counts())
                .query_async(&mut conn)
                .await?;
            let event_record = match (kept, found) {
                (Some(record), redis::Value::Int(1)) => record,
                (None, redis::Value::BulkString(raw)) => {
                    let record: std::sync::Arc<crate::domain::event::EventRecord> =
                        std::sync::Arc::new(parse_document(
                            "event",
                            &String::from_utf8_lossy(&raw),
                        )?);
                    self.documents.keep(event, record.clone());
                    record
                }
                _ => return Err(AppError::EventNotFound),
            };
            Ok(event_record
                .sections
                .iter()
                .map(|section| {
                    let id = section.id.to_string();
                    let sold = sections
                        .get(&format!("{id}:sold"))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let checked_in = checked.get(&id).copied().unwrap_or(0);
                    (id, (checked_in, sold))
                })
                .collect())
        })
        .await
    }
}
