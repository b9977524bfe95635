//! A redis-server of the test's own: a free port, a temporary directory, killed on drop.
//! Tests may pause (SIGSTOP), kill and restart it at will.

use super::{free_port, start_listening, wait_until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
    access: Access,
}

/// Who may use a test Redis.
#[derive(Clone, Debug)]
pub enum Access {
    /// Anyone (the `default` user, no password).
    Open,
    /// `requirepass`: the `default` user with a password.
    Password(String),
    /// As deployed (redis/make-secrets.sh): `default` off, `admin` may do anything (the
    /// test's own queries, replication), `boxoffice` only what `redis/acl-rules` allows
    /// (the app under test).
    Acl { admin: String, service: String },
}

/// The service user's ACL rules, as deployments load them.
const ACL_RULES: &str = include_str!("../../../redis/acl-rules");

/// The ACL user the app logs in as.
pub const SERVICE_USER: &str = "boxoffice";

impl Access {
    /// Fresh passwords for an [`Access::Acl`] Redis.
    pub fn acl() -> Self {
        let random = || uuid::Uuid::new_v4().simple().to_string();
        Access::Acl {
            admin: random(),
            service: random(),
        }
    }

    /// redis-server arguments that set it up.
    pub fn args(&self) -> Vec<String> {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Access::Open => vec![],
            Access::Password(p) => owned(&["--requirepass", p, "--masterauth", p]),
            Access::Acl { admin, service } => {
                let rules = ACL_RULES
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .flat_map(str::split_whitespace);
                let mut args = owned(&["--user", "default", "off"]);
                args.extend(owned(&[
                    "--user",
                    "admin",
                    "on",
                    &format!(">{admin}"),
                    "~*",
                    "&*",
                    "+@all",
                ]));
                args.extend(owned(&[
                    "--user",
                    SERVICE_USER,
                    "on",
                    &format!(">{service}"),
                    "resetchannels",
                ]));
                args.extend(rules.map(str::to_owned));
                args.extend(owned(&["--masteruser", "admin", "--masterauth", admin]));
                args
            }
        }
    }

    /// `user:password@` of whoever may do anything, for URLs.
    fn admin_userinfo(&self) -> String {
        match self {
            Access::Open => String::new(),
            Access::Password(p) => format!(":{p}@"),
            Access::Acl { admin, .. } => format!("admin:{admin}@"),
        }
    }

    /// (username, password) for a client that may do anything.
    pub fn admin(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Access::Open => (None, None),
            Access::Password(p) => (None, Some(p)),
            Access::Acl { admin, .. } => (Some("admin"), Some(admin)),
        }
    }

    /// (username, password) the app logs in with.
    pub fn service(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Access::Acl { service, .. } => (Some(SERVICE_USER), Some(service)),
            other => other.admin(),
        }
    }

    /// redis-cli arguments to log in as admin.
    pub fn cli_args(&self) -> Vec<String> {
        let mut args = vec!["--no-auth-warning".to_owned()];
        let (user, password) = self.admin();
        if let Some(user) = user {
            args.extend(["--user".to_owned(), user.to_owned()]);
        }
        if let Some(password) = password {
            args.extend(["--pass".to_owned(), password.to_owned()]);
        }
        args
    }
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

    /// With `requirepass`: [`url`](Self::url) carries the password.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_as(Access::Password(password.to_owned()), &[])
    }

    /// Users as deployed: the app logs in as `boxoffice`, allowed only `redis/acl-rules`
    /// ([`service_url`](Self::service_url)); the test's own queries as `admin`.
    pub fn start_acl() -> Self {
        Self::start_as(Access::acl(), &[])
    }

    pub fn start_with(extra_args: &[&str]) -> Self {
        Self::start_as(Access::Open, extra_args)
    }

    /// With `access` and more arguments.
    pub fn start_as(access: Access, extra_args: &[&str]) -> Self {
        let mut args = access.args();
        args.extend(extra_args.iter().map(|s| s.to_string()));
        Self {
            child: None,
            port: 0,
            dir: tempfile::tempdir().expect("temp dir"),
            extra_args: args,
            access,
        }
        .launch()
    }

    fn launch(mut self) -> Self {
        let log = self.log();
        let (child, port) = start_listening(
            "redis-server",
            |port| {
                self.port = port;
                // A cluster node's bus port was found free the same way: a new one each try.
                if let Some(at) = self.extra_args.iter().position(|a| a == "--cluster-port") {
                    self.extra_args[at + 1] = free_port().to_string();
                }
                self.command()
            },
            &log,
        );
        (self.child, self.port) = (Some(child), port);
        wait_until("redis-server answers PING", || self.ping());
        self
    }

    /// Its log (redis-server logs to standard output), kept across restarts.
    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// redis-server started on `self.port`.
    fn command(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("redis log");
        Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--dir"])
            .arg(self.dir.path())
            .args(&self.extra_args)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found on PATH (scripts/test installs it)")
    }

    /// Starts it on its port; true once it answers, false if it exited or did not answer
    /// within 30 s.
    fn spawn(&mut self) -> bool {
        self.child = Some(self.command());
        let deadline = Instant::now() + Duration::from_secs(30);
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

    /// A URL that may do anything: the test's own queries.
    pub fn url(&self) -> String {
        format!(
            "redis://{}127.0.0.1:{}",
            self.access.admin_userinfo(),
            self.port
        )
    }

    /// The URL the app under test uses: on an ACL Redis, the `boxoffice` user's.
    pub fn service_url(&self) -> String {
        match &self.access {
            Access::Acl { service, .. } => {
                format!("redis://{SERVICE_USER}:{service}@127.0.0.1:{}", self.port)
            }
            _ => self.url(),
        }
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// A synchronous connection for inspecting or tampering with state directly.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(10)))
            .expect("connect to the test redis")
    }

    /// Runs one command and returns its reply.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut self.connection())
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Redis's clock in milliseconds: the clock that expires locks.
    pub fn now_ms(&self) -> i64 {
        let (seconds, micros): (i64, i64) = self.query(&["TIME"]);
        seconds * 1000 + micros / 1000
    }

    /// Blocks until `key` no longer exists (e.g. a lock reached its expiry).
    pub fn wait_until_gone(&self, key: &str) {
        wait_until(&format!("{key} expires"), || {
            self.query::<i64>(&["EXISTS", key]) == 0
        });
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
        let deadline = Instant::now() + super::PATIENCE;
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
