//! Liveness and readiness, for load balancers and orchestrators.

use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`
    status: &'static str,
}

crate::error_responses!(ReadyzErrors: StoreUnavailable);

/// The process is up (whatever Redis is doing).
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Redis answers: this replica can serve bookings (`ok`). When it cannot: `503` with status
/// `unavailable` and the reason (never where Redis is: the replica's log says that).
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "health",
    responses((status = 200, description = "Redis answers", body = Readiness), ReadyzErrors))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, AppError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(Readiness { status: "ok" })),
        Err(AppError::StoreUnavailable(reason)) => Err(AppError::NotReady {
            reason: without_address(&reason, state.store.target()),
        }),
        Err(other) => Err(other),
    }
}

/// `reason` with the Redis address (and anything after `://`) taken out.
fn without_address(reason: &str, target: &str) -> String {
    let mut reason = reason.replace(target, "<redis>");
    while let Some(at) = reason.find("://") {
        let start = reason[..at]
            .rfind(|c: char| c.is_whitespace() || c == '(')
            .map_or(0, |i| i + 1);
        let end = reason[at..]
            .find(|c: char| c.is_whitespace() || c == ')')
            .map_or(reason.len(), |i| at + i);
        reason.replace_range(start..end, "<redis>");
    }
    reason
}
