//! Where everything lives in Redis.
//!
//! Every key of one event carries the hash tag `{<eventId>}`: `bo:{E}:event`, `bo:{E}:sections`,
//! `bo:{E}:lock:<seat>`, ... Redis Cluster hashes only the tag, so all of an event's keys sit in
//! one slot and each Lua script (which touches one event) runs unchanged on a single Redis or on
//! a cluster.
//!
//! Bookings must also be found by id alone (`GET /bookings/{id}`), yet be written by the same
//! script that takes the inventory, so their key must sit in the event's slot without naming the
//! event. A booking id is therefore a UUIDv7 whose last 14 bits carry the event's slot, and its
//! document lives at `bo:{<tag>}:booking:<id>`, where `<tag>` is a short string chosen to hash to
//! that same slot. Lookup by id is one GET; no cross-slot index exists to drift out of date.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `bo:events` | zset | every event id (score 0: ordered by id) |
//! | `bo:{E}:event` | string | the event document (JSON, never changes) |
//! | `bo:{E}:sections` | hash | per section `S`: `S:remaining`, `S:capacity`, `S:price` (cents), `S:sold` (tickets in confirmed bookings), and for reserved seating `S:first`/`S:last` (seat positions) |
//! | `bo:{E}:seat-section` | hash | seat -> section |
//! | `bo:{E}:seat-position` | hash | seat -> position in the event's seat order (0, 1, ...) |
//! | `bo:{E}:seat-at` | hash | position -> seat |
//! | `bo:{E}:booked-seats` | bitmap | bit `position` is 1 while that seat is sold |
//! | `bo:{E}:version` | string | a counter bumped by every change its reads show (their ETag) |
//! | `bo:{E}:outbox` | stream | one entry per business change (`type`, `data`), id on Redis's clock; trimmed once fanned out to webhook endpoints |
//! | `bo:{E}:checkins` | hash | ticket id `<bookingId>.<n>` -> its check-in (JSON: scanner, nonce, times) |
//! | `bo:{E}:checkin-counts` | hash | section -> tickets checked in |
//! | `bo:{E}:scans` | hash | `<scannerId>\n<nonce>` -> the answer that scan got (a retry gets it again) |
//! | `bo:{E}:revoked` | zset | ticket id -> the event version that revoked it (its booking was cancelled) |
//! | `bo:{E}:changes` | stream | one entry per change of availability, id `<version>-0` (about the last 10000) |
//! | `bo:{E}:held-seats` | bitmap | bit `position` is 1 while that seat is held (cleared lazily after expiry) |
//! | `bo:{E}:lock:<seat>` | string | lock holder's user id, expiring by itself (`PX`) |
//! | `bo:{E}:locks` | zset | seat -> lock expiry (ms): an index of the lock keys |
//! | `bo:{E}:bookings` | zset | booking ids of the event (score 0: ordered by id = by time) |
//! | `bo:{E}:user:<U>:bookings` | zset | booking ids of user `U` in the event |
//! | `bo:{E}:idem:<U>:<K>` | hash | first reply for Idempotency-Key `K` of user `U` (24 h) |
//! | `bo:{E}:user-tickets` | hash | tickets booked per user `U` and per `U:<section>`, kept only where a maxPerUser applies |
//! | `bo:{E}:user:<U>:locks` | zset | user `U`'s live seat locks: seat -> expiry (ms) |
//! | `bo:{E}:hold:<H>` | string | checkout hold `H` (JSON), kept a day past its longest life |
//! | `bo:{E}:holds` | zset | live general admission holds `<H>:<section>:<qty>:<U>` -> expiry (ms) |
//! | `bo:{E~k~x}:q:places` | hash | waiting room, queue shard `k` (of QUEUE_SHARDS; `x` places the shard's slot, see [`queue_shard_tag`]): user -> their place number in the shard |
//! | `bo:{E~k~x}:q:shard` | hash | queue shard `k`: `next` (places given), `pre` (given before the sale's start) |
//! | `bo:{E}:q:rounds` | list | waiting room: the shards' place counts, round by round (csv): the order of the line |
//! | `bo:{E}:q:state` | hash | waiting room: `shards`, `served` (turns released), `due`, `outstanding`, `round_at`, `shuffled`, `seed` |
//! | `bo:{E}:q:releases` | zset | waiting room: each release's first turn |
//! | `bo:{E}:q:batches` | hash | waiting room: `<first>` -> `<end>:<released at>`, `<first>:taken` |
//! | `bo:{E}:q:taken` | hash | waiting room: user -> the place whose turn they took |
//! | `bo:{E}:q:admissions` | zset | waiting room: user -> admission end (ms) |
//! | `bo:{E}:q:checkouts` | zset | waiting room: user -> end of the hold their admission went into (ms) |
//! | `bo:{E}:user-held` | hash | quantity held in general admission holds per `U` and `U:<section>` |
//! | `bo:{u:<U>}:rate` | string | user `U`'s rate limit (GCRA: next theoretical arrival, µs) |
//! | `bo:{ip:<A>}:rate` | string | address `A`'s rate limit |
//! | `bo:{u:<U>}:events` | zset | events user `U` has (or tried to have) a booking in (score 0) |
//! | `bo:{u:<U>}:idem:<K>` | string | fingerprint of the request first sent with `K` (24 h) |
//! | `bo:{<slot tag>}:booking:<id>` | string | the booking document (JSON) |
//! | `bo:{<slot tag>}:order:<id>` | string | the order document (JSON); its id carries the event's slot as a booking id does |
//! | `bo:{<slot tag>}:order:<id>:payments` | hash | `<provider>:<reference>` -> what that payment did (each applied once) |
//! | `bo:{E}:orders-due` | zset | order id -> payment deadline (ms), while it may still be open; `orders_expire` writes it expired after |
//! | `bo:{E}:orders` | zset | order ids of the event (score 0: ordered by id = by time) |
//! | `bo:{E}:user:<U>:orders` | zset | order ids of user `U` in the event |
//! | `bo:webhooks` | zset | every webhook endpoint id (score 0) |
//! | `bo:{wh:<W>}:endpoint` | string | webhook endpoint `W` (JSON: url, types, secrets, state) |
//! | `bo:{wh:<W>}:messages` | hash | message id -> the message for `W` (JSON: body, status, attempts) |
//! | `bo:{wh:<W>}:due` | zset | pending message id -> when its next attempt is due (ms; leased ahead while attempted) |
//! | `bo:{wh:<W>}:done` | zset | delivered or failed message id -> its last attempt (ms), for retention |
//! | `bo:{<slot tag>}:acks` | string | a counter written before each WAIT (REDIS_MIN_REPLICAS_ACK) |

use crate::domain::ids::{BookingId, EventId, HoldId, OrderId, SeatId, UserId};
use std::sync::OnceLock;

pub const EVENTS_INDEX: &str = "bo:events";
/// Every webhook endpoint id (score 0); each endpoint's keys are in its own slot.
pub const WEBHOOKS_INDEX: &str = "bo:webhooks";
const SLOTS: usize = 16384;

/// The Redis Cluster slot of a hash tag (CRC16/XMODEM modulo 16384, as the cluster spec says).
pub fn key_slot(tag: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(tag) % SLOTS as u16
}

pub fn event_slot(event: &EventId) -> u16 {
    key_slot(event.as_str().as_bytes())
}

/// A short tag that hashes to `slot`: the smallest decimal number that does.
fn slot_tag(slot: u16) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        // Every slot is hit within the first ~200k numbers; the bound only guards the loop.
        for n in 0u32..10_000_000 {
            let tag = n.to_string();
            let entry = &mut tags[usize::from(key_slot(tag.as_bytes()))];
            if entry.is_empty() {
                *entry = tag;
                missing -= 1;
                if missing == 0 {
                    break;
                }
            }
        }
        tags
    });
    &tags[usize::from(slot) % SLOTS]
}

pub fn booking(id: &BookingId) -> String {
    format!("bo:{{{}}}:booking:{id}", slot_tag(id.slot()))
}

/// The prefix of the booking keys of the event in `slot`: for a script that learns a booking's
/// id at run time (an order's); the key stays in the slot.
pub fn booking_prefix(slot: u16) -> String {
    format!("bo:{{{}}}:booking:", slot_tag(slot))
}

/// The prefix of the order keys of the event in `slot` (see [`booking_prefix`]).
pub fn order_prefix(slot: u16) -> String {
    format!("bo:{{{}}}:order:", slot_tag(slot))
}

pub fn order(id: &OrderId) -> String {
    format!("bo:{{{}}}:order:{id}", slot_tag(id.slot()))
}

/// The payments an order received: `<provider>:<reference>` -> what it did.
pub fn order_payments(id: &OrderId) -> String {
    format!("{}:payments", order(id))
}

/// The hash tag of everything kept per user: `{u:<user>}`.
fn user_prefix(user: &UserId) -> String {
    format!("bo:{{u:{user}}}:")
}

/// A counter in `slot`, written after a booking so that WAIT can tell whether replicas have
/// it (see `lua/acknowledge.lua`).
pub fn acknowledgements(slot: u16) -> String {
    format!("bo:{{{}}}:acks", slot_tag(slot))
}

pub fn idempotency_claim(user: &UserId, key: &str) -> String {
    format!("{}idem:{key}", user_prefix(user))
}

/// The events a user has (or tried to have) a booking in.
pub fn user_events(user: &UserId) -> String {
    format!("{}events", user_prefix(user))
}

/// A user's rate limit bucket (RATE_LIMIT_PER_USER).
pub fn user_rate(user: &UserId) -> String {
    format!("{}rate", user_prefix(user))
}

/// A client address's rate limit bucket (RATE_LIMIT_PER_IP).
pub fn address_rate(address: &std::net::IpAddr) -> String {
    // `:` of IPv6 addresses is fine inside a hash tag; no braces can occur in an address.
    format!("bo:{{ip:{address}}}:rate")
}

/// What a script's keys are made of: its event and, where a key needs them, the user, the
/// seat, the hold, the booking, the Idempotency-Key and the waiting-room ticket. Each script's
/// key struct is built from one (`from_scope`, generated in `scripts.rs` from the names the
/// script declares), so a key is named once, here, and never mapped by hand at a call site.
#[derive(Default, Clone, Copy)]
pub struct Scope<'a> {
    pub event: Option<&'a EventId>,
    pub user: Option<&'a UserId>,
    pub seat: Option<&'a crate::domain::ids::SeatId>,
    pub hold: Option<&'a crate::domain::ids::HoldId>,
    pub booking: Option<&'a BookingId>,
    pub order: Option<&'a OrderId>,
    pub idempotency: Option<&'a str>,
    pub webhook: Option<&'a str>,
    /// A queue shard's hash tag ([`queue_shard_tag`]).
    pub queue_shard: Option<&'a str>,
}

impl<'a> Scope<'a> {
    /// The scope of an event.
    pub fn event(event: &'a EventId) -> Self {
        Self {
            event: Some(event),
            ..Self::default()
        }
    }

    pub fn user(mut self, user: &'a UserId) -> Self {
        self.user = Some(user);
        self
    }

    pub fn seat(mut self, seat: &'a crate::domain::ids::SeatId) -> Self {
        self.seat = Some(seat);
        self
    }

    pub fn hold(mut self, hold: &'a crate::domain::ids::HoldId) -> Self {
        self.hold = Some(hold);
        self
    }

    pub fn booking(mut self, booking: &'a BookingId) -> Self {
        self.booking = Some(booking);
        self
    }

    pub fn order(mut self, order: &'a OrderId) -> Self {
        self.order = Some(order);
        self
    }

    pub fn idempotency(mut self, key: Option<&'a str>) -> Self {
        self.idempotency = key;
        self
    }

    /// The scope of a webhook endpoint (its keys have a slot of their own).
    pub fn webhook(webhook: &'a str) -> Self {
        Self {
            webhook: Some(webhook),
            ..Self::default()
        }
    }

    /// The key a script names `name`, if this scope has what it is made of.
    pub fn key(&self, name: &str) -> Option<String> {
        self.keys().key(name)
    }

    /// The scope with its event's key prefix made once, for naming several keys.
    pub fn keys(&self) -> ScopeKeys<'a> {
        ScopeKeys {
            scope: *self,
            event: self.event.map(EventKeys::new),
        }
    }

    /// The scope of one queue shard of an event (its keys have a slot of their own).
    pub fn queue_shard(tag: &'a str) -> Self {
        Self {
            queue_shard: Some(tag),
            ..Self::default()
        }
    }

    /// Keys in a queue shard's slot.
    fn queue_shard_key(&self, name: &str) -> Option<String> {
        let tag = self.queue_shard?;
        let suffix = match name {
            "shard_places" => "q:places",
            "shard_state" => "q:shard",
            _ => return None,
        };
        Some(format!("bo:{{{tag}}}:{suffix}"))
    }

    /// Keys in a webhook endpoint's slot.
    fn webhook_key(&self, name: &str) -> Option<String> {
        let id = self.webhook?;
        let suffix = match name {
            "endpoint" => "endpoint",
            "messages" => "messages",
            "due" => "due",
            "done" => "done",
            _ => return None,
        };
        Some(format!("bo:{{wh:{id}}}:{suffix}"))
    }

    /// Keys in the user's slot.
    fn user_key(&self, name: &str) -> Option<String> {
        let user = self.user?;
        match name {
            "user_events" => Some(user_events(user)),
            "user_rate" => Some(user_rate(user)),
            "claim" => Some(idempotency_claim(user, self.idempotency?)),
            _ => None,
        }
    }
}

/// A [`Scope`] with its event's key prefix made once ([`Scope::keys`]).
pub struct ScopeKeys<'a> {
    scope: Scope<'a>,
    event: Option<EventKeys>,
}

impl ScopeKeys<'_> {
    /// The key a script names `name`, if the scope has what it is made of.
    pub fn key(&self, name: &str) -> Option<String> {
        let scope = &self.scope;
        if let Some(key) = scope
            .user_key(name)
            .or_else(|| scope.webhook_key(name))
            .or_else(|| scope.queue_shard_key(name))
        {
            return Some(key);
        }
        let e = self.event.as_ref()?;
        Some(match name {
            "event" => e.event(),
            "summary" => e.summary(),
            "organizers" => e.organizers(),
            "sections" => e.sections(),
            "seat_sections" => e.seat_sections(),
            "seat_positions" => e.seat_positions(),
            "seats_at" => e.seats_at(),
            "booked_seats" => e.booked_seats(),
            "held_seats" => e.held_seats(),
            "version" => e.version(),
            "changes" => e.changes(),
            "outbox" => e.outbox(),
            "checkins" => e.checkins(),
            "checkin_counts" => e.checkin_counts(),
            "scans" => e.scans(),
            "revoked" => e.revoked(),
            "lock_index" => e.lock_index(),
            "seat_lock" => e.seat_lock(scope.seat?),
            "seat_lock_prefix" => e.seat_lock_prefix(),
            "bookings" => e.bookings(),
            "user_bookings" => e.user_bookings(scope.user?),
            "user_tickets" => e.user_tickets(),
            "user_locks" => e.user_locks(scope.user?),
            "user_held" => e.user_held(),
            "hold" => e.hold(scope.hold?),
            "holds" => e.holds(),
            "booking" => booking(scope.booking?),
            "booking_prefix" => booking_prefix(event_slot(scope.event?)),
            "order_prefix" => order_prefix(event_slot(scope.event?)),
            "orders_due" => e.orders_due(),
            "order" => order(scope.order?),
            "payments" => order_payments(scope.order?),
            "orders" => e.orders(),
            "user_orders" => e.user_orders(scope.user?),
            "idempotency" => e.idempotency(scope.user?, scope.idempotency?),
            "admissions" => e.admissions(),
            "checkouts" => e.checkouts(),
            "queue_state" => e.queue_state(),
            "queue_rounds" => e.key("q:rounds"),
            "queue_releases" => e.key("q:releases"),
            "queue_batches" => e.key("q:batches"),
            "queue_taken" => e.key("q:taken"),
            _ => return None,
        })
    }

    /// [`Self::key`], for a key the script cannot go without.
    pub fn required(&self, name: &str) -> Result<String, crate::error::AppError> {
        self.key(name).ok_or_else(|| {
            crate::error::AppError::Internal(format!(
                "a script needs the key {name}, which its scope lacks"
            ))
        })
    }
}

/// The keys of one event.
pub struct EventKeys {
    prefix: String,
}

impl EventKeys {
    pub fn new(event: &EventId) -> Self {
        Self {
            prefix: format!("bo:{{{event}}}:"),
        }
    }

    pub fn key(&self, suffix: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + suffix.len());
        key.push_str(&self.prefix);
        key.push_str(suffix);
        key
    }

    pub fn event(&self) -> String {
        self.key("event")
    }
    pub fn sections(&self) -> String {
        self.key("sections")
    }
    pub fn seat_sections(&self) -> String {
        self.key("seat-section")
    }
    pub fn seat_positions(&self) -> String {
        self.key("seat-position")
    }
    pub fn seats_at(&self) -> String {
        self.key("seat-at")
    }
    pub fn booked_seats(&self) -> String {
        self.key("booked-seats")
    }
    /// The event's version: bumped by every script that changes what its reads show.
    pub fn version(&self) -> String {
        self.key("version")
    }
    /// Open orders by payment deadline (ms), until `orders_expire` writes them expired.
    pub fn orders_due(&self) -> String {
        self.key("orders-due")
    }
    /// The event's outbox: one entry per business change, for webhooks (`emit` in lua/lib.lua).
    pub fn outbox(&self) -> String {
        self.key("outbox")
    }
    /// Tickets checked in: ticket id -> the check-in (JSON: scanner, times).
    pub fn checkins(&self) -> String {
        self.key("checkins")
    }
    /// Tickets checked in per section.
    pub fn checkin_counts(&self) -> String {
        self.key("checkin-counts")
    }
    /// Every scan's answer by `<scannerId>` newline `<nonce>`: a scan sent again is answered
    /// the same, and changes nothing.
    pub fn scans(&self) -> String {
        self.key("scans")
    }
    /// Revoked tickets (of cancelled bookings): ticket id -> the event version that revoked it.
    pub fn revoked(&self) -> String {
        self.key("revoked")
    }
    /// The event's change stream: one entry per version (see `announce` in lua/lib.lua).
    pub fn changes(&self) -> String {
        self.key("changes")
    }
    /// Bit `position` is 1 while that seat is held (a seat lock, or a hold's seat).
    pub fn held_seats(&self) -> String {
        self.key("held-seats")
    }
    pub fn lock_index(&self) -> String {
        self.key("locks")
    }
    pub fn seat_lock(&self, seat: &SeatId) -> String {
        self.key(&format!("lock:{seat}"))
    }
    pub fn bookings(&self) -> String {
        self.key("bookings")
    }
    pub fn orders(&self) -> String {
        self.key("orders")
    }
    pub fn user_orders(&self, user: &UserId) -> String {
        self.key(&format!("user:{user}:orders"))
    }
    pub fn user_bookings(&self, user: &UserId) -> String {
        self.key(&format!("user:{user}:bookings"))
    }
    pub fn idempotency(&self, user: &UserId, key: &str) -> String {
        self.key(&format!("idem:{user}:{key}"))
    }
    /// Tickets booked per user (`<user>`) and per user and section (`<user>:<section>`).
    pub fn user_tickets(&self) -> String {
        self.key("user-tickets")
    }
    /// A user's live seat locks: seat -> expiry (ms).
    pub fn user_locks(&self, user: &UserId) -> String {
        self.key(&format!("user:{user}:locks"))
    }
    /// The prefix of the seat lock keys, for scripts that lock seats known at run time.
    pub fn seat_lock_prefix(&self) -> String {
        self.key("lock:")
    }
    /// The event without its seat lists (JSON), for listings.
    pub fn summary(&self) -> String {
        self.key("summary")
    }
    /// Organizers who manage the event (set of user ids); admins manage every event.
    pub fn organizers(&self) -> String {
        self.key("organizers")
    }
    /// A checkout hold (JSON).
    pub fn hold(&self, hold: &HoldId) -> String {
        self.key(&format!("hold:{hold}"))
    }
    /// Live general admission holds: `<hold>:<section>:<qty>:<user>` -> expiry (ms).
    pub fn holds(&self) -> String {
        self.key("holds")
    }
    /// Quantity held in general admission holds per user (`<user>`, `<user>:<section>`).
    pub fn user_held(&self) -> String {
        self.key("user-held")
    }
    /// Live admissions: user -> when the admission ends (ms).
    pub fn admissions(&self) -> String {
        self.key("q:admissions")
    }
    /// Admissions that went into a hold: user -> when the hold ends (ms).
    pub fn checkouts(&self) -> String {
        self.key("q:checkouts")
    }
    /// The queue's counters: shards, turns released, next paced release, shuffled, ...
    pub fn queue_state(&self) -> String {
        self.key("q:state")
    }
}

/// The hash tag of queue shard `k` of `shards` of an event: `<event>~<k>~<x>`, with `x` the
/// smallest number that puts it in the `k`-th of `shards` equal parts of the slot space. A
/// cluster's primaries own contiguous slot ranges, so the shards spread over them as evenly as
/// their number allows (a hashed tag alone could put half of them on one primary). `~` is not
/// in any id, so no other key shares these tags.
pub fn queue_shard_tag(event: &EventId, k: u16, shards: u16) -> String {
    let shards = usize::from(shards.max(1));
    let (low, high) = (
        usize::from(k) * SLOTS / shards,
        (usize::from(k) + 1) * SLOTS / shards,
    );
    let mut x = 0u32;
    loop {
        let tag = format!("{event}~{k}~{x}");
        let slot = usize::from(key_slot(tag.as_bytes()));
        // About `shards` tries; the bound only guards the loop (every range is hit long before).
        if (low..high).contains(&slot) || x >= 1_000_000 {
            return tag;
        }
        x += 1;
    }
}

/// A member of an event's general admission hold index (`holds`),
/// `<hold>:<section>:<qty>:<user>` as `held_member` in `lua/lib.lua` writes it: its section
/// and quantity, or `None` if it is malformed.
pub fn parse_held(member: &str) -> Option<(&str, i64)> {
    let mut parts = member.split(':').skip(1);
    let section = parts.next()?;
    let qty = parts.next()?.parse::<i64>().ok().filter(|q| *q > 0)?;
    Some((section, qty))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the text between the first `{` and the next `}`: what Redis Cluster hashes.
    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("a hash tag opens");
        let close = open + key[open..].find('}').expect("a hash tag closes");
        &key[open + 1..close]
    }

    #[test]
    fn slots_match_the_cluster_spec() {
        // The examples of the Redis Cluster specification.
        assert_eq!(key_slot(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
    }

    #[test]
    fn every_slot_has_a_tag_that_hashes_to_it() {
        for slot in 0..SLOTS as u16 {
            assert_eq!(key_slot(slot_tag(slot).as_bytes()), slot);
        }
    }

    #[test]
    fn queue_shards_spread_over_the_slot_space() {
        let event = EventId::parse("0195f0a2-7c1b-7d3e-9a4b-1234567890ab").expect("valid id");
        for k in 0..16 {
            let tag = queue_shard_tag(&event, k, 16);
            assert!(tag.starts_with(&format!("{event}~{k}~")));
            let slot = usize::from(key_slot(tag.as_bytes()));
            assert_eq!(slot * 16 / SLOTS, usize::from(k), "{tag}");
        }
        assert_eq!(queue_shard_tag(&event, 0, 1), format!("{event}~0~0"));
    }

    #[test]
    fn a_booking_lives_in_its_events_slot() {
        for event in ["demo", "0195f0a2-7c1b-7d3e-9a4b-1234567890ab", "e-42"] {
            let event = EventId::parse(event).expect("valid id");
            let keys = EventKeys::new(&event);
            let booking_key = booking(&BookingId::new(event_slot(&event)));
            assert_eq!(
                key_slot(hash_tag(&booking_key).as_bytes()),
                key_slot(hash_tag(&keys.sections()).as_bytes())
            );
        }
    }
}
