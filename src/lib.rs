//! boxoffice: a ticket booking API that cannot oversell.
//!
//! Replicas are stateless axum servers; all state, and every check-then-write, lives in Redis as
//! Lua scripts (`lua/`). Start reading at [`routes`] (what the API does), then [`store`] (how it
//! is kept in Redis) and the scripts themselves.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod store;
pub mod telemetry;
