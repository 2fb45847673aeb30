//! `/post/…`: posts, threads, edits, deletes, likes, reposts and bookmarks.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{MaybeAuthUser, Writer};
use crate::domain::{bookmarks, interactions, posts, reposts, timelines};
use crate::error::ApiResult;
use crate::error::{ErrorBody, ValidationBody};
use crate::input::{JsonBody, Query};
use crate::models::bookmark::Bookmarked;
use crate::models::like::Liked;
use crate::models::post::{NewPost, Post, PostEdit, PostWithReplies};
use crate::models::repost::Reposted;
use crate::models::user::User;
use crate::pagination::{OrderQuery, PageQuery, page_response};
use crate::state::AppState;

/// Registers the `/post` routes; fixed paths come before `{id}`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(by_user)
        .service(liked_by)
        .service(get)
        .service(edit)
        .service(delete)
        .service(replies)
        .service(like)
        .service(unlike)
        .service(repost)
        .service(unrepost)
        .service(reposted_by)
        .service(bookmark)
        .service(unbookmark);
}

/// Query of `GET /post/user/{username}/`, beside its page and order.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserPostsQuery {
    /// Include the user's replies (default false).
    pub include_replies: Option<bool>,
}

/// Top-level posts.
#[utoipa::path(operation_id = "list_posts", tag = "posts", params(PageQuery, OrderQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
    Query(order): Query<OrderQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let order = order.order.unwrap_or_default();
    let rows = timelines::public(&state.pool, order, page, viewer.id()).await?;
    Ok(page_response(&req, page, rows))
}

/// Creates a post, or a reply with `parent_id`.
#[utoipa::path(tag = "posts", security(("bearer" = [])), request_body = NewPost,
    responses(
        (status = 201, body = Post, headers(("Location" = String, description = "/post/{id}/"))),
        (status = 401, body = ErrorBody), (status = 403, description = "A reply across a block", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid text, unknown parent_id or visibility, or media_ids not your unattached uploads", body = ValidationBody),
        (status = 429, body = ErrorBody),
    ))]
#[post("/post/")]
pub async fn create(
    state: web::Data<AppState>,
    me: Writer,
    JsonBody(body): JsonBody<NewPost>,
) -> ApiResult<HttpResponse> {
    let created = posts::create(
        &state.pool,
        me.id,
        &body.text,
        body.parent_id,
        body.visibility,
        &body.media_ids,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/post/{}/", created.id)))
        .json(created))
}

/// A post with its first 100 direct replies.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = PostWithReplies), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/{id}/")]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    viewer: MaybeAuthUser,
) -> ApiResult<HttpResponse> {
    let thread = timelines::thread(&state.pool, id.into_inner(), viewer.id()).await?;
    Ok(HttpResponse::Ok().json(thread))
}

/// Edits one's own post.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = [])),
    request_body = PostEdit,
    responses((status = 200, body = Post), (status = 401, body = ErrorBody),
        (status = 403, description = "Not your post", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
        (status = 429, body = ErrorBody)))]
#[patch("/post/{id}/")]
pub async fn edit(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<PostEdit>,
) -> ApiResult<HttpResponse> {
    let edited = posts::edit(&state.pool, me.id, id.into_inner(), &body.text).await?;
    Ok(HttpResponse::Ok().json(edited))
}

/// Deletes one's own post; its replies stay readable.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody),
        (status = 403, description = "Not your post", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[delete("/post/{id}/")]
pub async fn delete(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    if posts::delete(&state.pool, me.id, id.into_inner()).await? {
        state.media.tidy(&state.pool).await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Direct replies of a post, oldest first.
#[utoipa::path(tag = "posts", params(("id" = i64, Path), PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/{id}/replies/")]
pub async fn replies(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = timelines::replies(&state.pool, id.into_inner(), page, viewer.id()).await?;
    Ok(page_response(&req, page, rows))
}

/// A user's posts.
#[utoipa::path(tag = "posts", params(("username" = String, Path), UserPostsQuery, PageQuery, OrderQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/user/{username}/")]
pub async fn by_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
    Query(q): Query<UserPostsQuery>,
    Query(paging): Query<PageQuery>,
    Query(order): Query<OrderQuery>,
) -> ApiResult<HttpResponse> {
    let page = paging.page()?;
    let rows = timelines::user_posts(
        &state.pool,
        &path,
        q.include_replies.unwrap_or(false),
        order.order.unwrap_or_default(),
        page,
        viewer.id(),
    )
    .await?;
    Ok(page_response(&req, page, rows))
}

/// Likes a post: 201 the first time, 200 after.
#[utoipa::path(tag = "likes", params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 201, description = "Liked", body = Liked, headers(("Location" = String))),
        (status = 200, description = "Already liked", body = Liked),
        (status = 401, body = ErrorBody), (status = 403, description = "Across a block", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[post("/post/{id}/like/")]
pub async fn like(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let created = interactions::like(&*state.pool, me.id, id).await?;
    let body = Liked {
        post_id: id,
        user_id: me.id,
        liked: true,
    };
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/post/likes/{}/", me.username)))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Removes one's like (204 also when not liked).
#[utoipa::path(tag = "likes", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Not liked"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[delete("/post/{id}/like/")]
pub async fn unlike(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    interactions::unlike(&*state.pool, me.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Posts a user liked, most recent like first.
#[utoipa::path(tag = "likes", params(("username" = String, Path), PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<Post>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/likes/{username}/")]
pub async fn liked_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = timelines::liked_by(&state.pool, &path, page, viewer.id()).await?;
    Ok(page_response(&req, page, rows))
}

/// Reposts a post (one's own too): 201 the first time, 200 after.
#[utoipa::path(tag = "reposts", params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 201, description = "Reposted", body = Reposted, headers(("Location" = String))),
        (status = 200, description = "Already reposted", body = Reposted),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a public post, or one of you blocks the other", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[post("/post/{id}/repost/")]
pub async fn repost(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let created = reposts::repost(&*state.pool, me.id, id).await?;
    let body = Reposted {
        post_id: id,
        user_id: me.id,
        reposted: true,
    };
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/post/{id}/reposted_by/")))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Undoes one's repost (204 also when not reposted).
#[utoipa::path(tag = "reposts", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Not reposted"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[delete("/post/{id}/repost/")]
pub async fn unrepost(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    reposts::unrepost(&*state.pool, me.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who reposted a post, most recent repost first.
#[utoipa::path(tag = "reposts", params(("id" = i64, Path), PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/post/{id}/reposted_by/")]
pub async fn reposted_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = timelines::reposted_by(&state.pool, id.into_inner(), viewer.id(), page).await?;
    Ok(page_response(&req, page, rows))
}

/// Bookmarks a post (private): 201 the first time, 200 after.
#[utoipa::path(tag = "bookmarks", params(("id" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 201, description = "Bookmarked", body = Bookmarked, headers(("Location" = String))),
        (status = 200, description = "Already bookmarked", body = Bookmarked),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[post("/post/{id}/bookmark/")]
pub async fn bookmark(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let created = bookmarks::bookmark(&*state.pool, me.id, id).await?;
    let body = Bookmarked {
        post_id: id,
        user_id: me.id,
        bookmarked: true,
    };
    Ok(if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, "/user/bookmarks/"))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Removes one's bookmark (204 also when not bookmarked).
#[utoipa::path(tag = "bookmarks", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Not bookmarked"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[delete("/post/{id}/bookmark/")]
pub async fn unbookmark(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    bookmarks::unbookmark(&*state.pool, me.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
