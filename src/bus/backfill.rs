//! A resume: what a reconnecting subscriber missed, read from the outbox.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgPool;

use super::{BATCH, Frame, Streams, load};
use crate::error::ApiResult;
use crate::models::event;

/// A resume: the events in `(since, up_to]` one subscriber may see, read
/// from the outbox page by page.
pub struct Backfill {
    viewer: Option<i64>,
    streams: Streams,
    follows: HashSet<i64>,
    after: i64,
    up_to: i64,
}

impl Backfill {
    /// Prepares a resume for `viewer` (loads whom they follow once).
    pub async fn new(
        pool: &PgPool,
        viewer: Option<i64>,
        streams: Streams,
        since: i64,
        up_to: i64,
    ) -> ApiResult<Self> {
        let follows = match viewer {
            Some(id) => {
                sqlx::query_scalar("SELECT followee_id FROM follows WHERE follower_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .collect()
            }
            None => HashSet::new(),
        };
        Ok(Self {
            viewer,
            streams,
            follows,
            after: since,
            up_to,
        })
    }

    /// The next page of frames; empty when the resume is complete.
    pub async fn next_page(&mut self, pool: &PgPool) -> ApiResult<Vec<Arc<Frame>>> {
        loop {
            if self.after >= self.up_to {
                return Ok(Vec::new());
            }
            let events = event::after(pool, self.after, Some(self.up_to), BATCH).await?;
            let Some(last) = events.last().map(|e| e.pos) else {
                self.after = self.up_to;
                return Ok(Vec::new());
            };
            self.after = last;
            let frames: Vec<Arc<Frame>> = load(pool, events)
                .await?
                .iter()
                .filter_map(|l| {
                    let follows = self.follows.contains(&l.event.user_id);
                    l.stream_for(self.viewer, self.streams, follows)
                        .map(|s| l.frame(s))
                })
                .collect();
            if !frames.is_empty() {
                return Ok(frames);
            }
        }
    }
}
