//! A webhook receiver: a real HTTP server on 127.0.0.1 that records every request it gets and
//! answers what the test tells it to (200 unless told otherwise).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// What the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    answer: AtomicU16,
    retry_after: Mutex<Option<String>>,
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        shared.answer.store(200, Ordering::SeqCst);
        let app = Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            shared,
        }
    }

    /// From now on, answer `status` (with `Retry-After: retry_after`, if given).
    pub fn answer(&self, status: u16, retry_after: Option<&str>) {
        self.shared.answer.store(status, Ordering::SeqCst);
        *self.shared.retry_after.lock().expect("lock") = retry_after.map(str::to_owned);
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().expect("lock").clone()
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let answered = shared.answer.load(Ordering::SeqCst);
    shared.got.lock().expect("lock").push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
    });
    let status = StatusCode::from_u16(answered).unwrap_or(StatusCode::OK);
    let mut reply = HeaderMap::new();
    if let Some(after) = shared.retry_after.lock().expect("lock").clone()
        && let Ok(value) = after.parse()
    {
        reply.insert("retry-after", value);
    }
    (status, reply, "")
}
