//! One connection type for both topologies: a single Redis or a Redis Cluster. Handlers,
//! scripts and tools use [`RedisConn`] as any `ConnectionLike`; only this file knows which
//! one runs (as svix-server does it).
//!
//! * Single: one multiplexed [`ConnectionManager`], which reconnects by itself.
//! * Cluster: a [`ClusterConnection`] (one multiplexed connection per node), which routes
//!   each command (an `EVALSHA` by its first key) to the primary of its slot, follows
//!   `MOVED`/`ASK`, refreshes the slot map after a failover, and on `NOSCRIPT` loads the
//!   script on every primary and retries. It is made on first use, not at start: a replica
//!   starts, and serves the events of the shards it can reach, whatever state the cluster is
//!   in.
//!
//! Both accept credentials (`REDIS_USERNAME`, `REDIS_PASSWORD`, or a `REDIS_URL` that carries
//! them) and keep the same connect and reply deadlines.

use crate::config::RedisSettings;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisError,
    RedisFuture, Value,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// A connection to whichever topology runs; cheap to clone (a handle on multiplexed sockets).
#[derive(Clone)]
pub enum RedisConn {
    /// The shared connection to a single Redis (reconnects by itself).
    Single(ConnectionManager),
    /// A connection of its own to a single Redis (see [`AckPool`]).
    Own(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_command(cmd),
            RedisConn::Own(conn) => conn.req_packed_command(cmd),
            RedisConn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConn::Own(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(conn) => conn.get_db(),
            RedisConn::Own(conn) => conn.get_db(),
            RedisConn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connection of its own to one primary, for work that must stay on one socket (WATCH).
pub struct NodeConn {
    /// `host:port`.
    pub name: String,
    pub conn: MultiplexedConnection,
}

/// How this process reaches Redis.
#[derive(Clone)]
pub(super) enum Topology {
    Single {
        manager: ConnectionManager,
        // Behind Arcs: the store is cloned with the app state for every request.
        info: Arc<ConnectionInfo>,
        config: Arc<AsyncConnectionConfig>,
    },
    Cluster {
        client: Arc<ClusterClient>,
        conn: Arc<OnceCell<ClusterConnection>>,
        credentials: Arc<Credentials>,
        config: Arc<AsyncConnectionConfig>,
        /// The seed nodes, `redis://host:port` each (for pub/sub, which any node serves).
        seeds: Arc<Vec<String>>,
    },
}

#[derive(Clone, Default)]
pub(super) struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

impl Topology {
    /// Prepares the connection without waiting for Redis.
    pub(super) fn open(settings: &RedisSettings) -> Result<Self, String> {
        let connect = Duration::from_millis(settings.connect_timeout_ms);
        let response = Duration::from_millis(settings.response_timeout_ms);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(response));
        let credentials = Credentials {
            username: settings.username.clone(),
            password: settings.password()?,
        };
        match &settings.cluster_nodes {
            None => {
                let info = with_credentials(
                    settings
                        .url
                        .as_str()
                        .into_connection_info()
                        .map_err(|e| format!("REDIS_URL {}: {e}", settings.url))?,
                    &credentials,
                );
                let client = redis::Client::open(info.clone())
                    .map_err(|e| format!("REDIS_URL {}: {e}", settings.url))?;
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(connect))
                    .set_response_timeout(Some(response))
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                let manager = ConnectionManager::new_lazy_with_config(client, manager_config)
                    .map_err(|e| format!("REDIS_URL {}: {e}", settings.url))?;
                Ok(Topology::Single {
                    manager,
                    info: Arc::new(info),
                    config: Arc::new(config),
                })
            }
            Some(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.urls())
                    .connection_timeout(connect)
                    .response_timeout(response)
                    // A failover takes seconds; the request deadline bounds the waiting.
                    .retries(5)
                    .min_retry_wait(20)
                    .max_retry_wait(200);
                if let Some(username) = &credentials.username {
                    builder = builder.username(username);
                }
                if let Some(password) = &credentials.password {
                    builder = builder.password(password);
                }
                let client = builder
                    .build()
                    .map_err(|e| format!("REDIS_CLUSTER_NODES {nodes}: {e}"))?;
                Ok(Topology::Cluster {
                    client: Arc::new(client),
                    conn: Arc::new(OnceCell::new()),
                    credentials: Arc::new(credentials),
                    config: Arc::new(config),
                    seeds: Arc::new(nodes.urls()),
                })
            }
        }
    }

    /// The shared connection. For a cluster, the first call connects (to any seed node that
    /// answers); a failed attempt is tried again by the next call.
    pub(super) async fn conn(&self) -> Result<RedisConn, RedisError> {
        match self {
            Topology::Single { manager, .. } => Ok(RedisConn::Single(manager.clone())),
            Topology::Cluster { client, conn, .. } => {
                let conn = conn
                    .get_or_try_init(|| client.get_async_connection())
                    .await?;
                Ok(RedisConn::Cluster(conn.clone()))
            }
        }
    }

    /// A new connection of its own (a new cluster connection, on a cluster).
    pub(super) async fn own(&self) -> Result<RedisConn, RedisError> {
        match self {
            Topology::Single { info, config, .. } => Ok(RedisConn::Own(
                redis::Client::open(ConnectionInfo::clone(info))?
                    .get_multiplexed_async_connection_with_config(config)
                    .await?,
            )),
            Topology::Cluster { client, .. } => {
                Ok(RedisConn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// A pub/sub connection. On a cluster, to the first node that answers, the live
    /// primaries first, then the seeds: a message published on any node of a cluster reaches
    /// the subscribers of every node.
    pub(super) async fn pubsub(&self, timeout: Duration) -> Result<redis::aio::PubSub, RedisError> {
        let infos = match self {
            Topology::Single { info, .. } => vec![ConnectionInfo::clone(info)],
            Topology::Cluster {
                seeds, credentials, ..
            } => {
                let mut urls = Vec::new();
                if let Ok(Ok(mut conn)) = tokio::time::timeout(timeout, self.conn()).await {
                    let nodes: Result<Result<String, _>, _> = tokio::time::timeout(
                        timeout,
                        redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn),
                    )
                    .await;
                    if let Ok(Ok(nodes)) = nodes {
                        urls.extend(
                            live_primaries(&nodes)
                                .into_iter()
                                .map(|(host, port)| format!("redis://{host}:{port}")),
                        );
                    }
                }
                urls.extend(seeds.iter().cloned());
                urls.iter()
                    .filter_map(|url| url.as_str().into_connection_info().ok())
                    .map(|info| with_credentials(info, credentials))
                    .collect()
            }
        };
        let mut failure = None;
        for info in infos {
            let attempt = async { redis::Client::open(info)?.get_async_pubsub().await };
            match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => {
                    failure = Some(RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "pub/sub connection timed out",
                    )))
                }
            }
        }
        Err(failure.unwrap_or_else(|| {
            RedisError::from(std::io::Error::other("no Redis node to subscribe on"))
        }))
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Topology::Cluster { .. })
    }

    /// A connection of its own to every primary (the one Redis, or each primary of the
    /// cluster), for reads that WATCH keys.
    pub(super) async fn primaries(&self) -> Result<Vec<NodeConn>, RedisError> {
        match self {
            Topology::Single { info, config, .. } => {
                let conn = redis::Client::open(ConnectionInfo::clone(info))?
                    .get_multiplexed_async_connection_with_config(config)
                    .await?;
                Ok(vec![NodeConn {
                    name: info.addr().to_string(),
                    conn,
                }])
            }
            Topology::Cluster {
                credentials,
                config,
                ..
            } => {
                let mut routed = self.conn().await?;
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut routed)
                    .await?;
                let mut primaries = Vec::new();
                for (host, port) in live_primaries(&nodes) {
                    let info = with_credentials(
                        format!("redis://{host}:{port}").into_connection_info()?,
                        credentials,
                    );
                    let conn = redis::Client::open(info)?
                        .get_multiplexed_async_connection_with_config(config)
                        .await?;
                    primaries.push(NodeConn {
                        name: format!("{host}:{port}"),
                        conn,
                    });
                }
                Ok(primaries)
            }
        }
    }
}

fn with_credentials(mut info: ConnectionInfo, credentials: &Credentials) -> ConnectionInfo {
    let mut redis = info.redis_settings().clone();
    if let Some(username) = &credentials.username {
        redis = redis.set_username(username);
    }
    if let Some(password) = &credentials.password {
        redis = redis.set_password(password);
    }
    info = info.set_redis_settings(redis);
    info
}

/// The primaries in a `CLUSTER NODES` reply that are not failed: `(host, port)`.
fn live_primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = *fields.get(2)?;
            let is_primary = flags.split(',').any(|f| f == "master");
            let failed = flags
                .split(',')
                .any(|f| f == "fail" || f == "fail?" || f == "noaddr");
            if !is_primary || failed {
                return None;
            }
            // ip:port@cport[,hostname]
            let address = fields.get(1)?.split('@').next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// Connections of their own for `WAIT` (`REDIS_MIN_REPLICAS_ACK`). Redis answers one
/// connection's commands in order, so a `WAIT` on the shared connection would hold every
/// request queued behind it until the replicas answer (or, with no replica left, until it times
/// out). Each acknowledgement checks one of these out, runs its write and its `WAIT`, and
/// returns it; the shared connection never waits for a replica.
pub(super) type AckPool = deadpool::managed::Pool<AckConnections>;

pub(super) struct AckConnections(pub(super) Topology);

impl deadpool::managed::Manager for AckConnections {
    type Type = RedisConn;
    type Error = RedisError;

    async fn create(&self) -> Result<RedisConn, RedisError> {
        self.0.own().await
    }

    /// No health check (no PING per checkout): a connection that failed is taken out of the
    /// pool by whoever saw it fail.
    async fn recycle(
        &self,
        _: &mut RedisConn,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<RedisError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn live_primaries_are_read_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master,fail - 0 1426238318243 3 connected 10923-16383
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
";
        assert_eq!(
            super::live_primaries(nodes),
            [
                ("127.0.0.1".to_owned(), 30002),
                ("127.0.0.1".to_owned(), 30001)
            ]
        );
    }
}
