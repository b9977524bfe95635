//! Creating, reading and listing events.

use super::keys::{EVENTS_INDEX, EventKeys};
use super::scripts::{CreateEventArgs, CreateEventKeys};
use super::{RedisTime, Signal, Store, parse_document, redis_millis};
use crate::domain::event::{EventRecord, EventView};
use crate::domain::ids::{EventId, SectionId};
use crate::error::AppError;
use futures_util::future::join_all;
use serde::Deserialize;
use std::collections::HashMap;

impl Store {
    /// Creates the event unless one with its id exists. Returns whether it was created.
    pub async fn create_event(&self, event: &EventRecord) -> Result<bool, AppError> {
        let document = serde_json::to_string(event)
            .map_err(|e| AppError::Internal(format!("encoding event: {e}")))?;
        let keys = EventKeys::new(&event.id);
        self.bounded(async {
            let mut conn = self.conn().await?;
            // The global index is written first: if this process dies before the script runs,
            // the index names an event that does not exist, which listings skip. The reverse
            // order could leave an event nobody can list.
            let _: i64 = redis::cmd("ZADD")
                .arg(EVENTS_INDEX)
                .arg("NX")
                .arg(0)
                .arg(event.id.as_str())
                .query_async(&mut conn)
                .await?;
            #[derive(Deserialize)]
            struct Created {}
            let create = &self.scripts.create_event;
            let reply = self
                .run_script::<Created>(
                    create.name,
                    &create.call(
                        CreateEventKeys {
                            event: keys.event(),
                            sections: keys.sections(),
                            seat_sections: keys.seat_sections(),
                            seat_positions: keys.seat_positions(),
                            seats_at: keys.seats_at(),
                            booked_seats: keys.booked_seats(),
                        },
                        CreateEventArgs {
                            document: document.clone(),
                        },
                    ),
                )
                .await?;
            match reply {
                Ok(Created {}) => Ok(true),
                Err(refusal) if refusal.is(Signal::EventExists) => Ok(false),
                Err(refusal) => Err(refusal.into()),
            }
        })
        .await
    }

    /// The event with its live `remaining` counters.
    pub async fn event(&self, id: &EventId) -> Result<Option<EventView>, AppError> {
        self.bounded(async {
            let keys = EventKeys::new(id);
            let (raw, counters, holds, now): EventRead = redis::pipe()
                .atomic()
                .get(keys.event())
                .hgetall(keys.sections())
                .zrange_withscores(keys.holds(), 0, -1)
                .cmd("TIME")
                .query_async(&mut self.conn().await?)
                .await?;
            raw.map(|raw| event_view(&raw, &counters, &holds, redis_millis(now)))
                .transpose()
        })
        .await
    }

    /// Events in id order (UUIDv7: creation order), `limit` at a time after `after`.
    pub async fn list_events(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<(Vec<EventView>, Option<String>), AppError> {
        self.bounded(async {
            let mut conn = self.conn().await?;
            let mut ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(EVENTS_INDEX)
                .arg(after.map_or_else(|| "-".to_owned(), |id| format!("({id}")))
                .arg("+")
                .arg("BYLEX")
                .arg("LIMIT")
                .arg(0)
                .arg(limit + 1)
                .query_async(&mut conn)
                .await?;
            let more = ids.len() > limit;
            ids.truncate(limit);
            // One read per event (each in its own slot), concurrently.
            let rows = join_all(ids.iter().map(|id| {
                let mut conn = conn.clone();
                async move {
                    let keys = EventKeys::new(&EventId::parse(id.as_str()).map_err(|e| {
                        AppError::Internal(format!("bad id {id:?} in the events index: {e}"))
                    })?);
                    let row: EventRead = redis::pipe()
                        .atomic()
                        .get(keys.event())
                        .hgetall(keys.sections())
                        .zrange_withscores(keys.holds(), 0, -1)
                        .cmd("TIME")
                        .query_async(&mut conn)
                        .await?;
                    Ok::<_, AppError>(row)
                }
            }))
            .await;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                // An index entry without its event is a creation that never finished.
                if let (Some(raw), counters, holds, now) = row? {
                    events.push(event_view(&raw, &counters, &holds, redis_millis(now))?);
                }
            }
            let next = if more { ids.last().cloned() } else { None };
            Ok((events, next))
        })
        .await
    }
}

/// Event document, sections hash, general admission holds with their expiry, Redis's clock.
type EventRead = (
    Option<String>,
    HashMap<String, String>,
    Vec<(String, i64)>,
    RedisTime,
);

/// The event with its sections' `remaining`, counting the quantity of general admission holds
/// that have expired (on Redis's clock) but that no script has given back yet as remaining:
/// the next script that touches the event will (see `lua/lib.lua`).
fn event_view(
    raw: &str,
    counters: &HashMap<String, String>,
    holds: &[(String, i64)],
    now_ms: i64,
) -> Result<EventView, AppError> {
    let record: EventRecord = parse_document("event", raw)?;
    let mut remaining = remaining_by_section(counters);
    for (member, expires_at) in holds {
        if *expires_at > now_ms {
            continue;
        }
        let (section, qty) = super::keys::parse_held(member)
            .ok_or_else(|| AppError::Internal(format!("bad hold index entry {member:?}")))?;
        if let Ok(section) = SectionId::parse(section) {
            *remaining.entry(section).or_insert(0) += qty;
        }
    }
    Ok(EventView::new(record, &remaining))
}

/// Picks the `<section>:remaining` fields out of an event's sections hash.
pub(super) fn remaining_by_section(counters: &HashMap<String, String>) -> HashMap<SectionId, i64> {
    counters
        .iter()
        .filter_map(|(field, value)| {
            let section = field.strip_suffix(":remaining")?;
            Some((SectionId::parse(section).ok()?, value.parse().ok()?))
        })
        .collect()
}
