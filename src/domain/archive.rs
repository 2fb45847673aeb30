//! Leaving with your data: an account's archive as one JSON document,
//! produced a page of rows at a time so a large account never sits in memory.
//!
//! PostgreSQL renders each row as JSON text; this module only joins the
//! pieces: `{"profile": {...}, "posts": [...], "following": [...],
//! "followers": [...], "media": [...], "likes": [...]}`.

use futures_util::Stream;
use futures_util::stream;
use sqlx::PgPool;

use super::error::{DomainError, DomainResult};

/// Rows read per query.
const PAGE: i64 = 500;

/// The archive's lists, in order: (name, query over `$1` user, `$2` after, `$3` limit).
const SECTIONS: &[(&str, &str)] = &[
    (
        "posts",
        "SELECT id, json_build_object('id', id, 'text', text, 'date', date, 'parent_id', parent_id,
                    'edited_at', edited_at, 'like_count', like_count, 'reply_count', reply_count)::text
           FROM posts WHERE user_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3",
    ),
    (
        "following",
        "SELECT f.id, json_build_object('username', u.username, 'since', f.created_at)::text
           FROM follows f JOIN users u ON u.id = f.followee_id
          WHERE f.follower_id = $1 AND f.id > $2 ORDER BY f.id LIMIT $3",
    ),
    (
        "followers",
        "SELECT f.id, json_build_object('username', u.username, 'since', f.created_at)::text
           FROM follows f JOIN users u ON u.id = f.follower_id
          WHERE f.followee_id = $1 AND f.id > $2 ORDER BY f.id LIMIT $3",
    ),
    (
        "media",
        "SELECT id, json_build_object('id', id, 'url', '/media/files/' || file_key,
                    'purpose', purpose, 'post_id', post_id, 'description', description,
                    'created_at', created_at)::text
           FROM media WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    ),
    (
        "likes",
        "SELECT l.id, json_build_object('post_id', l.post_id, 'author', u.username,
                    'liked_at', l.created_at)::text
           FROM likes l JOIN posts p ON p.id = l.post_id JOIN users u ON u.id = p.user_id
          WHERE l.user_id = $1 AND l.id > $2 ORDER BY l.id LIMIT $3",
    ),
];

/// Where the archive stands between chunks.
enum Cursor {
    Profile,
    /// In section `index`, after key `after`; `first` until a row was written.
    Section {
        index: usize,
        after: i64,
        first: bool,
    },
    Done,
}

/// `actor`'s archive as a stream of JSON chunks. The profile is read before
/// the first byte is sent, so an account gone is an error, not a broken body.
pub async fn archive(
    db: PgPool,
    actor: i64,
) -> DomainResult<impl Stream<Item = DomainResult<String>> + 'static> {
    let profile: String = sqlx::query_scalar(
        "SELECT json_build_object('id', id, 'username', username, 'email', email,
                    'avatar', avatar, 'header', header, 'bio', bio, 'created_at', created_at, 'role', role)::text
           FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(actor)
    .fetch_optional(&db)
    .await?
    .ok_or(DomainError::Gone)?;
    let start = (Cursor::Profile, Some(profile));
    Ok(stream::try_unfold(start, move |(cursor, profile)| {
        let db = db.clone();
        async move {
            let (chunk, next) = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Profile => (
                    format!("{{\"profile\":{}", profile.unwrap_or_default()),
                    Cursor::Section {
                        index: 0,
                        after: i64::MIN,
                        first: true,
                    },
                ),
                Cursor::Section {
                    index,
                    after,
                    first,
                } => section_chunk(&db, actor, index, after, first).await?,
            };
            Ok(Some((chunk, (next, None))))
        }
    }))
}

/// The next chunk of section `index`: its opening, one page of rows, and
/// its closing once a page comes back short.
async fn section_chunk(
    db: &PgPool,
    actor: i64,
    index: usize,
    after: i64,
    first: bool,
) -> DomainResult<(String, Cursor)> {
    let Some(&(name, sql)) = SECTIONS.get(index) else {
        return Ok(("}".to_owned(), Cursor::Done));
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(sql)
        .bind(actor)
        .bind(after)
        .bind(PAGE)
        .fetch_all(db)
        .await?;
    let mut chunk = if first {
        format!(",\"{name}\":[")
    } else {
        String::new()
    };
    for (i, (_, json)) in rows.iter().enumerate() {
        if !(first && i == 0) {
            chunk.push(',');
        }
        chunk.push_str(json);
    }
    let next = match rows.last() {
        Some(&(last, _)) if i64::try_from(rows.len()) == Ok(PAGE) => Cursor::Section {
            index,
            after: last,
            first: false,
        },
        _ => {
            chunk.push(']');
            Cursor::Section {
                index: index + 1,
                after: i64::MIN,
                first: true,
            }
        }
    };
    Ok((chunk, next))
}
