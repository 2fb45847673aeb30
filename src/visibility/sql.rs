//! The rule of [`super`] as SQL conditions, for the reads that run in
//! PostgreSQL. Each macro expands to a parenthesised condition;
//! `tests/api/visibility.rs` holds them to the Rust rule on every read path.

/// The part of [`visible_post!`] that the post row alone decides: live, and
/// its level lets `$viewer` read it (the suspension, block and mute checks
/// are the caller's: the home feed checks them once per page). `OFFSET 0`
/// keeps the followers-only test a probe per post; without it a generic plan
/// hashed all the viewer's follows at the first such post
/// (bench/results-home.md#followers-only-posts-the-same-probe).
macro_rules! readable_post {
    ($post:literal, $viewer:literal) => {
        concat!(
            "(",
            $post,
            ".deleted_at IS NULL
              AND (",
            $post,
            ".visibility IN ('public', 'unlisted')
                   OR ",
            $post,
            ".user_id = ",
            $viewer,
            "
                   OR ",
            $viewer,
            " = ANY (",
            $post,
            ".mentioned)
                   OR (",
            $post,
            ".visibility = 'private'
                       AND EXISTS (SELECT 1 FROM follows vf
                                    WHERE vf.follower_id = ",
            $viewer,
            " AND vf.followee_id = ",
            $post,
            ".user_id OFFSET 0))))"
        )
    };
}
pub(crate) use readable_post;

/// [`may_see`](super::may_see) for a post as an SQL condition: `$post` is the alias of the
/// `posts` row, `$viewer` the SQL expression of the viewer's id (a bigint,
/// null when logged out). Deleted authors need no clause: their posts are
/// gone with them.
macro_rules! visible_post {
    ($post:literal, $viewer:literal) => {
        concat!(
            "(",
            $crate::visibility::readable_post!($post, $viewer),
            "
              AND NOT EXISTS (SELECT 1 FROM users vs
                               WHERE vs.id = ",
            $post,
            ".user_id AND vs.suspended_at IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM blocks vb
                               WHERE (vb.blocker_id = ",
            $viewer,
            " AND vb.blocked_id = ",
            $post,
            ".user_id)
                                  OR (vb.blocker_id = ",
            $post,
            ".user_id AND vb.blocked_id = ",
            $viewer,
            ")))"
        )
    };
}
pub(crate) use visible_post;

/// Whether `$viewer` has a live mute of the author `$row.$col` hiding
/// timelines (`timelines`) or notifications (`notifications`: every mute).
macro_rules! muted {
    ($row:literal, $col:literal, $viewer:literal, timelines) => {
        concat!($crate::visibility::muted!(@open $row, $col, $viewer), " AND NOT vm.notifications_only)")
    };
    ($row:literal, $col:literal, $viewer:literal, notifications) => {
        concat!($crate::visibility::muted!(@open $row, $col, $viewer), ")")
    };
    (@open $row:literal, $col:literal, $viewer:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM mutes vm
                      WHERE vm.muter_id = ", $viewer, " AND vm.muted_id = ", $row, ".", $col, "
                        AND (vm.expires_at IS NULL OR vm.expires_at > now())"
        )
    };
}
pub(crate) use muted;

/// [`on_public`](super::on_public) as an SQL condition (top-level-ness is the list's own
/// clause): public posts the viewer may see, by no one they muted.
macro_rules! listed_post {
    ($post:literal, $viewer:literal) => {
        concat!(
            "(",
            $post,
            ".visibility = 'public' AND ",
            $crate::visibility::visible_post!($post, $viewer),
            " AND NOT ",
            $crate::visibility::muted!($post, "user_id", $viewer, timelines),
            ")"
        )
    };
}
pub(crate) use listed_post;

/// [`on_home`](super::on_home) as an SQL condition for the home timeline's posts.
macro_rules! home_post {
    ($post:literal, $viewer:literal) => {
        concat!(
            "(",
            $crate::visibility::visible_post!($post, $viewer),
            " AND NOT ",
            $crate::visibility::muted!($post, "user_id", $viewer, timelines),
            ")"
        )
    };
}
pub(crate) use home_post;

/// A notification its recipient sees, for a query where `n` is the
/// `notifications` row: its actor is not suspended, not blocked either way
/// and not muted (its post is checked with [`visible_post!`] by the caller).
macro_rules! visible_notification {
    () => {
        concat!(
            "(NOT EXISTS (SELECT 1 FROM users vs
                           WHERE vs.id = n.actor_id AND vs.suspended_at IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM blocks vb
                               WHERE (vb.blocker_id = n.user_id AND vb.blocked_id = n.actor_id)
                                  OR (vb.blocker_id = n.actor_id AND vb.blocked_id = n.user_id))
              AND NOT ",
            $crate::visibility::muted!("n", "actor_id", "n.user_id", notifications),
            ")"
        )
    };
}
pub(crate) use visible_notification;

/// An account anyone may look up: `$user` is the `users` row. A suspended
/// account's profile is hidden like its posts (blocks still show the
/// profile, with the block's state, so it can be undone).
macro_rules! visible_account {
    ($user:literal) => {
        concat!(
            "(",
            $user,
            ".suspended_at IS NULL AND ",
            $user,
            ".deleted_at IS NULL)"
        )
    };
}
pub(crate) use visible_account;

/// [`may_find_account`](super::may_find_account) as an SQL condition: `$user` is the `users` row,
/// `$viewer` the SQL expression of the viewer's id (null when logged out).
macro_rules! findable_account {
    ($user:literal, $viewer:literal) => {
        concat!(
            "(",
            $crate::visibility::visible_account!($user),
            " AND NOT EXISTS (SELECT 1 FROM blocks vb
                               WHERE (vb.blocker_id = ",
            $viewer,
            " AND vb.blocked_id = ",
            $user,
            ".id)
                                  OR (vb.blocker_id = ",
            $user,
            ".id AND vb.blocked_id = ",
            $viewer,
            ")))"
        )
    };
}
pub(crate) use findable_account;
