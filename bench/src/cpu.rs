//! Replica CPU time from /proc, for `--replica-pid`: what the replicas spent per request.

use serde_json::json;

/// CPU time (user + system) of processes, from /proc/<pid>/stat, since `start`.
pub struct CpuClock {
    pids: Vec<u32>,
    started: Vec<Option<u64>>,
}

impl CpuClock {
    /// Clock ticks of user + system time (fields 14 and 15 of /proc/<pid>/stat).
    fn ticks(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces: count fields after its closing ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }

    pub fn start(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
            started: pids.iter().map(|p| Self::ticks(*p)).collect(),
        }
    }

    /// CPU seconds spent since `start` by all the processes, and µs per request; null without
    /// processes or when one could not be read.
    pub fn per_request(&self, requests: u64) -> serde_json::Value {
        if self.pids.is_empty() {
            return serde_json::Value::Null;
        }
        // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
        const TICKS_PER_SEC: f64 = 100.0;
        let mut ticks = 0;
        for (pid, started) in self.pids.iter().zip(&self.started) {
            match (started, Self::ticks(*pid)) {
                (Some(before), Some(after)) => ticks += after.saturating_sub(*before),
                _ => return serde_json::Value::Null,
            }
        }
        let seconds = ticks as f64 / TICKS_PER_SEC;
        json!({
            "cpuSecs": seconds,
            "usPerRequest": if requests == 0 { 0.0 } else { seconds * 1e6 / requests as f64 },
        })
    }
}
