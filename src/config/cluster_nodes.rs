//! `REDIS_CLUSTER_NODES`: the seed nodes of a Redis Cluster, checked at start.

use std::fmt;
use std::str::FromStr;

/// `host:port,host:port,...` (or `redis://host:port` entries): where to learn the cluster's
/// topology. Any one reachable node is enough; the client follows the cluster from there.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterNodes(Vec<(String, u16)>);

impl ClusterNodes {
    /// Each node as a URL the Redis client takes (credentials are given apart).
    pub fn urls(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(host, port)| format!("redis://{host}:{port}"))
            .collect()
    }
}

impl FromStr for ClusterNodes {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let mut nodes = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let address = entry.strip_prefix("redis://").unwrap_or(entry);
            if address.contains('@') || address.contains('/') {
                return Err(format!(
                    "{entry:?}: give nodes as host:port; credentials go in REDIS_USERNAME and REDIS_PASSWORD"
                ));
            }
            let (host, port) = address
                .rsplit_once(':')
                .ok_or_else(|| format!("{entry:?} is not host:port"))?;
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("{entry:?}: {port:?} is not a port"))?;
            if host.is_empty() {
                return Err(format!("{entry:?} names no host"));
            }
            nodes.push((host.to_owned(), port));
        }
        if nodes.is_empty() {
            return Err(
                "expected host:port[,host:port...], e.g. 10.0.0.1:6379,10.0.0.2:6379".into(),
            );
        }
        Ok(Self(nodes))
    }
}

impl fmt::Display for ClusterNodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<String> = self.0.iter().map(|(h, p)| format!("{h}:{p}")).collect();
        write!(f, "redis cluster {}", nodes.join(","))
    }
}

impl fmt::Debug for ClusterNodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterNodes({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_parse_and_bad_ones_say_why() {
        let nodes: ClusterNodes = "10.0.0.1:7001, redis://node-b:7002".parse().expect("valid");
        assert_eq!(
            nodes.urls(),
            ["redis://10.0.0.1:7001", "redis://node-b:7002"]
        );
        assert_eq!(nodes.to_string(), "redis cluster 10.0.0.1:7001,node-b:7002");
        for (bad, says) in [
            ("", "expected host:port"),
            ("host", "not host:port"),
            ("h:x", "not a port"),
            (":7001", "no host"),
            ("redis://u:p@h:1", "REDIS_PASSWORD"),
        ] {
            let error = bad.parse::<ClusterNodes>().expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
