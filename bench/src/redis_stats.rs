//! Redis's own count of script time over exactly the measured window: `CONFIG RESETSTAT` when
//! measuring starts, `INFO commandstats` when it ends (`--redis-stats-port`). A few lines of
//! RESP over a plain socket: the bench does not need a Redis client for two commands.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn command(port: u16, args: &[&str]) -> Result<String, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("redis on {port}: {e}"))?;
    let mut stream = BufReader::new(stream);
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    stream
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    match line.as_bytes().first() {
        Some(b'+') => Ok(line.trim_end().trim_start_matches('+').to_owned()),
        Some(b'$') => {
            let len: usize = line[1..].trim_end().parse().map_err(|_| line.clone())?;
            let mut body = vec![0u8; len + 2];
            stream
                .read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Err(format!("redis answered {line:?}")),
    }
}

pub async fn reset(port: u16) -> Result<(), String> {
    command(port, &["CONFIG", "RESETSTAT"]).await.map(|_| ())
}

/// EVALSHA calls and their Redis CPU (µs) since the reset.
pub async fn evalsha(port: u16) -> Result<Value, String> {
    let info = command(port, &["INFO", "commandstats"]).await?;
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))
        .unwrap_or("calls=0,usec=0");
    let field = |name: &str| -> u64 {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(json!({ "evalshaCalls": field("calls"), "evalshaUsec": field("usec") }))
}
