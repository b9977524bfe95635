//! Prometheus metrics on a listener of their own (`METRICS_ADDR`, default `0.0.0.0:9100`),
//! so that nginx, which proxies the API port only, never serves them to the public.
//!
//! Labels are route templates (`/events/{eventId}`, `unmatched` for any other path), never raw
//! ids, and methods from a fixed list (`other` for any other), so the number of series is
//! bounded by construction whatever clients send. What is counted:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `boxoffice_http_requests_total` | `method`, `route`, `status` | every answer |
//! | `boxoffice_http_request_duration_seconds` | `method`, `route` | histogram |
//! | `boxoffice_bookings_total` | `via` (`book`, `confirm`) | bookings made (not replays) |
//! | `boxoffice_tickets_booked_total` | `via` | tickets in them |
//! | `boxoffice_cancellations_total` | | bookings cancelled |
//! | `boxoffice_seat_locks_total` | | seat locks taken |
//! | `boxoffice_seat_unlocks_total` | | seat locks released |
//! | `boxoffice_refusals_total` | `code` | every 4xx answer, by error code |
//! | `boxoffice_store_unavailable_total` | | 503 STORE_UNAVAILABLE answers |
//! | `boxoffice_redis_script_duration_seconds` | `script` | one EVALSHA, round trip |
//! | `boxoffice_redis_script_errors_total` | `script` | scripts that failed in Redis or on the way |
//! | `boxoffice_webhook_attempts_total` | `endpoint`, `result` | webhook delivery attempts: `delivered`, `retried` (failed, a retry is scheduled), `failed` (failed, no retry left), `gone` (410) |
//! | `boxoffice_webhook_pending_messages` | `endpoint` | messages not yet delivered nor failed for good |
//! | `boxoffice_webhook_pending_age_seconds` | `endpoint` | how long the most overdue pending message has been due |

use axum::Router;
use axum::extract::MatchedPath;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// Every metric, with its help text (the table above, for Prometheus).
pub const METRICS: &[(&str, &str)] = &[
    (
        "boxoffice_http_requests_total",
        "HTTP answers by method, route template and status",
    ),
    (
        "boxoffice_http_request_duration_seconds",
        "HTTP request latency by method and route template",
    ),
    (
        "boxoffice_bookings_total",
        "Bookings made (replays not counted), by how",
    ),
    (
        "boxoffice_tickets_booked_total",
        "Tickets in the bookings made, by how",
    ),
    ("boxoffice_cancellations_total", "Bookings cancelled"),
    ("boxoffice_seat_locks_total", "Seat locks taken"),
    ("boxoffice_seat_unlocks_total", "Seat locks released"),
    ("boxoffice_refusals_total", "4xx answers by error code"),
    (
        "boxoffice_store_unavailable_total",
        "503 STORE_UNAVAILABLE answers",
    ),
    (
        "boxoffice_redis_script_duration_seconds",
        "One Lua script call (EVALSHA), round trip, by script",
    ),
    (
        "boxoffice_redis_script_errors_total",
        "Script calls that failed in Redis or on the way, by script",
    ),
    (
        "boxoffice_webhook_attempts_total",
        "Webhook delivery attempts by endpoint and result (delivered, retried, failed for good, gone)",
    ),
    (
        "boxoffice_webhook_pending_messages",
        "Webhook messages not yet delivered nor failed for good, by endpoint (as of this replica's last look)",
    ),
    (
        "boxoffice_webhook_pending_age_seconds",
        "How long the endpoint's most overdue pending message has been due (0: none waits), as of this replica's last look",
    ),
];

/// Latency buckets, in seconds: a booking is about a millisecond, a seat map tens of them.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder (metrics are per process; several apps in one test process share
/// it). `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .inspect_err(|e| tracing::warn!("metrics are off: {e}"))
                .ok()?;
            for (name, help) in METRICS {
                if name.ends_with("_seconds") {
                    metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
                } else {
                    metrics::describe_counter!(*name, *help);
                }
            }
            // Counters without labels exist from the start, at 0: "none yet", not "no data".
            for name in [
                "boxoffice_cancellations_total",
                "boxoffice_seat_locks_total",
                "boxoffice_seat_unlocks_total",
                "boxoffice_store_unavailable_total",
            ] {
                metrics::counter!(name).absolute(0);
            }
            // Histograms drain their buffers on upkeep; once every few seconds is plenty.
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .as_ref()
}

/// Serves `GET /metrics` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            let body = handle().map(PrometheusHandle::render).unwrap_or_default();
            ([("content-type", "text/plain; version=0.0.4")], body)
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("metrics listener failed: {e}");
        }
    });
    Ok(bound)
}

/// The `method` label: one of the methods the API knows, else `other` (a client can send any
/// token as a method, and each distinct label would be a new series kept for good).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times one answer by its route template (`unmatched` for none).
pub fn record_http(
    method: &axum::http::Method,
    route: Option<&MatchedPath>,
    status: axum::http::StatusCode,
    took: Duration,
) {
    // Without a recorder (METRICS_ADDR=off) the labels would be built for nothing.
    if HANDLE.get().is_none_or(Option::is_none) {
        return;
    }
    let method = method_label(method);
    let route = route.map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    metrics::histogram!(
        "boxoffice_http_request_duration_seconds",
        "method" => method, "route" => route.clone()
    )
    .record(took.as_secs_f64());
    metrics::counter!(
        "boxoffice_http_requests_total",
        "method" => method, "route" => route, "status" => status.as_str().to_owned()
    )
    .increment(1);
}
