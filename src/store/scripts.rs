//! The Lua scripts of `lua/`, compiled into the binary, each with its typed list of keys and
//! arguments: the one place their order is written. A script reads its keys and arguments by
//! name (`K.event`, `A.user`); it is built as the definitions of `lua/lib.lua` it uses followed
//! by the script with each name written as its position (`KEYS[1]`, `ARGV[5]`), so every script
//! is one self-contained EVALSHA body, and a unit test checks that each script uses exactly the
//! names its entry here declares. `redis::Script` sends EVALSHA and, on NOSCRIPT (e.g. after
//! Redis restarted without its script cache), loads the script and retries by itself.

use super::keys::Scope;
use crate::error::AppError;
use redis::{Script, ScriptInvocation};

/// One script: its source name, the script, and the typed keys and arguments it takes.
pub struct Lua<K, A> {
    pub name: &'static str,
    pub script: Script,
    _types: std::marker::PhantomData<fn(K, A)>,
}

/// Keys or arguments that go into an invocation, in their declared order.
pub trait Bind {
    fn bind(self, invocation: &mut ScriptInvocation<'_>);
}

/// A script's keys, made from a [`Scope`] by the names the script declares.
pub trait FromScope: Sized {
    fn from_scope(scope: &Scope<'_>) -> Result<Self, AppError>;
}

impl<K: Bind, A: Bind> Lua<K, A> {
    /// The invocation with these keys and arguments, in the declared order.
    pub fn call(&self, keys: K, args: A) -> ScriptInvocation<'_> {
        let mut invocation = self.script.prepare_invoke();
        keys.bind(&mut invocation);
        args.bind(&mut invocation);
        invocation
    }
}

impl<K: Bind + FromScope, A: Bind> Lua<K, A> {
    /// The invocation with the keys of `scope` the script declares, and these arguments.
    pub fn call_in(&self, scope: &Scope<'_>, args: A) -> Result<ScriptInvocation<'_>, AppError> {
        Ok(self.call(K::from_scope(scope)?, args))
    }
}

/// Builds the script's text: the part of lib.lua it needs, then the script with every
/// `K.<name>` written as `KEYS[i]` and every `A.<name>` as `ARGV[i]`, at the position its entry
/// declares. Both are for Redis's time: every call of a script runs its whole text, so each
/// definition of lib.lua a script carries is a closure made on every call, and a prelude
/// building `K` and `A` tables is two tables per call (BENCHMARKS.md, "Redis time per script").
fn source(keys: &[&str], args: &[&str], body: &str) -> String {
    let body = positional(&positional(body, "K", "KEYS", keys), "A", "ARGV", args);
    format!("{}\n{body}", needed_lib(&body))
}

/// Whether `c` can be part of a Lua name.
fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The definitions of lib.lua (each top-level `local` with the lines after it, up to the next
/// one) that `body` uses, directly or through other definitions, in lib.lua's order.
fn needed_lib(body: &str) -> String {
    let lib = include_str!("../../lua/lib.lua");
    // (name, text) of each definition; the header before the first one is left out.
    let mut definitions: Vec<(&str, String)> = Vec::new();
    for line in lib.lines() {
        let defined = line
            .strip_prefix("local function ")
            .or_else(|| line.strip_prefix("local "))
            .map(|rest| rest.split(|c: char| !is_name(c)).next());
        match (defined.flatten(), definitions.last_mut()) {
            (Some(name), _) if !name.is_empty() => definitions.push((name, format!("{line}\n"))),
            (_, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (_, None) => {}
        }
    }
    let uses = |text: &str, name: &str| {
        text.match_indices(name).any(|(at, _)| {
            !text[..at].ends_with(is_name) && !text[at + name.len()..].starts_with(is_name)
        })
    };
    // Walk back from the last definition: one is needed if the body or a needed one after it
    // uses it (a definition can only use those before it).
    let mut needed = vec![false; definitions.len()];
    for i in (0..definitions.len()).rev() {
        let name = definitions[i].0;
        needed[i] = uses(body, name)
            || (i + 1..definitions.len()).any(|j| needed[j] && uses(&definitions[j].1, name));
    }
    definitions
        .iter()
        .zip(needed)
        .filter(|(_, needed)| *needed)
        .map(|((_, text), _)| text.as_str())
        .collect()
}

/// `source` with `<table>.<name>` replaced by `<array>[i]` for each declared name (1-based, in
/// declared order); names not declared stay as they are (a unit test refuses them).
fn positional(source: &str, table: &str, array: &str, names: &[&str]) -> String {
    let prefix = format!("{table}.");
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find(&prefix) {
        let starts_name = at == 0 || !rest[..at].ends_with(is_name);
        let after = &rest[at + prefix.len()..];
        let name_len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        let name = &after[..name_len];
        match names.iter().position(|n| *n == name) {
            Some(i) if starts_name => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("{array}[{}]", i + 1));
            }
            _ => out.push_str(&rest[..at + prefix.len() + name_len]),
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

/// `fields!` declares a struct of required (`String`) then optional (`Option<String>`) fields
/// that binds as keys or as arguments, in order; optional ones stop at the first missing.
macro_rules! fields {
    ($Name:ident, $push:ident, [$($required:ident),*], [$($optional:ident),*]) => {
        #[derive(Debug, Clone)]
        pub struct $Name {
            $(pub $required: String,)*
            $(pub $optional: Option<String>,)*
        }

        impl $Name {
            pub const NAMES: &'static [&'static str] =
                &[$(stringify!($required),)* $(stringify!($optional),)*];

            /// The values in the order they are sent (for tools that call a script
            /// themselves, such as redis-benchmark in scripts/bench).
            #[allow(unused_mut, unused_assignments, unused_variables)]
            pub fn values(&self) -> Vec<String> {
                let mut values: Vec<String> = vec![$(self.$required.clone(),)*];
                let mut present = true;
                $(
                    present = present && self.$optional.is_some();
                    if present {
                        if let Some(value) = &self.$optional {
                            values.push(value.clone());
                        }
                    }
                )*
                values
            }
        }

        impl Bind for $Name {
            #[allow(unused_variables, unused_mut, unused_assignments)]
            fn bind(self, invocation: &mut ScriptInvocation<'_>) {
                $(invocation.$push(self.$required);)*
                let mut present = true;
                $(
                    present = present && self.$optional.is_some();
                    if present {
                        if let Some(value) = self.$optional {
                            invocation.$push(value);
                        }
                    }
                )*
            }
        }
    };
}

macro_rules! scripts {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $Keys:ident [$($key:ident),*] [$($okey:ident),*],
                      $Args:ident [$($arg:ident),*] [$($oarg:ident),*];
    )*) => {
        $( fields!($Keys, key, [$($key),*], [$($okey),*]);
           fields!($Args, arg, [$($arg),*], [$($oarg),*]);
           impl FromScope for $Keys {
               fn from_scope(scope: &Scope<'_>) -> Result<Self, AppError> {
                   let scope = scope.keys();
                   Ok(Self {
                       $($key: scope.required(stringify!($key))?,)*
                       $($okey: scope.key(stringify!($okey)),)*
                   })
               }
           } )*

        pub struct Scripts {
            $( $(#[doc = $doc])* pub $field: Lua<$Keys, $Args>, )*
        }

        impl Scripts {
            pub fn new() -> Self {
                Self { $(
                    $field: Lua {
                        name: stringify!($field),
                        script: Script::new(&source(
                            $Keys::NAMES,
                            $Args::NAMES,
                            include_str!(concat!("../../lua/", stringify!($field), ".lua")),
                        )),
                        _types: std::marker::PhantomData,
                    },
                )* }
            }

            /// Every script, to load them all at start.
            pub fn all(&self) -> Vec<&Script> {
                vec![$(&self.$field.script,)*]
            }

            /// Name, declared keys, declared arguments and source of every script.
            pub fn declared() -> Vec<(&'static str, &'static [&'static str], &'static [&'static str], &'static str)> {
                vec![$((
                    stringify!($field),
                    $Keys::NAMES,
                    $Args::NAMES,
                    include_str!(concat!("../../lua/", stringify!($field), ".lua")),
                ),)*]
            }
        }
    };
}

scripts! {
    /// In the user's slot, before a booking: rate limit, Idempotency-Key claim, user's events.
    register_booking: RegisterKeys [user_events, user_rate] [claim],
                      RegisterArgs [event_id, rate, burst] [fingerprint, ttl_ms];
    /// After a booking, on a connection of its own, before WAIT.
    acknowledge: AcknowledgeKeys [booking, counter] [],
                 AcknowledgeArgs [] [];
    /// A write counted against a rate limit bucket.
    rate_limit: RateLimitKeys [bucket] [],
                RateLimitArgs [rate, burst] [];
    /// Read only: the ETag of an event's reads.
    /// GET /events/{eventId}: its ETag and, unless If-None-Match names it, its data.
    read_event: ReadEventKeys [event, version, lock_index, holds, sections] [],
                ReadEventArgs [if_none_match, with_document] [];
    /// A replica's read view of an event: everything its reads show, as of one version.
    read_view: ReadViewKeys [event, version, sections, holds, booked_seats, lock_index] [],
               ReadViewArgs [with_document] [];
    /// GET /events/{eventId}/seats: its ETag and, unless If-None-Match names it, its data.
    read_seats: ReadSeatsKeys [event, version, lock_index, holds, booked_seats] [],
                ReadSeatsArgs [if_none_match, with_document] [];
    create_event: CreateEventKeys [event, summary, organizers, sections, seat_sections, seat_positions,
                                   seats_at, booked_seats] [],
                  CreateEventArgs [document, summary, creator] [];
    event_organizers: EventOrganizersKeys [event, organizers] [],
                      EventOrganizersArgs [actor, role, op, user] [];
    book: BookKeys [event, sections, booked_seats, seats_at, lock_index, booking, bookings,
                    user_bookings, user_tickets, user_locks, seat_sections, holds, user_held,
                    seat_positions, held_seats, version, changes, admissions, organizers, outbox]
                   [idempotency],
          BookArgs [booking_id, event_id, section_id, qty, user_id, created_at, admitted, role]
                   [fingerprint, ttl_ms];
    lock_seat: LockKeys [event, seat_sections, seat_positions, booked_seats, lock_index, seat_lock,
                         sections, user_tickets, user_locks, holds, user_held, held_seats, version, changes,
                         admissions] [],
               LockArgs [seat, user, ttl_ms, max_locks, max_held, admitted] [];
    confirm_seat: ConfirmKeys [event, seat_sections, seat_positions, booked_seats, lock_index,
                               seat_lock, sections, booking, bookings, user_bookings, user_tickets,
                               user_locks, held_seats, version, changes, admissions, organizers,
                               outbox]
                              [idempotency],
                  ConfirmArgs [seat, user, booking_id, event_id, created_at, role] [fingerprint, ttl_ms];
    unlock_seat: UnlockKeys [event, seat_sections, seat_positions, booked_seats, lock_index, seat_lock,
                             user_locks, held_seats, version, changes] [],
                 UnlockArgs [seat, user] [];
    hold_create: HoldCreateKeys [event, sections, seat_sections, seat_positions, booked_seats,
                                 lock_index, seat_lock_prefix, user_tickets, user_locks, user_held,
                                 holds, hold, seats_at, held_seats, version, changes, admissions,
                                 checkouts, outbox] [],
                 HoldCreateArgs [hold_id, event_id, user, ttl_ms, max_extensions, max_lifetime_ms,
                                 max_locks, max_held, section_id, qty, seats, together, admitted] [];
    hold_extend: HoldExtendKeys [hold, seat_lock_prefix, lock_index, user_locks, holds, version, changes,
                                 checkouts] [],
                 HoldExtendArgs [user, ttl_ms, max_lifetime_ms] [];
    hold_release: HoldReleaseKeys [hold, seat_lock_prefix, lock_index, user_locks, holds, sections,
                                   user_held, seat_positions, held_seats, version, changes,
                                   checkouts] [],
                  HoldReleaseArgs [user] [];
    hold_confirm: HoldConfirmKeys [hold, seat_lock_prefix, seat_positions, booked_seats, lock_index,
                                   user_locks, sections, holds, user_held, booking, bookings,
                                   user_bookings, user_tickets, held_seats, version, changes,
                                   admissions, checkouts, organizers, outbox] [idempotency],
                  HoldConfirmArgs [user, booking_id, event_id, created_at, role] [fingerprint, ttl_ms];
    /// POST /events/{eventId}/queue: a place on the joiner's queue shard.
    queue_join: QueueJoinKeys [shard_places, shard_state] [],
                QueueJoinArgs [user, replace, start] [];
    /// A refresh reads each queue shard (reads only).
    queue_shard_read: QueueShardReadKeys [shard_state] [],
                      QueueShardReadArgs [] [];
    /// A refresh of an event's waiting room: rounds, lapses, releases (see lib.lua).
    queue_advance: QueueAdvanceKeys [event, sections, admissions, checkouts, queue_state,
                                     queue_rounds, queue_releases, queue_batches] [],
                   QueueAdvanceArgs [counts, read_at, have, shards, abandon_ms, round_ms, seed] [];
    /// A poll whose turn has come takes its admission.
    queue_admit: QueueAdmitKeys [event, sections, admissions, queue_state, queue_releases,
                                 queue_batches, queue_taken] [],
                 QueueAdmitArgs [user, place, turn, abandon_ms] [];
    queue_configure: QueueConfigureKeys [event, sections, organizers] [],
                     QueueConfigureArgs [enabled, rate, max, ttl_ms, order, start_ms, actor, role] [];
    cancel_booking: CancelKeys [booking, sections, seat_positions, booked_seats, user_tickets, version, changes,
                                organizers, outbox, revoked] [idempotency],
                    CancelArgs [cancelled_at, actor, role] [fingerprint, ttl_ms];
    /// A live hold becomes an order waiting for payment.
    order_create: OrderCreateKeys [hold, sections, seat_positions, booked_seats, seat_lock_prefix,
                                   lock_index, user_locks, held_seats, holds, user_held, checkouts,
                                   order, orders, user_orders, version, changes, outbox, orders_due]
                                  [idempotency],
                  OrderCreateArgs [user, order_id, event_id, payment_ttl_ms] [fingerprint, ttl_ms];
    /// A payment for an order, applied once per provider reference.
    order_pay: OrderPayKeys [order, payments, sections, seat_positions, booked_seats,
                             seat_lock_prefix, lock_index, user_locks, held_seats, holds, user_held,
                             user_tickets, booking, bookings, user_bookings, admissions, checkouts,
                             version, changes, outbox] [],
               OrderPayArgs [provider, reference, amount, currency, booking_id] [];
    /// An open order cancelled by its user, or a paid one with its booking.
    order_cancel: OrderCancelKeys [order, organizers, sections, seat_positions, booked_seats,
                                   seat_lock_prefix, lock_index, user_locks, held_seats, holds,
                                   user_held, user_tickets, checkouts, booking_prefix, version,
                                   changes, outbox, revoked] [],
                  OrderCancelArgs [actor, role] [];
    /// POST /events/{eventId}/checkins (and /batch): scans applied in order, each once.
    checkin: CheckinKeys [booking_prefix, checkins, checkin_counts, scans, outbox] [],
             CheckinArgs [event_id, scans] [];
    /// POST /webhooks: a new endpoint.
    webhook_create: WebhookCreateKeys [endpoint] [],
                    WebhookCreateArgs [document] [];
    webhook_delete: WebhookDeleteKeys [endpoint, messages, due, done] [],
                    WebhookDeleteArgs [actor, role] [];
    webhook_rotate: WebhookRotateKeys [endpoint] [],
                    WebhookRotateArgs [actor, role, secret, overlap_ms] [];
    /// Fan-out: outbox messages for one endpoint, each once.
    webhook_enqueue: WebhookEnqueueKeys [endpoint, messages, due] [],
                     WebhookEnqueueArgs [messages] [];
    /// Delivery: the due messages of one endpoint, leased to the caller.
    webhook_take: WebhookTakeKeys [endpoint, messages, due, done] [],
                  WebhookTakeArgs [max, lease_ms, retention_ms] [];
    /// Delivery: what one attempt got.
    webhook_settle: WebhookSettleKeys [endpoint, messages, due, done] [],
                    WebhookSettleArgs [message_id, outcome, response_status, error, retry_after_ms,
                                       schedule, disable_after_ms] [];
    webhook_retry: WebhookRetryKeys [endpoint, messages, due, done] [],
                   WebhookRetryArgs [message_id, actor, role] [];
    /// Orders past their payment deadline written `expired`, each with its `order.expired`.
    orders_expire: OrdersExpireKeys [orders_due, order_prefix, outbox] [],
                   OrdersExpireArgs [max] [];
    /// Fan-out: an event's outbox entries not fanned out yet (or abandoned by a dead replica).
    outbox_read: OutboxReadKeys [outbox] [],
                 OutboxReadArgs [consumer, count, claim_idle_ms] [];
    /// Without endpoints: an event's outbox trimmed to its last moments.
    outbox_trim: OutboxTrimKeys [outbox] [],
                 OutboxTrimArgs [keep_ms] [];
    /// Fan-out: entries done, and the outbox trimmed behind them.
    outbox_ack: OutboxAckKeys [outbox] [],
                OutboxAckArgs [ids] [];
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripts {
    /// The exact text of a script as the service loads it (prelude, lib.lua, the script), for
    /// tools that measure it apart from the service (scripts/bench).
    pub fn text(name: &str) -> Option<String> {
        Self::declared()
            .into_iter()
            .find(|(declared, ..)| *declared == name)
            .map(|(_, keys, args, body)| source(keys, args, body))
    }

    /// The source of every file in `lua/`, by name (`lib` included).
    pub fn sources() -> Vec<(&'static str, &'static str)> {
        let mut sources = vec![("lib", include_str!("../../lua/lib.lua"))];
        sources.extend(
            Self::declared()
                .into_iter()
                .map(|(name, _, _, body)| (name, body)),
        );
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::Scripts;
    use std::collections::BTreeSet;

    #[test]
    fn a_script_text_is_what_the_service_loads() {
        let text = Scripts::text("book").expect("book");
        assert_eq!(
            redis::Script::new(&text).get_hash(),
            Scripts::new().book.script.get_hash()
        );
        assert!(Scripts::text("nothing").is_none());
    }

    #[test]
    fn names_become_positions() {
        let text = super::positional(
            "K.event K.events XK.event K.other K. K.event",
            "K",
            "KEYS",
            &["events", "event"],
        );
        assert_eq!(text, "KEYS[2] KEYS[1] XK.event K.other K. KEYS[2]");
        let book = Scripts::text("book").expect("book");
        assert!(!book.contains("K.sections") && !book.contains("A.user_id"));
        assert!(book.contains("KEYS[18]") && book.contains("ARGV[7]"));
    }

    /// Each script carries the lib.lua definitions it uses and no others.
    #[test]
    fn a_script_carries_what_it_uses_of_lib() {
        let unlock = Scripts::text("unlock_seat").expect("unlock_seat");
        // Used directly (unsold_seat), and through it (not_found, refuse).
        for name in [
            "unsold_seat",
            "not_found",
            "refuse",
            "announce",
            "CHANGE_FIELDS",
        ] {
            assert!(
                unlock.contains(&format!("local function {name}("))
                    || unlock.contains(&format!("local {name} =")),
                "{name}"
            );
        }
        for name in ["best_seats", "releasable", "QUEUE_STEP", "refuse_over_rate"] {
            assert!(!unlock.contains(name), "{name}");
        }
        let queue = Scripts::text("queue_advance").expect("queue_advance");
        assert!(
            queue.contains("local QUEUE_STEP =") && queue.contains("local function releasable(")
        );
        let join = Scripts::text("queue_join").expect("queue_join");
        assert!(!join.contains("QUEUE_STEP") && join.contains("local function now_ms("));
    }

    #[test]
    fn every_file_of_lua_is_a_script() {
        let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/lua"))
            .expect("lua/")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        files.sort();
        let mut known: Vec<String> = Scripts::sources()
            .iter()
            .map(|(name, _)| format!("{name}.lua"))
            .collect();
        known.sort();
        assert_eq!(files, known);
    }

    /// A definition of lib.lua uses only those before it: Lua resolves a later `local` as a
    /// global, nil at run time (a script would fail in Redis, not here).
    #[test]
    fn lib_definitions_use_only_earlier_ones() {
        let lib = include_str!("../../lua/lib.lua");
        let mut definitions: Vec<(String, String)> = Vec::new();
        for line in lib.lines() {
            let defined = line
                .strip_prefix("local function ")
                .or_else(|| line.strip_prefix("local "))
                .map(|rest| {
                    rest.split(|c: char| !super::is_name(c))
                        .next()
                        .unwrap_or("")
                });
            match (defined, definitions.last_mut()) {
                (Some(name), _) if !name.is_empty() => {
                    definitions.push((name.to_owned(), String::new()))
                }
                (_, Some((_, text))) => {
                    // Code only: comments may name anything.
                    text.push_str(line.split("--").next().unwrap_or(""));
                    text.push('\n');
                }
                _ => {}
            }
        }
        for (i, (name, text)) in definitions.iter().enumerate() {
            for (later, _) in &definitions[i + 1..] {
                let used = text.match_indices(later.as_str()).any(|(at, _)| {
                    !text[..at].ends_with(super::is_name)
                        && !text[at + later.len()..].starts_with(super::is_name)
                });
                assert!(!used, "lib.lua: {name} uses {later}, defined after it");
            }
        }
    }

    /// Every key a script declares is one a scope makes (the scripts whose keys are not an
    /// event's or a user's, a rate bucket and an acknowledgement counter, excepted).
    #[test]
    fn every_declared_key_comes_from_a_scope() {
        use crate::domain::ids::{BookingId, EventId, HoldId, OrderId, SeatId, UserId};
        let (event, user, seat) = (
            EventId::parse("e").expect("id"),
            UserId::parse("u").expect("id"),
            SeatId::parse("A1").expect("id"),
        );
        let (hold, booking) = (
            HoldId::new(),
            BookingId::new(crate::store::keys::event_slot(&event)),
        );
        let order = OrderId::new(crate::store::keys::event_slot(&event));
        let scope = super::Scope::event(&event)
            .user(&user)
            .seat(&seat)
            .hold(&hold)
            .booking(&booking)
            .order(&order)
            .idempotency(Some("k"));
        let scope = super::Scope {
            webhook: Some("0193a0a0-0000-7000-8000-000000000000"),
            queue_shard: Some("e~0~0"),
            ..scope
        };
        for (name, keys, _, _) in Scripts::declared() {
            if ["rate_limit", "acknowledge"].contains(&name) {
                continue;
            }
            for key in keys {
                let made = scope
                    .key(key)
                    .unwrap_or_else(|| panic!("{name}: no scope key {key}"));
                assert!(made.starts_with("bo:{"), "{name}: {key} is {made}");
            }
        }
    }

    /// The names `K.<name>` / `A.<name>` a source uses.
    fn used(source: &str, table: &str) -> BTreeSet<String> {
        let prefix = format!("{table}.");
        source
            .match_indices(&prefix)
            .filter(|(at, _)| {
                // Not part of a longer name (`XK.`).
                !source[..*at].ends_with(super::is_name)
            })
            .map(|(at, _)| {
                source[at + prefix.len()..]
                    .chars()
                    .take_while(|c| super::is_name(*c))
                    .collect::<String>()
            })
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// Each script uses exactly the keys and arguments it declares, and never KEYS or ARGV:
    /// a key added in Rust but not used in Lua (or the other way round) fails here.
    #[test]
    fn every_script_uses_exactly_what_it_declares() {
        for (name, keys, args, body) in Scripts::declared() {
            assert!(
                !body.contains("KEYS[") && !body.contains("ARGV["),
                "lua/{name}.lua indexes KEYS/ARGV: use K.<name> and A.<name>"
            );
            let declared =
                |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
            assert_eq!(used(body, "K"), declared(keys), "keys of lua/{name}.lua");
            assert_eq!(
                used(body, "A"),
                declared(args),
                "arguments of lua/{name}.lua"
            );
        }
        let lib = include_str!("../../lua/lib.lua");
        assert!(
            used(lib, "K").is_empty() && used(lib, "A").is_empty(),
            "lib.lua takes keys as parameters"
        );
    }
}
