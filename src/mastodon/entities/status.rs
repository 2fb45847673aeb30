//! Mastodon's `Status` (with its `Mention` and `Status::Tag`) and `Context`,
//! from the domain's posts: the converter reads what a post's entity needs
//! beyond [`Post`] (its author's account, the content warning, language and
//! mentions) for a whole page at once, in two queries.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use super::account::{self, Account, AccountRow};
use super::{MediaAttachment, Urls, content, timestamp};
use crate::domain::error::{DomainError, DomainResult};
use crate::models::post::Post;
use crate::validation;
use crate::visibility::{Level, visible_account};

/// An account a status mentions.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoMention)]
pub struct Mention {
    pub id: String,
    pub username: String,
    pub url: String,
    pub acct: String,
}

/// A hashtag a status carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoStatusTag)]
pub struct StatusTag {
    pub name: String,
    pub url: String,
}

/// Mastodon's `Status`. The caller's own fields (`favourited`, `reblogged`,
/// `muted`, `bookmarked`, `pinned`, `filtered`) are present only with a token.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoStatus)]
pub struct Status {
    pub id: String,
    pub uri: String,
    pub url: Option<String>,
    pub created_at: String,
    pub account: Account,
    pub content: String,
    /// `public`, `unlisted`, `private` or `direct`.
    pub visibility: Level,
    pub sensitive: bool,
    pub spoiler_text: String,
    pub media_attachments: Vec<MediaAttachment>,
    #[schema(value_type = Option<Object>)]
    pub application: Option<Value>,
    pub mentions: Vec<Mention>,
    pub tags: Vec<StatusTag>,
    #[schema(value_type = Vec<Object>)]
    pub emojis: Vec<Value>,
    pub reblogs_count: i32,
    pub favourites_count: i32,
    pub replies_count: i32,
    pub quotes_count: i32,
    pub in_reply_to_id: Option<String>,
    pub in_reply_to_account_id: Option<String>,
    /// The reblogged status, when this one is a reblog.
    #[schema(value_type = Option<Object>)]
    pub reblog: Option<Box<Status>>,
    #[schema(value_type = Option<Object>)]
    pub poll: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub card: Option<Value>,
    pub language: Option<String>,
    /// The text as typed: only in the answer to a delete.
    pub text: Option<String>,
    pub edited_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub quote: Option<Value>,
    #[schema(value_type = Object)]
    pub quote_approval: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favourited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reblogged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub filtered: Option<Vec<Value>>,
}

/// A status's thread: what it replies to, and the replies under it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MastoContext)]
pub struct Context {
    pub ancestors: Vec<Status>,
    pub descendants: Vec<Status>,
}

/// What a post's entity needs beyond [`Post`].
#[derive(Debug, Clone, FromRow)]
pub struct Extras {
    pub id: i64,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub parent_author: Option<i64>,
    /// The existing accounts its text mentions: `[{id, username}]`, in order.
    pub mentions: Json<Vec<Named>>,
}

/// An account by id and name.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Named {
    pub id: i64,
    pub username: String,
}

/// The extras of posts `ids`. A text without `@` mentions nobody (the
/// regular expression of `mention_names` runs only on those with one); each
/// name is one probe of `users_username_key` (the `OFFSET 0` keeps the
/// planner from hashing the whole `users` table once per post). The ids are
/// read as `(SELECT $1)` so that one generic plan serves every call (a
/// custom plan per call: 0.33 ms to plan, 0.04 to run).
pub async fn extras(db: &PgPool, ids: &[i64]) -> DomainResult<HashMap<i64, Extras>> {
    let rows: Vec<Extras> = sqlx::query_as(concat!(
        "SELECT p.id, p.spoiler_text, p.sensitive, p.language, pp.user_id AS parent_author,
                CASE WHEN strpos(p.text, '@') = 0 THEN '[]'::json
                     ELSE COALESCE((SELECT json_agg(json_build_object('id', u.id, 'username', u.username) ORDER BY m.ord)
                                      FROM mention_names(p.text) m
                                     CROSS JOIN LATERAL (
                                           SELECT u.id, u.username FROM users u
                                            WHERE lower(u.username) = m.name AND ",
        visible_account!("u"),
        " OFFSET 0) u), '[]'::json) END AS mentions
           FROM posts p LEFT JOIN posts pp ON pp.id = p.parent_id
          WHERE p.id = ANY ((SELECT $1)::bigint[])"
    ))
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

/// The answer a client expects about quoting (pamps has no quotes).
fn no_quotes() -> Value {
    serde_json::json!({"automatic": [], "manual": [], "current_user": "denied"})
}

/// Builds the entity of one post from what was read for its page.
fn build(
    post: &Post,
    extras: &Extras,
    author: &AccountRow,
    urls: &Urls,
    viewer: Option<i64>,
) -> Status {
    let mut mentions: Vec<Mention> = Vec::new();
    let mut named: HashMap<String, String> = HashMap::new();
    for m in extras.mentions.iter() {
        if named
            .insert(m.username.to_ascii_lowercase(), m.username.clone())
            .is_none()
        {
            mentions.push(Mention {
                id: m.id.to_string(),
                username: m.username.clone(),
                url: urls.account(&m.username),
                acct: m.username.clone(),
            });
        }
    }
    let tags = validation::hashtags(&post.text)
        .into_iter()
        .map(|name| StatusTag {
            url: urls.tag(&name),
            name,
        })
        .collect();
    let mine = viewer.is_some();
    Status {
        id: post.id.to_string(),
        uri: urls.status_uri(&post.username, post.id),
        url: Some(urls.status(post.id)),
        created_at: timestamp(&post.date),
        account: Account::new(author, urls),
        content: content::html(&post.text, &named, urls),
        visibility: post.visibility,
        sensitive: extras.sensitive,
        spoiler_text: extras.spoiler_text.clone(),
        media_attachments: post
            .media
            .iter()
            .map(|m| MediaAttachment::new(m, urls))
            .collect(),
        application: None,
        mentions,
        tags,
        emojis: Vec::new(),
        reblogs_count: post.repost_count,
        favourites_count: post.like_count,
        replies_count: post.reply_count,
        quotes_count: 0,
        in_reply_to_id: post.parent_id.map(|id| id.to_string()),
        in_reply_to_account_id: extras.parent_author.map(|id| id.to_string()),
        reblog: None,
        poll: None,
        card: None,
        language: extras.language.clone(),
        text: None,
        edited_at: post.edited_at.as_ref().map(timestamp),
        quote: None,
        quote_approval: no_quotes(),
        favourited: mine.then(|| post.liked.unwrap_or(false)),
        reblogged: mine.then(|| post.reposted.unwrap_or(false)),
        muted: mine.then_some(false),
        bookmarked: mine.then(|| post.bookmarked.unwrap_or(false)),
        pinned: mine.then_some(false),
        filtered: mine.then(Vec::new),
    }
}

/// The entities of `posts`, in order, as `viewer` sees them. A row with
/// `reposted_by` (the home timeline's reblogs) becomes a reblog: its id is
/// the repost's, its account the reposter's, `reblog` the post. Posts read
/// through the domain are already ones `viewer` may see; one whose author
/// left meanwhile is skipped.
pub async fn render(
    db: &PgPool,
    urls: &Urls,
    viewer: Option<i64>,
    posts: &[Post],
) -> DomainResult<Vec<Status>> {
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let authors: Vec<i64> = posts.iter().map(|p| p.user_id).collect();
    let reposters: Vec<String> = posts
        .iter()
        .filter_map(|p| p.reposted_by.as_ref().map(|n| n.to_ascii_lowercase()))
        .collect();
    let accounts = account::many(db, &authors, &reposters).await?;
    let by_name: HashMap<String, &AccountRow> = accounts
        .values()
        .map(|a| (a.username.to_ascii_lowercase(), a))
        .collect();
    let extras = extras(db, &ids).await?;
    let mut out = Vec::with_capacity(posts.len());
    for post in posts {
        let (Some(author), Some(extra)) = (accounts.get(&post.user_id), extras.get(&post.id))
        else {
            continue;
        };
        let status = build(post, extra, author, urls, viewer);
        let reposter = post
            .reposted_by
            .as_ref()
            .and_then(|n| by_name.get(&n.to_ascii_lowercase()));
        match reposter {
            Some(reposter) => out.push(reblog(status, post.cursor, reposter, urls)),
            None => out.push(status),
        }
    }
    Ok(out)
}

/// The reblog entry `id` by `reposter` of `status`.
fn reblog(status: Status, id: i64, reposter: &AccountRow, urls: &Urls) -> Status {
    Status {
        id: id.to_string(),
        uri: urls.status_uri(&reposter.username, id),
        url: None,
        account: Account::new(reposter, urls),
        content: String::new(),
        spoiler_text: String::new(),
        sensitive: false,
        media_attachments: Vec::new(),
        mentions: Vec::new(),
        tags: Vec::new(),
        reblogs_count: 0,
        favourites_count: 0,
        replies_count: 0,
        in_reply_to_id: None,
        in_reply_to_account_id: None,
        language: None,
        edited_at: None,
        created_at: status.created_at.clone(),
        visibility: status.visibility,
        favourited: status.favourited,
        reblogged: status.reblogged,
        bookmarked: status.bookmarked,
        muted: status.muted,
        pinned: status.pinned,
        filtered: status.filtered.clone(),
        application: None,
        emojis: Vec::new(),
        quotes_count: 0,
        poll: None,
        card: None,
        text: None,
        quote: None,
        quote_approval: no_quotes(),
        reblog: Some(Box::new(status)),
    }
}

/// The entity of one post.
pub async fn render_one(
    db: &PgPool,
    urls: &Urls,
    viewer: Option<i64>,
    post: &Post,
) -> DomainResult<Status> {
    render(db, urls, viewer, std::slice::from_ref(post))
        .await?
        .pop()
        .ok_or(DomainError::NotFound("Record not found"))
}
