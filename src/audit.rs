//! `boxoffice audit`: an independent check of every inventory invariant, for all events.
//!
//! * `remaining >= 0`, and `remaining + held + sum(qty of confirmed bookings) == capacity` per
//!   section, where `held` is the quantity of general admission holds not given back yet;
//! * on reserved sections, the free seats number `remaining`; every booked seat belongs to
//!   exactly one confirmed booking, and every seat of a confirmed booking is booked; the seat
//!   positions the scripts use agree with the event's seat order;
//! * no live lock on a booked seat; a seat's held-seats bit is set exactly while the lock
//!   index has the seat (a live lock, or an expired one not cleared yet);
//! * every booking in an event's index has its document, in that event, at the section's price;
//! * every event is in the events index.
//!
//! Each event is read as one consistent snapshot even while bookings go on: its hot keys are
//! WATCHed during the reads and the read is redone if any of them changed (optimistic, like
//! Redis transactions), so the audit can run against a live system.

use crate::config::{AuditArgs, RedisSettings};
use crate::domain::booking::{BookingRecord, BookingStatus};
use crate::domain::event::EventRecord;
use crate::domain::ids::{BookingId, EventId, OrderId};
use crate::domain::seats::bit_is_set;
use crate::error::AppError;
use crate::store::keys::{self, EVENTS_INDEX, EventKeys};
use crate::store::{RedisConn, Store};
use crate::store::{RedisTime, parse_document, query_each, redis_millis};
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;

const SNAPSHOT_ATTEMPTS: usize = 20;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub events: usize,
    pub sections: usize,
    pub confirmed_bookings: usize,
    pub cancelled_bookings: usize,
    pub tickets_sold: u64,
    pub violations: Vec<String>,
    /// Webhook endpoints with messages pending more than [`LATE_MESSAGE_MS`] past their
    /// schedule: delivery is behind (no replica delivering, or all of them stuck). Reported,
    /// not a violation: nothing is wrong with the data.
    pub late_webhook_messages: Vec<String>,
}

/// A pending webhook message whose attempt is this far behind its due time is reported.
const LATE_MESSAGE_MS: i64 = 60_000;

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

pub async fn run(args: AuditArgs) -> ExitCode {
    match audit(&args.redis).await {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("audit: {e}"),
                }
            } else {
                println!(
                    "audited {} events, {} sections, {} confirmed and {} cancelled bookings, {} tickets sold",
                    report.events,
                    report.sections,
                    report.confirmed_bookings,
                    report.cancelled_bookings,
                    report.tickets_sold
                );
                for violation in &report.violations {
                    println!("VIOLATION: {violation}");
                }
                for late in &report.late_webhook_messages {
                    println!("LATE: {late}");
                }
                if report.is_clean() {
                    println!("OK: every invariant holds");
                }
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            let reason = match e {
                AppError::StoreUnavailable(reason) | AppError::Internal(reason) => reason,
                other => other.to_string(),
            };
            eprintln!("audit: cannot read {}: {reason}", args.redis.url.masked());
            ExitCode::from(2)
        }
    }
}

/// Audits every event on every primary (the one Redis, or each primary of a cluster).
pub async fn audit(settings: &RedisSettings) -> Result<Report, AppError> {
    let store = Store::open(settings)?;
    // Connections of their own, one per primary: WATCH belongs to the connection, and all of
    // one event's keys live on one primary.
    let primaries = store.primaries().await?;
    let mut shared = store.shared().await?;
    let indexed: BTreeSet<String> = redis::cmd("ZRANGE")
        .arg(EVENTS_INDEX)
        .arg(0)
        .arg(-1)
        .query_async::<Vec<String>>(&mut shared)
        .await?
        .into_iter()
        .collect();

    let mut report = Report::default();
    for mut node in primaries {
        for id in stored_event_ids(&mut node.conn).await? {
            if !indexed.contains(&id) {
                report
                    .violations
                    .push(format!("event {id}: missing from the events index"));
            }
            match EventId::parse(id.as_str()) {
                Ok(event) => audit_event(&mut node.conn, &mut shared, &event, &mut report).await?,
                Err(_) => report.violations.push(format!(
                    "event key with an invalid id {id:?} on {}",
                    node.name
                )),
            }
        }
    }
    report.late_webhook_messages = late_webhook_messages(&store, &mut shared).await?;
    Ok(report)
}

/// Per endpoint with messages whose attempt was due more than [`LATE_MESSAGE_MS`] ago (on
/// Redis's clock) and that are still pending: how many (up to 1000) and the oldest due time.
async fn late_webhook_messages(
    store: &Store,
    shared: &mut crate::store::RedisConn,
) -> Result<Vec<String>, AppError> {
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query_async(shared).await?;
    let before = seconds * 1000 + micros / 1000 - LATE_MESSAGE_MS;
    let mut late = Vec::new();
    for endpoint in store.webhooks().await? {
        let due = crate::store::keys::Scope::webhook(&endpoint.id)
            .keys()
            .required("due")?;
        let behind: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(&due)
            .arg("-inf")
            .arg(before)
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(1000)
            .arg("WITHSCORES")
            .query_async(shared)
            .await?;
        if let Some((_, oldest)) = behind.first() {
            late.push(format!(
                "webhook endpoint {}: {} message(s) pending more than {} s past their schedule, \
                 the oldest due at {}",
                endpoint.id,
                behind.len(),
                LATE_MESSAGE_MS / 1000,
                crate::domain::time::rfc3339(*oldest as i64)
            ));
        }
    }
    Ok(late)
}

/// Ids of all `bo:{<id>}:event` keys on one node.
async fn stored_event_ids(conn: &mut MultiplexedConnection) -> Result<BTreeSet<String>, AppError> {
    let mut ids = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("bo:{*}:event")
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        ids.extend(keys.iter().filter_map(|key| {
            let id = key.strip_prefix("bo:{")?.strip_suffix("}:event")?;
            Some(id.to_owned())
        }));
        if next == 0 {
            return Ok(ids);
        }
        cursor = next;
    }
}

/// Event document, sections hash, booked-seats bitmap, seat -> position, position -> seat,
/// booking ids, holds, held-seats bitmap, lock index, version, the change stream's last entry,
/// Redis's clock.
type EventRead = (
    Option<String>,
    HashMap<String, String>,
    Vec<u8>,
    HashMap<String, String>,
    HashMap<String, String>,
    Vec<String>,
    Vec<String>,
    Vec<u8>,
    Vec<String>,
    Option<u64>,
    Vec<(String, Vec<String>)>,
    RedisTime,
);

/// One event's state, read consistently.
struct Snapshot {
    event: EventRecord,
    counters: HashMap<String, String>,
    booked: Vec<u8>,
    positions: HashMap<String, String>,
    seats_at: HashMap<String, String>,
    booking_ids: Vec<String>,
    bookings: Vec<Option<String>>,
    locked_booked_seats: Vec<String>,
    /// General admission holds not given back yet: `<hold>:<section>:<qty>:<user>`.
    holds: Vec<String>,
    /// The held-seats bitmap, and the seats of the lock index (live or expired, not cleared).
    held: Vec<u8>,
    indexed_locks: Vec<String>,
    /// The event's orders: (id, document).
    orders: Vec<(String, Option<String>)>,
    /// Check-ins (ticket id -> JSON), their counts per section, revoked ticket ids.
    checkins: HashMap<String, String>,
    checkin_counts: HashMap<String, String>,
    revoked: Vec<String>,
    /// The version, and the id of the change stream's last entry (if any).
    version: u64,
    last_change: Option<String>,
}

async fn snapshot(
    conn: &mut MultiplexedConnection,
    event: &EventId,
) -> Result<Option<Snapshot>, AppError> {
    let keys = EventKeys::new(event);
    for _ in 0..SNAPSHOT_ATTEMPTS {
        // Every booking, cancellation and lock changes at least one of these.
        redis::cmd("WATCH")
            .arg(keys.sections())
            .arg(keys.booked_seats())
            .arg(keys.lock_index())
            .arg(keys.bookings())
            .arg(keys.holds())
            .arg(keys.held_seats())
            .arg(keys.version())
            .arg(keys.orders())
            .arg(keys.checkin_counts())
            .exec_async(conn)
            .await?;
        let (
            raw,
            counters,
            booked,
            positions,
            seats_at,
            booking_ids,
            holds,
            held,
            indexed_locks,
            version,
            last_change,
            now,
        ): EventRead = redis::pipe()
            .get(keys.event())
            .hgetall(keys.sections())
            .get(keys.booked_seats())
            .hgetall(keys.seat_positions())
            .hgetall(keys.seats_at())
            .zrange(keys.bookings(), 0, -1)
            .zrange(keys.holds(), 0, -1)
            .get(keys.held_seats())
            .zrange(keys.lock_index(), 0, -1)
            .get(keys.version())
            .cmd("XREVRANGE")
            .arg(keys.changes())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .cmd("TIME")
            .query_async(conn)
            .await?;
        let Some(raw) = raw else {
            redis::cmd("UNWATCH").exec_async(conn).await?;
            return Ok(None);
        };
        let event: EventRecord = parse_document("event", &raw)?;
        let now = redis_millis(now);

        let mut pipe = redis::pipe();
        for id in &booking_ids {
            match BookingId::parse(id) {
                Some(id) => pipe.get(keys::booking(&id)),
                None => pipe.cmd("ECHO").arg(""),
            };
        }
        let bookings: Vec<Option<String>> = query_each(&pipe, conn).await?;
        let order_ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.orders())
            .arg(0)
            .arg(-1)
            .query_async(conn)
            .await?;
        let mut pipe = redis::pipe();
        for id in &order_ids {
            match OrderId::parse(id) {
                Some(id) => pipe.get(keys::order(&id)),
                None => pipe.cmd("ECHO").arg(""),
            };
        }
        let order_docs: Vec<Option<String>> = query_each(&pipe, conn).await?;
        let orders = order_ids.into_iter().zip(order_docs).collect();
        let (checkins, checkin_counts, revoked): (
            HashMap<String, String>,
            HashMap<String, String>,
            Vec<String>,
        ) = redis::pipe()
            .hgetall(keys.checkins())
            .hgetall(keys.checkin_counts())
            .zrange(keys.revoked(), 0, -1)
            .query_async(conn)
            .await?;

        let booked_seats: Vec<&str> = event
            .sections
            .iter()
            .flat_map(|s| s.seats.iter().flatten())
            .enumerate()
            .filter(|(position, _)| bit_is_set(&booked, *position))
            .map(|(_, seat)| seat.as_str())
            .collect();
        let mut pipe = redis::pipe();
        for seat in &booked_seats {
            pipe.cmd("PEXPIRETIME").arg(keys.seat_lock(&seat_id(seat)?));
            pipe.zscore(keys.lock_index(), *seat);
        }
        let lock_facts: Vec<(i64, Option<i64>)> = {
            let flat: Vec<redis::Value> = query_each(&pipe, conn).await?;
            flat.chunks(2)
                .map(|pair| {
                    let key_expiry = redis::from_redis_value_ref::<i64>(&pair[0]).unwrap_or(-2);
                    let indexed = redis::from_redis_value_ref::<Option<i64>>(&pair[1])
                        .ok()
                        .flatten();
                    (key_expiry, indexed)
                })
                .collect()
        };
        let locked_booked_seats = booked_seats
            .iter()
            .zip(lock_facts)
            .filter(|(_, (key_expiry, indexed))| {
                *key_expiry != -2 || indexed.is_some_and(|at| at > now)
            })
            .map(|(seat, _)| (*seat).to_owned())
            .collect();

        // EXEC fails (nil) if a watched key changed since WATCH: then read again.
        let committed: Option<(String,)> =
            redis::pipe().atomic().cmd("PING").query_async(conn).await?;
        if committed.is_some() {
            return Ok(Some(Snapshot {
                event,
                counters,
                booked,
                positions,
                seats_at,
                booking_ids,
                bookings,
                locked_booked_seats,
                holds,
                held,
                indexed_locks,
                orders,
                checkins,
                checkin_counts,
                revoked,
                version: version.unwrap_or(0),
                last_change: last_change.into_iter().next().map(|(id, _)| id),
            }));
        }
    }
    Err(AppError::StoreUnavailable(format!(
        "event {event} kept changing; no consistent snapshot in {SNAPSHOT_ATTEMPTS} attempts"
    )))
}

fn seat_id(seat: &str) -> Result<crate::domain::ids::SeatId, AppError> {
    crate::domain::ids::SeatId::parse(seat)
        .map_err(|e| AppError::Internal(format!("stored seat {seat:?}: {e}")))
}

async fn audit_event(
    conn: &mut MultiplexedConnection,
    shared: &mut RedisConn,
    event_id: &EventId,
    report: &mut Report,
) -> Result<(), AppError> {
    let Some(snap) = snapshot(conn, event_id).await? else {
        return Ok(());
    };
    // Every booking's user indexes this event (written before the booking, in the user's
    // slot; see lua/register_booking.lua), or listing the user's bookings would miss it.
    let mut users = BTreeSet::new();
    for raw in snap.bookings.iter().flatten() {
        if let Ok(booking) = parse_document::<BookingRecord>("booking", raw) {
            users.insert(booking.user_id);
        }
    }
    for user in users {
        let indexed: Option<f64> = redis::cmd("ZSCORE")
            .arg(keys::user_events(&user))
            .arg(event_id.as_str())
            .query_async(shared)
            .await?;
        if indexed.is_none() {
            report.violations.push(format!(
                "event {event_id}: user {user} has a booking here, but the event is not in the user's index"
            ));
        }
    }
    report.events += 1;
    let mut violations = Vec::new();
    let mut flag = |message: String| violations.push(format!("event {event_id}: {message}"));

    // Every change is announced in the step that makes it: the change stream ends at the
    // current version (lua/lib.lua, announce).
    if let Some(last) = &snap.last_change
        && *last != format!("{}-0", snap.version)
    {
        flag(format!(
            "the change stream ends at {last}, but the version is {}: a change was not announced",
            snap.version
        ));
    }

    // Bookings: documents present and coherent.
    let mut confirmed = Vec::new();
    for (id, raw) in snap.booking_ids.iter().zip(&snap.bookings) {
        let Some(raw) = raw else {
            flag(format!("booking {id} is indexed but has no document"));
            continue;
        };
        let booking: BookingRecord = match parse_document("booking", raw) {
            Ok(booking) => booking,
            Err(e) => {
                flag(format!("booking {id}: {e}"));
                continue;
            }
        };
        if &booking.event_id != event_id {
            flag(format!(
                "booking {id} is indexed here but belongs to event {}",
                booking.event_id
            ));
        }
        let Some(section) = snap.event.section(&booking.section_id) else {
            flag(format!(
                "booking {id} names unknown section {}",
                booking.section_id
            ));
            continue;
        };
        if booking.unit_price != section.price {
            flag(format!(
                "booking {id} has unit price {} but the section costs {}",
                booking.unit_price, section.price
            ));
        }
        let expected_seats = if section.seats.is_some() {
            booking.qty as usize
        } else {
            0
        };
        if booking.qty == 0 || booking.seats.len() != expected_seats {
            flag(format!(
                "booking {id} has qty {} and {} seats",
                booking.qty,
                booking.seats.len()
            ));
        }
        match booking.status {
            BookingStatus::Confirmed => {
                report.confirmed_bookings += 1;
                report.tickets_sold += u64::from(booking.qty);
                confirmed.push(booking);
            }
            BookingStatus::Cancelled => report.cancelled_bookings += 1,
        }
    }

    // Sections: counters against bookings, seats against bookings.
    let indexed: std::collections::HashSet<&str> =
        snap.indexed_locks.iter().map(String::as_str).collect();
    let mut position = 0usize;
    for section in &snap.event.sections {
        report.sections += 1;
        let s = &section.id;
        let Some(remaining) = snap
            .counters
            .get(&format!("{s}:remaining"))
            .and_then(|v| v.parse::<i64>().ok())
        else {
            flag(format!("section {s} has no remaining counter"));
            continue;
        };
        let sold: i64 = confirmed
            .iter()
            .filter(|b| &b.section_id == s)
            .map(|b| i64::from(b.qty))
            .sum();
        let capacity = i64::from(section.capacity);
        // Held by general admission holds (live, or expired and not given back yet).
        let mut held = 0i64;
        for member in &snap.holds {
            match keys::parse_held(member) {
                Some((section, qty)) => {
                    if section == s.as_str() {
                        held += qty;
                    }
                }
                None => flag(format!("hold index entry {member:?} is malformed")),
            }
        }
        if remaining < 0 {
            flag(format!("section {s}: remaining is {remaining}"));
        }
        if remaining + held + sold != capacity {
            flag(format!(
                "section {s}: remaining {remaining} + held {held} + booked {sold} != capacity {capacity}"
            ));
        }
        if held > 0 && section.seats.is_some() {
            flag(format!("section {s} is reserved but has quantity holds"));
        }
        let Some(seats) = &section.seats else {
            continue;
        };
        let mut holders: HashMap<&str, usize> = HashMap::new();
        for booking in confirmed.iter().filter(|b| &b.section_id == s) {
            for seat in &booking.seats {
                *holders.entry(seat.as_str()).or_default() += 1;
            }
        }
        let mut free_here = 0;
        for seat in seats {
            let seat = seat.as_str();
            let here = position.to_string();
            if snap.positions.get(seat) != Some(&here)
                || snap.seats_at.get(&here).map(String::as_str) != Some(seat)
            {
                flag(format!("seat {seat} is not mapped to its position {here}"));
            }
            if bit_is_set(&snap.held, position) != indexed.contains(seat) {
                flag(format!(
                    "seat {seat}: held-seats bit {} but {} in the lock index",
                    u8::from(bit_is_set(&snap.held, position)),
                    if indexed.contains(seat) {
                        "present"
                    } else {
                        "absent"
                    }
                ));
            }
            let held_by = holders.remove(seat).unwrap_or(0);
            if bit_is_set(&snap.booked, position) {
                if held_by != 1 {
                    flag(format!(
                        "seat {seat} is booked but belongs to {held_by} confirmed bookings"
                    ));
                }
            } else {
                free_here += 1;
                if held_by > 0 {
                    flag(format!(
                        "seat {seat} is free but {held_by} confirmed booking(s) hold it"
                    ));
                }
            }
            position += 1;
        }
        for seat in holders.keys() {
            flag(format!(
                "a confirmed booking holds seat {seat}, which is not in section {s}"
            ));
        }
        if free_here != remaining {
            flag(format!(
                "section {s}: {free_here} free seats but remaining is {remaining}"
            ));
        }
    }
    let stray = (position..snap.booked.len() * 8).find(|&p| bit_is_set(&snap.booked, p));
    if let Some(stray) = stray {
        flag(format!(
            "booked-seats bit {stray} is set, but no seat has that position"
        ));
    }
    for seat in &snap.locked_booked_seats {
        flag(format!("booked seat {seat} is locked"));
    }
    audit_orders(&snap, &mut flag);
    audit_tickets(&snap, &mut flag);
    report.violations.extend(violations);
    Ok(())
}

/// Tickets and check-ins agree with the bookings (docs/tickets.md): each check-in is of a
/// ticket of a booking of this event, never after that booking's cancellation; the checked-in
/// counts and the sold counts are what the check-ins and the confirmed bookings add up to; every
/// revoked ticket is of a cancelled booking.
fn audit_tickets(snap: &Snapshot, flag: &mut impl FnMut(String)) {
    let bookings: HashMap<String, BookingRecord> = snap
        .bookings
        .iter()
        .flatten()
        .filter_map(|raw| parse_document::<BookingRecord>("booking", raw).ok())
        .map(|b| (b.id.to_string(), b))
        .collect();
    let ticket_booking = |ticket: &str| {
        let (booking, number) = ticket.rsplit_once('.')?;
        let number: u32 = number.parse().ok()?;
        bookings
            .get(booking)
            .filter(|b| (1..=b.qty).contains(&number))
    };
    let mut checked_in: HashMap<String, u64> = HashMap::new();
    for (ticket, raw) in &snap.checkins {
        let Some(booking) = ticket_booking(ticket) else {
            flag(format!(
                "ticket {ticket} is checked in but no booking here has it"
            ));
            continue;
        };
        *checked_in
            .entry(booking.section_id.to_string())
            .or_default() += 1;
        let Ok(checkin) = serde_json::from_str::<crate::domain::ticket::Checkin>(raw) else {
            flag(format!(
                "ticket {ticket}: its check-in {raw:?} is malformed"
            ));
            continue;
        };
        if let Some(cancelled) = booking.cancelled_at
            && checkin.at.0 >= cancelled
        {
            flag(format!(
                "ticket {ticket} was checked in at {} ms, after its booking was cancelled at {cancelled} ms",
                checkin.at.0
            ));
        }
    }
    for section in &snap.event.sections {
        let s = section.id.to_string();
        let checked = snap
            .checkin_counts
            .get(&s)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if checked != checked_in.get(&s).copied().unwrap_or(0) {
            flag(format!(
                "section {s}: {checked} counted checked in, but {} check-ins",
                checked_in.get(&s).copied().unwrap_or(0)
            ));
        }
        let sold: u64 = bookings
            .values()
            .filter(|b| b.section_id == section.id && b.status == BookingStatus::Confirmed)
            .map(|b| u64::from(b.qty))
            .sum();
        let counted: u64 = snap
            .counters
            .get(&format!("{s}:sold"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if counted != sold {
            flag(format!(
                "section {s}: {counted} counted sold, but confirmed bookings hold {sold} tickets"
            ));
        }
    }
    for ticket in &snap.revoked {
        match ticket_booking(ticket) {
            Some(booking) if booking.status == BookingStatus::Cancelled => {}
            Some(_) => flag(format!(
                "ticket {ticket} is revoked but its booking is confirmed"
            )),
            None => flag(format!(
                "ticket {ticket} is revoked but no booking here has it"
            )),
        }
    }
}

/// Orders and bookings agree (docs/orders.md): every paid order has its confirmed booking,
/// made for it; every booking an order made belongs to that order, which is paid (or was
/// cancelled with it).
fn audit_orders(snap: &Snapshot, flag: &mut impl FnMut(String)) {
    let bookings: HashMap<&str, serde_json::Value> = snap
        .booking_ids
        .iter()
        .zip(&snap.bookings)
        .filter_map(|(id, raw)| {
            let raw = raw.as_deref()?;
            Some((id.as_str(), serde_json::from_str(raw).ok()?))
        })
        .collect();
    let mut orders: HashMap<&str, serde_json::Value> = HashMap::new();
    for (id, raw) in &snap.orders {
        let Some(order) = raw
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
        else {
            flag(format!("order {id} is indexed but not stored"));
            continue;
        };
        orders.insert(id.as_str(), order);
    }
    for (id, order) in &orders {
        let booking_id = order["bookingId"].as_str();
        match (order["status"].as_str(), booking_id) {
            (Some("paid"), None) => flag(format!("order {id} is paid but has no booking")),
            (Some("paid"), Some(booking_id)) => match bookings.get(booking_id) {
                None => flag(format!(
                    "order {id} is paid, its booking {booking_id} is missing"
                )),
                Some(booking) if booking["status"] != "confirmed" => flag(format!(
                    "order {id} is paid, its booking {booking_id} is not confirmed"
                )),
                Some(booking) if booking["orderId"].as_str() != Some(id) => flag(format!(
                    "order {id} is paid with booking {booking_id}, made for another order"
                )),
                Some(_) => {}
            },
            (_, Some(booking_id))
                if bookings
                    .get(booking_id)
                    .is_some_and(|b| b["status"] == "confirmed") =>
            {
                flag(format!(
                    "order {id} is not paid, but its booking {booking_id} is confirmed"
                ))
            }
            _ => {}
        }
    }
    for (booking_id, booking) in &bookings {
        let Some(order_id) = booking["orderId"].as_str() else {
            continue;
        };
        match orders.get(order_id) {
            None => flag(format!(
                "booking {booking_id} was made by order {order_id}, which is not stored"
            )),
            Some(order) if order["bookingId"].as_str() != Some(booking_id) => flag(format!(
                "booking {booking_id} was made by order {order_id}, whose booking is another"
            )),
            Some(order) if booking["status"] == "confirmed" && order["status"] != "paid" => flag(
                format!("booking {booking_id} is confirmed, but its order {order_id} is not paid"),
            ),
            Some(_) => {}
        }
    }
}
