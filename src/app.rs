//! Assembling the service: state, middleware, the listener, and graceful shutdown.

use crate::config::Settings;
use crate::error::AppError;
use crate::routes;
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any as AnyOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Bodies above this get `413`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub static X_INSTANCE_ID: HeaderName = HeaderName::from_static("x-instance-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler gets: the store, and the settings. Nothing else, and nothing mutable:
/// replicas share no memory, so correctness can only come from Redis.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
}

pub fn router(state: AppState) -> Router {
    let instance = HeaderValue::from_str(&state.settings.instance_id())
        .unwrap_or_else(|_| HeaderValue::from_static("invalid-instance-id"));
    routes::router().with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let request_id = req
                    .headers()
                    .get(&X_REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
            .layer(SetResponseHeaderLayer::overriding(
                X_INSTANCE_ID.clone(),
                instance,
            ))
            .layer(
                CorsLayer::new()
                    .allow_origin(AnyOrigin)
                    .allow_methods(AnyOrigin)
                    .allow_headers(AnyOrigin)
                    .expose_headers([
                        X_INSTANCE_ID.clone(),
                        X_REQUEST_ID.clone(),
                        HeaderName::from_static("idempotent-replayed"),
                        header::RETRY_AFTER,
                    ]),
            )
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn(refuse_large_bodies))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// Refuses a declared oversized body before reading any of it, with a JSON 413. (Chunked
/// bodies without a length are cut at the same size by `DefaultBodyLimit`.)
async fn refuse_large_bodies(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return AppError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        }
        .into_response();
    }
    next.run(req).await
}

/// A panic is a bug, but the client still gets JSON and the process keeps serving.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    AppError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// A bound listener with its router, ready to serve.
pub struct App {
    listener: TcpListener,
    router: Router,
    shutdown_grace: Duration,
}

impl App {
    /// Binds the listener and prepares Redis: loads the scripts and creates the demo event if
    /// Redis already answers. Neither is required to start: scripts load on first use, and the
    /// demo routes create the demo event when they find it missing.
    pub async fn build(settings: Settings) -> io::Result<Self> {
        let store = Store::open(&settings.redis).map_err(io::Error::other)?;
        let listener = TcpListener::bind(settings.bind_addr).await?;
        if let Err(e) = store.load_scripts().await {
            tracing::warn!(error = %e, "could not preload scripts yet");
        }
        if let Err(e) = routes::ensure_demo_event(&store, settings.demo_seats).await {
            tracing::warn!(error = %e, "could not create the demo event yet");
        }
        let shutdown_grace = Duration::from_millis(settings.shutdown_grace_ms);
        let state = AppState {
            store,
            settings: Arc::new(settings),
        };
        Ok(Self {
            listener,
            router: router(state),
            shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// and returns; requests still running after the grace period are abandoned.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let stopping = CancellationToken::new();
        let signal = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, finishing in-flight requests");
                stopping.cancel();
            }
        };
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(signal);
        let grace = self.shutdown_grace;
        tokio::select! {
            result = server => result,
            () = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over; exiting with requests in flight");
                Ok(())
            }
        }
    }
}
