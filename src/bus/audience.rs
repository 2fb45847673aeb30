//! Which stream, if any, an event reaches a subscriber on: the one routing
//! rule that both the live fan-out ([`Hub::dispatch`](super::Hub)) and a
//! resume ([`Backfill`](super::Backfill)) apply, built on
//! [`crate::visibility`].

use super::{Loaded, StreamName, Streams};
use crate::models::event::EventKind;
use crate::visibility::{self, Audience, Relations, Viewer};

/// Where the hub looks for an event's subscribers: a superset of those
/// [`Loaded::stream_for`] picks, so the fan-out need not ask every
/// subscriber about every event.
pub enum Reach {
    /// The subscribers of these accounts.
    Accounts(Vec<i64>),
    /// Every subscriber.
    Everyone,
}

impl Loaded {
    /// Who the event is for.
    pub(super) fn audience(&self) -> Audience<'_> {
        match self.event.kind {
            EventKind::Notification => Audience::Recipient(self.event.user_id),
            // `user_id` is the reposter: it reaches them and their followers'
            // home (never public: `top_level` is false), while the post is
            // live (its author not suspended), and only those the post
            // itself may reach: a block or mute of its author keeps it away
            // as one of the reposter's does; nobody's once the reposter is
            // suspended or deleted.
            EventKind::Repost => self.facts.as_ref().map_or(Audience::Nobody, |f| {
                Audience::repost(self.event.user_id, self.reposter_live, f)
            }),
            // Loaded only while the post is live; a delete announces itself
            // to whoever could see the post.
            _ => self.facts.as_ref().map_or(Audience::Nobody, Audience::post),
        }
    }

    /// The stream this event reaches `viewer` on (home before public), if
    /// any, among `streams`.
    pub(super) fn stream_for(&self, viewer: &Viewer<'_>, streams: Streams) -> Option<StreamName> {
        let audience = self.audience();
        match self.event.kind {
            EventKind::Notification => (streams.has(StreamName::Notifications)
                && visibility::may_see(viewer, audience))
            .then_some(StreamName::Notifications),
            _ if streams.has(StreamName::Home) && visibility::on_home(viewer, audience) => {
                Some(StreamName::Home)
            }
            _ if streams.has(StreamName::Public)
                && visibility::on_public(viewer, audience, self.event.top_level) =>
            {
                Some(StreamName::Public)
            }
            _ => None,
        }
    }

    /// The accounts whose relations with a subscriber decide where this
    /// event goes: its author (a repost's reposter) and a reposted post's
    /// author. The hub loads the follows, blocks and mutes between them and
    /// its subscribers.
    pub(super) fn parties(&self) -> impl Iterator<Item = i64> + '_ {
        let original = match self.event.kind {
            EventKind::Repost => self.facts.as_ref().map(|f| f.author),
            _ => None,
        };
        (self.event.kind != EventKind::Notification)
            .then_some(self.event.user_id)
            .into_iter()
            .chain(original)
    }

    /// Where the hub looks for this event's subscribers; `known` holds the
    /// connected followers of its author.
    pub(super) fn reach(&self, known: &Relations) -> Reach {
        let e = &self.event;
        match e.kind {
            EventKind::Notification => Reach::Accounts(vec![e.user_id]),
            _ if e.top_level => Reach::Everyone,
            _ => Reach::Accounts(
                std::iter::once(e.user_id)
                    .chain(known.followers_of(e.user_id))
                    .chain(self.audience().mentioned().iter().copied())
                    .collect(),
            ),
        }
    }
}
