//! The scenarios: what data each creates first, and what one virtual user does per step.

use crate::client::{Answer, Connection, Failure};
use crate::record::Recorder;
use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Name {
    /// Every request books qty 1 from one section with ample capacity.
    HotSection,
    /// Bookings across 1000 sections of 100 events.
    Spread,
    /// A sold-out section: every request is refused with 409.
    SoldOut,
    /// Thousands of users lock the same 100 seats; winners confirm, then cancel (so the seats
    /// come back and the storm goes on).
    SeatStorm,
    /// `GET /events/{id}/seats` on a 5000-seat event.
    ReadSeats,
    /// The same map re-read with `If-None-Match` and its current `ETag`: `304`, no body.
    ReadSeatsCached,
    /// An on-sale mix: event and seat-map reads, bookings, locks and confirms.
    Mixed,
    /// Checkout on a 5000-seat section of 50 rows: hold 2 to 4 seats together (best
    /// available), confirm the hold, then cancel the booking (so the seats come back).
    Checkout,
    /// Joining waiting rooms (`maxActive` 100): every step a user joins a room they are not in
    /// yet (users and 20 events taken in turn).
    QueueJoin,
    /// Asking where one stands: 10 000 users in one waiting room (`maxActive` 100), each step
    /// one of them asks.
    QueuePoll,
    /// A sale that completes, on an event that requires payment: hold 1 or 2 tickets, make
    /// the order, pay it with a Stripe webhook signed with STRIPE_WEBHOOK_SECRET (docs/orders.md).
    Order,
    /// Check-in at the door on a 50,000-ticket event (5000 bookings of 10, made first): each
    /// step scans the next ticket's code (`POST /events/{id}/checkins`, a staff token), so
    /// every scan of the first 50,000 is a first check-in (`ok`), later ones `already_redeemed`.
    Checkin,
    /// `GET /seats`: the demo event's 10-seat map (a replica started with DEMO_SEATS=10), the
    /// read the floor's `/seats` mirrors.
    DemoSeats,
    /// Against `floor` (bench/src/floor.rs): `GET /memory`, a 10-seat map from memory.
    FloorMemory,
    /// Against `floor`: `GET /seats`, the same map after one Redis `GET`.
    FloorSeats,
}

pub enum Scenario {
    HotSection {
        event: String,
    },
    Spread {
        sections: Vec<(String, String)>,
    },
    SoldOut {
        event: String,
    },
    SeatStorm {
        event: String,
        seats: Vec<String>,
    },
    ReadSeats {
        event: String,
    },
    ReadSeatsCached {
        event: String,
        tag: String,
    },
    Mixed {
        ga: String,
        seated: String,
        seats: Vec<String>,
    },
    Checkout {
        event: String,
    },
    QueueJoin {
        events: Vec<String>,
        next: std::sync::atomic::AtomicU64,
    },
    QueuePoll {
        event: String,
        tickets: Vec<String>,
    },
    Order {
        event: String,
        secret: String,
        payments: std::sync::atomic::AtomicU64,
    },
    Checkin {
        event: String,
        codes: Vec<String>,
        next: std::sync::atomic::AtomicU64,
    },
    /// One `GET` of a fixed path.
    Get {
        path: &'static str,
    },
}

/// Setup uses a plain JSON client; speed does not matter there.
/// Users the virtual users act as: `u0` .. `u9999`.
pub const USERS: u32 = 10_000;

/// Bearer tokens for the users and an organizer, when the replicas run in jwt mode.
pub struct Tokens {
    users: Vec<String>,
    organizer: String,
    staff: String,
}

static TOKENS: std::sync::OnceLock<Tokens> = std::sync::OnceLock::new();

/// Signs a token for every user (before measuring: signing is not what the bench measures).
pub fn sign_tokens(secret: &str) -> Result<(), String> {
    use boxoffice::auth::{Role, mint};
    let hour = std::time::Duration::from_secs(3600);
    let users = (0..USERS)
        .map(|u| {
            mint(secret, &format!("u{u}"), Role::Buyer, hour, None, None)
                .map(|t| format!("Bearer {t}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let organizer = format!(
        "Bearer {}",
        mint(secret, "bench", Role::Organizer, hour, None, None)?
    );
    let staff = format!(
        "Bearer {}",
        mint(secret, "door", Role::Staff, hour, None, None)?
    );
    let _ = TOKENS.set(Tokens {
        users,
        organizer,
        staff,
    });
    Ok(())
}

pub(crate) fn user_auth(user: u32) -> Option<&'static str> {
    TOKENS
        .get()
        .map(|t| t.users[(user % USERS) as usize].as_str())
}

pub(crate) fn staff_auth() -> Option<&'static str> {
    TOKENS.get().map(|t| t.staff.as_str())
}

pub(crate) fn organizer_auth() -> Option<&'static str> {
    TOKENS.get().map(|t| t.organizer.as_str())
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Result<Value, String> {
    post_as(http, url, body, organizer_auth()).await
}

/// As [`post`], with the token of whoever the body names (or none in open mode).
pub(crate) async fn post_as(
    http: &reqwest::Client,
    url: String,
    body: Value,
    auth: Option<&str>,
) -> Result<Value, String> {
    let mut request = http.post(&url).json(&body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: {status} {body}"));
    }
    Ok(body)
}

/// A `GET` of `url` with this token (or none), its JSON body.
pub(crate) async fn get_as(
    http: &reqwest::Client,
    url: String,
    auth: Option<&str>,
) -> Result<Value, String> {
    let mut request = http.get(&url);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

pub(crate) async fn create_event(
    http: &reqwest::Client,
    base: &str,
    sections: Value,
) -> Result<String, String> {
    // A list of sections, or an object with `sections` and more (a `waitingRoom`).
    let mut body = json!({ "name": "bench" });
    match sections {
        Value::Object(fields) => {
            if let Some(body) = body.as_object_mut() {
                body.extend(fields);
            }
        }
        sections => body["sections"] = sections,
    }
    let event = post(http, format!("{base}/events"), body).await?;
    event["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no event id".into())
}

/// After a confirm: cancels the booking it made, if it made one (so the seats come back and
/// the scenario can go on).
async fn cancel_if_booked(
    conn: &mut Connection,
    rec: &mut Recorder,
    confirm: &Answer,
    auth: Option<&str>,
) -> Result<(), Failure> {
    if confirm.status == 201 {
        let id = booking_id(confirm)?;
        rec.timed(conn.send(Method::DELETE, &format!("/bookings/{id}"), None, auth))
            .await?;
    }
    Ok(())
}

fn seat_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("S{i:04}")).collect()
}

impl Scenario {
    pub async fn prepare(name: Name, base: &str) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let ga = |capacity: u32| json!([{ "name": "GA", "price": 49.5, "capacity": capacity }]);
        let seated = |seats: &[String]| json!([{ "name": "Stalls", "price": 80, "seats": seats }]);
        // An event with a waiting room: sections, then the room (create_event sends both).
        let waiting = |sections: Value| {
            json!({ "sections": sections,
                    "waitingRoom": { "enabled": true, "maxActive": 100 } })
        };
        Ok(match name {
            Name::HotSection => Scenario::HotSection {
                event: create_event(&http, base, ga(1_000_000)).await?,
            },
            Name::Spread => {
                let mut sections = Vec::new();
                for _ in 0..100 {
                    let tens: Vec<Value> = (0..10)
                        .map(|_| json!({ "name": "GA", "price": 20, "capacity": 1_000_000 }))
                        .collect();
                    let event = create_event(&http, base, Value::Array(tens)).await?;
                    sections.extend((1..=10).map(|s| (event.clone(), format!("s{s}"))));
                }
                Scenario::Spread { sections }
            }
            Name::SoldOut => {
                let event = create_event(&http, base, ga(1)).await?;
                post(
                    &http,
                    format!("{base}/book"),
                    json!({ "eventId": event, "sectionId": "s1", "qty": 1 }),
                )
                .await?;
                Scenario::SoldOut { event }
            }
            Name::SeatStorm => {
                let seats = seat_names(100);
                let event = create_event(&http, base, seated(&seats)).await?;
                Scenario::SeatStorm { event, seats }
            }
            Name::ReadSeats | Name::ReadSeatsCached => {
                let seats = seat_names(5000);
                let event = create_event(&http, base, seated(&seats)).await?;
                // Some seats sold and some held, so the map has all three states.
                // One holder per seat: a user may hold only MAX_LOCKS_PER_USER seats.
                for (i, seat) in seats.iter().step_by(5).enumerate() {
                    let url = format!("{base}/events/{event}/seats/{seat}/lock");
                    let user = i as u32;
                    post_as(
                        &http,
                        url,
                        json!({ "userId": format!("u{user}") }),
                        user_auth(user),
                    )
                    .await?;
                }
                post(
                    &http,
                    format!("{base}/book"),
                    json!({ "eventId": event, "sectionId": "s1", "qty": 10 }),
                )
                .await?;
                if name == Name::ReadSeats {
                    Scenario::ReadSeats { event }
                } else {
                    let map = http
                        .get(format!("{base}/events/{event}/seats"))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let tag = map
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .ok_or("a seat map without an ETag")?
                        .to_owned();
                    Scenario::ReadSeatsCached { event, tag }
                }
            }
            Name::Checkout => {
                // Row names of letters only: "AA".."BX" (a row "A1" seat 1 would clash with a
                // row "A" seat 11).
                let rows: Vec<Value> = (0..50u8)
                    .map(|r| {
                        let name =
                            format!("{}{}", (b'A' + r / 26) as char, (b'A' + r % 26) as char);
                        json!({ "name": name, "count": 100 })
                    })
                    .collect();
                let sections = json!([{ "name": "Hall", "price": 80, "rows": rows }]);
                Scenario::Checkout {
                    event: create_event(&http, base, sections).await?,
                }
            }
            Name::QueueJoin => {
                let mut events = Vec::new();
                for _ in 0..20 {
                    events.push(create_event(&http, base, waiting(ga(1_000_000))).await?);
                }
                Scenario::QueueJoin {
                    events,
                    next: std::sync::atomic::AtomicU64::new(0),
                }
            }
            Name::QueuePoll => {
                let event = create_event(&http, base, waiting(ga(1_000_000))).await?;
                let mut tickets = vec![String::new(); USERS as usize];
                // Everyone joins first, 100 at a time.
                for chunk in (0..USERS).collect::<Vec<_>>().chunks(100) {
                    let mut joins = tokio::task::JoinSet::new();
                    for &user in chunk {
                        let (http, url) = (http.clone(), format!("{base}/events/{event}/queue"));
                        joins.spawn(async move {
                            let body = json!({ "userId": format!("u{user}") });
                            (user, post_as(&http, url, body, user_auth(user)).await)
                        });
                    }
                    while let Some(joined) = joins.join_next().await {
                        let (user, reply) = joined.map_err(|e| e.to_string())?;
                        tickets[user as usize] = reply?["ticket"]
                            .as_str()
                            .ok_or("a join without a ticket")?
                            .to_owned();
                    }
                }
                Scenario::QueuePoll { event, tickets }
            }
            Name::Order => {
                let secret = std::env::var("STRIPE_WEBHOOK_SECRET")
                    .map_err(|_| "the order scenario signs with STRIPE_WEBHOOK_SECRET: set it")?;
                let sections = json!({ "sections": ga(1_000_000), "payment": "required" });
                Scenario::Order {
                    event: create_event(&http, base, sections).await?,
                    secret,
                    payments: std::sync::atomic::AtomicU64::new(0),
                }
            }
            Name::Checkin => {
                let event = create_event(&http, base, ga(50_000)).await?;
                let mut codes = Vec::with_capacity(50_000);
                // 5000 bookings of 10 by 5000 users, then each one's tickets, 100 at a time.
                for chunk in (0..5000u32).collect::<Vec<_>>().chunks(100) {
                    let mut work = tokio::task::JoinSet::new();
                    for &user in chunk {
                        let (http, base, event) = (http.clone(), base.to_owned(), event.clone());
                        work.spawn(async move {
                            let body = json!({ "eventId": event, "sectionId": "s1", "qty": 10,
                                               "userId": format!("u{user}") });
                            let booked =
                                post_as(&http, format!("{base}/book"), body, user_auth(user))
                                    .await?;
                            let id = booked["id"].as_str().ok_or("a booking without an id")?;
                            let listed = get_as(
                                &http,
                                format!("{base}/bookings/{id}/tickets"),
                                user_auth(user),
                            )
                            .await?;
                            listed["tickets"]
                                .as_array()
                                .ok_or_else(|| format!("no tickets: {listed}"))?
                                .iter()
                                .map(|t| {
                                    t["code"]
                                        .as_str()
                                        .map(str::to_owned)
                                        .ok_or_else(|| "a ticket without a code".to_owned())
                                })
                                .collect::<Result<Vec<String>, String>>()
                        });
                    }
                    while let Some(done) = work.join_next().await {
                        codes.extend(done.map_err(|e| e.to_string())??);
                    }
                }
                Scenario::Checkin {
                    event,
                    codes,
                    next: std::sync::atomic::AtomicU64::new(0),
                }
            }
            Name::DemoSeats => Scenario::Get { path: "/seats" },
            Name::FloorMemory => Scenario::Get { path: "/memory" },
            Name::FloorSeats => Scenario::Get { path: "/seats" },
            Name::Mixed => {
                let seats = seat_names(500);
                let seated = create_event(&http, base, seated(&seats)).await?;
                let ga = create_event(&http, base, ga(1_000_000)).await?;
                Scenario::Mixed { ga, seated, seats }
            }
        })
    }

    /// One step of one virtual user: one or more requests, each recorded.
    pub async fn step(
        &self,
        conn: &mut Connection,
        rng: &mut fastrand::Rng,
        rec: &mut Recorder,
    ) -> Result<(), Failure> {
        match self {
            Scenario::HotSection { event } | Scenario::SoldOut { event } => {
                book(conn, rec, event, "s1", 1, rng.u32(..USERS)).await?;
            }
            Scenario::Spread { sections } => {
                let (event, section) = &sections[rng.usize(..sections.len())];
                book(conn, rec, event, section, 1, rng.u32(..USERS)).await?;
            }
            Scenario::SeatStorm { event, seats } => {
                let user = rng.u32(..USERS);
                let auth = user_auth(user);
                let seat = &seats[rng.usize(..seats.len())];
                let path = format!("/events/{event}/seats/{seat}");
                let body = user_body(user);
                let lock = rec
                    .timed(conn.send(
                        Method::POST,
                        &format!("{path}/lock"),
                        Some(body.clone()),
                        auth,
                    ))
                    .await?;
                if lock.status == 200 {
                    let confirm = rec
                        .timed(conn.send(
                            Method::POST,
                            &format!("{path}/confirm"),
                            Some(body),
                            auth,
                        ))
                        .await?;
                    cancel_if_booked(conn, rec, &confirm, auth).await?;
                }
            }
            Scenario::QueueJoin { events, next } => {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let user = (n % u64::from(USERS)) as u32;
                let event = &events[(n / u64::from(USERS)) as usize % events.len()];
                rec.timed(conn.send(
                    Method::POST,
                    &format!("/events/{event}/queue"),
                    Some(user_body(user)),
                    user_auth(user),
                ))
                .await?;
            }
            Scenario::QueuePoll { event, tickets } => {
                let user = rng.u32(..USERS);
                let ticket = &tickets[user as usize];
                rec.timed(conn.send(
                    Method::GET,
                    &format!("/events/{event}/queue/{ticket}?user=u{user}"),
                    None,
                    user_auth(user),
                ))
                .await?;
            }
            Scenario::Checkout { event } => {
                let user = rng.u32(..USERS);
                let auth = user_auth(user);
                let body = format!(
                    r#"{{"sectionId":"s1","qty":{},"together":true,"userId":"u{user}"}}"#,
                    rng.u32(2..=4)
                );
                let hold = rec
                    .timed(conn.send(
                        Method::POST,
                        &format!("/events/{event}/holds"),
                        Some(Bytes::from(body)),
                        auth,
                    ))
                    .await?;
                if hold.status == 201 {
                    let hold = booking_id(&hold)?;
                    let confirm = rec
                        .timed(conn.send(
                            Method::POST,
                            &format!("/events/{event}/holds/{hold}/confirm"),
                            Some(user_body(user)),
                            auth,
                        ))
                        .await?;
                    cancel_if_booked(conn, rec, &confirm, auth).await?;
                }
            }
            Scenario::Order {
                event,
                secret,
                payments,
            } => {
                let user = rng.u32(..USERS);
                let auth = user_auth(user);
                let qty = rng.u32(1..=2);
                let body = format!(r#"{{"sectionId":"s1","qty":{qty},"userId":"u{user}"}}"#);
                let path = format!("/events/{event}/holds");
                let hold = rec
                    .timed(conn.send(Method::POST, &path, Some(Bytes::from(body)), auth))
                    .await?;
                if hold.status != 201 {
                    return Ok(());
                }
                let hold = booking_id(&hold)?;
                let path = format!("/events/{event}/holds/{hold}/order");
                let order = rec
                    .timed(conn.send(Method::POST, &path, Some(user_body(user)), auth))
                    .await?;
                if order.status != 201 {
                    return Ok(());
                }
                let order = booking_id(&order)?;
                let n = payments.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let cents = 4950 * i64::from(qty);
                let payment = json!({ "id": format!("evt_{n}"), "type": "payment_intent.succeeded",
                    "data": { "object": { "id": format!("pi_{n}"), "amount_received": cents,
                        "currency": "eur", "metadata": { "orderId": order } } } })
                .to_string();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let signature = boxoffice::domain::stripe::sign(payment.as_bytes(), secret, now);
                rec.timed(conn.send_with(
                    Method::POST,
                    "/payments/stripe/webhook",
                    Some(Bytes::from(payment)),
                    None,
                    Some(("stripe-signature", &signature)),
                ))
                .await?;
            }
            Scenario::Get { path } => {
                rec.timed(conn.send(Method::GET, path, None, None)).await?;
            }
            Scenario::Checkin { event, codes, next } => {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let code = &codes[(n % codes.len() as u64) as usize];
                let body = format!(
                    r#"{{"code":"{code}","scannerId":"door-{}","nonce":"n{n}"}}"#,
                    n % 20
                );
                rec.timed(conn.send(
                    Method::POST,
                    &format!("/events/{event}/checkins"),
                    Some(Bytes::from(body)),
                    staff_auth(),
                ))
                .await?;
            }
            Scenario::ReadSeats { event } => {
                rec.timed(conn.send(Method::GET, &format!("/events/{event}/seats"), None, None))
                    .await?;
            }
            Scenario::ReadSeatsCached { event, tag } => {
                rec.timed(conn.get_unless(&format!("/events/{event}/seats"), tag))
                    .await?;
            }
            Scenario::Mixed { ga, seated, seats } => match rng.u32(..100) {
                0..35 => {
                    rec.timed(conn.send(Method::GET, &format!("/events/{ga}"), None, None))
                        .await?;
                }
                35..60 => {
                    rec.timed(conn.send(
                        Method::GET,
                        &format!("/events/{seated}/seats"),
                        None,
                        None,
                    ))
                    .await?;
                }
                60..85 => {
                    book(conn, rec, ga, "s1", rng.u32(1..5), rng.u32(..USERS)).await?;
                }
                _ => {
                    let seat = &seats[rng.usize(..seats.len())];
                    let path = format!("/events/{seated}/seats/{seat}");
                    let user = rng.u32(..USERS);
                    let auth = user_auth(user);
                    let body = user_body(user);
                    let lock = rec
                        .timed(conn.send(
                            Method::POST,
                            &format!("{path}/lock"),
                            Some(body.clone()),
                            auth,
                        ))
                        .await?;
                    if lock.status == 200 {
                        rec.timed(conn.send(
                            Method::POST,
                            &format!("{path}/confirm"),
                            Some(body),
                            auth,
                        ))
                        .await?;
                    }
                }
            },
        }
        Ok(())
    }
}

async fn book(
    conn: &mut Connection,
    rec: &mut Recorder,
    event: &str,
    section: &str,
    qty: u32,
    user: u32,
) -> Result<Answer, Failure> {
    let body = format!(
        r#"{{"eventId":"{event}","sectionId":"{section}","qty":{qty},"userId":"u{user}"}}"#
    );
    rec.timed(conn.send(
        Method::POST,
        "/book",
        Some(Bytes::from(body)),
        user_auth(user),
    ))
    .await
}

fn user_body(user: u32) -> Bytes {
    Bytes::from(format!(r#"{{"userId":"u{user}"}}"#))
}

/// The id in a 201 booking (or hold); a 201 without one is a broken answer.
fn booking_id(answer: &Answer) -> Result<String, Failure> {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::Lost("a 201 without a booking id".into()))
}
