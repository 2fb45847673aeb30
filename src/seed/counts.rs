//! The counters as the triggers define them, counted set-based: what checks
//! a bulk load that wrote them with the triggers off.

use sqlx::PgExecutor;

/// Each user's stored and true counters, true as the triggers define them.
macro_rules! user_counts {
    () => {
        "SELECT u.id, u.posts_count, u.followers_count, u.following_count,
                coalesce(p.n, 0) AS posts, coalesce(fr.n, 0) AS followers, coalesce(fg.n, 0) AS following
           FROM users u
           LEFT JOIN (SELECT user_id, count(*) AS n FROM posts WHERE deleted_at IS NULL GROUP BY user_id) p
                  ON p.user_id = u.id
           LEFT JOIN (SELECT followee_id, count(*) AS n FROM follows GROUP BY followee_id) fr
                  ON fr.followee_id = u.id
           LEFT JOIN (SELECT follower_id, count(*) AS n FROM follows GROUP BY follower_id) fg
                  ON fg.follower_id = u.id"
    };
}

/// Each post's stored and true counters.
macro_rules! post_counts {
    () => {
        "SELECT x.id, x.like_count, x.reply_count, coalesce(l.n, 0) AS likes, coalesce(r.n, 0) AS replies
           FROM posts x
           LEFT JOIN (SELECT post_id, count(*) AS n FROM likes GROUP BY post_id) l ON l.post_id = x.id
           LEFT JOIN (SELECT parent_id, count(*) AS n FROM posts
                       WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY parent_id) r
                  ON r.parent_id = x.id"
    };
}

macro_rules! user_counts_differ {
    () => {
        "(c.posts_count, c.followers_count, c.following_count) IS DISTINCT FROM (c.posts, c.followers, c.following)"
    };
}

macro_rules! post_counts_differ {
    () => {
        "(c.like_count, c.reply_count) IS DISTINCT FROM (c.likes, c.replies)"
    };
}

/// Users and posts whose stored counters differ from the real counts (0 when all are exact).
pub async fn counter_mismatches(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(concat!(
        "SELECT (SELECT count(*) FROM (",
        user_counts!(),
        ") c WHERE ",
        user_counts_differ!(),
        ") + (SELECT count(*) FROM (",
        post_counts!(),
        ") c WHERE ",
        post_counts_differ!(),
        ")"
    ))
    .fetch_one(db)
    .await
}
