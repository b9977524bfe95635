//! A small JSON-over-HTTP client bound to one base URL, with the API's common calls.

use boxoffice::auth::Role;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The secret test apps and replicas verify tokens with.
pub const TEST_SECRET: &str = "boxoffice-test-secret-0123456789abcdef";

/// A token for `user` with `role`, valid for an hour.
pub fn token(user: &str, role: Role) -> String {
    boxoffice::auth::mint(
        TEST_SECRET,
        user,
        role,
        Duration::from_secs(3600),
        None,
        None,
    )
    .expect("a token")
}

/// `Authorization` for the organizer `tester`.
pub fn organizer() -> String {
    format!("Bearer {}", token("tester", Role::Organizer))
}

/// `Authorization` for `user` as a buyer.
pub fn bearer(user: &str) -> String {
    format!("Bearer {}", token(user, Role::Buyer))
}

/// A JSON-over-HTTP client bound to one base URL.
///
/// It acts as the user a request names, the way a logged-in client would: a request without
/// an `Authorization` header gets a buyer token for the body's `userId` or the `?user=` it
/// sends, else an organizer token for `tester`. [`Http::anonymous`] sends none.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
    auto_auth: bool,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error reply: status, JSON body with this code and a message.
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, got {}",
            self.text
        );
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error without a message: {}",
            self.text
        );
        self
    }

    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }
}

impl Http {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                // A replica closes a keep-alive connection idle for HTTP_HEADER_TIMEOUT_MS
                // (10 s). A pooled connection idle that long, taken for a request just as the
                // replica closes it, fails with IncompleteMessage (seen in CI under load), so
                // the client drops its idle connections well before the replica does, as nginx
                // does with its upstream keepalive_timeout.
                .pool_idle_timeout(Duration::from_secs(4))
                .build()
                .expect("http client"),
            auto_auth: true,
        }
    }

    /// The same client, sending no token unless a request carries one.
    pub fn anonymous(&self) -> Self {
        Self {
            auto_auth: false,
            ..self.clone()
        }
    }

    /// The token a request acting as its named user carries (see [`Http`]).
    fn implied_authorization(path: &str, body: Option<&Value>) -> String {
        let named = body
            .and_then(|b| b.get("userId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                let query = path.split_once('?')?.1;
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("user="))
                    .map(str::to_owned)
            });
        match named.filter(|user| boxoffice::domain::ids::UserId::parse(user.as_str()).is_ok()) {
            Some(user) => bearer(&user),
            None => format!("Bearer {}", token("tester", Role::Organizer)),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if self.auto_auth
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            request = request.header(
                "authorization",
                Self::implied_authorization(path, body.as_ref()),
            );
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates an event and returns its JSON.
    pub async fn create_event(&self, sections: Value) -> Value {
        let reply = self
            .post(
                "/events",
                json!({ "name": "Test event", "sections": sections }),
            )
            .await;
        reply.assert_status(201);
        reply.body
    }

    /// Creates an event with one general-admission section; returns the event id.
    pub async fn create_ga_event(&self, capacity: u32) -> String {
        let event = self
            .create_event(json!([{ "name": "GA", "price": 25.5, "capacity": capacity }]))
            .await;
        event["id"].as_str().expect("event id").to_owned()
    }

    /// Creates an event with one reserved section of `seats`; returns the event id.
    pub async fn create_seated_event(&self, seats: &[&str]) -> String {
        let event = self
            .create_event(json!([{ "name": "Stalls", "price": 40, "seats": seats }]))
            .await;
        event["id"].as_str().expect("event id").to_owned()
    }

    pub async fn book(&self, event: &str, section: &str, qty: u32, user: &str) -> Reply {
        self.post(
            "/book",
            json!({ "eventId": event, "sectionId": section, "qty": qty, "userId": user }),
        )
        .await
    }

    pub async fn seat_action(&self, event: &str, seat: &str, action: &str, user: &str) -> Reply {
        self.post(
            &format!("/events/{event}/seats/{seat}/{action}"),
            json!({ "userId": user }),
        )
        .await
    }

    /// A read as Redis answers it (`Cache-Control: no-cache`: not from the replica's read
    /// view, which may be a change behind another replica's write).
    pub async fn get_fresh(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[("cache-control", "no-cache")])
            .await
    }

    /// A section's `remaining` as the store holds it.
    pub async fn remaining(&self, event: &str, section: &str) -> i64 {
        let event = self.get_fresh(&format!("/events/{event}")).await;
        event.assert_status(200);
        event.body["sections"]
            .as_array()
            .and_then(|sections| sections.iter().find(|s| s["id"] == section))
            .and_then(|s| s["remaining"].as_i64())
            .expect("section with remaining")
    }

    /// A seat's status as the store holds it.
    pub async fn seat_status(&self, event: &str, seat: &str) -> Value {
        let map = self.get_fresh(&format!("/events/{event}/seats")).await;
        map.assert_status(200);
        map.body["seats"]
            .as_array()
            .and_then(|seats| seats.iter().find(|s| s["id"] == seat).cloned())
            .expect("seat in the seat map")
    }
}
