//! A resume: what a reconnecting subscriber missed, read from the outbox.
//!
//! Pruning may run on any instance while a long resume reads, so each page
//! is read in one snapshot together with the retention bound and the
//! viewer's follows: a page that pruning reached ends the resume with
//! [`Page::Pruned`] (the client gets `reset`) instead of skipping events,
//! and a follow or unfollow during the resume applies from the next page on.

use std::sync::Arc;

use sqlx::PgPool;

use super::{BATCH, Frame, StreamName, Streams, load};
use crate::error::ApiResult;
use crate::models::{block, event, follow, mute};
use crate::visibility::{Relations, Viewer};

/// A resume: the events in `(since, up_to]` one subscriber may see, read
/// from the outbox page by page.
pub struct Backfill {
    viewer: Option<i64>,
    streams: Streams,
    after: i64,
    up_to: i64,
}

/// What [`Backfill::next_page`] found.
#[derive(Debug)]
pub enum Page {
    /// The next events, in order (never empty).
    Frames(Vec<Arc<Frame>>),
    /// The resume is complete.
    Done,
    /// Pruning removed events the resume had not read yet.
    Pruned,
}

impl Backfill {
    /// Prepares a resume of `(since, up_to]` for `viewer`.
    pub fn new(viewer: Option<i64>, streams: Streams, since: i64, up_to: i64) -> Self {
        Self {
            viewer,
            streams,
            after: since,
            up_to,
        }
    }

    /// The next page. Cancel-safe: the position moves only when a page is
    /// returned, so a caller that drops the future reads the same page again.
    pub async fn next_page(&mut self, pool: &PgPool) -> ApiResult<Page> {
        let mut after = self.after;
        loop {
            if after >= self.up_to {
                self.after = after;
                return Ok(Page::Done);
            }
            let mut snapshot = event::snapshot(pool).await?;
            if event::pruned_up_to(&mut *snapshot).await? > after {
                return Ok(Page::Pruned);
            }
            let events =
                event::after(&mut *snapshot, after, Some(self.up_to), BATCH as i64).await?;
            let known = match self.viewer {
                Some(id) => {
                    let follows = if self.streams.has(StreamName::Home) {
                        follow::of_follower(&mut *snapshot, id).await?
                    } else {
                        Relations::default()
                    };
                    follows
                        .with_blocks(block::of_user(&mut *snapshot, id).await?)
                        .with_mutes(mute::of_muter(&mut *snapshot, id).await?)
                }
                None => Relations::default(),
            };
            snapshot.commit().await?;
            let Some(last) = events.last().map(|e| e.pos) else {
                self.after = self.up_to;
                return Ok(Page::Done);
            };
            after = last;
            let viewer = Viewer::new(self.viewer, &known);
            let frames: Vec<Arc<Frame>> = load(&mut *pool.acquire().await?, events)
                .await?
                .iter()
                .filter_map(|l| l.stream_for(&viewer, self.streams).map(|s| l.frame(s)))
                .collect();
            if !frames.is_empty() {
                self.after = after;
                return Ok(Page::Frames(frames));
            }
        }
    }
}
