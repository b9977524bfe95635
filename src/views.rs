//! Read views: `GET /events/{eventId}`, its seat map and their `304`s answered by this replica
//! from what it knows, without Redis.
//!
//! The first read of an event here is answered from Redis (the read scripts, as always) and
//! starts a view: one read of everything those answers are made of, as of one version
//! (`lua/read_view.lua`), then every change after it from the event's change stream, which this
//! replica already follows for live streams ([`crate::live`]). Every script that changes what
//! a read shows announces it in the same step, and stream ids are the versions, dense: a view
//! applies version `v + 1` to version `v`, and at any gap (a trimmed stream, a subscriber
//! dropped for lagging, a failover that lost writes) it starts over from Redis. Expiry needs no
//! change: locks and general admission holds carry their expiry (the latter in a field only
//! views read), and an answer computes what has expired on Redis's clock as this replica
//! estimates it (the clock read with the snapshot, plus the time since), exactly as the read
//! scripts do with `TIME`.
//!
//! So an answer from a view shows a version at most the delivery time of a change old
//! (measured: docs/live-availability.md); its `ETag` names that version, as Redis's answer
//! would. Only reads use views: every write still runs its script, whose answer is the truth.
//! `Cache-Control: no-cache` on a read asks Redis instead. A view not read for
//! [`IDLE`] is dropped (and with it, when nothing else listens, the replica's follower).

use crate::domain::event::{EventRecord, EventView};
use crate::domain::ids::{EventId, SectionId};
use crate::domain::seats::SeatMap;
use crate::domain::time::RedisClock;
use crate::error::AppError;
use crate::live::Hub;
use crate::store::{Change, Conditional, Snapshot, Store, keys};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// A view nobody read for this long is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// At most this many views per replica (each holds an event's seat state and a follower);
/// reads of further events go to Redis.
const MAX_VIEWS: usize = 4096;
/// A view starts over from Redis at least this often, whatever it saw: a safety net for
/// anything that changed Redis without a change (an operator's hand, a restore).
const RESYNC: Duration = Duration::from_secs(300);

/// What a view holds of one event: the same inputs the read scripts read, kept up to date.
struct Mirror {
    record: Arc<EventRecord>,
    /// Seat -> position in the event's seat order (bit of the booked bitmap).
    positions: Arc<HashMap<String, usize>>,
    version: u64,
    /// Each section's `remaining` as stored (expired general admission holds not counted).
    remaining: HashMap<SectionId, i64>,
    /// Live general admission holds: id -> section, quantity, expiry (ms).
    holds: HashMap<String, (SectionId, i64, i64)>,
    booked: Vec<u8>,
    /// Seat locks: seat -> expiry (ms).
    locks: HashMap<String, i64>,
    /// Redis's clock, read with the snapshot (its age is the view's).
    clock: RedisClock,
}

impl Mirror {
    fn new(snapshot: Snapshot, positions: Arc<HashMap<String, usize>>) -> Self {
        let mut holds = HashMap::new();
        for (member, expires) in &snapshot.holds {
            let mut parts = member.split(':');
            let (Some(id), Some((section, qty))) = (parts.next(), keys::parse_held(member)) else {
                continue;
            };
            if let Ok(section) = SectionId::parse(section) {
                holds.insert(id.to_owned(), (section, qty, *expires));
            }
        }
        Self {
            positions,
            version: snapshot.version,
            remaining: crate::store::remaining_by_section(&snapshot.counters),
            holds,
            booked: snapshot.booked,
            locks: snapshot.locks.into_iter().collect(),
            clock: RedisClock::read(snapshot.now),
            record: snapshot.record,
        }
    }

    /// Redis's clock now, as estimated here.
    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The ETag the read scripts would give now (`event_tag` in lua/lib.lua): the version, and
    /// how many locks and holds have expired without a change yet.
    fn tag(&self, now: i64) -> String {
        let locks = self.locks.values().filter(|&&at| at <= now).count();
        let holds = self.holds.values().filter(|(_, _, at)| *at <= now).count();
        format!("\"{}-{locks}-{holds}\"", self.version)
    }

    /// Takes a change from the stream: one it has already is skipped, the next one (version +
    /// 1) applied. False at a gap, or for a change it cannot read: start over.
    fn take(&mut self, change: &Change) -> bool {
        change.version <= self.version || (change.version == self.version + 1 && self.apply(change))
    }

    /// Applies the next change. False if it cannot be read.
    fn apply(&mut self, change: &Change) -> bool {
        if let (Some(section), Some(remaining)) = (&change.section, change.remaining) {
            match SectionId::parse(section) {
                Ok(section) => self.remaining.insert(section, remaining),
                Err(_) => return false,
            };
        }
        for seat in &change.seats {
            let position = self.positions.get(seat).copied();
            match (change.status.as_deref(), change.expires_at) {
                (Some("locked"), Some(at)) => {
                    self.locks.insert(seat.clone(), at.0);
                }
                (Some("booked"), _) => {
                    self.locks.remove(seat);
                    let Some(position) = position else {
                        return false;
                    };
                    set_bit(&mut self.booked, position, true);
                }
                (Some("available"), _) => {
                    self.locks.remove(seat);
                    if let Some(position) = position {
                        set_bit(&mut self.booked, position, false);
                    }
                }
                _ => return false,
            }
        }
        if let Some(hold) = &change.hold {
            let mut parts = hold.split(' ');
            let id = parts.next().unwrap_or_default().to_owned();
            match (parts.next(), parts.next(), &change.section) {
                (None, None, _) => {
                    self.holds.remove(&id);
                }
                (Some(qty), Some(at), Some(section)) => {
                    let (Ok(qty), Ok(at), Ok(section)) =
                        (qty.parse(), at.parse(), SectionId::parse(section))
                    else {
                        return false;
                    };
                    self.holds.insert(id, (section, qty, at));
                }
                _ => return false,
            }
        }
        self.version = change.version;
        true
    }

    fn event_view(&self, now: i64) -> EventView {
        let mut remaining = self.remaining.clone();
        for (section, qty, at) in self.holds.values() {
            if *at <= now {
                *remaining.entry(section.clone()).or_insert(0) += qty;
            }
        }
        EventView::new((*self.record).clone(), &remaining)
    }

    fn seat_map(&self, now: i64) -> SeatMap {
        crate::domain::seats::seat_map(
            Arc::clone(&self.record),
            self.booked.clone(),
            self.locks.clone(),
            now,
        )
    }
}

/// Sets or clears bit `position` of a bitmap numbered as Redis numbers it.
fn set_bit(bitmap: &mut Vec<u8>, position: usize, on: bool) {
    let byte = position / 8;
    if bitmap.len() <= byte {
        bitmap.resize(byte + 1, 0);
    }
    let mask = 0x80 >> (position % 8);
    if on {
        bitmap[byte] |= mask;
    } else {
        bitmap[byte] &= !mask;
    }
}

/// Whether an If-None-Match value names `tag` or is `*` (`names_tag` in lua/lib.lua).
fn names_tag(if_none_match: &str, tag: &str) -> bool {
    if_none_match.split(',').any(|candidate| {
        let candidate = candidate.trim();
        let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
        candidate == tag || candidate == "*"
    })
}

/// One event's view: its mirror once built, and when it was last read.
struct Slot {
    mirror: Mutex<Option<Mirror>>,
    used: Mutex<Instant>,
    /// The mirror has every change committed before this instant (when the read it was last
    /// brought up to date from started).
    caught_up: Mutex<Instant>,
    /// Asks the view to read the change stream now (this replica wrote the event).
    poke: tokio::sync::Notify,
}

/// Where an answer came from (the `X-Read-Source` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    View,
    Redis,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::View => "view",
            Source::Redis => "redis",
        }
    }
}

/// This replica's read views.
pub struct Views {
    hub: Arc<Hub>,
    slots: Mutex<HashMap<EventId, Arc<Slot>>>,
}

impl Views {
    pub fn new(hub: Arc<Hub>) -> Arc<Self> {
        Arc::new(Self {
            hub,
            slots: Mutex::default(),
        })
    }

    fn store(&self) -> &Store {
        self.hub.store()
    }

    /// `GET /events/{eventId}`, unless `if_none_match` names its current tag; from the view
    /// when there is one (`fresh`: from Redis, whatever this replica knows).
    pub async fn event(
        self: &Arc<Self>,
        event: &EventId,
        if_none_match: &str,
        fresh: bool,
    ) -> Result<(Conditional<EventView>, Source), AppError> {
        if !fresh && let Some(answer) = self.answer(event, if_none_match, Mirror::event_view) {
            return Ok((answer, Source::View));
        }
        let answer = self.store().read_event(event, if_none_match).await?;
        Ok((answer, Source::Redis))
    }

    /// The seat map, as [`Self::event`].
    pub async fn seats(
        self: &Arc<Self>,
        event: &EventId,
        if_none_match: &str,
        fresh: bool,
    ) -> Result<(Conditional<SeatMap>, Source), AppError> {
        if !fresh && let Some(answer) = self.answer(event, if_none_match, Mirror::seat_map) {
            return Ok((answer, Source::View));
        }
        let answer = self.store().read_seats(event, if_none_match).await?;
        Ok((answer, Source::Redis))
    }

    /// The answer from the event's view if it has one; else None, and a view is started.
    fn answer<T>(
        self: &Arc<Self>,
        event: &EventId,
        if_none_match: &str,
        data: fn(&Mirror, i64) -> T,
    ) -> Option<Conditional<T>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.get(event) {
                Some(slot) => Arc::clone(slot),
                None if slots.len() >= MAX_VIEWS => return None,
                None => {
                    let slot = Arc::new(Slot {
                        mirror: Mutex::new(None),
                        used: Mutex::new(Instant::now()),
                        caught_up: Mutex::new(Instant::now()),
                        poke: tokio::sync::Notify::new(),
                    });
                    slots.insert(event.clone(), Arc::clone(&slot));
                    tokio::spawn(Arc::clone(self).maintain(event.clone(), Arc::clone(&slot)));
                    return None;
                }
            }
        };
        *slot.used.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        // Read your writes: after this replica wrote the event, answer from Redis until the
        // view has read the change stream since (a read it starts now).
        let caught_up = *slot
            .caught_up
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self
            .store()
            .last_write(event)
            .is_some_and(|wrote| wrote >= caught_up)
        {
            slot.poke.notify_one();
            return None;
        }
        let mirror = slot.mirror.lock().unwrap_or_else(PoisonError::into_inner);
        let mirror = mirror.as_ref()?;
        let now = mirror.now();
        let tag = mirror.tag(now);
        if !if_none_match.is_empty() && names_tag(if_none_match, &tag) {
            return Some(Conditional::NotModified(tag));
        }
        Some(Conditional::Fresh {
            data: data(mirror, now),
            tag,
        })
    }

    /// Builds the event's view and keeps it up to date until nobody reads it.
    async fn maintain(self: Arc<Self>, event: EventId, slot: Arc<Slot>) {
        let mut feed = None;
        let mut positions: Option<Arc<HashMap<String, usize>>> = None;
        let mut pause = Duration::from_millis(50);
        let stop = self.hub.stopping().clone();
        'build: loop {
            *slot.mirror.lock().unwrap_or_else(PoisonError::into_inner) = None;
            if self.idle(&event, &slot) || stop.is_cancelled() {
                return;
            }
            let started = Instant::now();
            let snapshot = match self.store().read_snapshot(&event).await {
                Ok(snapshot) => snapshot,
                Err(AppError::EventNotFound) => {
                    self.forget(&event, &slot);
                    return;
                }
                Err(e) => {
                    tracing::debug!(%event, error = %e, "read view: cannot read the event");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            pause = Duration::from_millis(50);
            let feed = feed.get_or_insert_with(|| self.hub.subscribe(&event, snapshot.version));
            let positions = positions
                .get_or_insert_with(|| Arc::new(seat_positions(&snapshot.record)))
                .clone();
            *slot.mirror.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Mirror::new(snapshot, positions));
            *slot
                .caught_up
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = started;
            metrics::counter!("boxoffice_read_view_builds_total").increment(1);
            loop {
                let change = tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {
                        if self.idle(&event, &slot) {
                            return;
                        }
                        let built = slot.mirror.lock().unwrap_or_else(PoisonError::into_inner)
                            .as_ref().map(|m| m.clock.age());
                        if built.is_none_or(|age| age > RESYNC) {
                            continue 'build;
                        }
                        continue;
                    }
                    () = slot.poke.notified() => {
                        match self.catch_up(&event, &slot).await {
                            Ok(true) => continue,
                            Ok(false) => continue 'build,
                            Err(e) => {
                                tracing::debug!(%event, error = %e, "read view: cannot catch up");
                                tokio::time::sleep(pause).await;
                                continue;
                            }
                        }
                    }
                    change = feed.recv() => change,
                };
                let change = match change {
                    Ok(change) => change,
                    // Dropped for lagging: start over.
                    Err(RecvError::Lagged(_)) => continue 'build,
                    Err(RecvError::Closed) => return,
                };
                let mut mirror = slot.mirror.lock().unwrap_or_else(PoisonError::into_inner);
                if !mirror.as_mut().is_some_and(|m| m.take(&change)) {
                    drop(mirror);
                    continue 'build;
                }
            }
        }
    }

    /// Reads the change stream after the view's version now and applies it: the view then has
    /// every change committed before the read started. False if it must start over (a gap).
    async fn catch_up(&self, event: &EventId, slot: &Slot) -> Result<bool, AppError> {
        let started = Instant::now();
        loop {
            let after = match slot
                .mirror
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                Some(mirror) => mirror.version,
                None => return Ok(false),
            };
            let since = self.store().changes_since(event, after).await?;
            if !since.complete {
                return Ok(false);
            }
            let more = since
                .changes
                .last()
                .is_some_and(|c| c.version < since.version);
            let mut mirror = slot.mirror.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(mirror) = mirror.as_mut() else {
                return Ok(false);
            };
            if !since.changes.iter().all(|change| mirror.take(change)) {
                return Ok(false);
            }
            if !more {
                break;
            }
        }
        *slot
            .caught_up
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = started;
        Ok(true)
    }

    /// Whether nobody read the view for [`IDLE`]; if so it is dropped.
    fn idle(&self, event: &EventId, slot: &Arc<Slot>) -> bool {
        let used = *slot.used.lock().unwrap_or_else(PoisonError::into_inner);
        if used.elapsed() < IDLE {
            return false;
        }
        self.forget(event, slot);
        true
    }

    fn forget(&self, event: &EventId, slot: &Arc<Slot>) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.get(event).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(event);
        }
        self.hub.left(event);
    }
}

/// Each seat's position in the event's seat order (the booked bitmap's bit).
fn seat_positions(record: &EventRecord) -> HashMap<String, usize> {
    record
        .sections
        .iter()
        .flat_map(|section| section.seats.iter().flatten())
        .enumerate()
        .map(|(position, seat)| (seat.as_str().to_owned(), position))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_numbered_as_redis_numbers_them() {
        let mut bitmap = Vec::new();
        set_bit(&mut bitmap, 0, true);
        set_bit(&mut bitmap, 9, true);
        assert_eq!(bitmap, [0x80, 0x40]);
        set_bit(&mut bitmap, 0, false);
        assert_eq!(bitmap, [0x00, 0x40]);
        assert!(crate::domain::seats::bit_is_set(&bitmap, 9));
    }

    #[test]
    fn if_none_match_is_matched_as_the_scripts_match_it() {
        assert!(names_tag("\"3-0-0\"", "\"3-0-0\""));
        assert!(names_tag("W/\"3-0-0\", \"4-0-0\"", "\"3-0-0\""));
        assert!(names_tag("*", "\"9-1-0\""));
        assert!(!names_tag("\"3-0-0\"", "\"3-0-1\""));
    }
}
