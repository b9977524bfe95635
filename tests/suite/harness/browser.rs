//! A real headless Chromium (Debian's `chromium`), driven through `chromedriver` over the
//! WebDriver protocol (plain HTTP and JSON, so reqwest is the whole client). One [`Browser`]
//! is one chromedriver; each [`Session`] is a browser of its own (own cookies, own storage).

use super::{PATIENCE, start_listening};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
    dir: tempfile::TempDir,
}

pub struct Session<'b> {
    browser: &'b Browser,
    id: String,
}

fn binary(names: &[&str]) -> String {
    names
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or(&names[0])
        .to_string()
}

impl Browser {
    /// Starts chromedriver on a free port (scripts/test installs `chromium` and
    /// `chromium-driver`).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("chromedriver.log");
        let (driver, port) = start_listening(
            "chromedriver",
            |port| {
                Command::new(binary(&[
                    "/usr/bin/chromedriver",
                    "/usr/lib/chromium/chromedriver",
                ]))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("chromedriver not found (scripts/test installs chromium-driver)")
            },
            &log,
        );
        Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .expect("client"),
            dir,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("webdriver request");
        let status = response.status();
        let reply: Value = response.json().await.expect("webdriver JSON");
        assert!(status.is_success(), "webdriver {path}: {status} {reply}");
        reply["value"].clone()
    }

    /// A new headless browser.
    pub async fn session(&self, name: &str) -> Session<'_> {
        let profile = self.dir.path().join(name);
        let reply = self
            .call(
                reqwest::Method::POST,
                "/session",
                Some(json!({ "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--window-size=1280,900",
                            "--no-first-run", "--disable-extensions",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    },
                }}})),
            )
            .await;
        Session {
            browser: self,
            id: reply["sessionId"].as_str().expect("session id").to_owned(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Session<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.browser.call(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Waits until `script` returns true; panics after [`PATIENCE`] with what it last saw
    /// from `describe`.
    pub async fn wait_for(&self, what: &str, script: &str, args: Value) {
        let deadline = Instant::now() + PATIENCE;
        while self.eval(script, args.clone()).await != json!(true) {
            assert!(Instant::now() < deadline, "{what}: not after {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT].as_str().expect("element").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into the element (focusing it first), as a keyboard would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Saves a PNG of the page.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, bytes).expect("write screenshot");
    }

    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}
