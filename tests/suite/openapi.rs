//! The OpenAPI document describes every route the service has, and nothing it lacks; the
//! reference page works offline; empty bodies are no bodies.

use crate::harness::{Nginx, RedisServer, ServerProcess, TestApp, bearer};
use reqwest::Method;
use serde_json::{Value, json};

/// Every operation of the document, as (method, path template).
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            found.push((method, path.clone()));
        }
    }
    found
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_operation_it_lists_exists() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let reply = app.get("/openapi.json").await;
    reply.assert_status(200);
    let doc = reply.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    assert_eq!(ops.len(), crate::fuzz::ROUTES.len(), "{ops:?}");
    for (method, template) in &ops {
        // A live stream of an event that exists never ends: ask for one that does not.
        let event = if template.ends_with("/stream") {
            "none"
        } else {
            "demo"
        };
        let path = template
            .replace("{eventId}", event)
            .replace("{seatId}", "1")
            .replace("{bookingId}", "0195f0a2-7c1b-7d3e-9a4b-1234567890ab")
            .replace("{holdId}", "0195f0a2-7c1b-7d3e-9a4b-1234567890ab")
            .replace("{orderId}", "0195f0a2-7c1b-7d3e-9a4b-1234567890ab");
        let answer = app.send(method.clone(), &path, None, &[]).await;
        let code = answer.body["error"]["code"].as_str().unwrap_or("");
        assert!(
            !matches!(code, "ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED"),
            "{method} {template} is documented but not routed: {}",
            answer.text
        );
        // Each documented operation documents its error answers with the shared schema.
        let responses = doc["paths"][template][method.as_str().to_ascii_lowercase()]["responses"]
            .as_object()
            .expect("responses");
        if !["/", "/checkin", "/healthz", "/openapi.json"].contains(&template.as_str()) {
            let errors: Vec<&String> = responses
                .keys()
                .filter(|s| s.starts_with(['4', '5']))
                .collect();
            assert!(!errors.is_empty(), "{method} {template} documents no error");
            for status in errors {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {template} {status}"
                );
            }
        }
    }
    // The error codes are the table's.
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("codes");
    assert!(codes.contains(&json!("INSUFFICIENT_INVENTORY")));
    assert!(codes.contains(&json!("STORE_UNAVAILABLE")));
}

/// The routes the fuzz test knows (a list kept apart from the router) are all documented.
#[tokio::test]
async fn every_route_of_the_api_is_in_the_document() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let doc = app.get("/openapi.json").await.body;
    let ops = operations(&doc);
    for (method, template) in crate::fuzz::ROUTES {
        let documented = ops.iter().any(|(m, t)| {
            m == method && {
                let mut parts = t.split('/').zip(template.split('/'));
                t.split('/').count() == template.split('/').count()
                    && parts.all(|(a, b)| a == b || (a.starts_with('{') && b == "{}"))
            }
        });
        assert!(
            documented,
            "{method} {template} is routed but not documented"
        );
    }
}

#[tokio::test]
async fn the_reference_page_is_served_without_any_cdn() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let page = app.get("/docs/").await;
    page.assert_status(200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let mut assets = 0;
    for src in page.text.split(['"', '\'']).filter(|s| s.starts_with("./")) {
        let asset = app.get(&format!("/docs/{}", &src[2..])).await;
        asset.assert_status(200);
        assert!(
            !asset.text.contains("https://cdn") && !asset.text.contains("unpkg.com"),
            "{src} loads from a CDN"
        );
        assets += 1;
    }
    assert!(assets >= 3, "the page's scripts and styles: {}", page.text);
    let init = app.get("/docs/swagger-initializer.js").await;
    assert!(init.text.contains("/openapi.json"), "{}", init.text);
}

#[tokio::test]
async fn the_document_and_the_page_work_behind_nginx() {
    let redis = RedisServer::start();
    let replica = ServerProcess::spawn(&redis.url(), "api-1", &[]);
    let nginx = Nginx::start(&[replica.port]);
    let doc = nginx.http.get("/openapi.json").await;
    doc.assert_status(200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    nginx.http.get("/docs/").await.assert_status(200);
}

/// aiohttp, Java's HttpClient and some fetch wrappers send `Content-Type:
/// application/octet-stream` with an empty POST: an empty body is no body.
#[tokio::test]
async fn an_empty_body_is_no_body_whatever_its_content_type() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let post = |path: &'static str, content_type: &'static str, body: &'static str| {
        let user = path.split("user=").nth(1).unwrap_or("a");
        app.client
            .post(format!("{}{path}", app.base))
            .header("authorization", bearer(user))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (path, status) in [
        ("/lock/4?user=a", 200),
        ("/confirm/4?user=a", 201),
        ("/lock/5?user=a", 200),
        ("/unlock/5?user=a", 200),
        ("/release/6?user=a", 409),
    ] {
        let reply = post(path, "application/octet-stream", "").await.unwrap();
        assert_eq!(reply.status(), status, "{path}");
    }
    // A body that is there must be JSON; `null` is no body.
    let reply = post("/lock/7", "text/plain", "user").await.unwrap();
    assert_eq!(reply.status(), 415);
    let reply = post("/lock/7?user=b", "application/json", "null")
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    // With a token the user is the token's: an empty body locks for it.
    let event = app.create_seated_event(&["A1", "A2"]).await;
    let path = format!("{}/events/{event}/seats/A1/lock", app.base);
    let reply = app
        .client
        .post(path)
        .header("authorization", bearer("a"))
        .header("content-type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    // In open mode, where the body names the user, an empty one says so with a 400, not 415.
    let open = TestApp::spawn_with(crate::harness::app::open_settings(
        crate::harness::test_settings(&redis.url()),
    ))
    .await;
    let path = format!("{}/events/{event}/seats/A2/lock", open.base);
    let reply = open
        .client
        .post(path)
        .header("content-type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("userId"),
        "{body}"
    );
}

/// What JSON Schema can say beyond utoipa's derive is in the served document: a section is
/// given by exactly one of capacity, seats, rows; a hold names seats or a section and qty.
#[tokio::test]
async fn the_served_document_keeps_the_rules_added_to_it() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let doc = app.get("/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    let branches = |schema: &str| schemas[schema]["oneOf"].as_array().map_or(0, Vec::len);
    assert_eq!(branches("NewSection"), 3, "{}", schemas["NewSection"]);
    assert_eq!(branches("NewHold"), 2, "{}", schemas["NewHold"]);
    // Each variant is a complete object schema: a type, its required fields, every property.
    for variant in [
        "NewGeneralSection",
        "NewSeatedSection",
        "NewRowsSection",
        "NewSeatsHold",
        "NewQuantityHold",
    ] {
        assert_eq!(schemas[variant]["type"], "object", "{variant}");
        assert!(schemas[variant]["oneOf"].is_null(), "{variant}");
        assert!(schemas[variant]["properties"].is_object(), "{variant}");
    }
    assert_eq!(
        schemas["NewSeatedSection"]["properties"]["seats"]["uniqueItems"],
        true
    );
    assert_eq!(
        schemas["NewSeatedSection"]["properties"]["seats"]["type"],
        "array"
    );
    assert_eq!(
        schemas["NewSeatedSection"]["properties"]["capacity"]["type"],
        "null"
    );
    assert_eq!(
        schemas["NewSeatsHold"]["properties"]["seats"]["uniqueItems"],
        true
    );
    assert_eq!(
        schemas["NewQuantityHold"]["required"],
        serde_json::json!(["sectionId", "qty"])
    );
    // Every operation has an id of its own (the OpenAPI specification requires it; client
    // generators name their functions after it).
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
        }
    }
    assert_eq!(schemas["BookBody"]["properties"]["qty"]["maximum"], 10);
    // The reference page is served from the same document.
    app.get("/docs/").await.assert_status(200);
}
