//! `floor`: the least a replica could spend per request, as the bench's yardstick. A minimal
//! axum server with the replica's axum, tokio and allocator (mimalloc) and nothing else: no
//! auth, no tracing, no metrics, no limits. `GET /memory` answers a 10-seat map serialized from
//! memory; `GET /seats` answers the same map after one Redis `GET` of it (stored at start).
//! scripts/bench runs it beside the replicas and reports every row's replica CPU per request
//! as a multiple of `GET /seats` here (BENCHMARKS.md, "Against the floor").
//!
//!     REDIS_URL=redis://127.0.0.1:6379 BIND_ADDR=127.0.0.1:3100 target/release/floor

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "bo:{floor}:seats";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Seat {
    id: String,
    section_id: &'static str,
    status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeatMap {
    event_id: &'static str,
    seats: Vec<Seat>,
}

fn seat_map() -> SeatMap {
    SeatMap {
        event_id: "demo",
        seats: (1..=10)
            .map(|n| Seat {
                id: n.to_string(),
                section_id: "main",
                status: "available",
            })
            .collect(),
    }
}

async fn memory() -> impl IntoResponse {
    axum::Json(seat_map())
}

async fn seats(State(mut redis): State<ConnectionManager>) -> impl IntoResponse {
    match redis.get::<_, Option<Vec<u8>>>(KEY).await {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(None) => (axum::http::StatusCode::NOT_FOUND, "no map").into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let mut redis = ConnectionManager::new(redis::Client::open(url)?).await?;
    let _: () = redis.set(KEY, serde_json::to_vec(&seat_map())?).await?;
    let app = Router::new()
        .route("/memory", get(memory))
        .route("/seats", get(seats))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(redis);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
