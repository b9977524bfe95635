//! What every handler gets (the layer between the routes and everything below them): the
//! store, the settings, the verifier of tokens, this replica's live streams and the signer of
//! admissions. Extractors take what they need of it through `FromRef`, so none of them knows
//! this type (`auth` and `extract` are generic over the state).

use crate::auth::{Admissions, Auth};
use crate::config::Settings;
use crate::error::AppError;
use crate::live::Hub;
use crate::store::Store;
use axum::extract::FromRef;
use std::sync::Arc;

/// What every handler gets: the store, and the settings. Nothing else, and nothing mutable:
/// replicas share no memory, so correctness can only come from Redis. One `Arc`: axum clones
/// the state for every handler and middleware of every request, and cloning the parts each
/// time (the store's connections and five more `Arc`s, each an atomic increment and decrement
/// shared by every core) was a measurable share of a replica's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What an [`AppState`] shares.
pub struct Shared {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Verifies tokens (or, in open mode, lets clients name themselves).
    pub auth: Arc<Auth>,
    /// This replica's readers of change streams, fanned out to its subscribers.
    pub live: Arc<Hub>,
    /// This replica's read views of events, which answer reads.
    pub views: Arc<crate::views::Views>,
    /// This replica's views of waiting rooms, which answer polls.
    pub rooms: Arc<crate::waiting::Rooms>,
    /// Signs and checks waiting-room admission tokens (none: waiting rooms cannot be on).
    pub admissions: Option<Arc<Admissions>>,
    /// Signs and verifies ticket codes.
    pub tickets: Arc<crate::domain::ticket::TicketKeys>,
}

impl Shared {
    /// What signs admission tokens; without one, no waiting room can run here (a 400 that
    /// says what to set).
    pub fn admissions(&self) -> Result<&Admissions, AppError> {
        self.admissions.as_deref().ok_or_else(|| {
            AppError::InvalidRequest(
                "this deployment cannot sign admission tokens, so it cannot run a waiting \
                 room: set ADMISSION_SECRET (or AUTH_JWT_SECRET)"
                    .into(),
            )
        })
    }

    /// Whether an `Admission-Token` admits `user` to `event` (its signature, user, event and
    /// expiry; whether it was used is the booking script's check).
    pub fn admitted(
        &self,
        token: Option<&str>,
        user: &crate::domain::ids::UserId,
        event: &crate::domain::ids::EventId,
    ) -> bool {
        self.admissions
            .as_ref()
            .is_some_and(|a| a.admits(token, user, event))
    }
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.auth)
    }
}

impl FromRef<AppState> for Arc<Settings> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.settings)
    }
}
