//! Who may see what: the one rule every read path consults.
//!
//! A post, event or account gets its [`Audience`] once (from its author,
//! whether it is live, its [`Level`] and whom it mentions); a reader is a
//! [`Viewer`] (an account or nobody, with what is known of their relations:
//! follows, blocks, mutes). Reads in Rust (the live stream, resume) ask
//! [`may_see`] and the two placements built on it, [`on_home`] and
//! [`on_public`]; reads in SQL embed the same rule as conditions:
//! [`visible_post!`] (a post by id, threads, profiles, liked lists,
//! notifications), [`listed_post!`] (the public lists: `GET /post/`, search,
//! hashtags), [`home_post!`] (the home timeline) and
//! [`visible_notification!`]. Accounts: [`visible_account!`] (a profile)
//! and [`may_find_account`] / [`findable_account!`] (search, suggestions,
//! who reposted).
//!
//! The rule. A post is seen by nobody once deleted or while its author is
//! suspended, and never across a block (either way). Otherwise: `public` and
//! `unlisted` posts by anyone (logged out too); `private` (followers-only)
//! by the author, their followers and the mentioned; `direct` by the author
//! and the mentioned. Only `public` posts are on public lists and the public
//! stream. A mute hides the muted from the muter's home (their reposts, and
//! reposts of their posts, too), public lists and stream (unless it mutes
//! notifications only) and notifications, until it expires; threads and
//! profiles still show them, as the muter asked to see less, not to be
//! protected. A repost reaches the reposter's followers only where the post
//! itself may reach them: a block or mute of either account keeps it away,
//! and a suspended or deleted reposter's reposts reach nobody.
//! A reply is never wider than its parent (`domain::posts::create` narrows
//! it), so a reply cannot carry a followers-only thread to the public lists.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod sql;
pub(crate) use sql::{
    findable_account, home_post, listed_post, muted, readable_post, visible_account,
    visible_notification, visible_post,
};

/// A post's visibility level, named as Mastodon names them; ordered from the
/// widest to the narrowest.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    sqlx::Type,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Level {
    /// Anyone, on every list.
    #[default]
    Public,
    /// Anyone with the link, on profiles and home; not on public lists or search.
    Unlisted,
    /// Followers-only: the author, their followers and the mentioned.
    /// (`followers` is accepted as its name on input.)
    #[serde(alias = "followers")]
    Private,
    /// The author and the mentioned only.
    Direct,
}

/// What the rule needs to know about a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFacts {
    pub author: i64,
    pub level: Level,
    /// Everyone the text mentions.
    pub mentioned: Vec<i64>,
    /// Not deleted, and its author not suspended.
    pub live: bool,
}

/// Who a post, event or account is for, computed once per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    /// A live post by `author`.
    Post {
        author: i64,
        level: Level,
        mentioned: &'a [i64],
    },
    /// A live post by `author`, reposted by `reposter` (a `repost` event):
    /// it reaches the reposter's followers only where the post itself may
    /// reach them, so a block or mute of either account keeps it away.
    Repost {
        reposter: i64,
        author: i64,
        level: Level,
        mentioned: &'a [i64],
    },
    /// One account only: a notification, seen by its recipient.
    Recipient(i64),
    /// Nobody: a deleted post, anything of a deleted account, a suspended
    /// author's posts.
    Nobody,
}

impl<'a> Audience<'a> {
    /// A post's audience.
    pub fn post(facts: &'a PostFacts) -> Self {
        if facts.live {
            Self::Post {
                author: facts.author,
                level: facts.level,
                mentioned: &facts.mentioned,
            }
        } else {
            Self::Nobody
        }
    }

    /// A post's audience as `reposter`'s repost of it: nobody's once the
    /// reposter is not `reposter_live` (suspended or deleted, like an
    /// author's posts) or the post is not live.
    pub fn repost(reposter: i64, reposter_live: bool, facts: &'a PostFacts) -> Self {
        match Self::post(facts) {
            Self::Post { .. } if !reposter_live => Self::Nobody,
            Self::Post {
                author,
                level,
                mentioned,
            } => Self::Repost {
                reposter,
                author,
                level,
                mentioned,
            },
            other => other,
        }
    }

    /// Whose it is, when it has an author (a repost's is its reposter's: it
    /// reaches their followers).
    pub fn author(self) -> Option<i64> {
        match self {
            Self::Post { author, .. } => Some(author),
            Self::Repost { reposter, .. } => Some(reposter),
            Self::Recipient(_) | Self::Nobody => None,
        }
    }

    /// Who else than the author's followers may see it (the stream's reach;
    /// none for a repost, which reaches its reposter's followers only).
    pub fn mentioned(self) -> &'a [i64] {
        match self {
            Self::Post { mentioned, .. } => mentioned,
            Self::Repost { .. } | Self::Recipient(_) | Self::Nobody => &[],
        }
    }

    /// The reposted post's own audience, for a repost.
    fn original(self) -> Self {
        match self {
            Self::Repost {
                author,
                level,
                mentioned,
                ..
            } => Self::Post {
                author,
                level,
                mentioned,
            },
            other => other,
        }
    }
}

/// What is known about accounts' relations, loaded once per batch of reads:
/// who follows, blocks and (for timelines) mutes whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Followee to followers.
    followers: HashMap<i64, HashSet<i64>>,
    /// (blocker, blocked).
    blocks: HashSet<(i64, i64)>,
    /// (muter, muted), for live mutes that hide timelines too.
    mutes: HashSet<(i64, i64)>,
}

impl Relations {
    /// Whether `follower` follows `followee`.
    pub fn follows(&self, follower: i64, followee: i64) -> bool {
        self.followers
            .get(&followee)
            .is_some_and(|f| f.contains(&follower))
    }

    /// The known followers of `followee`.
    pub fn followers_of(&self, followee: i64) -> impl Iterator<Item = i64> + '_ {
        self.followers.get(&followee).into_iter().flatten().copied()
    }

    /// Adds `(blocker, blocked)` pairs.
    pub fn with_blocks(mut self, pairs: impl IntoIterator<Item = (i64, i64)>) -> Self {
        self.blocks.extend(pairs);
        self
    }

    /// Adds `(muter, muted)` pairs (live mutes of timelines).
    pub fn with_mutes(mut self, pairs: impl IntoIterator<Item = (i64, i64)>) -> Self {
        self.mutes.extend(pairs);
        self
    }

    /// These relations and `other`'s.
    pub fn merge(mut self, other: Self) -> Self {
        for (followee, followers) in other.followers {
            self.followers
                .entry(followee)
                .or_default()
                .extend(followers);
        }
        self.blocks.extend(other.blocks);
        self.mutes.extend(other.mutes);
        self
    }

    /// Whether `muter` muted `muted` out of their timelines.
    pub fn mutes(&self, muter: i64, muted: i64) -> bool {
        self.mutes.contains(&(muter, muted))
    }

    /// Whether either of `a` and `b` blocks the other.
    pub fn blocked_between(&self, a: i64, b: i64) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }
}

impl FromIterator<(i64, i64)> for Relations {
    /// From `(follower, followee)` pairs.
    fn from_iter<I: IntoIterator<Item = (i64, i64)>>(pairs: I) -> Self {
        let mut followers: HashMap<i64, HashSet<i64>> = HashMap::new();
        for (follower, followee) in pairs {
            followers.entry(followee).or_default().insert(follower);
        }
        Self {
            followers,
            ..Self::default()
        }
    }
}

/// Who is reading: an account or nobody logged in, with the relations known
/// about them.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    id: Option<i64>,
    known: &'a Relations,
}

impl<'a> Viewer<'a> {
    /// Account `id` (None: logged out); `known` holds at least their follows
    /// of, blocks with and mutes of the authors being read.
    pub fn new(id: Option<i64>, known: &'a Relations) -> Self {
        Self { id, known }
    }

    /// The reader's account, when logged in.
    pub fn id(&self) -> Option<i64> {
        self.id
    }

    /// Whether the reader is `author` or follows them.
    fn is_or_follows(&self, author: i64) -> bool {
        self.id
            .is_some_and(|me| me == author || self.known.follows(me, author))
    }

    /// Whether the reader muted `author` out of their timelines.
    fn mutes(&self, author: i64) -> bool {
        self.id.is_some_and(|me| self.known.mutes(me, author))
    }
}

/// Whether `viewer` may see something with this `audience` at all (a post by
/// id, a thread, a notification, a profile): every other placement builds on it.
pub fn may_see(viewer: &Viewer<'_>, audience: Audience<'_>) -> bool {
    match audience {
        Audience::Post {
            author,
            level,
            mentioned,
        } => {
            let me = viewer.id;
            if me.is_some_and(|me| viewer.known.blocked_between(me, author)) {
                return false;
            }
            let mentioned = me.is_some_and(|me| mentioned.contains(&me));
            match level {
                Level::Public | Level::Unlisted => true,
                Level::Private => mentioned || viewer.is_or_follows(author),
                Level::Direct => mentioned || me == Some(author),
            }
        }
        Audience::Repost { reposter, .. } => {
            !viewer
                .id
                .is_some_and(|me| viewer.known.blocked_between(me, reposter))
                && may_see(viewer, audience.original())
        }
        Audience::Recipient(user) => viewer.id == Some(user),
        Audience::Nobody => false,
    }
}

/// Whether it belongs on `viewer`'s `home` stream: theirs, or by someone
/// they follow and have not muted, and visible to them; a repost by someone
/// they follow, of a post they may see by someone they have not muted.
/// (`GET /user/timeline` lists the followed only, as the contract says, with
/// [`home_post!`].)
pub fn on_home(viewer: &Viewer<'_>, audience: Audience<'_>) -> bool {
    may_see(viewer, audience)
        && audience
            .author()
            .is_some_and(|a| viewer.is_or_follows(a) && !viewer.mutes(a))
        && audience
            .original()
            .author()
            .is_some_and(|a| !viewer.mutes(a))
}

/// Whether a post belongs on the public lists and `public` stream: public,
/// top-level, visible and not muted.
pub fn on_public(viewer: &Viewer<'_>, audience: Audience<'_>, top_level: bool) -> bool {
    top_level
        && matches!(audience, Audience::Post { level: Level::Public, author, .. } if !viewer.mutes(author))
        && may_see(viewer, audience)
}

/// Whether `viewer` finds account `account` in search, suggestions and
/// lists of accounts (who reposted a post): a `live` one (not suspended or
/// deleted) that neither blocks the other. A profile read by name still
/// shows across a block, with the block's state, so it can be undone
/// ([`visible_account!`]).
pub fn may_find_account(viewer: &Viewer<'_>, account: i64, live: bool) -> bool {
    live && !viewer
        .id
        .is_some_and(|me| viewer.known.blocked_between(me, account))
}

/// Whether `viewer` may repost a post: public ones they may see only (a
/// repost would carry any other level to the reposter's followers). For the
/// reposts action (issue 17.1), which lands separately.
pub fn may_repost(viewer: &Viewer<'_>, audience: Audience<'_>) -> bool {
    matches!(
        audience,
        Audience::Post {
            level: Level::Public,
            ..
        }
    ) && may_see(viewer, audience)
}

#[cfg(test)]
mod tests;
