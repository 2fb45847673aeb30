//! Who may see what: the one rule every read path consults.
//!
//! A post, event or account gets its [`Audience`] once (from its author,
//! whether it still exists, and later its level and mentions); a reader is a
//! [`Viewer`] (an account or nobody, with what is known of their relations).
//! Reads in Rust (the live stream, resume) ask [`may_see`] and the two
//! placements built on it, [`on_home`] and [`on_public`]; reads in SQL
//! (lists, threads, notifications) embed [`visible_post!`], the same rule as
//! a condition. Today every live post is public, readable logged out; a
//! deleted post, or one whose author was deleted, is seen by nobody; every
//! existing account is seen by anyone (profiles need no clause yet: blocks
//! and suspension bring `Audience::Account` and a `visible_account!`).
//!
//! Issue 17 changes the rule here, not at the read paths: post levels
//! (unlisted, followers-only, direct) and a suspended author are new
//! [`Audience`] arms made in [`Audience::post`] (whose callers then pass the
//! level and mentions), blocks and mutes are new facts in [`Relations`]
//! checked in [`may_see`], and each becomes a clause of [`visible_post!`].

use std::collections::{HashMap, HashSet};

/// Who a post, event or account is for, computed once per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, logged out too: a live post by `author` (every post today).
    Public { author: i64 },
    /// One account only: a notification, seen by its recipient.
    Recipient(i64),
    /// Nobody: a deleted post, or anything of a deleted account.
    Nobody,
}

impl Audience {
    /// A post's audience: `live` is false once it or its author is deleted.
    pub fn post(author: i64, live: bool) -> Self {
        if live {
            Self::Public { author }
        } else {
            Self::Nobody
        }
    }

    /// Whose it is, when it has an author.
    pub fn author(self) -> Option<i64> {
        match self {
            Self::Public { author } => Some(author),
            Self::Recipient(_) | Self::Nobody => None,
        }
    }
}

/// What is known about accounts' relations, loaded once per batch of reads:
/// who follows whom (blocks and mutes join here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Followee to followers.
    followers: HashMap<i64, HashSet<i64>>,
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
}

impl FromIterator<(i64, i64)> for Relations {
    /// From `(follower, followee)` pairs.
    fn from_iter<I: IntoIterator<Item = (i64, i64)>>(pairs: I) -> Self {
        let mut followers: HashMap<i64, HashSet<i64>> = HashMap::new();
        for (follower, followee) in pairs {
            followers.entry(followee).or_default().insert(follower);
        }
        Self { followers }
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
    /// of the authors being read.
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
}

/// Whether `viewer` may see something with this `audience` at all (a post by
/// id, a thread, a notification, a profile): every other placement builds on it.
pub fn may_see(viewer: &Viewer<'_>, audience: Audience) -> bool {
    match audience {
        Audience::Public { .. } => true,
        Audience::Recipient(user) => viewer.id == Some(user),
        Audience::Nobody => false,
    }
}

/// Whether it belongs on `viewer`'s `home` stream: theirs, or by someone
/// they follow, and visible to them. (`GET /user/timeline` lists the
/// followed only, as the contract says, with [`visible_post!`].)
pub fn on_home(viewer: &Viewer<'_>, audience: Audience) -> bool {
    may_see(viewer, audience) && audience.author().is_some_and(|a| viewer.is_or_follows(a))
}

/// Whether a post belongs on the public lists and `public` stream, which
/// show top-level posts only.
pub fn on_public(viewer: &Viewer<'_>, audience: Audience, top_level: bool) -> bool {
    top_level && audience.author().is_some() && may_see(viewer, audience)
}

/// [`may_see`] for a post as an SQL condition, for list queries: `$post` is
/// the alias of the `posts` row, `$viewer` the SQL expression of the viewer's
/// id (null when logged out). Deleted authors need no clause: their posts are
/// gone with them. Every call site names its viewer, though today's rule
/// does not read it, so the levels of issue 17 change this macro alone.
macro_rules! visible_post {
    ($post:literal, $viewer:literal) => {
        concat!("(", $post, ".deleted_at IS NULL)")
    };
}
pub(crate) use visible_post;

#[cfg(test)]
mod tests {
    use super::*;

    const ANA: i64 = 1;
    const FAY: i64 = 2;
    const SAM: i64 = 3;

    /// Each viewer kind against each audience: (may see, on home).
    #[test]
    fn the_rule_as_a_table() {
        let known: Relations = [(FAY, ANA)].into_iter().collect();
        let viewers = [
            ("author", Some(ANA)),
            ("follower", Some(FAY)),
            ("stranger", Some(SAM)),
            ("logged out", None),
        ];
        let table = [
            (
                Audience::post(ANA, true),
                [(true, true), (true, true), (true, false), (true, false)],
            ),
            (Audience::post(ANA, false), [(false, false); 4]),
            (
                Audience::Recipient(FAY),
                [
                    (false, false),
                    (true, false),
                    (false, false),
                    (false, false),
                ],
            ),
        ];
        for (audience, row) in table {
            for ((name, id), (sees, home)) in viewers.iter().zip(row) {
                let viewer = Viewer::new(*id, &known);
                assert_eq!(may_see(&viewer, audience), sees, "{name} sees {audience:?}");
                assert_eq!(on_home(&viewer, audience), home, "{name} home {audience:?}");
                assert_eq!(
                    on_public(&viewer, audience, true),
                    sees && audience.author().is_some()
                );
                assert!(
                    !on_public(&viewer, audience, false),
                    "replies are not on public lists"
                );
            }
        }
    }
}
