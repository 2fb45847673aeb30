//! The relations a batch's fan-out needs, in one round trip: who of the
//! connected users follows, blocks, is blocked by or mutes the batch's
//! authors. One statement instead of one per relation, because the drain
//! waits for them before the first event goes out.

use sqlx::PgConnection;

use crate::error::ApiResult;
use crate::visibility::Relations;

/// Rows are `(kind, a, b)`: 0 `a` follows `b`, 1 `a` blocks `b`, 2 `a`
/// mutes `b` (a live mute of timelines).
const BETWEEN: &str = "
    SELECT 0::int2, f.follower_id, f.followee_id FROM follows f
     WHERE f.followee_id = ANY ($2) AND f.follower_id IN (SELECT unnest($1::bigint[]))
    UNION ALL
    SELECT 1::int2, blocker_id, blocked_id FROM blocks
     WHERE blocker_id = ANY ($1) AND blocked_id = ANY ($2)
    UNION ALL
    SELECT 1::int2, blocker_id, blocked_id FROM blocks
     WHERE blocked_id = ANY ($1) AND blocker_id = ANY ($2)
    UNION ALL
    SELECT 2::int2, muter_id, muted_id FROM mutes
     WHERE muter_id = ANY ($1) AND muted_id = ANY ($2) AND NOT notifications_only
       AND (expires_at IS NULL OR expires_at > now())";

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
