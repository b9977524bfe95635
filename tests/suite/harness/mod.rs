//! The test harness: real processes, split by concern.
//!
//! * [`redis`]: a redis-server of the test's own, on a free port, in a temporary directory;
//! * [`cluster`]: a Redis Cluster of the test's own (three primaries, three replicas);
//! * [`backend`]: either of them, so that one test runs on both topologies ([`both!`]);
//! * [`app`]: the service in-process on an ephemeral port ([`TestApp`]);
//! * [`replicas`]: real `boxoffice` processes ([`ServerProcess`]) and the `race` tool;
//! * [`nginx`]: nginx with the project's own `nginx/nginx.conf` in front of replicas;
//! * [`proxy`]: a Redis proxy that can hold back Redis's replies, to put a replica in the
//!   "the script ran, the answer did not come back yet" state on purpose;
//! * [`http`]: a small JSON client; [`audit`]: `boxoffice audit` as a check;
//! * [`receiver`]: a webhook receiver that records what it gets and answers what it is told.
//!
//! Tests wait for the *state* they need (a key to expire, a count to be reached), never for
//! time to pass: the suite must pass on a loaded two-core machine. Tests get generous Redis
//! deadlines (see [`app::test_settings`]); only the fault tests set the product's short ones.
//!
//! `TEST_LOG=<filter>` (e.g. `TEST_LOG=debug`) sends the logs of in-process apps and of
//! spawned replicas to stderr; without it, replicas log warnings to a file that a failing
//! test prints.

#![allow(dead_code)] // not every helper is used by every module

pub mod app;
pub mod audit;
pub mod backend;
pub mod browser;
pub mod cluster;
pub mod http;
pub mod nginx;
pub mod proxy;
pub mod receiver;
pub mod redis;
pub mod replicas;
pub mod sse;

pub use app::{TestApp, test_settings};
pub use audit::{assert_audit_clean, audit};
pub use backend::Backend;
pub use cluster::RedisCluster;
pub use http::{Http, Reply, TEST_SECRET, bearer, organizer, token};
pub use nginx::Nginx;
pub use proxy::{RedisProxy, script_name};
pub use redis::RedisServer;
pub use replicas::{ServerProcess, instances_with_successes, run_race};

use std::future::Future;
use std::time::{Duration, Instant};

/// How long any "wait until" may take before the test gives up: far longer than anything
/// needs on an idle machine, so that only a real hang fails a test.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Lets one test process hold thousands of sockets (races open one per request).
pub fn raise_fd_limit() {
    let _ = rlimit::increase_nofile_limit(65_536);
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// Starts a server (`start(port)` spawns it on `port`) on a port found free, and returns it
/// once it accepts connections there. A port found free can be taken before the server binds
/// it: outgoing connections (the suite makes thousands) get their local port from the same
/// ephemeral range that `free_port` draws from. The server then exits at once, and is
/// started again on another port; a server that exits five times panics with its `log`.
pub fn start_listening(
    what: &str,
    mut start: impl FnMut(u16) -> std::process::Child,
    log: &std::path::Path,
) -> (std::process::Child, u16) {
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    for _ in 0..5 {
        let port = free_port();
        let mut child = start(port);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, port);
            }
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!("{what} exited ({status}) before listening on {port}; again");
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("{what} listens: not after {PATIENCE:?}\n{}", log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{what} exited before listening, five times:\n{}", log());
}

/// `TEST_LOG`, if set: the log filter for apps and replicas under test.
pub fn test_log() -> Option<String> {
    std::env::var("TEST_LOG").ok().filter(|v| !v.is_empty())
}

/// Blocks until `ready()` holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (asynchronously) until `ready()` holds; panics after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !ready().await {
        assert!(Instant::now() < deadline, "{what}: not after {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
