//! `GET /metrics` on its own listener: what the API did, by route template, never raw ids;
//! not reachable through nginx, which proxies the API port only.

use crate::harness::{Nginx, RedisServer, ServerProcess};

async fn scrape(replica: &ServerProcess) -> String {
    let reply = reqwest::get(format!("http://127.0.0.1:{}/metrics", replica.metrics_port))
        .await
        .expect("metrics answer");
    assert_eq!(reply.status(), 200);
    reply.text().await.expect("body")
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_bookings_refusals_and_scripts_by_template() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let event = replica.create_ga_event(3).await;
    replica
        .book(&event, "s1", 2, "alice")
        .await
        .assert_status(201);
    replica
        .book(&event, "s1", 2, "bob")
        .await
        .assert_status(409);
    replica
        .get(&format!("/events/{event}"))
        .await
        .assert_status(200);
    let seated = replica.create_seated_event(&["A1"]).await;
    replica
        .seat_action(&seated, "A1", "lock", "carol")
        .await
        .assert_status(200);
    replica
        .seat_action(&seated, "A1", "confirm", "carol")
        .await
        .assert_status(201);

    let text = scrape(&replica).await;
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    };
    expect(
        r#"boxoffice_http_requests_total{method="POST",route="/book",status="201"}"#,
        1.0,
    );
    expect(
        r#"boxoffice_http_requests_total{method="POST",route="/book",status="409"}"#,
        1.0,
    );
    expect(
        r#"boxoffice_http_requests_total{method="GET",route="/events/{eventId}",status="200"}"#,
        1.0,
    );
    expect(r#"boxoffice_bookings_total{via="book"}"#, 1.0);
    expect(r#"boxoffice_tickets_booked_total{via="book"}"#, 2.0);
    expect(r#"boxoffice_bookings_total{via="confirm"}"#, 1.0);
    expect(
        r#"boxoffice_refusals_total{code="INSUFFICIENT_INVENTORY"}"#,
        1.0,
    );
    expect("boxoffice_seat_locks_total", 1.0);
    expect(
        r#"boxoffice_redis_script_duration_seconds_count{script="book"}"#,
        2.0,
    );
    assert!(
        text.contains(
            r#"boxoffice_http_request_duration_seconds_bucket{method="POST",route="/book","#
        ),
        "{text}"
    );
    assert!(
        !text.contains(&event) && !text.contains(&seated),
        "a raw id is a label:\n{text}"
    );
}

/// The Grafana dashboard beside the compose files draws only metrics a replica serves.
#[tokio::test]
async fn the_dashboard_uses_only_metrics_that_exist() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let event = replica.create_ga_event(1).await;
    let booking = replica.book(&event, "s1", 1, "alice").await;
    replica
        .book(&event, "s1", 1, "bob")
        .await
        .assert_status(409);
    let id = booking.body["id"].as_str().unwrap();
    replica
        .delete(&format!("/bookings/{id}"))
        .await
        .assert_status(200);
    let text = scrape(&replica).await;
    let dashboard: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/monitoring/grafana-dashboard.json"
    )))
    .expect("dashboard JSON");
    let mut used = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for part in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if part.starts_with("boxoffice_") {
                    used.push(part.to_owned());
                }
            }
        }
    }
    assert!(used.len() >= 8, "{used:?}");
    for name in used {
        assert!(
            text.lines().any(|l| l.starts_with(&name)),
            "the dashboard uses {name}, which a replica does not serve:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_are_not_served_through_nginx() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let nginx = Nginx::start(&[replica.port]);
    nginx
        .http
        .get("/metrics")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    assert!(
        scrape(&replica)
            .await
            .contains("boxoffice_http_requests_total")
    );
}

/// Webhook delivery in figures: an attempt that fails with a retry left is `retried`, one with
/// none left `failed`, a 2xx `delivered`; an endpoint whose only delivery slot hangs has
/// messages pending, and the most overdue one's age grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_attempts_and_pending_age_by_endpoint() {
    use crate::harness::receiver::Receiver;
    use serde_json::json;
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(
        &redis.url(),
        "api-1",
        &[
            ("WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WEBHOOK_POLL_MS", "50"),
            // First attempt at once, the second ten minutes later (or when asked for).
            ("WEBHOOK_RETRY_SCHEDULE_MS", "0,600000"),
            ("WEBHOOK_CONCURRENCY", "1"),
        ],
    );
    let receiver = Receiver::start().await;
    receiver.answer(500, None);
    let event = replica.create_ga_event(10).await;
    let register = |url: String| {
        let replica = &replica;
        let event = event.clone();
        async move {
            let reply = replica
                .post(
                    "/webhooks",
                    json!({ "url": url, "types": ["booking.created"], "eventId": event }),
                )
                .await;
            reply.assert_status(201);
            reply.body["id"].as_str().expect("id").to_owned()
        }
    };
    let failing = register(receiver.url.clone()).await;
    replica
        .book(&event, "s1", 1, "alice")
        .await
        .assert_status(201);
    let series = |result: &str, endpoint: &str| {
        format!(r#"boxoffice_webhook_attempts_total{{endpoint="{endpoint}",result="{result}"}}"#)
    };
    crate::harness::eventually("a retried attempt", || async {
        sample(&scrape(&replica).await, &series("retried", &failing)) == Some(1.0)
    })
    .await;
    // The retry asked for is the last attempt of the schedule.
    let pending = replica
        .get(&format!("/webhooks/{failing}/messages?status=pending"))
        .await;
    let message = pending.body["messages"][0]["id"]
        .as_str()
        .expect("a message");
    replica
        .post(
            &format!("/webhooks/{failing}/messages/{message}/retry"),
            json!({}),
        )
        .await
        .assert_status(202);
    crate::harness::eventually("a failed attempt", || async {
        sample(&scrape(&replica).await, &series("failed", &failing)) == Some(1.0)
    })
    .await;
    receiver.answer(200, None);
    replica
        .book(&event, "s1", 1, "bob")
        .await
        .assert_status(201);
    crate::harness::eventually("a delivered attempt", || async {
        sample(&scrape(&replica).await, &series("delivered", &failing)) == Some(1.0)
    })
    .await;

    // An endpoint that accepts connections and never answers holds the one delivery slot.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/hook", silent.local_addr().expect("address"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let hung = register(silent_url).await;
    for user in ["carol", "dave"] {
        replica.book(&event, "s1", 1, user).await.assert_status(201);
    }
    crate::harness::eventually("messages overdue behind the hung attempt", || async {
        let text = scrape(&replica).await;
        let pending = format!(r#"boxoffice_webhook_pending_messages{{endpoint="{hung}"}}"#);
        let age = format!(r#"boxoffice_webhook_pending_age_seconds{{endpoint="{hung}"}}"#);
        sample(&text, &pending) == Some(2.0) && sample(&text, &age).is_some_and(|a| a >= 1.0)
    })
    .await;
    held.abort();
}
