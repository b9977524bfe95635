//! Liveness and readiness, for load balancers and orchestrators.

use crate::app::AppState;
use crate::error::AppError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// The process is up (whatever Redis is doing).
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Redis answers: this replica can serve bookings.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
}
