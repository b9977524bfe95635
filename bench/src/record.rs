//! What a run measured: a latency histogram and the status mix, kept per connection and merged.

use crate::client::{Answer, Failure};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Instant;

pub struct Recorder {
    /// Microseconds, 1 µs to 60 s, 3 significant digits.
    pub latency: Histogram<u64>,
    /// "201", "409 INSUFFICIENT_INVENTORY", "transport error", ...
    pub outcomes: BTreeMap<String, u64>,
    /// While false (warm-up), nothing is recorded.
    pub recording: bool,
    /// What the first lost request failed with.
    pub first_error: Option<String>,
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            outcomes: BTreeMap::new(),
            recording: false,
            first_error: None,
        }
    }

    /// Awaits a request and records its latency and outcome. A request that was never sent
    /// (the connection had been closed between requests) is not a request: not recorded.
    pub async fn timed(
        &mut self,
        request: impl Future<Output = Result<Answer, Failure>>,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let answer = request.await;
        if self.recording && !matches!(answer, Err(Failure::NotSent)) {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = self.latency.record(micros.max(1));
            let outcome = match &answer {
                Ok(a) if a.status < 400 => a.status.to_string(),
                Ok(a) => format!("{} {}", a.status, error_code(&a.body)),
                Err(failure) => {
                    if let (None, Failure::Lost(e)) = (&self.first_error, failure) {
                        self.first_error = Some(e.clone());
                    }
                    "transport error".to_owned()
                }
            };
            *self.outcomes.entry(outcome).or_default() += 1;
        }
        answer
    }

    pub fn merge(&mut self, other: Recorder) {
        let _ = self.latency.add(&other.latency);
        self.first_error = self.first_error.take().or(other.first_error);
        for (outcome, n) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += n;
        }
    }
}

/// The `code` of a JSON error body, found without parsing the whole body.
pub(crate) fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once(r#""code":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "?".to_owned(), |(code, _)| code.to_owned())
}
