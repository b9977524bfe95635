//! One suite, two topologies: a test written against a [`Backend`] runs on a single Redis and
//! on a Redis Cluster alike ([`both!`] makes the two tests). The backend says how the app
//! reaches it, answers direct queries (a cluster routes them by key), and audits itself.

use super::audit::audit_with;
use super::cluster::RedisCluster;
use super::redis::RedisServer;
use super::wait_until;
use boxoffice::config::Settings;

pub enum Backend {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    /// Both topologies run with users as deployed: the app may use only what
    /// `redis/acl-rules` allows, so every route tested on a backend proves the rules suffice.
    pub fn single() -> Self {
        Backend::Single(RedisServer::start_acl())
    }

    pub fn cluster() -> Self {
        Backend::Cluster(RedisCluster::start())
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Backend::Cluster(_))
    }

    /// Test settings (see [`super::app::test_settings`]) pointed at this backend.
    pub fn settings(&self) -> Settings {
        match self {
            Backend::Single(redis) => super::app::test_settings(&redis.service_url()),
            Backend::Cluster(cluster) => {
                let mut settings = super::app::test_settings("redis://127.0.0.1:1");
                settings.redis.cluster_nodes = Some(cluster.seeds().parse().expect("seeds"));
                let (user, password) = cluster.service_credentials();
                settings.redis.username = user.map(str::to_owned);
                settings.redis.password = password.map(str::to_owned);
                settings
            }
        }
    }

    /// As [`Self::settings`], in open mode (the seed systems' API: clients name themselves).
    pub fn open_settings(&self) -> Settings {
        super::app::open_settings(self.settings())
    }

    /// Environment for a `boxoffice` process on this backend.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Backend::Single(redis) => vec![("REDIS_URL", redis.service_url())],
            Backend::Cluster(cluster) => {
                let mut env = vec![("REDIS_CLUSTER_NODES", cluster.seeds())];
                let (user, password) = cluster.service_credentials();
                env.extend(user.map(|u| ("REDIS_USERNAME", u.to_owned())));
                env.extend(password.map(|p| ("REDIS_PASSWORD", p.to_owned())));
                env
            }
        }
    }

    /// Arguments naming this backend to `boxoffice audit`, which logs in as the service
    /// user: the audit, too, needs nothing beyond `redis/acl-rules`.
    pub fn audit_args(&self) -> Vec<String> {
        match self {
            Backend::Single(redis) => vec!["--redis-url".into(), redis.service_url()],
            Backend::Cluster(cluster) => {
                let mut args = vec!["--redis-cluster-nodes".into(), cluster.seeds()];
                let (user, password) = cluster.service_credentials();
                args.extend(
                    user.into_iter()
                        .flat_map(|u| ["--redis-username".into(), u.to_owned()]),
                );
                args.extend(
                    password
                        .into_iter()
                        .flat_map(|p| ["--redis-password".into(), p.to_owned()]),
                );
                args
            }
        }
    }

    /// `boxoffice audit` on this backend: exit code and output.
    pub fn audit(&self) -> (i32, String) {
        audit_with(&self.audit_args())
    }

    pub fn assert_audit_clean(&self) {
        let (code, out) = self.audit();
        assert_eq!(code, 0, "audit found violations:\n{out}");
        assert!(out.contains("OK: every invariant holds"), "{out}");
    }

    /// Runs one command (on a cluster, on the node of its first key).
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        let reply = match self {
            Backend::Single(redis) => cmd.query(&mut redis.connection()),
            Backend::Cluster(cluster) => cmd.query(&mut cluster.connection()),
        };
        reply.unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Redis's clock in milliseconds (on a cluster, the first node's: they share a host).
    pub fn now_ms(&self) -> i64 {
        match self {
            Backend::Single(redis) => redis.now_ms(),
            Backend::Cluster(cluster) => cluster.nodes[0].now_ms(),
        }
    }

    /// Blocks until `key` no longer exists (e.g. a lock reached its expiry).
    pub fn wait_until_gone(&self, key: &str) {
        wait_until(&format!("{key} expires"), || {
            self.query::<i64>(&["EXISTS", key]) == 0
        });
    }
}

/// `both!(async fn name(backend) { ... });` makes `name::single` and `name::cluster`, the same
/// test on a single Redis and on a three-primary cluster.
#[macro_export]
macro_rules! both {
    ($(#[doc = $doc:literal])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: &$crate::harness::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn single() {
                run(&$crate::harness::Backend::single()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cluster() {
                run(&$crate::harness::Backend::cluster()).await
            }
        }
    };
}
