//! Conditional reads: the ETag of `GET /events/{eventId}` and of its seat map
//! (`lua/event_tag.lua`), so that a client re-reading an unchanged event gets `304` after one
//! small script instead of the whole map.

use super::Store;
use super::keys::Scope;
use super::scripts::EventTagArgs;
use crate::domain::ids::EventId;
use crate::error::AppError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Tagged {
    tag: String,
}

impl Store {
    /// The event's current ETag (quoted, as the header carries it); `EventNotFound` if none.
    ///
    /// Read it before the data it labels: a change in between then leaves the client an older
    /// tag on newer data, which only costs a full read next time, never a stale `304`.
    pub async fn event_tag(&self, event: &EventId) -> Result<String, AppError> {
        let script = &self.scripts.event_tag;
        let invocation = script.call_in(&Scope::event(event), EventTagArgs {})?;
        self.bounded(async {
            let tagged = self
                .run_script::<Tagged>(script.name, &invocation)
                .await??;
            Ok(tagged.tag)
        })
        .await
    }
}
