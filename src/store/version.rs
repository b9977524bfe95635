//! Conditional reads in one round trip: `GET /events/{eventId}` and its seat map are each one
//! read-only script (`lua/read_event.lua`, `lua/read_seats.lua`) that computes the ETag and,
//! unless the client's `If-None-Match` names it, returns what the view is made of, all as of
//! one instant. A re-read of an unchanged event is answered `304` after that one call; a
//! changed one needs no second call (there used to be two: the tag, then the data).

use super::keys::Scope;
use super::scripts::{Lua, ReadEventArgs, ReadSeatsArgs};
use super::{Store, script_reply};
use crate::domain::event::EventView;
use crate::domain::ids::EventId;
use crate::domain::seats::SeatMap;
use crate::error::AppError;
use redis::{FromRedisValue, Value};
use std::collections::HashMap;
use std::time::Instant;

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
        let args = ReadEventArgs {
            if_none_match: if_none_match.to_owned(),
        };
        self.conditional(&self.scripts.read_event, event, args, |fields| {
            let [raw, counters, holds, now] = fields else {
                return Err(malformed("read_event"));
            };
            let raw: String = parse(raw)?;
            let counters: HashMap<String, String> = parse(counters)?;
            let holds = scored(holds)?;
            super::events::event_view(&raw, &counters, &holds, parse(now)?)
        })
        .await
    }

    /// The seat map, unless `if_none_match` names its current tag.
    pub async fn read_seats(
        &self,
        event: &EventId,
        if_none_match: &str,
    ) -> Result<Conditional<SeatMap>, AppError> {
        let args = ReadSeatsArgs {
            if_none_match: if_none_match.to_owned(),
        };
        self.conditional(&self.scripts.read_seats, event, args, |fields| {
            let [raw, booked, locks, now] = fields else {
                return Err(malformed("read_seats"));
            };
            let record = super::parse_document("event", &parse::<String>(raw)?)?;
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
            let started = Instant::now();
            let mut conn = self.conn().await?;
            let reply: Result<Vec<Value>, _> = invocation.invoke_async(&mut conn).await;
            metrics::histogram!("boxoffice_redis_script_duration_seconds", "script" => script.name)
                .record(started.elapsed().as_secs_f64());
            let reply = reply?;
            let (status, rest) = reply.split_first().ok_or_else(|| malformed(script.name))?;
            let status: String = parse(status)?;
            match (status.as_str(), rest) {
                ("not_modified", [tag]) => Ok(Conditional::NotModified(parse(tag)?)),
                ("ok", [tag, fields @ ..]) => Ok(Conditional::Fresh {
                    tag: parse(tag)?,
                    data: data(fields)?,
                }),
                ("refused", [json]) => {
                    let json: String = parse(json)?;
                    match script_reply::<()>("refused", &json)? {
                        Err(refusal) => Err(refusal.into()),
                        Ok(()) => Err(malformed(script.name)),
                    }
                }
                _ => Err(malformed(script.name)),
            }
        })
        .await
    }
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

fn malformed(script: &str) -> AppError {
    AppError::Internal(format!("{script} replied in an unexpected shape"))
}
