//! Assembling the service: state, middleware, the listener, and graceful shutdown.

use crate::auth::{Admissions, Auth};
use crate::config::{AuthMode, Settings};
use crate::error::AppError;
use crate::live::Hub;
use crate::routes;
use crate::server::{ClosableListener, ConnectionLimits, Peer};
use crate::store::{Limits, Store};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{Any as AnyOrigin, CorsLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutBody};
use tracing::Instrument;

pub use crate::extract::MAX_BODY_BYTES;
pub use crate::state::{AppState, Shared};

pub static X_INSTANCE_ID: HeaderName = HeaderName::from_static("x-instance-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState, draining: Draining) -> Router {
    let instance = HeaderValue::from_str(&state.settings.instance_id())
        .unwrap_or_else(|_| HeaderValue::from_static("invalid-instance-id"));
    let limit_addresses = middleware::from_fn_with_state(state.clone(), limit_addresses);
    let body_timeout = Duration::from_millis(state.settings.http_body_timeout_ms);
    let front = Front { draining, instance };
    routes::router(&state.settings)
        .layer(limit_addresses)
        .with_state(state.clone())
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(front, front_door))
                .layer(cors(&state.settings))
                .layer(CatchPanicLayer::custom(panic_response))
                // Seat maps and event documents are large and repetitive; streams stay as they are.
                .layer(
                    CompressionLayer::new().compress_when(
                        SizeAbove::new(1024)
                            .and(NotForContentType::SSE)
                            .and(NotForContentType::IMAGES),
                    ),
                )
                .layer(middleware::from_fn(refuse_large_bodies))
                .layer(RequestBodyTimeoutLayer::new(body_timeout))
                .map_request(|req: axum::http::Request<TimeoutBody<axum::body::Body>>| {
                    req.map(axum::body::Body::new)
                })
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// Request headers larger than this in all get a JSON `431` before anything reads them.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A client's `X-Request-Id` is kept (and logged, and echoed) only when it is at most this long
/// and plain (`[A-Za-z0-9._:-]`); any other is replaced by a new one.
const MAX_REQUEST_ID: usize = 64;

/// What [`front_door`] needs: whether the replica drains, and its `X-Instance-Id`.
#[derive(Clone)]
struct Front {
    draining: Draining,
    instance: HeaderValue,
}

/// What every request passes first, in one middleware (each layer of a stack costs its
/// clone and its boxed future on every request; this was six):
/// - request headers over [`MAX_HEADER_BYTES`] are refused before anything reads them;
/// - the request id: a client's `X-Request-Id` kept when short and plain, else a new one; it
///   names the request's log span and goes back on the response;
/// - the request is counted and timed by route template ([`crate::metrics::record_http`]);
/// - an error answer without a body (a static file's 404, say) gets the JSON body every
///   error has;
/// - `X-Instance-Id` on every response; while draining, `Connection: close` on every
///   response, so a load balancer drops its pooled connections to this replica one by one,
///   each after a complete exchange, instead of finding them closed under a request it
///   already sent (which it may not replay: a POST).
async fn front_door(State(front): State<Front>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let request_id = match req.headers().get(&X_REQUEST_ID) {
        Some(id) if plain_request_id(id) => id.clone(),
        _ => {
            let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
            req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
            id
        }
    };
    let mut response = if size > MAX_HEADER_BYTES {
        AppError::HeadersTooLarge {
            size,
            limit: MAX_HEADER_BYTES,
        }
        .into_response()
    } else {
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let span = tracing::info_span!(
            "request",
            method = %method,
            path = %req.uri().path(),
            request_id = request_id.to_str().unwrap_or(""),
        );
        let response = next.run(req).instrument(span.clone()).await;
        let status = response.status();
        if status.is_server_error() {
            span.in_scope(|| tracing::error!(status = status.as_u16(), "server error"));
        }
        crate::metrics::record_http(&method, route.as_ref(), status, started.elapsed());
        with_json_error_body(response)
    };
    let headers = response.headers_mut();
    headers.insert(X_REQUEST_ID.clone(), request_id);
    headers.insert(X_INSTANCE_ID.clone(), front.instance);
    if front.draining.is_cancelled() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request id worth keeping: at most [`MAX_REQUEST_ID`] bytes of `[A-Za-z0-9._:-]`.
fn plain_request_id(id: &HeaderValue) -> bool {
    let id = id.as_bytes();
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(b))
}

/// An error status with no body and no content type gets the JSON body of [`AppError::Status`].
fn with_json_error_body(response: Response) -> Response {
    let status = response.status();
    let empty = axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !((status.is_client_error() || status.is_server_error())
        && empty
        && !response.headers().contains_key(header::CONTENT_TYPE))
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let json = AppError::Status(status).into_response();
    parts.headers.extend(
        json.headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, json.into_body())
}

/// CORS: the origins of CORS_ALLOWED_ORIGINS (`*` for any); none by default in jwt mode (a
/// browser page on another origin may not call the API), any in open mode.
fn cors(settings: &Settings) -> CorsLayer {
    let origins = &settings.cors_allowed_origins;
    let any = origins.iter().any(|o| o == "*")
        || (origins.is_empty() && settings.auth.mode == AuthMode::Open);
    let layer = CorsLayer::new()
        .allow_methods(AnyOrigin)
        .allow_headers(AnyOrigin)
        .expose_headers([
            X_INSTANCE_ID.clone(),
            X_REQUEST_ID.clone(),
            HeaderName::from_static("idempotent-replayed"),
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
        ]);
    if any {
        layer.allow_origin(AnyOrigin)
    } else {
        let listed: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        layer.allow_origin(listed)
    }
}

/// RATE_LIMIT_PER_IP: every write counts against its client's address, in Redis, so that all
/// replicas share one limit. Behind a proxy the address is the one the proxy saw, taken from
/// X-Forwarded-For only when the peer is one of TRUSTED_PROXIES.
async fn limit_addresses(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if write && state.settings.rate_limit_per_ip > 0 {
        let address = crate::extract::client_address(
            peer.ip(),
            req.headers(),
            &state.settings.trusted_proxies,
        );
        if let Err(e) = state.store.check_address_rate(&address).await {
            return e.into_response();
        }
    }
    next.run(req).await
}

pub use crate::server::Draining;

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
    listener: ClosableListener,
    router: Router,
    limits: ConnectionLimits,
    draining: Draining,
    shutdown_drain: Duration,
    shutdown_grace: Duration,
}

impl App {
    /// Binds the listener. Preparing Redis (loading the scripts, creating the demo event) runs
    /// beside serving, not before it: neither is needed to serve (scripts load on first use,
    /// the demo routes create the demo event when they find it missing), and a slow or absent
    /// Redis must not hold up a replica that can already answer `/healthz` and fail fast.
    pub async fn build(settings: Settings) -> io::Result<Self> {
        if settings.metrics_addr.0.is_some() {
            // Before anything records a metric.
            crate::metrics::handle();
        }
        let auth = Auth::from_settings(&settings.auth).map_err(io::Error::other)?;
        if auth.mode() == AuthMode::Open {
            tracing::warn!(
                "AUTH_MODE=open: clients name themselves (userId, ?user=) and may do anything; \
                 for demos and tests only"
            );
        }
        let store = Store::open(&settings.redis)
            .map_err(|e| match e {
                AppError::Internal(detail) => io::Error::other(detail),
                other => io::Error::other(other.to_string()),
            })?
            .with_limits(Limits {
                max_locks_per_user: settings.max_locks_per_user,
                max_tickets_held_per_user: settings.max_tickets_held_per_user,
                rate_per_user: settings.rate_limit_per_user,
                rate_per_address: settings.rate_limit_per_ip,
                hold_ttl_ms: settings.hold_ttl_ms,
                hold_max_extensions: settings.hold_max_extensions,
                hold_max_lifetime_ms: settings.hold_max_lifetime_ms,
                order_payment_ttl_ms: settings.order_payment_ttl_ms,
            });
        let listener = crate::server::bind(settings.bind_addr).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {} (BIND_ADDR): {e}", settings.bind_addr),
            )
        })?;
        if let Some(addr) = settings.metrics_addr.0 {
            let bound = crate::metrics::serve(addr).await.map_err(|e| {
                io::Error::new(e.kind(), format!("metrics on {addr} (METRICS_ADDR): {e}"))
            })?;
            tracing::info!(%bound, "metrics on /metrics");
        }
        tokio::spawn({
            let (store, demo_seats) = (store.clone(), settings.demo_seats);
            async move {
                // The one line that tells an operator at start whether Redis is usable.
                match store.load_scripts().await {
                    Ok(()) => tracing::info!(redis = store.target(), "redis is ready"),
                    Err(AppError::StoreUnavailable(reason)) => tracing::warn!(
                        "redis is not usable yet: {reason}; answering 503 STORE_UNAVAILABLE \
                         until it is (GET /readyz tells why)"
                    ),
                    Err(e) => tracing::error!(redis = store.target(), "redis: {e:?}"),
                }
                if let Err(e) = store.ensure_demo_event(demo_seats).await {
                    tracing::debug!(error = ?e, "could not create the demo event yet");
                }
            }
        });
        let shutdown_drain = Duration::from_millis(settings.shutdown_drain_ms);
        let shutdown_grace = Duration::from_millis(settings.shutdown_grace_ms);
        let draining = Draining::new();
        let live = Hub::new(
            store.clone(),
            usize::try_from(settings.stream_buffer).unwrap_or(usize::MAX),
            draining.clone(),
            usize::try_from(settings.stream_max_per_client).unwrap_or(usize::MAX),
            usize::try_from(settings.stream_max_per_replica).unwrap_or(usize::MAX),
        );
        let admission_secret = match &settings.admission_secret {
            Some(secret) => Some(secret.clone()),
            None => settings
                .auth
                .secret()
                .map_err(io::Error::other)?
                .map(|secret| crate::auth::derive_admission_secret(&secret)),
        };
        if admission_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(io::Error::other(
                "ADMISSION_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)",
            ));
        }
        let admissions = admission_secret.map(|secret| Arc::new(Admissions::new(&secret)));
        // Webhook delivery has Redis connections of its own: its background work never waits
        // in line with requests' commands, nor they behind it.
        let delivery_store = Store::open(&settings.redis)
            .map_err(|e| io::Error::other(e.to_string()))?
            .with_written(store.written().clone());
        crate::webhooks::spawn(
            delivery_store,
            settings.webhooks.clone(),
            settings.instance_id(),
            draining.clone(),
        );
        let tickets = Arc::new(settings.ticket_keys().map_err(io::Error::other)?);
        let rooms = Arc::new(crate::waiting::Rooms::new(
            store.clone(),
            Duration::from_millis(settings.queue_refresh_ms),
            settings.queue_shards,
            settings.queue_abandon_ms,
        ));
        let views = crate::views::Views::new(Arc::clone(&live));
        let state = AppState::new(Shared {
            store,
            views,
            rooms,
            settings: Arc::new(settings),
            auth: Arc::new(auth),
            live,
            admissions,
            tickets,
        });
        let listener = ClosableListener::new(
            listener,
            draining.clone(),
            usize::try_from(state.settings.socket_send_buffer_bytes).unwrap_or(usize::MAX),
        )?;
        let limits = ConnectionLimits {
            header_timeout: Duration::from_millis(state.settings.http_header_timeout_ms),
            max_connections: connection_cap(&state.settings),
        };
        Ok(Self {
            listener,
            limits,
            router: router(state, draining.clone()),
            draining,
            shutdown_drain,
            shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.listener.addr())
    }

    /// Serves until `shutdown` completes, then:
    /// 1. closes the listening socket: new connections are refused, which a load balancer
    ///    retries on another replica (nothing was sent yet, so even a POST is safe to move);
    /// 2. drains for `SHUTDOWN_DRAIN_MS`: connections already open are still served, each
    ///    closed after its response, so pooled connections go away without a failed request;
    /// 3. closes what is left, lets in-flight requests finish and returns; requests still
    ///    running `SHUTDOWN_GRACE_MS` later are abandoned.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let stopping = CancellationToken::new();
        let signal = {
            let (stopping, draining, drain) =
                (stopping.clone(), self.draining.clone(), self.shutdown_drain);
            async move {
                shutdown.await;
                draining.cancel();
                tracing::info!(
                    ?drain,
                    "draining: no new connections, closing each after its response"
                );
                tokio::time::sleep(drain).await;
                tracing::info!("shutting down: finishing in-flight requests");
                stopping.cancel();
            }
        };
        let server = crate::server::serve(self.listener, self.router, self.limits, signal);
        let grace = self.shutdown_grace;
        tokio::select! {
            () = server => Ok(()),
            () = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over; exiting with requests in flight");
                Ok(())
            }
        }
    }
}

/// `HTTP_MAX_CONNECTIONS`, within what the process may open: the file limit is raised as far
/// as the system allows, and the cap kept below it by a reserve for Redis connections and the
/// metrics listener, so that accepting a client can never take the last descriptor.
fn connection_cap(settings: &Settings) -> usize {
    let wanted = usize::try_from(settings.http_max_connections).unwrap_or(usize::MAX);
    let reserve = 64 + usize::from(settings.redis.ack_connections);
    let files = rlimit::increase_nofile_limit(u64::try_from(wanted + reserve).unwrap_or(u64::MAX))
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(1024);
    let cap = wanted.min(files.saturating_sub(reserve)).max(1);
    if cap < wanted {
        tracing::warn!(
            wanted,
            cap,
            "HTTP_MAX_CONNECTIONS lowered to what the file limit (ulimit -n) leaves"
        );
    }
    cap
}
