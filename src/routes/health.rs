//! Liveness and readiness, for load balancers and orchestrators.

use crate::app::AppState;
use crate::error::AppError;
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
    /// `ready`
    status: &'static str,
    /// The Redis this replica uses, password masked.
    redis: String,
}

crate::error_responses!(ReadyzErrors: StoreUnavailable);

/// The process is up (whatever Redis is doing).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Redis answers: this replica can serve bookings. When it cannot, the answer says which
/// Redis (password masked) and why.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Redis answers", body = Readiness), ReadyzErrors))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, AppError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(Readiness {
            status: "ready",
            redis: state.store.target().to_owned(),
        })),
        Err(AppError::StoreUnavailable(reason)) => Err(AppError::NotReady {
            redis: state.store.target().to_owned(),
            reason,
        }),
        Err(other) => Err(other),
    }
}
