//! What every response has in common: JSON errors for anything malformed, unknown routes and
//! methods, oversized or non-JSON bodies; the instance header; health and readiness.

use crate::harness::{RedisServer, TestApp, organizer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_response_names_the_instance_that_served_it() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    for reply in [
        app.get("/healthz").await,
        app.get("/events").await,
        app.get("/nowhere").await,
        app.post("/book", json!({})).await,
        app.send(Method::PATCH, "/book", None, &[]).await,
    ] {
        assert_eq!(reply.header("x-instance-id"), Some("test"), "{reply:?}");
        assert!(reply.header("x-request-id").is_some());
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    app.get("/nowhere")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    app.get("/events/a/b/c")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    let wrong = app.send(Method::PUT, "/book", None, &[]).await;
    wrong.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(wrong.header("allow"), Some("POST"));
    app.send(Method::DELETE, "/events", None, &[])
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_reason() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let raw = |body: &'static str| {
        app.client
            .post(format!("{}/book", app.base))
            .header("authorization", organizer())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in ["{", "", "nul", "{\"eventId\": }", "[]", "\"x\"", "{}{}"] {
        let response = raw(body).await.unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "INVALID_REQUEST", "{body:?}");
    }
    let reply = app
        .post(
            "/book",
            json!({ "eventId": "e", "sectionId": "s", "qty": "one" }),
        )
        .await;
    reply.assert_error(400, "INVALID_REQUEST");
    assert!(
        reply.text.contains("qty"),
        "the message names the field: {}",
        reply.text
    );
}

/// serde's derived structs also read a JSON array of their fields in order (`[]` is a body whose
/// fields all have defaults): an array where the document says object is refused, at the top and
/// nested, and changes nothing.
#[tokio::test]
async fn arrays_in_place_of_objects_are_400() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let event = app
        .post(
            "/events",
            json!({ "name": "E", "sections": [{ "name": "S", "price": 1, "seats": ["1", "2"] }] }),
        )
        .await;
    assert_eq!(event.status, 201, "{event:?}");
    let id = event.body["id"].as_str().unwrap().to_owned();
    let raw = |path: String, body: &'static str| {
        app.client
            .post(format!("{}{path}", app.base))
            .header("authorization", organizer())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("/lock/1".to_owned(), "[]"),
        ("/lock/1".to_owned(), r#"["organizer"]"#),
        (format!("/events/{id}/seats/1/lock"), "[]"),
        (format!("/events/{id}/holds"), r#"[["1"]]"#),
        ("/book".to_owned(), r#"["e", "s1", 1]"#),
        (
            "/events".to_owned(),
            r#"["E", [{"name": "S", "price": 1, "capacity": 1}]]"#,
        ),
        (
            "/events".to_owned(),
            r#"{"name": "E", "sections": [["S", 1, 1]]}"#,
        ),
        (
            "/events".to_owned(),
            r#"{"name": "E", "sections": [{"name": "S", "price": 1, "rows": [["A", 2]]}]}"#,
        ),
    ];
    for (path, body) in cases {
        let response = raw(path.clone(), body).await.unwrap();
        assert_eq!(response.status(), 400, "{path} {body}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "INVALID_REQUEST", "{path} {body}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("a JSON object"),
            "{path} {body}: {json}"
        );
    }
    let seats = app.get(&format!("/events/{id}/seats")).await;
    assert!(
        seats.body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|seat| seat["status"] == "available"),
        "{seats:?}"
    );
    // Only the one event above was made (the demo event may be listed too).
    let listed = app.get("/events").await;
    let made = listed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "E")
        .count();
    assert_eq!(made, 1, "{listed:?}");
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(format!("{}/events", app.base))
            .header("authorization", organizer())
            .body(r#"{"name":"x"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    // application/*+json is JSON too.
    let response = app
        .client
        .post(format!("{}/events", app.base))
        .header("authorization", organizer())
        .header("content-type", "application/vnd.api+json")
        .body(r#"{"name":"x","sections":[{"name":"a","price":1,"capacity":1}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let huge = json!({ "name": "x".repeat(70 * 1024), "sections": [] });
    app.post("/events", huge)
        .await
        .assert_error(413, "PAYLOAD_TOO_LARGE");

    // Chunked, with no Content-Length to refuse up front.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = app
        .client
        .post(format!("{}/events", app.base))
        .header("authorization", organizer())
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn health_and_readiness() {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    app.get("/healthz").await.assert_status(200);
    let ready = app.get("/readyz").await;
    ready.assert_status(200);
    assert_eq!(ready.body["status"], "ok");

    redis.kill();
    app.get("/healthz").await.assert_status(200);
    let unready = app.get("/readyz").await;
    unready.assert_error(503, "STORE_UNAVAILABLE");
    assert_eq!(unready.header("retry-after"), Some("1"));
}
