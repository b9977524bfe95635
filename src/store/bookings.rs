//! Booking by quantity, reading, listing and cancelling bookings.

use super::idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyKey};
use super::keys::{self, EVENTS_INDEX, EventKeys, Scope};
use super::scripts::{BookArgs, CancelArgs};
use super::{RedisConn, Store, parse_document};
use crate::domain::booking::{BookingRecord, BookingView};
use crate::domain::event::EventRecord;
use crate::domain::ids::{BookingId, EventId, SectionId, UserId};
use crate::domain::role::Actor;
use crate::domain::time::now_ms;
use crate::error::AppError;
use futures_util::future::join_all;
use serde::Deserialize;
use std::collections::HashMap;

/// `POST /book`, validated.
#[derive(Debug, Clone)]
pub struct BookCommand {
    pub event_id: EventId,
    pub section_id: SectionId,
    pub qty: u32,
    pub user_id: UserId,
    /// The caller sent a valid admission to the event's waiting room (`Admission-Token`).
    pub admitted: bool,
    /// The caller's role (`Caller::role_name`): on an event that requires payment, only
    /// whoever manages it books directly.
    pub role: &'static str,
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
    pub after: Option<uuid::Uuid>,
    pub limit: usize,
    /// Only events this organizer manages (none: every event the rest of the filter names).
    pub managed_by: Option<UserId>,
}

#[derive(Debug)]
pub struct BookingPage {
    pub bookings: Vec<BookingView>,
    pub next_cursor: Option<String>,
}

/// `EVENT_NOT_FOUND` unless the event exists.
pub(super) async fn require_event(conn: &mut RedisConn, event: &EventId) -> Result<(), AppError> {
    let exists: bool = redis::cmd("EXISTS")
        .arg(EventKeys::new(event).event())
        .query_async(conn)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(AppError::EventNotFound)
    }
}

/// The events an index lists (all events, or a user's).
pub(super) async fn event_index(
    conn: &mut RedisConn,
    index: String,
) -> Result<Vec<EventId>, AppError> {
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(index)
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await?;
    Ok(ids
        .into_iter()
        .filter_map(|id| EventId::parse(id).ok())
        .collect())
}

impl Store {
    pub async fn book(
        &self,
        command: &BookCommand,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<BookingOutcome, AppError> {
        let fingerprint = format!(
            "book|{}|{}|{}",
            command.event_id, command.section_id, command.qty
        );
        let (event, user) = (&command.event_id, &command.user_id);
        self.run_booking(
            &self.scripts.book,
            event,
            user,
            idempotency,
            &fingerprint,
            Scope::event(event).user(user),
            |stamp| BookArgs {
                booking_id: stamp.booking_id,
                event_id: stamp.event_id,
                section_id: command.section_id.to_string(),
                qty: command.qty.to_string(),
                user_id: user.to_string(),
                created_at: stamp.created_at,
                admitted: if command.admitted { "1" } else { "0" }.into(),
                role: command.role.to_owned(),
                fingerprint: stamp.fingerprint,
                ttl_ms: stamp.ttl_ms,
            },
        )
        .await
    }

    /// Cancels a confirmed booking and returns its inventory, exactly once. `allowed` says
    /// whether the caller may cancel a booking of that user: if not, it does not exist for
    /// them.
    /// Cancels a booking for `actor`: its user, or whoever manages its event (the script
    /// checks, with the booking's status). The Idempotency-Key and the rate limit are the
    /// actor's own (in open mode, the booking user's).
    pub async fn cancel_booking(
        &self,
        id: &BookingId,
        idempotency: Option<&IdempotencyKey>,
        actor: &Actor,
        acting: Option<&UserId>,
    ) -> Result<BookingOutcome, AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            // Only to learn the booking's event and user (which never change); the script
            // checks who may cancel it, and its status.
            let booking = booking_record(&mut conn, id)
                .await?
                .filter(|booking| {
                    acting.is_none_or(|user| user == &booking.user_id) || actor.role != "buyer"
                })
                .ok_or(AppError::BookingNotFound)?;
            let acting = acting.unwrap_or(&booking.user_id);
            let fingerprint = format!("cancel|{id}");
            match idempotency {
                Some(key) => {
                    let claim = Some((key, fingerprint.as_str()));
                    self.register_booking(acting, &booking.event_id, claim)
                        .await?;
                }
                None => self.check_user_rate(acting).await?,
            }
            let cancel = &self.scripts.cancel_booking;
            let invocation = cancel.call_in(
                &Scope::event(&booking.event_id)
                    .user(acting)
                    .booking(id)
                    .idempotency(idempotency.map(IdempotencyKey::as_str)),
                CancelArgs {
                    cancelled_at: now_ms().to_string(),
                    actor: if actor.user.is_empty() {
                        booking.user_id.to_string()
                    } else {
                        actor.user.clone()
                    },
                    role: actor.role.into(),
                    fingerprint: idempotency.map(|_| fingerprint.clone()),
                    ttl_ms: idempotency.map(|_| IDEMPOTENCY_TTL_MS.to_string()),
                },
            )?;
            let cancelled = self.run_acked_script(cancel.name, &invocation).await;
            self.wrote(&booking.event_id);
            let cancelled = cancelled??;
            self.written.mark(&booking.event_id);
            Ok(cancelled)
        })
        .await
    }

    /// The user a booking belongs to, if it exists.
    pub async fn booking_owner(&self, id: &BookingId) -> Result<Option<UserId>, AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            Ok(booking_record(&mut conn, id).await?.map(|b| b.user_id))
        })
        .await
    }

    /// Bookings in id (= creation) order, with their event and section names.
    ///
    /// The events to read come from the user's index of events when a user is given (its cost
    /// grows with that user's events, not with all events), from the filter when an event is
    /// given, else from the index of all events (an organizer's view). Each event's index is
    /// read on its own (one slot each), concurrently.
    pub async fn list_bookings(&self, filter: &BookingFilter) -> Result<BookingPage, AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            let mut events: Vec<EventId> = match (&filter.user_id, &filter.event_id) {
                (None, Some(event)) => vec![event.clone()],
                // The user's index of events, else every event's.
                (user, _) => {
                    let index = user
                        .as_ref()
                        .map_or_else(|| EVENTS_INDEX.to_owned(), keys::user_events);
                    let ids = event_index(&mut conn, index).await?;
                    ids.into_iter()
                        .filter(|id| filter.event_id.as_ref().is_none_or(|e| e == id))
                        .collect()
                }
            };
            if let Some(event) = &filter.event_id {
                require_event(&mut conn, event).await?;
            }
            events.dedup();
            if let Some(organizer) = &filter.managed_by {
                let managed = join_all(events.iter().map(|event| {
                    let mut conn = conn.clone();
                    async move {
                        redis::cmd("SISMEMBER")
                            .arg(EventKeys::new(event).organizers())
                            .arg(organizer.as_str())
                            .query_async::<bool>(&mut conn)
                            .await
                    }
                }))
                .await;
                let mut kept = Vec::with_capacity(events.len());
                for (event, managed) in events.into_iter().zip(managed) {
                    if managed? {
                        kept.push(event);
                    }
                }
                events = kept;
            }

            let min = filter
                .after
                .map_or_else(|| "-".to_owned(), |id| format!("({}", id.hyphenated()));
            let per_event = join_all(events.iter().map(|event| {
                let keys = EventKeys::new(event);
                let index = match &filter.user_id {
                    Some(user) => keys.user_bookings(user),
                    None => keys.bookings(),
                };
                let mut conn = conn.clone();
                let min = min.clone();
                async move {
                    redis::cmd("ZRANGE")
                        .arg(index)
                        .arg(min)
                        .arg("+")
                        .arg("BYLEX")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(filter.limit + 1)
                        .query_async::<Vec<String>>(&mut conn)
                        .await
                }
            }))
            .await;
            let mut ids = Vec::new();
            for found in per_event {
                ids.extend(found?.iter().filter_map(|id| BookingId::parse(id)));
            }
            // Uuid byte order is the order of their hyphenated strings, i.e. the index order.
            ids.sort_unstable();
            let more = ids.len() > filter.limit;
            ids.truncate(filter.limit);

            let documents = join_all(ids.iter().map(|id| {
                let mut conn = conn.clone();
                async move { booking_record(&mut conn, id).await }
            }))
            .await;
            let mut records = Vec::with_capacity(documents.len());
            for document in documents {
                records.extend(document?);
            }
            let names = event_records(&conn, &records).await?;
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
            let mut conn = self.conn().await?;
            let Some(record) = booking_record(&mut conn, id).await? else {
                return Ok(None);
            };
            let names = event_records(&conn, std::slice::from_ref(&record)).await?;
            Ok(Some(with_names(record, &names)))
        })
        .await
    }
}

/// The event documents of the events these bookings belong to (one GET each, concurrently).
async fn event_records(
    conn: &RedisConn,
    bookings: &[BookingRecord],
) -> Result<HashMap<EventId, EventRecord>, AppError> {
    let mut events: Vec<&EventId> = bookings.iter().map(|b| &b.event_id).collect();
    events.sort_unstable();
    events.dedup();
    let documents = join_all(events.iter().map(|event| {
        let mut conn = conn.clone();
        let key = EventKeys::new(event).event();
        async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(&mut conn)
                .await
        }
    }))
    .await;
    let mut records = HashMap::new();
    for document in documents {
        if let Some(raw) = document? {
            let record: EventRecord = parse_document("event", &raw)?;
            records.insert(record.id.clone(), record);
        }
    }
    Ok(records)
}

/// A booking's document, found by its id alone.
pub(crate) async fn booking_record(
    conn: &mut RedisConn,
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
