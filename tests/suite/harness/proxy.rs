//! A TCP proxy in front of Redis that understands just enough RESP to count commands and
//! replies, and that can hold Redis's replies back on purpose.
//!
//! `hold_replies_from(&[script_name(&scripts.book)])` puts a replica in the state "its booking
//! script ran in Redis, the answer has not come back": from the first reply to it on a
//! connection, every
//! reply on that connection is kept (a connection's replies are ordered, so nothing after a
//! held reply may pass). Requests still reach Redis and run. The counters tell a test exactly
//! what Redis ran and what the replica learnt, so it can wait for that state instead of for
//! time to pass.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What went through the proxy, by command name (upper case), since it started.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Requests passed to Redis.
    pub forwarded: HashMap<String, usize>,
    /// Replies Redis sent back.
    pub answered: HashMap<String, usize>,
    /// Replies passed on to the client.
    pub delivered: HashMap<String, usize>,
    /// Replies kept back.
    pub held: HashMap<String, usize>,
}

fn get(map: &HashMap<String, usize>, name: &str) -> usize {
    map.get(name).copied().unwrap_or(0)
}

impl Counts {
    pub fn forwarded(&self, name: &str) -> usize {
        get(&self.forwarded, name)
    }
    pub fn delivered(&self, name: &str) -> usize {
        get(&self.delivered, name)
    }
    pub fn held(&self, name: &str) -> usize {
        get(&self.held, name)
    }
    /// Every request passed to Redis has been answered by Redis (delivered or held).
    pub fn all_answered(&self) -> bool {
        self.forwarded.values().sum::<usize>() == self.answered.values().sum::<usize>()
    }
}

#[derive(Default)]
struct Shared {
    counts: Mutex<Counts>,
}

pub struct RedisProxy {
    pub port: u16,
    shared: Arc<Shared>,
    /// `Some(names)`: hold replies from the first reply to one of `names` on.
    hold: watch::Sender<Option<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RedisProxy {
    pub async fn start(redis_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let (hold, hold_rx) = watch::channel(None);
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)).await else {
                        continue;
                    };
                    tokio::spawn(relay(client, server, shared.clone(), hold_rx.clone()));
                }
            }
        });
        Self {
            port,
            shared,
            hold,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// From now on, hold every reply from the first reply to one of `commands` on (per
    /// connection).
    pub fn hold_replies_from(&self, commands: &[String]) {
        let names = commands.to_vec();
        self.hold.send_replace(Some(names));
    }

    /// Passes every held reply on and holds nothing any more.
    pub fn release(&self) {
        self.hold.send_replace(None);
    }

    pub fn counts(&self) -> Counts {
        self.shared.counts.lock().expect("counts").clone()
    }
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    shared: Arc<Shared>,
    mut hold: watch::Receiver<Option<Vec<String>>>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Names of the requests whose replies are still due, in order.
    let pending = Arc::new(Mutex::new(VecDeque::<String>::new()));

    let requests = {
        let (pending, shared) = (pending.clone(), shared.clone());
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buffer.extend_from_slice(&chunk[..n]);
                let mut complete = 0;
                while let Some(len) = frame_len(&buffer[complete..]) {
                    let name = command_name(&buffer[complete..complete + len]);
                    pending.lock().expect("pending").push_back(name.clone());
                    *shared
                        .counts
                        .lock()
                        .expect("counts")
                        .forwarded
                        .entry(name)
                        .or_default() += 1;
                    complete += len;
                }
                if complete > 0 {
                    if server_write.write_all(&buffer[..complete]).await.is_err() {
                        return;
                    }
                    buffer.drain(..complete);
                }
            }
        })
    };

    let mut buffer = Vec::new();
    let mut held = Vec::new();
    let mut blocked = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            read = server_read.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buffer.extend_from_slice(&chunk[..n]);
                let mut out = Vec::new();
                let mut complete = 0;
                while let Some(len) = frame_len(&buffer[complete..]) {
                    let frame = &buffer[complete..complete + len];
                    let name = pending.lock().expect("pending").pop_front().unwrap_or_default();
                    let hold_from = hold.borrow().clone();
                    let mut counts = shared.counts.lock().expect("counts");
                    *counts.answered.entry(name.clone()).or_default() += 1;
                    if !blocked && hold_from.is_some_and(|names| names.contains(&name)) {
                        blocked = true;
                    }
                    if blocked {
                        *counts.held.entry(name).or_default() += 1;
                        held.extend_from_slice(frame);
                    } else {
                        *counts.delivered.entry(name).or_default() += 1;
                        out.extend_from_slice(frame);
                    }
                    complete += len;
                }
                buffer.drain(..complete);
                if !out.is_empty() && client_write.write_all(&out).await.is_err() {
                    break;
                }
            }
            changed = hold.changed() => {
                if changed.is_err() {
                    break;
                }
                if hold.borrow().is_none() && blocked {
                    blocked = false;
                    if client_write.write_all(&held).await.is_err() {
                        break;
                    }
                    held.clear();
                }
            }
        }
    }
    requests.abort();
}

/// The upper-case name of a request (`*N $len NAME ...`), or "" if it is not an array. An
/// `EVALSHA` is named with its script: `EVALSHA <sha>` (see [`script_name`]).
fn command_name(frame: &[u8]) -> String {
    let bulk = |at: usize| -> Option<(usize, &[u8])> {
        let (after_len, len_line) = read_line(frame, at)?;
        if len_line.first() != Some(&b'$') {
            return None;
        }
        let len: usize = std::str::from_utf8(&len_line[1..]).ok()?.parse().ok()?;
        Some((after_len + len + 2, frame.get(after_len..after_len + len)?))
    };
    let name = || -> Option<String> {
        if frame.first() != Some(&b'*') {
            return None;
        }
        let (after_header, _) = read_line(frame, 0)?;
        let (next, name) = bulk(after_header)?;
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        if name == "EVALSHA" {
            let (_, sha) = bulk(next)?;
            return Some(format!("EVALSHA {}", String::from_utf8_lossy(sha)));
        }
        Some(name)
    };
    name().unwrap_or_default()
}

/// How the proxy names a call of one of the service's scripts.
pub fn script_name(script: &redis::Script) -> String {
    format!("EVALSHA {}", script.get_hash())
}

/// The line at `from` (without CRLF) and the position after its CRLF.
fn read_line(buf: &[u8], from: usize) -> Option<(usize, &[u8])> {
    let rest = buf.get(from..)?;
    let at = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((from + at + 2, &rest[..at]))
}

/// The length of the complete RESP (2 or 3) frame at the start of `buf`, if it is complete.
fn frame_len(buf: &[u8]) -> Option<usize> {
    fn end_of(buf: &[u8], at: usize) -> Option<usize> {
        let kind = *buf.get(at)?;
        let (after, line) = read_line(buf, at)?;
        let number = || -> Option<i64> { std::str::from_utf8(&line[1..]).ok()?.parse().ok() };
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
            b'$' | b'!' | b'=' => {
                let n = number()?;
                if n < 0 {
                    return Some(after);
                }
                let end = after + n as usize + 2;
                (buf.len() >= end).then_some(end)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = number()?;
                let items = if matches!(kind, b'%' | b'|') {
                    2 * n
                } else {
                    n
                };
                let mut end = after;
                for _ in 0..items.max(0) {
                    end = end_of(buf, end)?;
                }
                Some(end)
            }
            _ => None,
        }
    }
    end_of(buf, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_names() {
        let request = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
        let len = frame_len(request).expect("a complete frame");
        assert_eq!(len, 20);
        assert_eq!(command_name(&request[..len]), "GET");
        assert_eq!(frame_len(&request[len..]), None, "incomplete");
        assert_eq!(frame_len(b"$-1\r\n"), Some(5));
        assert_eq!(frame_len(b"*2\r\n:1\r\n$2\r\nok\r\n"), Some(16));
        assert_eq!(frame_len(b"-ERR x\r\n+OK\r\n"), Some(8));
    }
}
