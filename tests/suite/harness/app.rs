//! The service in-process, on an ephemeral port.

use super::http::Http;
use super::redis::RedisServer;
use super::{raise_fd_limit, test_log};
use boxoffice::app::App;
use boxoffice::config::Settings;
use std::net::SocketAddr;
use std::sync::Once;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Redis deadlines for tests: far above anything a loaded machine needs, so that a test
/// never sees `503 STORE_UNAVAILABLE` unless it makes Redis unavailable on purpose. (The
/// product's defaults, 0.5 s / 1 s, are what the fault tests use.)
pub const PATIENT_REDIS: [(&str, &str); 3] = [
    ("REDIS_CONNECT_TIMEOUT_MS", "5000"),
    ("REDIS_RESPONSE_TIMEOUT_MS", "20000"),
    ("REDIS_REQUEST_TIMEOUT_MS", "30000"),
];

/// What every replica process of the tests runs with (before a test's own environment):
/// jwt mode with the test secret, no rate limits.
pub const TEST_AUTH: [(&str, &str); 4] = [
    ("AUTH_MODE", "jwt"),
    ("AUTH_JWT_SECRET", super::http::TEST_SECRET),
    ("RATE_LIMIT_PER_USER", "0"),
    ("RATE_LIMIT_PER_IP", "0"),
];

/// Settings for a test app: an ephemeral port, a fixed instance id, the given Redis, patient
/// Redis deadlines.
pub fn test_settings(redis_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.bind_addr = "127.0.0.1:0".parse().expect("address");
    settings.instance_id = Some("test".into());
    settings.redis.url = redis_url.parse().expect("a Redis URL");
    settings.redis.connect_timeout_ms = 5_000;
    settings.redis.response_timeout_ms = 20_000;
    settings.redis.request_timeout_ms = 30_000;
    // Metrics are per process; tests of them start replicas as processes.
    settings.metrics_addr = boxoffice::config::MetricsAddr(None);
    // jwt mode (the default) with the test secret; no rate limits unless a test sets them.
    settings.auth.mode = boxoffice::config::AuthMode::Jwt;
    settings.auth.secret = Some(super::http::TEST_SECRET.to_owned());
    settings.rate_limit_per_user = 0;
    settings.rate_limit_per_ip = 0;
    // Waiting rooms move on at every refresh: a shorter one keeps their tests quick.
    settings.queue_refresh_ms = 50;
    settings
}

/// As [`test_settings`], in open mode: clients name themselves (the seed systems' API).
pub fn open_settings(mut settings: Settings) -> Settings {
    settings.auth.mode = boxoffice::config::AuthMode::Open;
    settings
}

/// The product's own Redis deadlines, for tests of what happens when Redis fails.
pub fn product_deadlines(mut settings: Settings) -> Settings {
    let defaults = Settings::defaults();
    settings.redis.connect_timeout_ms = defaults.redis.connect_timeout_ms;
    settings.redis.response_timeout_ms = defaults.redis.response_timeout_ms;
    settings.redis.request_timeout_ms = defaults.redis.request_timeout_ms;
    settings
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Some(filter) = test_log() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The app, served in-process on an ephemeral port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: Http,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(redis: &RedisServer) -> Self {
        Self::spawn_with(test_settings(&redis.url())).await
    }

    /// The app on a single Redis or a cluster.
    pub async fn on(backend: &super::Backend) -> Self {
        Self::spawn_with(backend.settings()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        init_logs();
        raise_fd_limit();
        let app = App::build(settings).await.expect("app starts");
        let addr = app.local_addr().expect("bound");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            http: Http::new(format!("http://{addr}")),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Graceful shutdown, as on SIGTERM.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl std::ops::Deref for TestApp {
    type Target = Http;
    fn deref(&self) -> &Http {
        &self.http
    }
}
