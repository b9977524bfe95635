//! Creating, reading and listing events.

use super::keys::{EVENTS_INDEX, EventKeys, Scope};
use super::scripts::{CreateEventArgs, EventOrganizersArgs};
use super::{RedisTime, Signal, Store, parse_document, redis_millis};
use crate::domain::event::{EventRecord, EventSummary, EventView, SummaryRecord};
use crate::domain::ids::{EventId, SectionId, UserId};
use crate::domain::role::Actor;
use crate::error::AppError;
use futures_util::future::join_all;
use serde::Deserialize;
use std::collections::HashMap;

impl Store {
    /// Creates the event unless one with its id exists, managed by `creator` (and admins).
    /// Returns whether it was created.
    pub async fn create_event(
        &self,
        event: &EventRecord,
        creator: Option<&UserId>,
    ) -> Result<bool, AppError> {
        let encode = |e: serde_json::Error| AppError::Internal(format!("encoding event: {e}"));
        let document = serde_json::to_string(event).map_err(encode)?;
        let summary = serde_json::to_string(&SummaryRecord::from(event)).map_err(encode)?;
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
                    &create.call_in(
                        &Scope::event(&event.id),
                        CreateEventArgs {
                            document: document.clone(),
                            summary: summary.clone(),
                            creator: creator.map(ToString::to_string).unwrap_or_default(),
                        },
                    )?,
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

    /// Adds (`op` "add") or removes ("remove") an organizer of the event, or only reads them
    /// ("list"), if `actor` manages it. Returns the organizers after.
    pub async fn event_organizers(
        &self,
        event: &EventId,
        actor: &Actor,
        op: &str,
        user: Option<&UserId>,
    ) -> Result<Vec<String>, AppError> {
        #[derive(Deserialize)]
        struct Organizers {
            /// A list; cjson writes an empty one as `{}`.
            organizers: serde_json::Value,
        }
        let script = &self.scripts.event_organizers;
        let invocation = script.call_in(
            &Scope::event(event),
            EventOrganizersArgs {
                actor: actor.user.clone(),
                role: actor.role.into(),
                op: op.into(),
                user: user.map(ToString::to_string).unwrap_or_default(),
            },
        )?;
        self.bounded(async {
            let Organizers { organizers } = self.run_script(script.name, &invocation).await??;
            Ok(organizers
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default())
        })
        .await
    }

    /// Whether `actor` manages the event (see `may_manage` in lua/lib.lua): a read, for
    /// deciding what a read may show; writes check in their script.
    pub async fn manages(&self, event: &EventId, actor: &Actor) -> Result<bool, AppError> {
        match actor.role {
            "admin" | "open" => Ok(true),
            "organizer" => {
                let keys = EventKeys::new(event);
                self.bounded(async {
                    let member: bool = redis::cmd("SISMEMBER")
                        .arg(keys.organizers())
                        .arg(&actor.user)
                        .query_async(&mut self.conn().await?)
                        .await?;
                    Ok(member)
                })
                .await
            }
            _ => Ok(false),
        }
    }

    /// Events in id order (UUIDv7: creation order), `limit` at a time after `after`, as
    /// summaries (no seat ids).
    pub async fn list_events(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<(Vec<EventSummary>, Option<String>), AppError> {
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
                    let (summary, counters, holds, now): EventRead = redis::pipe()
                        .atomic()
                        .get(keys.summary())
                        .hgetall(keys.sections())
                        .zrange_withscores(keys.holds(), 0, -1)
                        .cmd("TIME")
                        .query_async(&mut conn)
                        .await?;
                    let summary = match summary {
                        Some(raw) => Some(parse_document::<SummaryRecord>("summary", &raw)?),
                        // An event made before summaries were stored.
                        None => {
                            let raw: Option<String> = redis::cmd("GET")
                                .arg(keys.event())
                                .query_async(&mut conn)
                                .await?;
                            raw.map(|raw| parse_document::<EventRecord>("event", &raw))
                                .transpose()?
                                .map(|event| SummaryRecord::from(&event))
                        }
                    };
                    Ok::<_, AppError>((summary, counters, holds, now))
                }
            }))
            .await;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                // An index entry without its event is a creation that never finished.
                if let (Some(summary), counters, holds, now) = row? {
                    let remaining = live_remaining(&counters, &holds, redis_millis(now))?;
                    events.push(EventSummary::new(summary, &remaining));
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
pub(super) fn event_view(
    record: &EventRecord,
    counters: &HashMap<String, String>,
    holds: &[(String, i64)],
    now_ms: i64,
) -> Result<EventView, AppError> {
    Ok(EventView::new(
        record.clone(),
        &live_remaining(counters, holds, now_ms)?,
    ))
}

/// Each section's `remaining`, with the quantity of expired general admission holds counted.
fn live_remaining(
    counters: &HashMap<String, String>,
    holds: &[(String, i64)],
    now_ms: i64,
) -> Result<HashMap<SectionId, i64>, AppError> {
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
    Ok(remaining)
}

/// Picks the `<section>:remaining` fields out of an event's sections hash.
pub fn remaining_by_section(counters: &HashMap<String, String>) -> HashMap<SectionId, i64> {
    counters
        .iter()
        .filter_map(|(field, value)| {
            let section = field.strip_suffix(":remaining")?;
            Some((SectionId::parse(section).ok()?, value.parse().ok()?))
        })
        .collect()
}
