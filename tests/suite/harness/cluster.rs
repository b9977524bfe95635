//! A Redis Cluster of the test's own: three primaries with one replica each, real
//! redis-server processes in cluster mode on loopback, created with `redis-cli --cluster
//! create`. A short `cluster-node-timeout` (1 s) makes a failover take seconds, not minutes.

use super::redis::{Access, RedisServer};
use super::{PATIENCE, free_port, wait_until};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    access: Access,
}

/// What every node runs with.
fn node_args(bus_port: u16) -> Vec<String> {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "1000",
        // A shard without a primary must not stop the others.
        "--cluster-require-full-coverage",
        "no",
        "--cluster-port",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([bus_port.to_string()])
    .collect()
}

impl RedisCluster {
    /// Three primaries, one replica each, with users as deployed ([`Access::Acl`]).
    pub fn start() -> Self {
        Self::start_nodes(3, 1, Access::acl())
    }

    /// Nodes that require `password` (clients, and replicas of their primary).
    pub fn start_with_password(password: &str) -> Self {
        Self::start_nodes(3, 1, Access::Password(password.to_owned()))
    }

    fn start_nodes(primaries: usize, replicas_each: usize, access: Access) -> Self {
        let count = primaries * (1 + replicas_each);
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                let args = node_args(free_port());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                RedisServer::start_as(access.clone(), &args)
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let output = Command::new("redis-cli")
            .args(access.cli_args())
            .args(["--cluster", "create"])
            .args(&addresses)
            .args([
                "--cluster-replicas",
                &replicas_each.to_string(),
                "--cluster-yes",
            ])
            .output()
            .expect("redis-cli (scripts/test installs redis-tools)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes, access };
        cluster.wait_until_healthy(primaries);
        cluster
    }

    /// Every live node agrees: all slots served, `primaries` primaries, and every replica
    /// in sync with its primary (a replica that never synced may not take over).
    pub fn wait_until_healthy(&self, primaries: usize) {
        wait_until("the cluster is ok on every node", || {
            self.nodes.iter().filter(|n| n.ping()).all(|node| {
                let info: String = node.query(&["CLUSTER", "INFO"]);
                let replication: String = node.query(&["INFO", "replication"]);
                info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_ok:16384")
                    && (replication.contains("role:master")
                        || replication.contains("master_link_status:up"))
            }) && self.primaries().len() == primaries
        });
    }

    /// `host:port,...` of every node, for `REDIS_CLUSTER_NODES`.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// (username, password) the app logs in with.
    pub fn service_credentials(&self) -> (Option<&str>, Option<&str>) {
        self.access.service()
    }

    /// The live nodes that are primaries now, as a live node sees the cluster.
    pub fn primaries(&self) -> Vec<&RedisServer> {
        self.nodes
            .iter()
            .filter(|n| n.ping())
            .filter(|n| {
                let role: Vec<redis::Value> = n.query(&["ROLE"]);
                matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
            })
            .collect()
    }

    /// The node that is primary of `slot` now.
    pub fn primary_of(&self, slot: u16) -> &RedisServer {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for node in self.primaries() {
                let shards: String = node.query(&["CLUSTER", "NODES"]);
                let myself = shards.lines().find(|l| l.contains("myself")).unwrap_or("");
                if serves_slot(myself, slot) {
                    return node;
                }
            }
            assert!(Instant::now() < deadline, "no primary serves slot {slot}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A cluster client connection (routes each command by its key).
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.ping())
            .map(|n| format!("redis://127.0.0.1:{}", n.port()))
            .collect();
        let mut builder = redis::cluster::ClusterClientBuilder::new(nodes);
        let (user, password) = self.access.admin();
        if let Some(user) = user {
            builder = builder.username(user);
        }
        if let Some(password) = password {
            builder = builder.password(password);
        }
        builder
            .build()
            .and_then(|c| c.get_connection())
            .expect("cluster connection")
    }
}

/// Whether a `CLUSTER NODES` line lists `slot` among its ranges.
fn serves_slot(line: &str, slot: u16) -> bool {
    line.split_whitespace().skip(8).any(|range| {
        let mut bounds = range.split('-');
        match (
            bounds.next().and_then(|a| a.parse::<u16>().ok()),
            bounds.next(),
        ) {
            (Some(only), None) => only == slot,
            (Some(from), Some(to)) => to
                .parse::<u16>()
                .is_ok_and(|to| (from..=to).contains(&slot)),
            _ => false,
        }
    })
}
