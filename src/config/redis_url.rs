//! `REDIS_URL`, checked when the process starts: a malformed URL stops the process with one
//! line that says what is wrong, instead of failing every request later. Shown in logs and
//! answers with the password masked.

use std::fmt;
use std::str::FromStr;

/// A Redis URL this build can connect to: `redis://[[user]:password@]host[:port][/db]` or
/// `redis+unix:///path/to.sock` (also `unix://`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    raw: String,
    masked: String,
}

const FORM: &str = "redis://[[user]:password@]host[:port][/db]";

impl RedisUrl {
    /// The URL as given, password included: only for connecting.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced by `***`: for logs and answers.
    pub fn masked(&self) -> &str {
        &self.masked
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let url = url::Url::parse(raw).map_err(|e| {
            format!("{raw:?} is not a URL ({e}); expected {FORM}, e.g. redis://127.0.0.1:6379")
        })?;
        match url.scheme() {
            "redis" | "redis+unix" | "unix" => {}
            "rediss" => {
                return Err(format!(
                    "{raw:?}: TLS (rediss://) is not built into this binary; expected {FORM}"
                ));
            }
            other => {
                return Err(format!(
                    "{raw:?} has the scheme {other:?}, not redis; expected {FORM}, e.g. redis://127.0.0.1:6379"
                ));
            }
        }
        if url.scheme() == "redis" {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("{raw:?} names no host; expected {FORM}"));
            }
            let db = url.path().trim_start_matches('/');
            if !db.is_empty() && db.parse::<u16>().is_err() {
                return Err(format!(
                    "{raw:?}: the path must be a database number (e.g. /0), not {db:?}; expected {FORM}"
                ));
            }
        }
        // What the Redis client itself accepts.
        redis::Client::open(raw).map_err(|e| format!("{raw:?} is not a usable Redis URL: {e}"))?;
        let mut masked = url.clone();
        if masked.password().is_some() {
            let _ = masked.set_password(Some("***"));
        }
        Ok(Self {
            raw: raw.to_owned(),
            masked: masked.to_string(),
        })
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls_parse_and_hide_their_password() {
        let url: RedisUrl = "redis://app:s3cret@10.0.0.5:6380/2".parse().expect("valid");
        assert_eq!(url.as_str(), "redis://app:s3cret@10.0.0.5:6380/2");
        assert_eq!(url.masked(), "redis://app:***@10.0.0.5:6380/2");
        assert_eq!(url.to_string(), url.masked());
        assert!(!format!("{url:?}").contains("s3cret"));
        for ok in [
            "redis://127.0.0.1",
            "redis://localhost:6379/0",
            "redis://:pw@h:1",
        ] {
            assert!(ok.parse::<RedisUrl>().is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (bad, says) in [
            ("localhost:6379", "not redis"),
            ("http://127.0.0.1:6380", "scheme \"http\""),
            ("127.0.0.1:6379", "not a URL"),
            ("rediss://h:6379", "TLS"),
            ("redis://h:6379/x", "database number"),
            ("", "not a URL"),
        ] {
            let error = bad.parse::<RedisUrl>().expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
