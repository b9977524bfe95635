//! Booking by quantity, reading, listing and cancelling bookings.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EVENTS_INDEX, EventKeys};
use super::{Store, parse_document, query_each};
use crate::domain::booking::{BookingRecord, BookingView};
use crate::domain::event::EventRecord;
use crate::domain::ids::{BookingId, EventId, SectionId, UserId};
use crate::domain::time::now_ms;
use crate::error::AppError;
use serde::Deserialize;
use std::collections::HashMap;

/// `POST /book`, validated.
#[derive(Debug, Clone)]
pub struct BookCommand {
    pub event_id: EventId,
    pub section_id: SectionId,
    pub qty: u32,
    pub user_id: UserId,
}

/// What a booking script answers: the booking and the section's remaining count right after.
#[derive(Debug, Deserialize)]
pub struct BookingOutcome {
    pub booking: BookingRecord,
    pub remaining: i64,
    /// True when an Idempotency-Key replayed an earlier reply instead of running again.
    #[serde(default)]
    pub replayed: bool,
}

impl BookingOutcome {
    pub fn into_view(self) -> BookingView {
        let mut view = BookingView::from(self.booking);
        view.remaining = Some(self.remaining);
        view
    }
}

/// `GET /bookings` filters.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub event_id: Option<EventId>,
    pub user_id: Option<UserId>,
    /// Only bookings with an id greater than this (the previous page's `nextCursor`).
    pub after: Option<BookingId>,
    pub limit: usize,
}

#[derive(Debug)]
pub struct BookingPage {
    pub bookings: Vec<BookingView>,
    pub next_cursor: Option<String>,
}

impl Store {
    pub async fn book(
        &self,
        command: &BookCommand,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let keys = EventKeys::new(&command.event_id);
        let slot = keys::event_slot(&command.event_id);
        let fingerprint = format!(
            "book|{}|{}|{}",
            command.event_id, command.section_id, command.qty
        );
        self.bounded(async {
            let mut conn = self.conn();
            if let Some(key) = idempotency {
                Self::claim_idempotency_key(&mut conn, &command.user_id, key, &fingerprint).await?;
            }
            self.run_booking_script(slot, |id| {
                let mut invocation = self.scripts.book.prepare_invoke();
                invocation
                    .key(keys.event())
                    .key(keys.sections())
                    .key(keys.booked_seats())
                    .key(keys.seats_at())
                    .key(keys.lock_index())
                    .key(keys::booking(id))
                    .key(keys.bookings())
                    .key(keys.user_bookings(&command.user_id))
                    .arg(id.to_string())
                    .arg(command.event_id.as_str())
                    .arg(command.section_id.as_str())
                    .arg(command.qty)
                    .arg(command.user_id.as_str())
                    .arg(now_ms());
                if let Some(key) = idempotency {
                    invocation
                        .key(keys.idempotency(&command.user_id, key.as_str()))
                        .arg(&fingerprint)
                        .arg(IDEMPOTENCY_TTL_MS);
                }
                invocation
            })
            .await
        })
        .await
    }

    /// Cancels a confirmed booking and returns its inventory, exactly once.
    pub async fn cancel_booking(
        &self,
        id: &BookingId,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        self.bounded(async {
            let mut conn = self.conn();
            // Only to learn the booking's event and user (which never change); the script
            // checks the status itself.
            let booking = booking_record(&mut conn, id)
                .await?
                .ok_or(AppError::BookingNotFound)?;
            let booking_key = keys::booking(id);
            let keys = EventKeys::new(&booking.event_id);
            let fingerprint = format!("cancel|{id}");
            let mut invocation = self.scripts.cancel_booking.prepare_invoke();
            invocation
                .key(&booking_key)
                .key(keys.sections())
                .key(keys.seat_positions())
                .key(keys.booked_seats())
                .arg(now_ms());
            if let Some(key) = idempotency {
                Self::claim_idempotency_key(&mut conn, &booking.user_id, key, &fingerprint).await?;
                invocation
                    .key(keys.idempotency(&booking.user_id, key.as_str()))
                    .arg(&fingerprint)
                    .arg(IDEMPOTENCY_TTL_MS);
            }
            Ok(self.run_script::<BookingOutcome>(&invocation).await??)
        })
        .await
    }

    /// Bookings in id (= creation) order, with their event and section names.
    ///
    /// Without `event_id` this merges the per-event indexes of every event: one pipelined
    /// round trip, but work in proportion to the number of events. Fine for an admin view; a
    /// large platform would feed a query store instead.
    pub async fn list_bookings(&self, filter: &BookingFilter) -> Result<BookingPage, AppError> {
        self.bounded(async {
            let mut conn = self.conn();
            let events: Vec<EventId> = match &filter.event_id {
                Some(event) => {
                    let exists: bool = redis::cmd("EXISTS")
                        .arg(EventKeys::new(event).event())
                        .query_async(&mut conn)
                        .await?;
                    if !exists {
                        return Err(AppError::EventNotFound);
                    }
                    vec![event.clone()]
                }
                None => {
                    let ids: Vec<String> = redis::cmd("ZRANGE")
                        .arg(EVENTS_INDEX)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn)
                        .await?;
                    ids.into_iter()
                        .filter_map(|id| EventId::parse(id).ok())
                        .collect()
                }
            };

            let min = filter
                .after
                .map_or_else(|| "-".to_owned(), |id| format!("({id}"));
            let mut pipe = redis::pipe();
            for event in &events {
                let keys = EventKeys::new(event);
                let index = match &filter.user_id {
                    Some(user) => keys.user_bookings(user),
                    None => keys.bookings(),
                };
                pipe.cmd("ZRANGE")
                    .arg(index)
                    .arg(&min)
                    .arg("+")
                    .arg("BYLEX")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(filter.limit + 1);
            }
            let per_event: Vec<Vec<String>> = query_each(&pipe, &mut conn).await?;
            let mut ids: Vec<BookingId> = per_event
                .into_iter()
                .flatten()
                .filter_map(|id| BookingId::parse(&id))
                .collect();
            // Uuid byte order is the order of their hyphenated strings, i.e. the index order.
            ids.sort_unstable();
            let more = ids.len() > filter.limit;
            ids.truncate(filter.limit);

            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.get(keys::booking(id));
            }
            let documents: Vec<Option<String>> = query_each(&pipe, &mut conn).await?;
            let records = documents
                .into_iter()
                .flatten()
                .map(|raw| parse_document::<BookingRecord>("booking", &raw))
                .collect::<Result<Vec<_>, _>>()?;

            let names = event_records(&mut conn, &records).await?;
            let bookings = records
                .into_iter()
                .map(|record| with_names(record, &names))
                .collect();
            let next_cursor = if more {
                ids.last().map(ToString::to_string)
            } else {
                None
            };
            Ok(BookingPage {
                bookings,
                next_cursor,
            })
        })
        .await
    }

    /// One booking with its event and section names.
    pub async fn booking_view(&self, id: &BookingId) -> Result<Option<BookingView>, AppError> {
        self.bounded(async {
            let mut conn = self.conn();
            let Some(record) = booking_record(&mut conn, id).await? else {
                return Ok(None);
            };
            let names = event_records(&mut conn, std::slice::from_ref(&record)).await?;
            Ok(Some(with_names(record, &names)))
        })
        .await
    }
}

/// The event documents of the events these bookings belong to.
async fn event_records(
    conn: &mut redis::aio::ConnectionManager,
    bookings: &[BookingRecord],
) -> Result<HashMap<EventId, EventRecord>, AppError> {
    let mut events: Vec<&EventId> = bookings.iter().map(|b| &b.event_id).collect();
    events.sort_unstable();
    events.dedup();
    let mut pipe = redis::pipe();
    for event in &events {
        pipe.get(EventKeys::new(event).event());
    }
    let documents: Vec<Option<String>> = query_each(&pipe, conn).await?;
    documents
        .into_iter()
        .flatten()
        .map(|raw| {
            let record: EventRecord = parse_document("event", &raw)?;
            Ok((record.id.clone(), record))
        })
        .collect()
}

/// A booking's document, found by its id alone.
async fn booking_record(
    conn: &mut redis::aio::ConnectionManager,
    id: &BookingId,
) -> Result<Option<BookingRecord>, AppError> {
    let raw: Option<String> = redis::cmd("GET")
        .arg(keys::booking(id))
        .query_async(conn)
        .await?;
    raw.map(|raw| parse_document("booking", &raw)).transpose()
}

fn with_names(record: BookingRecord, events: &HashMap<EventId, EventRecord>) -> BookingView {
    let event = events.get(&record.event_id);
    let event_name = event.map(|e| e.name.clone());
    let section_name = event
        .and_then(|e| e.section(&record.section_id))
        .map(|s| s.name.clone());
    let mut view = BookingView::from(record);
    view.event_name = event_name;
    view.section_name = section_name;
    view
}
