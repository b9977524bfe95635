//! Read views (`src/views.rs`): a replica's answers to `GET /events/{id}` and its seat map
//! from what it follows of the change stream equal Redis's answers, after any operations,
//! expiry included; a replica reads its own writes; `Cache-Control: no-cache` reads Redis.

use crate::both;
use crate::harness::{Http, Reply, TestApp, eventually};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A deterministic sequence of choices (the test is the same on every run).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % sides as u64) as usize
    }
}

async fn read(app: &Http, path: &str, fresh: bool) -> Reply {
    let headers: &[(&str, &str)] = if fresh {
        &[("cache-control", "no-cache")]
    } else {
        &[]
    };
    let reply = app.send(reqwest::Method::GET, path, None, headers).await;
    reply.assert_status(200);
    reply
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name}: {reply:?}"))
}

/// The version an ETag names (`"<version>-<locks>-<holds>"`).
fn version_of(tag: &str) -> u64 {
    tag.trim_matches('"')
        .split('-')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a version")
}

/// Once `viewer`'s view shows the version Redis has, its answers to both reads equal Redis's
/// (taken right after, with the same ETag: an expiry between the two reads is retried).
async fn assert_view_is_redis(viewer: &Http, backend: &crate::harness::Backend, event: &str) {
    let stored: u64 = backend
        .query::<Option<u64>>(&["GET", &format!("bo:{{{event}}}:version")])
        .unwrap_or(0);
    for path in [format!("/events/{event}"), format!("/events/{event}/seats")] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = read(viewer, &path, false).await;
            let redis = read(viewer, &path, true).await;
            assert_eq!(header(&redis, "x-read-source"), "redis");
            let (tag, truth) = (header(&view, "etag"), header(&redis, "etag"));
            if header(&view, "x-read-source") == "view" && version_of(tag) >= stored && tag == truth
            {
                assert_eq!(view.body, redis.body, "{path} at {tag}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: the view {tag} never showed {truth}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn id(reply: &Reply) -> Option<String> {
    reply.body["id"].as_str().map(str::to_owned)
}

both!(
    /// 150 random operations through one replica (seat locks, unlocks and confirms, bookings,
    /// cancellations, seat and quantity holds made, extended, released, confirmed, and locks
    /// and holds left to expire after 1 s): after each, the other replica's view equals Redis.
    async fn a_view_equals_redis_after_random_operations(backend) {
        let mut settings = backend.open_settings();
        settings.lock_ttl_ms = 1_000;
        settings.hold_ttl_ms = 1_000;
        settings.max_tickets_held_per_user = 0;
        let writer = TestApp::spawn_with(settings.clone()).await;
        let viewer = TestApp::spawn_with(settings).await;
        let created = writer
            .post("/events", json!({ "name": "Views", "sections": [
                { "name": "Stalls", "price": 40, "rows": [{ "name": "A", "count": 8 }, { "name": "B", "count": 8 }] },
                { "name": "Floor", "price": 20, "capacity": 40 },
                { "name": "Last", "price": 20, "capacity": 10 },
            ]}))
            .await;
        created.assert_status(201);
        let event = id(&created).expect("event id");
        let seats: Vec<String> = ["A", "B"]
            .iter()
            .flat_map(|row| (1..=8).map(move |n| format!("{row}{n}")))
            .collect();
        // The first read starts the viewer's view.
        read(&viewer, &format!("/events/{event}"), false).await;
        eventually("the viewer answers from its view", || async {
            header(&read(&viewer, &format!("/events/{event}/seats"), false).await, "x-read-source") == "view"
        })
        .await;

        let mut dice = Dice(25);
        let (mut bookings, mut holds): (Vec<String>, Vec<(String, String)>) = (Vec::new(), Vec::new());
        for step in 0..150 {
            let user = format!("u{}", dice.roll(6));
            let seat = seats[dice.roll(seats.len())].clone();
            match dice.roll(11) {
                0 | 1 => {
                    writer.seat_action(&event, &seat, "lock", &user).await;
                }
                2 => {
                    writer.seat_action(&event, &seat, "unlock", &user).await;
                }
                3 => {
                    bookings.extend(id(&writer.seat_action(&event, &seat, "confirm", &user).await));
                }
                4 => {
                    let qty = 1 + dice.roll(3) as u32;
                    bookings.extend(id(&writer.book(&event, "s2", qty, &user).await));
                }
                5 if !bookings.is_empty() => {
                    let booking = bookings.swap_remove(dice.roll(bookings.len()));
                    writer.delete(&format!("/bookings/{booking}?user={user}")).await;
                }
                6 => {
                    let body = if dice.roll(2) == 0 {
                        json!({ "userId": user, "sectionId": "s2", "qty": 1 + dice.roll(4) })
                    } else {
                        json!({ "userId": user, "seats": [seat] })
                    };
                    let hold = writer.post(&format!("/events/{event}/holds"), body).await;
                    if let Some(hold) = id(&hold) {
                        holds.push((hold, user.clone()));
                    }
                }
                7..=9 if !holds.is_empty() => {
                    let (hold, owner) = holds[dice.roll(holds.len())].clone();
                    let path = format!("/events/{event}/holds/{hold}");
                    match dice.roll(3) {
                        0 => {
                            writer.post(&format!("{path}/extend"), json!({ "userId": owner })).await;
                        }
                        1 => {
                            writer
                                .send(reqwest::Method::DELETE, &format!("{path}?user={owner}"), None, &[])
                                .await;
                        }
                        _ => {
                            let booked = writer.post(&format!("{path}/confirm"), json!({ "userId": owner })).await;
                            bookings.extend(id(&booked));
                        }
                    }
                }
                _ => {
                    // Time passes: locks and holds may expire, with no change announced.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
            }
            if step % 3 == 0 || step > 140 {
                assert_view_is_redis(&viewer, backend, &event).await;
            }
        }
        // A last hold (of a section nothing else used), then everything left expires: the view
        // says so as Redis does, without any change.
        writer
            .post(&format!("/events/{event}/holds"), json!({ "userId": "last", "sectionId": "s3", "qty": 2 }))
            .await
            .assert_status(201);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_view_is_redis(&viewer, backend, &event).await;
        let tag = header(&read(&viewer, &format!("/events/{event}"), false).await, "etag").to_owned();
        let expired: Vec<u64> = tag.trim_matches('"').split('-').skip(1).map(|n| n.parse().expect("count")).collect();
        assert!(expired[1] > 0, "the last hold expired unannounced: {tag}");
        let floor = read(&viewer, &format!("/events/{event}"), false).await;
        assert_eq!(floor.body["sections"][2]["remaining"], 10, "its 2 are back: {floor:?}");
        let seats_now = read(&viewer, &format!("/events/{event}/seats"), false).await;
        assert!(seats_now.body["seats"].as_array().is_some_and(|s| s.iter().all(|s| s["status"] != "locked")));
    }
);

/// The replica that wrote reads its own write at once; its answer says it came from the view
/// once the view has read the change stream since; `304` from the view with the tag it gave.
#[tokio::test]
async fn a_replica_reads_its_own_writes() {
    let backend = crate::harness::Backend::single();
    let app = TestApp::spawn_with(backend.open_settings()).await;
    let event = app.create_ga_event(100).await;
    let path = format!("/events/{event}");
    read(&app, &path, false).await;
    eventually("the view answers", || async {
        header(&read(&app, &path, false).await, "x-read-source") == "view"
    })
    .await;
    for n in 1..=20 {
        app.book(&event, "s1", 1, &format!("b{n}"))
            .await
            .assert_status(201);
        let after = read(&app, &path, false).await;
        assert_eq!(after.body["sections"][0]["remaining"], 100 - n, "{after:?}");
    }
    let tag = loop {
        let reply = read(&app, &path, false).await;
        if header(&reply, "x-read-source") == "view" {
            break header(&reply, "etag").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let again = app
        .send(
            reqwest::Method::GET,
            &path,
            None,
            &[("if-none-match", tag.as_str())],
        )
        .await;
    again.assert_status(304);
    assert_eq!(header(&again, "x-read-source"), "view");
    let value: Value = again.body;
    assert_eq!(value, Value::Null);
}
