//! The seed systems' API (`GET /seats`, `POST /lock/{seatId}`, `POST /lock`, ...), served on one
//! demo event with seats `1..=DEMO_SEATS`, through the same scripts as every other event.
//!
//! The user comes from `?user=`, or a body `{"userId"}`, else `anonymous`; body routes take
//! `{"seatId", "userId"}` where seatId may be a string or a number.

use super::seats::{self, LockReply, UnlockReply};
use crate::app::AppState;
use crate::domain::event::{EventRecord, SectionRecord};
use crate::domain::ids::{EventId, SeatId, SectionId, UserId};
use crate::domain::time::now_ms;
use crate::error::AppError;
use crate::extract::{Idempotency, JsonBody, PathParams, QueryParams};
use crate::store::Store;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

pub const DEMO_EVENT_ID: &str = "demo";

fn demo_event() -> Result<EventId, AppError> {
    Ok(EventId::parse(DEMO_EVENT_ID)?)
}

/// Creates the demo event unless it exists: a replica starting later never resets its seats.
pub async fn ensure_demo_event(store: &Store, seats: u32) -> Result<(), AppError> {
    if seats == 0 {
        return Ok(());
    }
    let seat_ids = (1..=seats)
        .map(|n| SeatId::parse(n.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let record = EventRecord {
        id: demo_event()?,
        name: "Demo event".to_owned(),
        created_at: now_ms(),
        sections: vec![SectionRecord {
            id: SectionId::parse("main".to_owned())?,
            name: "Main hall".to_owned(),
            price: 0,
            capacity: seats,
            seats: Some(seat_ids),
        }],
    };
    if store.create_event(&record).await? {
        tracing::info!(seats, "created the demo event");
    }
    Ok(())
}

/// Evaluates `$operation` with `$event` bound to the demo event; if Redis lost the event (say,
/// it restarted without persistence), recreates it and evaluates once more: the demo heals
/// itself without a replica restart.
macro_rules! on_demo {
    ($state:expr, |$event:ident| $operation:expr) => {{
        let $event = demo_event()?;
        match $operation {
            Err(AppError::EventNotFound) if $state.settings.demo_seats > 0 => {
                ensure_demo_event(&$state.store, $state.settings.demo_seats).await?;
                let $event = demo_event()?;
                $operation
            }
            other => other,
        }
    }};
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatBody {
    #[serde(deserialize_with = "SeatId::deserialize_string_or_number")]
    seat_id: SeatId,
    #[serde(default)]
    user_id: Option<UserId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionalUserBody {
    #[serde(default)]
    user_id: Option<UserId>,
}

#[derive(Deserialize)]
pub struct UserQuery {
    user: Option<String>,
}

/// `?user=` first, then the body's `userId`, then `anonymous`.
fn demo_user(
    query: UserQuery,
    body: Option<JsonBody<OptionalUserBody>>,
) -> Result<UserId, AppError> {
    if let Some(user) = query.user {
        return Ok(UserId::parse(user)?);
    }
    Ok(body
        .and_then(|JsonBody(body)| body.user_id)
        .unwrap_or_else(UserId::anonymous))
}

pub async fn seats(State(state): State<AppState>) -> Result<Response, AppError> {
    on_demo!(state, |event| seats::seat_map(&state, event).await)
}

pub async fn lock(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Json<LockReply>, AppError> {
    let user = body.user_id.unwrap_or_else(UserId::anonymous);
    on_demo!(state, |event| {
        seats::lock_seat(&state, event, body.seat_id.clone(), user.clone()).await
    })
}

pub async fn lock_by_path(
    State(state): State<AppState>,
    PathParams(seat): PathParams<String>,
    QueryParams(query): QueryParams<UserQuery>,
    body: Option<JsonBody<OptionalUserBody>>,
) -> Result<Json<LockReply>, AppError> {
    let seat = SeatId::parse(seat)?;
    let user = demo_user(query, body)?;
    on_demo!(state, |event| {
        seats::lock_seat(&state, event, seat.clone(), user.clone()).await
    })
}

pub async fn confirm(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Response, AppError> {
    let user = body.user_id.unwrap_or_else(UserId::anonymous);
    on_demo!(state, |event| {
        seats::confirm_seat(
            &state,
            event,
            body.seat_id.clone(),
            user.clone(),
            key.clone(),
        )
        .await
    })
}

pub async fn confirm_by_path(
    State(state): State<AppState>,
    Idempotency(key): Idempotency,
    PathParams(seat): PathParams<String>,
    QueryParams(query): QueryParams<UserQuery>,
    body: Option<JsonBody<OptionalUserBody>>,
) -> Result<Response, AppError> {
    let seat = SeatId::parse(seat)?;
    let user = demo_user(query, body)?;
    on_demo!(state, |event| {
        seats::confirm_seat(&state, event, seat.clone(), user.clone(), key.clone()).await
    })
}

pub async fn unlock(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SeatBody>,
) -> Result<Json<UnlockReply>, AppError> {
    let user = body.user_id.unwrap_or_else(UserId::anonymous);
    on_demo!(state, |event| {
        seats::unlock_seat(&state, event, body.seat_id.clone(), user.clone()).await
    })
}

pub async fn unlock_by_path(
    State(state): State<AppState>,
    PathParams(seat): PathParams<String>,
    QueryParams(query): QueryParams<UserQuery>,
    body: Option<JsonBody<OptionalUserBody>>,
) -> Result<Json<UnlockReply>, AppError> {
    let seat = SeatId::parse(seat)?;
    let user = demo_user(query, body)?;
    on_demo!(state, |event| {
        seats::unlock_seat(&state, event, seat.clone(), user.clone()).await
    })
}
