//! Concurrency on one replica: many requests for the same inventory at the same instant.
//! Every race ends with `boxoffice audit` over the whole store.

use crate::both;
use crate::harness::{Reply, TestApp};
use futures_util::future::join_all;
use std::collections::HashMap;

fn count_by_status(replies: &[Reply]) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for reply in replies {
        *counts.entry(reply.status).or_default() += 1;
    }
    counts
}

both!(async fn a_thousand_buyers_for_five_tickets_make_exactly_five_bookings(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(5).await;

    let replies = join_all((0..1000).map(|i| {
        let app = &app;
        let event = &event;
        async move { app.book(event, "s1", 1, &format!("user{i}")).await }
    }))
    .await;

    let counts = count_by_status(&replies);
    assert_eq!(counts.get(&201), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&409), Some(&995), "{counts:?}");
    for reply in replies.iter().filter(|r| r.status == 409) {
        reply.assert_error(409, "INSUFFICIENT_INVENTORY");
    }
    assert_eq!(app.remaining(&event, "s1").await, 0);
    let listed = app.get(&format!("/bookings?eventId={event}")).await;
    assert_eq!(listed.body["bookings"].as_array().unwrap().len(), 5);
    redis.assert_audit_clean();
});

both!(async fn mixed_quantities_never_exceed_capacity(redis) {
    let app = TestApp::on(redis).await;
    let capacity = 97;
    let event = app.create_ga_event(capacity).await;

    let replies = join_all((0..600u32).map(|i| {
        let app = &app;
        let event = &event;
        async move { (i % 10 + 1, app.book(event, "s1", i % 10 + 1, "buyer").await) }
    }))
    .await;

    let mut booked = 0;
    for (qty, reply) in &replies {
        match reply.status {
            201 => {
                assert_eq!(reply.body["qty"], *qty);
                booked += qty;
            }
            _ => {
                reply.assert_error(409, "INSUFFICIENT_INVENTORY");
            }
        }
    }
    let remaining = app.remaining(&event, "s1").await;
    assert!(booked <= capacity, "booked {booked} of {capacity}");
    assert!(remaining >= 0);
    assert_eq!(remaining + i64::from(booked), i64::from(capacity));
    // 600 requests for 97 tickets: whatever is left is smaller than the smallest refused order.
    let smallest_refused = replies
        .iter()
        .filter(|(_, r)| r.status == 409)
        .map(|(qty, _)| *qty)
        .min()
        .unwrap();
    assert!(remaining < i64::from(smallest_refused) || remaining == 0);
    redis.assert_audit_clean();
});

both!(async fn two_hundred_users_locking_one_seat_get_exactly_one_lock(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_seated_event(&["A1"]).await;

    let replies = join_all((0..200).map(|i| {
        let app = &app;
        let event = &event;
        async move {
            (
                i,
                app.seat_action(event, "A1", "lock", &format!("u{i}")).await,
            )
        }
    }))
    .await;

    let winners: Vec<usize> = replies
        .iter()
        .filter(|(_, r)| r.status == 200)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        count_by_status(&replies.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>())
    );
    for (_, reply) in replies.iter().filter(|(_, r)| r.status != 200) {
        reply.assert_error(423, "SEAT_LOCKED");
    }

    // Only the winner can confirm, even when everyone tries at once.
    let winner = winners[0];
    let confirms = join_all((0..200).map(|i| {
        let app = &app;
        let event = &event;
        async move {
            (
                i,
                app.seat_action(event, "A1", "confirm", &format!("u{i}"))
                    .await,
            )
        }
    }))
    .await;
    for (i, reply) in &confirms {
        if *i == winner {
            reply.assert_status(201);
            assert_eq!(reply.body["userId"], format!("u{winner}"));
        } else {
            // Before the winner's confirm lands the lock is someone else's; after, the seat is sold.
            assert!(
                matches!(
                    reply.body["error"]["code"].as_str(),
                    Some("LOCK_NOT_OWNED" | "SEAT_BOOKED")
                ),
                "{}",
                reply.text
            );
        }
    }
    assert_eq!(app.remaining(&event, "s1").await, 0);
    redis.assert_audit_clean();
});

both!(async fn a_holder_clicking_confirm_fifty_times_books_once(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_seated_event(&["A1", "A2"]).await;
    app.seat_action(&event, "A1", "lock", "alice")
        .await
        .assert_status(200);

    let replies =
        join_all((0..50).map(|_| app.seat_action(&event, "A1", "confirm", "alice"))).await;
    let counts = count_by_status(&replies);
    assert_eq!(counts.get(&201), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&409), Some(&49), "{counts:?}");
    assert_eq!(app.remaining(&event, "s1").await, 1);
    redis.assert_audit_clean();
});

both!(async fn a_seat_storm_on_a_reserved_section_never_sells_a_seat_twice(redis) {
    let app = TestApp::on(redis).await;
    let seats: Vec<String> = (1..=30).map(|n| format!("R{n}")).collect();
    let seat_refs: Vec<&str> = seats.iter().map(String::as_str).collect();
    let event = app.create_seated_event(&seat_refs).await;

    // Quantity bookings and lock-then-confirm shoppers, all at once.
    let by_qty = join_all((0..150u32).map(|i| app.book(&event, "s1", i % 3 + 1, "qty-buyer")));
    let by_seat = join_all((0..150usize).map(|i| {
        let app = &app;
        let event = &event;
        let seat = &seats[i % seats.len()];
        async move {
            let user = format!("shopper{i}");
            let lock = app.seat_action(event, seat, "lock", &user).await;
            if lock.status == 200 {
                app.seat_action(event, seat, "confirm", &user).await
            } else {
                lock
            }
        }
    }));
    let (by_qty, by_seat) = tokio::join!(by_qty, by_seat);

    let mut sold: HashMap<String, usize> = HashMap::new();
    for reply in by_qty.iter().chain(&by_seat).filter(|r| r.status == 201) {
        for seat in reply.body["seats"].as_array().unwrap() {
            *sold.entry(seat.as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    assert!(
        sold.values().all(|&n| n == 1),
        "a seat sold twice: {sold:?}"
    );
    let remaining = app.remaining(&event, "s1").await;
    assert_eq!(remaining + sold.len() as i64, 30);
    redis.assert_audit_clean();
});

both!(async fn concurrent_cancels_return_inventory_once(redis) {
    let app = TestApp::on(redis).await;
    let event = app.create_ga_event(10).await;
    let booking = app.book(&event, "s1", 4, "alice").await;
    let path = format!("/bookings/{}", booking.body["id"].as_str().unwrap());

    let replies = join_all((0..50).map(|_| app.delete(&path))).await;
    let counts = count_by_status(&replies);
    assert_eq!(counts.get(&200), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&409), Some(&49), "{counts:?}");
    assert_eq!(app.remaining(&event, "s1").await, 10);
    redis.assert_audit_clean();
});
