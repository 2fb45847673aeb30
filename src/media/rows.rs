//! The `media` table: uploads, alt text, attaching to posts, avatars and
//! headers, and the queue of files to remove (`media_trash`).

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use crate::domain::error::{ConstraintExt, DomainError, DomainResult};
use crate::media::attachment::{MediaAttachment, media_json};

/// Most pictures on one post.
pub const MAX_PER_POST: usize = 4;
/// Longest alt text, in characters.
pub const MAX_DESCRIPTION: usize = 1500;

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Purpose {
    Post,
    Avatar,
    Header,
}

/// A stored upload's facts, as inserted.
#[derive(Debug)]
pub struct NewMedia<'a> {
    pub user_id: i64,
    pub purpose: Purpose,
    pub file_key: &'a str,
    pub preview_key: &'a str,
    pub content_type: &'a str,
    pub width: u32,
    pub height: u32,
    pub small_width: u32,
    pub small_height: u32,
    pub blurhash: &'a str,
    pub description: &'a str,
}

/// Checks alt text: at most [`MAX_DESCRIPTION`] characters, no NUL.
pub fn description(raw: &str, loc: &[&str]) -> DomainResult<String> {
    let text = raw.trim();
    if text.chars().count() > MAX_DESCRIPTION || text.contains('\0') {
        return Err(DomainError::invalid(
            loc,
            format!("description must be at most {MAX_DESCRIPTION} characters, without NUL"),
        ));
    }
    Ok(text.to_owned())
}

/// Records an upload.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewMedia<'_>) -> DomainResult<MediaAttachment> {
    let purpose: &str = new.purpose.into();
    let Json(media) = sqlx::query_scalar::<_, Json<MediaAttachment>>(concat!(
        "WITH m AS (
             INSERT INTO media (user_id, purpose, file_key, preview_key, content_type, width,
                                height, small_width, small_height, blurhash, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *)
         SELECT ",
        media_json!(),
        " FROM m"
    ))
    .bind(new.user_id)
    .bind(purpose)
    .bind(new.file_key)
    .bind(new.preview_key)
    .bind(new.content_type)
    .bind(new.width as i32)
    .bind(new.height as i32)
    .bind(new.small_width as i32)
    .bind(new.small_height as i32)
    .bind(new.blurhash)
    .bind(new.description)
    .fetch_one(db)
    .await
    .on_constraint("media_user_id_fkey", || DomainError::Gone)?;
    Ok(media)
}

/// One of `user_id`'s uploads (another's is a 404 too: ids are not secrets,
/// but unattached uploads are private).
pub async fn get(db: impl PgExecutor<'_>, id: i64, user_id: i64) -> DomainResult<MediaAttachment> {
    sqlx::query_scalar::<_, Json<MediaAttachment>>(concat!(
        "SELECT ",
        media_json!(),
        " FROM media m WHERE m.id = $1 AND m.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .map(|Json(m)| m)
    .ok_or(DomainError::NotFound("Media not found"))
}

/// Sets the alt text of one of `user_id`'s uploads.
pub async fn describe(
    db: impl PgExecutor<'_>,
    id: i64,
    user_id: i64,
    description: &str,
) -> DomainResult<MediaAttachment> {
    sqlx::query_scalar::<_, Json<MediaAttachment>>(concat!(
        "WITH m AS (UPDATE media SET description = $3 WHERE id = $1 AND user_id = $2 RETURNING *)
         SELECT ",
        media_json!(),
        " FROM m"
    ))
    .bind(id)
    .bind(user_id)
    .bind(description)
    .fetch_optional(db)
    .await?
    .map(|Json(m)| m)
    .ok_or(DomainError::NotFound("Media not found"))
}

/// Attaches `ids`, in that order, to `user_id`'s new post `post_id`: each
/// must be that user's unattached post upload, else a 422 (and the caller's
/// transaction is rolled back). Rows are locked, so two posts racing for one
/// upload cannot both take it.
pub async fn attach(
    db: &mut sqlx::PgConnection,
    user_id: i64,
    post_id: i64,
    ids: &[i64],
) -> DomainResult<Vec<MediaAttachment>> {
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    if ids.len() > MAX_PER_POST || unique.len() != ids.len() {
        return Err(DomainError::invalid(
            &["body", "media_ids"],
            format!("media_ids must be at most {MAX_PER_POST} distinct ids"),
        ));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let attached: Vec<Json<MediaAttachment>> = sqlx::query_scalar(concat!(
        "WITH wanted AS (SELECT id, ord - 1 AS position FROM unnest($3::bigint[]) WITH ORDINALITY AS w(id, ord)),
              m AS (UPDATE media SET post_id = $2, position = wanted.position
                      FROM wanted
                     WHERE media.id = wanted.id AND media.user_id = $1
                       AND media.post_id IS NULL AND media.purpose = 'post'
                 RETURNING media.*)
         SELECT ",
        media_json!(),
        " FROM m ORDER BY m.position"
    ))
    .bind(user_id)
    .bind(post_id)
    .bind(ids)
    .fetch_all(&mut *db)
    .await?;
    if attached.len() != ids.len() {
        return Err(DomainError::invalid(
            &["body", "media_ids"],
            "media_ids must be your own uploads, not yet attached to a post",
        ));
    }
    Ok(attached.into_iter().map(|Json(m)| m).collect())
}

/// Makes upload `id` the user's avatar or header: the URL goes in the
/// user's column, and the previous one's row goes (its files to the trash).
pub async fn set_profile_picture(
    db: &PgPool,
    user_id: i64,
    id: i64,
    purpose: Purpose,
    url: &str,
) -> DomainResult<()> {
    let mut tx = db.begin().await?;
    let purpose_name: &str = purpose.into();
    sqlx::query("DELETE FROM media WHERE user_id = $1 AND purpose = $2 AND id <> $3")
        .bind(user_id)
        .bind(purpose_name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let sql = match purpose {
        Purpose::Header => "UPDATE users SET header = $2 WHERE id = $1",
        _ => "UPDATE users SET avatar = $2 WHERE id = $1",
    };
    sqlx::query(sql)
        .bind(user_id)
        .bind(url)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes unattached post uploads older than `hours` (their files go to
/// the trash); how many.
pub async fn sweep_unattached(db: impl PgExecutor<'_>, hours: i32) -> DomainResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM media WHERE id IN (
             SELECT id FROM media
              WHERE post_id IS NULL AND purpose = 'post'
                AND created_at < now() - make_interval(hours => $1)
              ORDER BY created_at LIMIT 1000)",
    )
    .bind(hours)
    .execute(db)
    .await?
    .rows_affected())
}

/// Up to `limit` file keys waiting in the trash.
pub async fn trash(db: impl PgExecutor<'_>, limit: i64) -> DomainResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT file_key FROM media_trash ORDER BY queued_at LIMIT $1")
            .bind(limit)
            .fetch_all(db)
            .await?,
    )
}

/// Forgets trashed keys whose files are gone.
pub async fn forget(db: impl PgExecutor<'_>, keys: &[String]) -> DomainResult<()> {
    sqlx::query("DELETE FROM media_trash WHERE file_key = ANY ($1)")
        .bind(keys)
        .execute(db)
        .await?;
    Ok(())
}
