//! The list reads: a thread, the public and home timelines, a user's posts,
//! replies, likes and follows, the notification list. Each turns a name or
//! id into rows by the product's rules (an unknown user or post is
//! [`DomainError::NotFound`]); `viewer` fills the viewer's own fields
//! (`liked`, `following`).

use sqlx::PgPool;

use super::error::{DomainError, DomainResult};
use crate::models::follow::{self, Side};
use crate::models::notification::{self, Kind, Notification};
use crate::models::post::{self, Post, PostWithReplies};
use crate::models::user::{self, User};
use crate::models::{bookmark, home_feed, repost};
use crate::pagination::{Order, Page};

/// A live post with its first direct replies, oldest first.
pub async fn thread(db: &PgPool, id: i64, viewer: Option<i64>) -> DomainResult<PostWithReplies> {
    post::thread(db, id, viewer).await
}

/// Top-level posts in the given order.
pub async fn public(
    db: &PgPool,
    order: Order,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    post::list_top_level(db, order, page, viewer).await
}

/// Posts (replies included) by the users `viewer` follows, and by `viewer`
/// with `include_own`, and the posts those users reposted (each once),
/// newest first. Read from the viewer's home feed (`models::home_feed`, built
/// on the first read), and below its floor with `post::timeline`, so keyset
/// pages continue across the boundary.
pub async fn home(
    db: &PgPool,
    viewer: i64,
    include_own: bool,
    page: Page,
) -> DomainResult<Vec<Post>> {
    let fetch = page.fetch_limit();
    let before = page.after_desc();
    let mut rows = home_feed::page(db, viewer, include_own, before, fetch).await?;
    if rows.len() as i64 >= fetch {
        return Ok(rows);
    }
    let floor = match home_feed::floor(db, viewer).await? {
        Some(floor) => floor,
        None => {
            home_feed::build(db, viewer).await?;
            rows = home_feed::page(db, viewer, include_own, before, fetch).await?;
            if rows.len() as i64 >= fetch {
                return Ok(rows);
            }
            home_feed::floor(db, viewer).await?.unwrap_or(i64::MAX)
        }
    };
    if floor <= 0 {
        return Ok(rows);
    }
    let rest = Page {
        limit: fetch - rows.len() as i64 - 1,
        after: Some(before.min(floor)),
    };
    rows.extend(post::timeline(db, viewer, include_own, rest).await?);
    Ok(rows)
}

/// The users who reposted live post `id` (one `viewer` may see), most
/// recent repost first: those `viewer` finds (not suspended, nobody across
/// a block with them).
pub async fn reposted_by(
    db: &PgPool,
    id: i64,
    viewer: Option<i64>,
    page: Page,
) -> DomainResult<Vec<User>> {
    if !post::visible(db, id, viewer).await? {
        return Err(DomainError::NotFound("Post not found"));
    }
    repost::reposters(db, id, viewer, page).await
}

/// `viewer`'s bookmarked live posts, newest bookmark first.
pub async fn bookmarks(db: &PgPool, viewer: i64, page: Page) -> DomainResult<Vec<Post>> {
    bookmark::list(db, viewer, page).await
}

/// Direct live replies of live post `id` (one `viewer` may see), oldest first.
pub async fn replies(
    db: &PgPool,
    id: i64,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    if !post::visible(db, id, viewer).await? {
        return Err(DomainError::NotFound("Post not found"));
    }
    post::replies(db, id, page, viewer).await
}

/// `username`'s posts, with or without their replies.
pub async fn user_posts(
    db: &PgPool,
    username: &str,
    include_replies: bool,
    order: Order,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    let id = user::id_by_username(db, username).await?;
    post::by_user(db, id, include_replies, order, page, viewer).await
}

/// Live posts `username` liked, most recent like first.
pub async fn liked_by(
    db: &PgPool,
    username: &str,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<Post>> {
    let id = user::id_by_username(db, username).await?;
    post::liked_by(db, id, page, viewer).await
}

/// One side of `username`'s follows, most recent follow first; with a
/// `viewer`, without the accounts across a block from them.
pub async fn follows(
    db: &PgPool,
    username: &str,
    side: Side,
    page: Page,
    viewer: Option<i64>,
) -> DomainResult<Vec<User>> {
    let id = user::id_by_username(db, username).await?;
    follow::list(db, id, side, page, viewer).await
}

/// `viewer`'s notifications of the given types (none: all), newest first.
pub async fn notifications(
    db: &PgPool,
    viewer: i64,
    types: &[Kind],
    page: Page,
) -> DomainResult<Vec<Notification>> {
    notification::list(db, viewer, types, page).await
}

/// A live post `viewer` may see with its thread around it: the posts above
/// it (root first) and every reply under it (oldest first).
pub async fn context(
    db: &PgPool,
    id: i64,
    viewer: Option<i64>,
) -> DomainResult<(Post, Vec<Post>, Vec<Post>)> {
    let post = post::get(db, id, viewer).await?;
    let above = post::ancestors(db, id, viewer).await?;
    let below = post::descendants(db, id, viewer).await?;
    Ok((post, above, below))
}

/// The users who like live post `id` (one `viewer` may see), most recent
/// first: those `viewer` finds (not suspended, nobody across a block).
pub async fn liked_post(
    db: &PgPool,
    id: i64,
    viewer: Option<i64>,
    page: Page,
) -> DomainResult<Vec<User>> {
    if !post::visible(db, id, viewer).await? {
        return Err(DomainError::NotFound("Post not found"));
    }
    crate::models::like::likers(db, id, viewer, page).await
}
