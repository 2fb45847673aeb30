//! The relations a batch's fan-out needs, in one round trip: who of the
//! connected users follows, blocks, is blocked by or mutes the batch's
//! authors. One statement instead of one per relation, because the drain
//! waits for them before the first event goes out.

use sqlx::PgConnection;

use crate::error::ApiResult;
use crate::visibility::Relations;

/// Rows are `(kind, a, b)`: 0 `a` follows `b`, 1 `a` blocks `b`, 2 `a`
/// mutes `b` (a live mute of timelines). Blocks and mutes are read from the
/// authors' side (`$2`, a batch's few), through the indexes that lead with
/// them (migrations/0032), and matched against the connected users (`$1`,
/// up to thousands) in one hash; `OFFSET 0` keeps the planner from driving
/// them by the users instead. Follows are read from whichever side is
/// cheaper: the authors' followers (an index-only scan, about 0.1 µs a
/// follower) unless they outnumber the connected users 50 times, then a
/// probe per connected user (which reads that user's follows, about 5 µs).
/// On the 1M-post seed: 1,000 connected followers of one author cost 7,154
/// buffers and 7 ms from the users' side before migration 0032, 9 buffers
/// and 0.7 ms from the author's; 100 connected users and an author with
/// 27,140 followers, 0.4-0.6 ms from the users' side, 2-6 ms from the
/// author's.
const BETWEEN: &str = "
    WITH side AS (
         SELECT coalesce(sum(followers_count), 0) > 50 * cardinality($1::bigint[]) AS by_users
           FROM users WHERE id = ANY ($2))
    SELECT 0::int2, f.follower_id, f.followee_id
      FROM (SELECT f.follower_id, f.followee_id FROM unnest($2::bigint[]) a(id)
              JOIN follows f ON f.followee_id = a.id OFFSET 0) f
     WHERE NOT (SELECT by_users FROM side) AND f.follower_id IN (SELECT unnest($1::bigint[]))
    UNION ALL
    SELECT 0::int2, f.follower_id, f.followee_id FROM unnest($1::bigint[]) u(id)
     CROSS JOIN LATERAL (SELECT follower_id, followee_id FROM follows
                          WHERE follower_id = u.id AND followee_id = ANY ($2) OFFSET 0) f
     WHERE (SELECT by_users FROM side)
    UNION ALL
    SELECT 1::int2, b.blocker_id, b.blocked_id
      FROM (SELECT b.blocker_id, b.blocked_id FROM unnest($2::bigint[]) a(id)
              JOIN blocks b ON b.blocked_id = a.id OFFSET 0) b
     WHERE b.blocker_id IN (SELECT unnest($1::bigint[]))
    UNION ALL
    SELECT 1::int2, b.blocker_id, b.blocked_id
      FROM (SELECT b.blocker_id, b.blocked_id FROM unnest($2::bigint[]) a(id)
              JOIN blocks b ON b.blocker_id = a.id OFFSET 0) b
     WHERE b.blocked_id IN (SELECT unnest($1::bigint[]))
    UNION ALL
    SELECT 2::int2, m.muter_id, m.muted_id
      FROM (SELECT m.muter_id, m.muted_id FROM unnest($2::bigint[]) a(id)
              JOIN mutes m ON m.muted_id = a.id
             WHERE NOT m.notifications_only AND (m.expires_at IS NULL OR m.expires_at > now())
            OFFSET 0) m
     WHERE m.muter_id IN (SELECT unnest($1::bigint[]))";

/// Follows, blocks (either way) and mutes between `users` and `authors`.
pub(super) async fn between(
    db: &mut PgConnection,
    users: &[i64],
    authors: &[i64],
) -> ApiResult<Relations> {
    if users.is_empty() || authors.is_empty() {
        return Ok(Relations::default());
    }
    let rows: Vec<(i16, i64, i64)> = sqlx::query_as(BETWEEN)
        .bind(users)
        .bind(authors)
        .fetch_all(db)
        .await?;
    let mut follows = Vec::new();
    let mut blocks = Vec::new();
    let mut mutes = Vec::new();
    for (kind, a, b) in rows {
        match kind {
            0 => follows.push((a, b)),
            1 => blocks.push((a, b)),
            _ => mutes.push((a, b)),
        }
    }
    Ok(follows
        .into_iter()
        .collect::<Relations>()
        .with_blocks(blocks)
        .with_mutes(mutes))
}
