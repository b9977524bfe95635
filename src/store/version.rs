//! Conditional reads in one round trip: `GET /events/{eventId}` and its seat map are each one
//! read-only script (`lua/read_event.lua`, `lua/read_seats.lua`) that computes the ETag and,
//! unless the client's `If-None-Match` names it, returns what the view is made of, all as of
//! one instant. A re-read of an unchanged event is answered `304` after that one call; a
//! changed one needs no second call (there used to be two: the tag, then the data).

use super::keys::Scope;
use super::scripts::{Lua, ReadEventArgs, ReadSeatsArgs, ReadViewArgs};
use super::{Store, script_reply};
use crate::domain::event::EventRecord;
use crate::domain::event::EventView;
use crate::domain::ids::EventId;
use crate::domain::seats::SeatMap;
use crate::error::AppError;
use redis::{FromRedisValue, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Event documents never change once created (lua/create_event.lua), and a 5000-seat one is
/// about 100 KB of JSON: a replica keeps the ones it has read, parsed, so that a read fetches
/// and parses only what changes (counters, bitmaps, lock and hold indexes). This is no state:
/// every read still asks Redis whether the event exists (the read scripts refuse
/// EVENT_NOT_FOUND otherwise) and takes everything that changes from Redis. At most
/// `MAX_DOCUMENTS` are kept; past that the set starts again empty.
#[derive(Default)]
pub(super) struct Documents {
    map: Mutex<HashMap<EventId, Arc<EventRecord>>>,
}

const MAX_DOCUMENTS: usize = 1024;

impl Documents {
    pub(super) fn get(&self, event: &EventId) -> Option<Arc<EventRecord>> {
        self.map.lock().ok()?.get(event).cloned()
    }

    pub(super) fn keep(&self, event: &EventId, record: Arc<EventRecord>) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_DOCUMENTS {
                map.clear();
            }
            map.insert(event.clone(), record);
        }
    }

    /// The document the script sent, or `kept` (what this replica had when it asked) when it
    /// sent none.
    fn resolve(
        &self,
        event: &EventId,
        sent: &Value,
        kept: Option<Arc<EventRecord>>,
    ) -> Result<Arc<EventRecord>, AppError> {
        let raw: Vec<u8> = parse(sent)?;
        if raw.is_empty() {
            return kept.ok_or_else(|| AppError::Internal("a read without its document".into()));
        }
        let record: Arc<EventRecord> = Arc::new(
            serde_json::from_slice(&raw)
                .map_err(|e| AppError::Internal(format!("corrupt event: {e}")))?,
        );
        self.keep(event, record.clone());
        Ok(record)
    }
}

/// A conditional read's answer: the current ETag (quoted, as the header carries it), and the
/// data unless the client has it.
pub enum Conditional<T> {
    NotModified(String),
    Fresh { tag: String, data: T },
}

impl Store {
    /// `GET /events/{eventId}`, unless `if_none_match` names its current tag.
    pub async fn read_event(
        &self,
        event: &EventId,
        if_none_match: &str,
    ) -> Result<Conditional<EventView>, AppError> {
        let kept = self.documents.get(event);
        let args = ReadEventArgs {
            if_none_match: if_none_match.to_owned(),
            with_document: with_document(&kept),
        };
        self.conditional(&self.scripts.read_event, event, args, |fields| {
            let [raw, counters, holds, now] = fields else {
                return Err(malformed("read_event"));
            };
            let record = self.documents.resolve(event, raw, kept)?;
            let counters: HashMap<String, String> = parse(counters)?;
            let holds = scored(holds)?;
            super::events::event_view(&record, &counters, &holds, parse(now)?)
        })
        .await
    }

    /// The seat map, unless `if_none_match` names its current tag.
    pub async fn read_seats(
        &self,
        event: &EventId,
        if_none_match: &str,
    ) -> Result<Conditional<SeatMap>, AppError> {
        let kept = self.documents.get(event);
        let args = ReadSeatsArgs {
            if_none_match: if_none_match.to_owned(),
            with_document: with_document(&kept),
        };
        self.conditional(&self.scripts.read_seats, event, args, |fields| {
            let [raw, booked, locks, now] = fields else {
                return Err(malformed("read_seats"));
            };
            let record = self.documents.resolve(event, raw, kept)?;
            let locks: HashMap<String, i64> = scored(locks)?.into_iter().collect();
            Ok(crate::domain::seats::seat_map(
                record,
                parse(booked)?,
                locks,
                parse(now)?,
            ))
        })
        .await
    }

    /// Runs a read script: `{'not_modified', tag}`, `{'ok', tag, ...fields}` (given to `data`),
    /// or a refusal `{'refused', json}`.
    async fn conditional<K, A, T>(
        &self,
        script: &Lua<K, A>,
        event: &EventId,
        args: A,
        data: impl FnOnce(&[Value]) -> Result<T, AppError>,
    ) -> Result<Conditional<T>, AppError>
    where
        K: super::scripts::Bind + super::scripts::FromScope,
        A: super::scripts::Bind,
    {
        let invocation = script.call_in(&Scope::event(event), args)?;
        self.bounded(async {
            let reply: Vec<Value> = self.invoke(script.name, &invocation).await?;
            let (status, rest) = reply.split_first().ok_or_else(|| malformed(script.name))?;
            let status: String = parse(status)?;
            match (status.as_str(), rest) {
                ("not_modified", [tag]) => Ok(Conditional::NotModified(parse(tag)?)),
                ("ok", [tag, fields @ ..]) => Ok(Conditional::Fresh {
                    tag: parse(tag)?,
                    data: data(fields)?,
                }),
                ("refused", [json]) => Err(refused(script.name, json)),
                _ => Err(malformed(script.name)),
            }
        })
        .await
    }
}

/// What a read view of an event starts from (`lua/read_view.lua`), all as of one version.
pub struct Snapshot {
    pub record: Arc<EventRecord>,
    pub version: u64,
    /// The sections hash (`<section>:remaining`, ...).
    pub counters: HashMap<String, String>,
    /// General admission holds: `<hold>:<section>:<qty>:<user>`, expiry (ms).
    pub holds: Vec<(String, i64)>,
    pub booked: Vec<u8>,
    /// Seat locks: seat, expiry (ms).
    pub locks: Vec<(String, i64)>,
    /// Redis's clock.
    pub now: i64,
}

impl Store {
    /// Everything the event's reads show, as of one version (`EventNotFound` if none).
    pub async fn read_snapshot(&self, event: &EventId) -> Result<Snapshot, AppError> {
        let kept = self.documents.get(event);
        let script = &self.scripts.read_view;
        let invocation = script.call_in(
            &Scope::event(event),
            ReadViewArgs {
                with_document: with_document(&kept),
            },
        )?;
        self.bounded(async {
            let reply: Vec<Value> = self.invoke(script.name, &invocation).await?;
            match reply.as_slice() {
                [status, raw, version, counters, holds, booked, locks, now]
                    if parse::<String>(status)? == "ok" =>
                {
                    Ok(Snapshot {
                        record: self.documents.resolve(event, raw, kept)?,
                        version: parse(version)?,
                        counters: parse(counters)?,
                        holds: scored(holds)?,
                        booked: parse(booked)?,
                        locks: scored(locks)?,
                        now: parse(now)?,
                    })
                }
                [status, json] if parse::<String>(status)? == "refused" => {
                    Err(refused(script.name, json))
                }
                _ => Err(malformed(script.name)),
            }
        })
        .await
    }
}

/// `'1'` unless this replica has the event's document.
fn with_document(kept: &Option<Arc<EventRecord>>) -> String {
    if kept.is_some() { "0" } else { "1" }.to_owned()
}

fn parse<T: FromRedisValue>(value: &Value) -> Result<T, AppError> {
    T::from_redis_value_ref(value).map_err(|e| AppError::Internal(format!("a read's reply: {e}")))
}

/// A `ZRANGE ... WITHSCORES` inside a script: member, score (as Lua wrote it), ... as pairs.
fn scored(value: &Value) -> Result<Vec<(String, i64)>, AppError> {
    let flat: Vec<String> = parse(value)?;
    flat.chunks(2)
        .map(|pair| match pair {
            [member, score] => score
                .parse::<f64>()
                .map(|score| (member.clone(), score as i64))
                .map_err(|_| AppError::Internal(format!("a score {score:?}"))),
            _ => Err(AppError::Internal("an odd ZRANGE reply".into())),
        })
        .collect()
}

/// The error a read script's refusal (`{'refused', json}`) stands for.
fn refused(script: &str, json: &Value) -> AppError {
    let json: String = match parse(json) {
        Ok(json) => json,
        Err(e) => return e,
    };
    match script_reply::<()>("refused", &json) {
        Ok(Err(refusal)) => refusal.into(),
        Ok(Ok(())) => malformed(script),
        Err(e) => e,
    }
}

fn malformed(script: &str) -> AppError {
    AppError::Internal(format!("{script} replied in an unexpected shape"))
}
