//! Real `boxoffice` processes (the binary cargo built for this test run), and the `race` tool.

use super::app::{PATIENT_REDIS, TEST_AUTH};
use super::http::Http;
use super::{PATIENCE, free_port, raise_fd_limit, start_listening, test_log};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Option<Child>,
    pub port: u16,
    /// Where its `GET /metrics` is.
    pub metrics_port: u16,
    pub instance: String,
    pub http: Http,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// A replica on a single Redis or a cluster.
    pub fn on(backend: &super::Backend, instance: &str, env: &[(&str, &str)]) -> Self {
        let target = backend.env();
        let mut all: Vec<(&str, &str)> = target.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(env);
        Self::spawn("", instance, &all)
    }

    /// Starts a replica on a free port with patient Redis deadlines; `env` overrides anything.
    pub fn spawn(redis_url: &str, instance: &str, env: &[(&str, &str)]) -> Self {
        raise_fd_limit();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let mut metrics_port = 0;
        let (child, port) = start_listening(
            &format!("boxoffice {instance}"),
            |port| {
                // Also found free, so also taken at times: the replica exits as for its port.
                metrics_port = free_port();
                Command::new(env!("CARGO_BIN_EXE_boxoffice"))
                    .env("BIND_ADDR", format!("127.0.0.1:{port}"))
                    .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
                    .env(
                        "REDIS_URL",
                        if redis_url.is_empty() {
                            "redis://127.0.0.1:6379"
                        } else {
                            redis_url
                        },
                    )
                    .env("INSTANCE_ID", instance)
                    .envs(PATIENT_REDIS)
                    .envs(TEST_AUTH)
                    .env("RUST_LOG", test_log().unwrap_or_else(|| "warn".into()))
                    .envs(env.iter().copied())
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).expect("log file"))
                    .spawn()
                    .expect("spawn boxoffice")
            },
            &log,
        );
        Self {
            child: Some(child),
            port,
            metrics_port,
            instance: instance.to_owned(),
            http: Http::new(format!("http://127.0.0.1:{port}")),
            log,
            _dir: dir,
        }
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

    /// Sends SIGTERM and waits for the exit (at most [`PATIENCE`]); returns the exit code
    /// (`None` if it had to be killed) and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        if let Some(pid) = self.pid() {
            let _ = kill(pid, Signal::SIGTERM);
        }
        let mut child = self.child.take().expect("running");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() > PATIENCE {
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
        if std::thread::panicking() || test_log().is_some() {
            let log = self.log();
            if !log.is_empty() {
                eprintln!("--- log of replica {} ---\n{log}", self.instance);
            }
        }
    }
}

/// Runs the `race` binary with `--json` and returns its report and exit code.
pub fn run_race(targets: &[String], args: &[&str]) -> (Value, i32) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_race"));
    command.env("AUTH_JWT_SECRET", super::http::TEST_SECRET);
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
