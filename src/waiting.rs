//! This replica's view of waiting rooms: polls are answered here, without Redis.
//!
//! A queue ticket is signed and names its place (`<shard>.<seq>`: the `seq`-th place of queue
//! shard `shard`), so a poll needs only to know how far the line has come. For each event that
//! someone joins or asks about here, the replica refreshes that at most every
//! `QUEUE_REFRESH_MS`: it reads each queue shard's count of places (`queue_shard_read.lua`) and
//! runs `queue_advance.lua` in the event's slot, which records those counts as a round, lets
//! turns lapse, releases the turns the pace and `maxActive` allow, and answers the rounds this
//! replica lacks and the turns released. From the rounds, a place's arrival index follows
//! (everything of earlier rounds first, then the round's places shard by shard); with
//! `shuffle`, the pre-start arrivals' turns are a permutation of them drawn from the stored
//! seed ([`permute`]), the same on every replica. A poll whose turn has come takes its
//! admission with one script (`queue_admit.lua`); every other poll is answered from the view.
//!
//! Redis work per event is so `replicas x refresh rate x (shards + 1)` plus joins and
//! admissions, whatever the number of people asking. The view is only ever a read: releases,
//! admissions and places are written by the scripts.

use crate::domain::ids::EventId;
use crate::domain::time::RedisClock;
use crate::error::AppError;
use crate::store::keys::queue_shard_tag;
use crate::store::{Advanced, Refresh, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A view not used for this long is forgotten (the next poll refreshes it).
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// What this replica knows of one event's waiting room, as of one refresh.
#[derive(Debug)]
pub struct RoomView {
    /// Redis's clock, read with the refresh.
    clock: RedisClock,
    /// The event's queue shards and their hash tags.
    pub shards: u16,
    tags: Arc<Vec<String>>,
    /// Turns released: every turn below it has come.
    pub served: u64,
    /// With `shuffle`, once drawn: how many joined before the start, and the seed.
    shuffle: Option<(u64, u64)>,
    /// Each round's place counts per shard (each round's sum: the places of all rounds up to
    /// it).
    rounds: Arc<Vec<Vec<u64>>>,
    /// Admissions per minute (0: not paced), and the sale's start (ms).
    pub rate: u64,
    pub start_ms: i64,
}

/// Where a place stands as the view shows it.
#[derive(Debug, PartialEq, Eq)]
pub enum Local {
    /// Its turn has not come: this many turns come before it.
    Waiting { position: u64 },
    /// Its turn (this one) has come: the holder takes it with `queue_admit.lua`.
    TurnCame { turn: u64 },
}

impl RoomView {
    /// The hash tag of queue shard `shard`.
    pub fn tag(&self, shard: u16) -> Option<&str> {
        self.tags.get(usize::from(shard)).map(String::as_str)
    }

    /// The queue shard a user's places are on (the same on every replica).
    pub fn shard_of(&self, user: &str) -> u16 {
        let hash = crate::store::keys::key_slot(user.as_bytes());
        hash % self.shards.max(1)
    }

    /// Redis's clock now, as this view estimates it (ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The arrival index of place `seq` of shard `shard`, once a round holds it.
    fn arrival(&self, shard: u16, seq: u64) -> Option<u64> {
        let k = usize::from(shard);
        let rounds = &self.rounds;
        let r = rounds.partition_point(|round| round.get(k).is_some_and(|&c| c <= seq));
        let round = rounds.get(r)?;
        if round.get(k).is_none_or(|&c| c <= seq) {
            return None;
        }
        let previous = r.checked_sub(1).map(|p| &rounds[p]);
        let prev = |j: usize| previous.and_then(|p| p.get(j).copied()).unwrap_or(0);
        let before: u64 = previous.map_or(0, |p| p.iter().sum());
        let earlier_shards: u64 = (0..k).map(|j| round[j].saturating_sub(prev(j))).sum();
        Some(before + earlier_shards + (seq - prev(k)))
    }

    /// Where place `seq` of shard `shard` stands.
    pub fn locate(&self, shard: u16, seq: u64) -> Local {
        let Some(arrival) = self.arrival(shard, seq) else {
            // Not in a round yet: behind everyone who is, and behind the shard's earlier places.
            let last = self.rounds.last();
            let stitched: u64 = last.map_or(0, |round| round.iter().sum());
            let last = last
                .and_then(|round| round.get(usize::from(shard)).copied())
                .unwrap_or(0);
            return Local::Waiting {
                position: stitched.saturating_sub(self.served) + seq.saturating_sub(last),
            };
        };
        let turn = match self.shuffle {
            Some((count, seed)) if arrival < count => permute(arrival, count, seed),
            _ => arrival,
        };
        if turn < self.served {
            Local::TurnCame { turn }
        } else {
            Local::Waiting {
                position: turn - self.served,
            }
        }
    }

    /// About how long `position` turns take with this room's pace, from now (seconds).
    pub fn estimated_wait_seconds(&self, position: u64) -> Option<u64> {
        if self.rate == 0 {
            return None;
        }
        let until_start = u64::try_from(self.start_ms - self.now_ms()).unwrap_or(0);
        Some(until_start.div_ceil(1000) + (position * 60).div_ceil(self.rate))
    }

    /// The view after a refresh answered `advanced` (its rounds extend this view's).
    fn refreshed(
        previous: Option<&RoomView>,
        event: &EventId,
        advanced: Advanced,
    ) -> Result<RoomView, AppError> {
        let shards = advanced.shards.max(1);
        let tags = match previous {
            Some(p) if p.shards == shards => Arc::clone(&p.tags),
            _ => Arc::new(
                (0..shards)
                    .map(|k| queue_shard_tag(event, k, shards))
                    .collect(),
            ),
        };
        let mut rounds = previous.map_or_else(Arc::default, |p| Arc::clone(&p.rounds));
        if !advanced.rounds.is_empty() {
            let rounds = Arc::make_mut(&mut rounds);
            for csv in &advanced.rounds {
                let counts = csv
                    .split(',')
                    .map(str::parse::<u64>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| AppError::Internal(format!("queue round {csv:?}")))?;
                rounds.push(counts);
            }
        }
        let shuffle = match (advanced.shuffled, advanced.seed.as_deref()) {
            (Some(count), Some(seed)) if advanced.order == "shuffle" => {
                Some((count, seed.parse().unwrap_or(0)))
            }
            _ => None,
        };
        Ok(RoomView {
            clock: RedisClock::read(advanced.now),
            shards,
            tags,
            served: advanced.served,
            shuffle,
            rounds,
            rate: advanced.rate,
            start_ms: advanced.start,
        })
    }

    /// How many rounds it holds.
    fn have(&self) -> usize {
        self.rounds.len()
    }
}

/// What a refresh found: the view, or that the event has no waiting room on (or no event).
#[derive(Clone)]
enum Known {
    Room(Arc<RoomView>),
    Off(fn() -> AppError),
}

struct Entry {
    known: Option<(Instant, Known)>,
    /// Changed here since: refresh at the next ask (the rounds known are still good).
    stale: bool,
    /// One refresh at a time per event on this replica; others wait for its result.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    used: Instant,
}

/// The views of this replica.
pub struct Rooms {
    store: Store,
    refresh: Duration,
    shards: u16,
    abandon_ms: u64,
    entries: Mutex<HashMap<EventId, Entry>>,
}

impl Rooms {
    pub fn new(store: Store, refresh: Duration, shards: u16, abandon_ms: u64) -> Self {
        Self {
            store,
            refresh,
            shards,
            abandon_ms,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn abandon_ms(&self) -> u64 {
        self.abandon_ms
    }

    /// The event's waiting room as of at most `QUEUE_REFRESH_MS` ago (refreshing it if it is
    /// older): `WaitingRoomOff` or `EventNotFound` if it has none on.
    pub async fn view(&self, event: &EventId) -> Result<Arc<RoomView>, AppError> {
        let (known, lock) = self.current(event);
        if let Some(known) = known {
            return open(known);
        }
        let _one = lock.lock().await;
        // Another request may have refreshed it while this one waited.
        let (known, _) = self.current(event);
        if let Some(known) = known {
            return open(known);
        }
        let previous = self.previous(event);
        let known = match self.fetch(event, previous.as_deref()).await {
            Ok(view) => Known::Room(Arc::new(view)),
            Err(AppError::WaitingRoomOff) => Known::Off(|| AppError::WaitingRoomOff),
            Err(AppError::EventNotFound) => Known::Off(|| AppError::EventNotFound),
            Err(other) => return Err(other),
        };
        self.keep(event, known.clone());
        open(known)
    }

    /// Forgets what this replica knows of the event's room (it was just changed here).
    pub fn forget(&self, event: &EventId) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get_mut(event) {
            entry.stale = true;
        }
    }

    /// The fresh view, if there is one; and the event's refresh lock.
    fn current(&self, event: &EventId) -> (Option<Known>, Arc<tokio::sync::Mutex<()>>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if entries.len() > 1024 {
            entries.retain(|_, e| now.duration_since(e.used) < FORGET_AFTER);
            // Views are only caches: past this many (asked about in ten minutes), start over.
            if entries.len() > 100_000 {
                entries.clear();
            }
        }
        let entry = entries.entry(event.clone()).or_insert_with(|| Entry {
            known: None,
            stale: false,
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
            used: now,
        });
        entry.used = now;
        let fresh = entry
            .known
            .as_ref()
            .filter(|(at, _)| !entry.stale && now.duration_since(*at) < self.refresh)
            .map(|(_, known)| known.clone());
        (fresh, Arc::clone(&entry.refreshing))
    }

    fn previous(&self, event: &EventId) -> Option<Arc<RoomView>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(event)?.known.as_ref()? {
            (_, Known::Room(view)) => Some(Arc::clone(view)),
            (_, Known::Off(_)) => None,
        }
    }

    fn keep(&self, event: &EventId, known: Known) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get_mut(event) {
            entry.known = Some((Instant::now(), known));
            entry.stale = false;
        }
    }

    /// One refresh: every shard's count (concurrently), then the event's advance.
    async fn fetch(
        &self,
        event: &EventId,
        previous: Option<&RoomView>,
    ) -> Result<RoomView, AppError> {
        let counts = match previous {
            Some(view) => {
                futures_util::future::try_join_all(
                    view.tags.iter().map(|tag| self.store.read_queue_shard(tag)),
                )
                .await?
            }
            None => Vec::new(),
        };
        let advanced = self
            .store
            .advance_queue(
                event,
                Refresh {
                    counts: &counts,
                    have: previous.map_or(0, RoomView::have),
                    shards: self.shards,
                    abandon_ms: self.abandon_ms,
                    round_ms: u64::try_from(self.refresh.as_millis()).unwrap_or(u64::MAX),
                },
            )
            .await?;
        RoomView::refreshed(previous, event, advanced)
    }
}

fn open(known: Known) -> Result<Arc<RoomView>, AppError> {
    match known {
        Known::Room(view) => Ok(view),
        Known::Off(error) => Err(error()),
    }
}

/// The turn of arrival index `index` among the first `count` arrivals, shuffled by `seed`: a
/// keyed permutation of `0..count` (a four-round Feistel network over the smallest even number
/// of bits that holds `count`, walked until it lands below `count`), the same on every replica.
pub fn permute(index: u64, count: u64, seed: u64) -> u64 {
    if count <= 1 || index >= count {
        return index;
    }
    let bits = 64 - (count - 1).leading_zeros();
    let half = bits.div_ceil(2).max(1);
    let mask = (1u64 << half) - 1;
    let mut x = index;
    loop {
        let (mut left, mut right) = (x >> half, x & mask);
        for round in 0..4u64 {
            let mixed = splitmix(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ right) & mask;
            (left, right) = (right, left ^ mixed);
        }
        x = (left << half) | right;
        if x < count {
            return x;
        }
    }
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_shuffle_is_a_permutation_that_depends_on_its_seed() {
        for count in [2u64, 3, 7, 50, 1000, 4097] {
            let turns: Vec<u64> = (0..count).map(|i| permute(i, count, 42)).collect();
            let distinct: BTreeSet<u64> = turns.iter().copied().collect();
            assert_eq!(distinct, (0..count).collect(), "count {count}");
            if count >= 7 {
                // (Of 2 or 3 items, two seeds or the identity may well agree.)
                let other: Vec<u64> = (0..count).map(|i| permute(i, count, 43)).collect();
                assert_ne!(turns, other, "count {count}");
                assert_ne!(turns, (0..count).collect::<Vec<_>>(), "count {count}");
            }
        }
        assert_eq!(permute(5, 5, 1), 5, "later arrivals keep their order");
    }

    fn view(rounds: &[&[u64]], served: u64) -> RoomView {
        RoomView {
            clock: RedisClock::read(0),
            shards: u16::try_from(rounds.first().map_or(1, |r| r.len())).unwrap(),
            tags: Arc::new(Vec::new()),
            served,
            shuffle: None,
            rounds: Arc::new(rounds.iter().map(|r| r.to_vec()).collect()),
            rate: 0,
            start_ms: 0,
        }
    }

    /// Round by round, shard by shard: arrival indexes are 0..n with no gap.
    #[test]
    fn rounds_order_every_place_once() {
        let v = view(&[&[2, 0, 1], &[3, 2, 1], &[5, 2, 4]], 0);
        let mut arrivals = Vec::new();
        for (shard, count) in [(0u16, 5u64), (1, 2), (2, 4)] {
            for seq in 0..count {
                arrivals.push(v.arrival(shard, seq).expect("in a round"));
            }
        }
        arrivals.sort_unstable();
        assert_eq!(arrivals, (0..11).collect::<Vec<_>>());
        // Round 1 (shard 0's third place, shard 1's two) comes after round 0's three places.
        assert_eq!(v.arrival(0, 2), Some(3));
        assert_eq!(v.arrival(1, 0), Some(4));
        assert_eq!(v.arrival(0, 5), None);
        assert_eq!(
            view(&[&[2, 0, 1], &[3, 2, 1]], 4).locate(1, 1),
            Local::Waiting { position: 1 }
        );
        assert_eq!(
            view(&[&[2, 0, 1], &[3, 2, 1]], 4).locate(0, 2),
            Local::TurnCame { turn: 3 }
        );
    }
}
