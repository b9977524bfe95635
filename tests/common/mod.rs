//! Test harness: real redis-server processes on free ports, the app in-process on port 0
//! (or as real `boxoffice` processes), and a small JSON HTTP client.
//!
//! Every test gets its own redis-server, so tests never see each other's data and can stop,
//! kill and restart their Redis at will.

#![allow(dead_code)] // each test binary uses a different part of this module

use boxoffice::app::App;
use boxoffice::config::Settings;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Lets one test process hold thousands of sockets (races open one per request).
pub fn raise_fd_limit() {
    let _ = rlimit::increase_nofile_limit(65_536);
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A redis-server of this test's own, in a temporary directory.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
}

impl RedisServer {
    /// No persistence: the fast default.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// AOF with fsync on every write, as docker-compose.yml runs Redis.
    pub fn start_durable() -> Self {
        Self::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    pub fn start_with(extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self {
            child: None,
            port: 0,
            dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        // A port found free can be taken before redis binds it: then try another.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start redis-server (is it installed? scripts/test installs it)");
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--dir"])
            .arg(self.dir.path())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return true;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// A synchronous connection for inspecting or tampering with state directly.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect to the test redis")
    }

    fn signal(&self, signal: Signal) {
        if let Some(child) = &self.child {
            let _ = kill(Pid::from_raw(child.id() as i32), signal);
        }
    }

    /// Freezes Redis (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal(Signal::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(Signal::SIGCONT);
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGCONT);
        self.signal(Signal::SIGKILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and data directory (an AOF, if any, is replayed).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "redis did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Settings for a test app: an ephemeral port, a fixed instance id, the given Redis.
pub fn test_settings(redis_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.bind_addr = "127.0.0.1:0".parse().expect("address");
    settings.instance_id = Some("test".into());
    settings.redis.url = redis_url.to_owned();
    settings
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

    pub async fn spawn_with(settings: Settings) -> Self {
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

/// A JSON-over-HTTP client bound to one base URL.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
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
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
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

    pub async fn remaining(&self, event: &str, section: &str) -> i64 {
        let event = self.get(&format!("/events/{event}")).await;
        event.assert_status(200);
        event.body["sections"]
            .as_array()
            .and_then(|sections| sections.iter().find(|s| s["id"] == section))
            .and_then(|s| s["remaining"].as_i64())
            .expect("section with remaining")
    }

    pub async fn seat_status(&self, event: &str, seat: &str) -> Value {
        let map = self.get(&format!("/events/{event}/seats")).await;
        map.assert_status(200);
        map.body["seats"]
            .as_array()
            .and_then(|seats| seats.iter().find(|s| s["id"] == seat).cloned())
            .expect("seat in the seat map")
    }
}

/// Runs `boxoffice audit` against this Redis and asserts every invariant holds.
pub fn assert_audit_clean(redis_url: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .args(["audit", "--redis-url", redis_url])
        .output()
        .expect("run boxoffice audit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "audit found violations:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("OK: every invariant holds"), "{stdout}");
}

/// A real `boxoffice` process (the binary cargo built for this test run).
pub struct ServerProcess {
    child: Option<Child>,
    pub port: u16,
    pub instance: String,
    pub http: Http,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    pub fn spawn(redis_url: &str, instance: &str, env: &[(&str, &str)]) -> Self {
        raise_fd_limit();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis_url)
            .env("INSTANCE_ID", instance)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn boxoffice");
        let server = Self {
            child: Some(child),
            port,
            instance: instance.to_owned(),
            http: Http::new(format!("http://127.0.0.1:{port}")),
            log,
            _dir: dir,
        };
        wait_until(
            &format!("boxoffice {instance}"),
            Duration::from_secs(20),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        server
    }

    pub fn pid(&self) -> Option<Pid> {
        self.child.as_ref().map(|c| Pid::from_raw(c.id() as i32))
    }

    pub fn kill(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and how long it took.
    pub fn terminate(&mut self, timeout: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        if let Some(pid) = self.pid() {
            let _ = kill(pid, Signal::SIGTERM);
        }
        let mut child = self.child.take().expect("running");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                return (None, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = Http;
    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// nginx in front of local replicas, with the project's own nginx/nginx.conf.
pub struct Nginx {
    child: Option<Child>,
    pub port: u16,
    pub http: Http,
    pub dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start(upstream_ports: &[u16]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // Private, as `mktemp -d` makes it: nginx's workers (an unprivileged user when the
        // master runs as root) cannot create files in it, so nothing may depend on that.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let port = free_port();
        let conf =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nginx/nginx.conf"))
                .expect("nginx/nginx.conf");
        assert!(conf.contains("listen 8080 "), "nginx.conf listens on 8080");
        let conf = conf.replace("listen 8080 ", &format!("listen 127.0.0.1:{port} "));
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("write conf");
        let upstreams: String = upstream_ports
            .iter()
            .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        std::fs::write(dir.path().join("upstream.conf"), upstreams).expect("write upstreams");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nginx");
        let prefix = format!("{}/", dir.path().display());
        let log = std::fs::File::create(dir.path().join("error.log")).expect("nginx log");
        let child = Command::new(binary)
            .args([
                "-p",
                &prefix,
                "-c",
                &format!("{prefix}nginx.conf"),
                "-g",
                "daemon off;",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nginx not found (scripts/test installs it)");
        let nginx = Self {
            child: Some(child),
            port,
            http: Http::new(format!("http://127.0.0.1:{port}")),
            dir,
        };
        wait_until("nginx", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        nginx
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// nginx's error log (it logs to stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGQUIT);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = &self.dir;
    }
}

/// Runs the `race` binary with `--json` and returns its report and exit code.
pub fn run_race(targets: &[String], args: &[&str]) -> (Value, i32) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_race"));
    for target in targets {
        command.args(["--target", target]);
    }
    let output = command.args(args).arg("--json").output().expect("run race");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "race printed no report: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code().unwrap_or(-1))
}

/// Instances that answered at least one booking with success in a race report.
pub fn instances_with_successes(report: &Value) -> Vec<String> {
    report["perInstance"]
        .as_object()
        .map(|instances| {
            instances
                .iter()
                .filter(|(_, c)| c["successes"].as_u64().unwrap_or(0) > 0)
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A TCP proxy to Redis that delays everything Redis sends back by `delay` (what the client
/// sends goes through at once): a request reaches Redis and runs there, its reply is late.
pub struct SlowRepliesProxy {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl SlowRepliesProxy {
    pub async fn start(redis_port: u16, delay: Duration) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", redis_port)).await
                else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(n) = server_read.read(&mut buffer).await {
                        if n == 0 || tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    while let Some((arrived, bytes)) = rx.recv().await {
                        tokio::time::sleep_until((arrived + delay).into()).await;
                        if client_write.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { port, task }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for SlowRepliesProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
