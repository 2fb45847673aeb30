//! `/post/…`: posts, threads, edits, deletes and likes.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{MaybeAuthUser, Writer};
use crate::error::{ApiError, ApiResult};
use crate::error::{ErrorBody, ValidationBody};
use crate::input::{JsonBody, Query};
use crate::models::like::Liked;
use crate::models::post::{self, EMBEDDED_REPLIES, NewPost, Post, PostEdit, PostWithReplies};
use crate::models::{like as likes, user};
use crate::pagination::{OrderQuery, Page, PageQuery, page_response};
use crate::state::AppState;
use crate::{media, validation};

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
        .service(unlike);
}

/// Query of `GET /post/user/{username}/`, beside its page and order.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserPostsQuery {
    /// Include the user's replies (default false).
    pub include_replies: Option<bool>,
}

fn text_of(raw: &str) -> ApiResult<String> {
    validation::post_text(raw).map_err(|msg| ApiError::invalid(&["body", "text"], msg))
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
    let rows = post::list_top_level(&state.pool, order, page, viewer.id()).await?;
    Ok(page_response(&req, page, rows))
}

/// Creates a post, or a reply with `parent_id`.
#[utoipa::path(tag = "posts", security(("bearer" = [])), request_body = NewPost,
    responses(
        (status = 201, body = Post, headers(("Location" = String, description = "/post/{id}/"))),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid text, unknown parent_id, or media_ids not your unattached uploads", body = ValidationBody),
        (status = 429, body = ErrorBody),
    ))]
#[post("/post/")]
pub async fn create(
    state: web::Data<AppState>,
    me: Writer,
    JsonBody(body): JsonBody<NewPost>,
) -> ApiResult<HttpResponse> {
    let text = text_of(&body.text)?;
    let created =
        media::posting::create_post(&state.pool, me.id, &text, body.parent_id, &body.media_ids)
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
    let id = id.into_inner();
    let post = post::get(&state.pool, id, viewer.id()).await?;
    let first = Page {
        limit: EMBEDDED_REPLIES,
        after: None,
    };
    let mut first_replies = post::replies(&state.pool, id, first, viewer.id()).await?;
    first_replies.truncate(first.limit as usize);
    Ok(HttpResponse::Ok().json(PostWithReplies {
        post,
        replies: first_replies,
    }))
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
    let id = id.into_inner();
    let text = text_of(&body.text)?;
    Ok(HttpResponse::Ok().json(post::edit(&state.pool, id, me.id, &text).await?))
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
    post::delete(&state.pool, id.into_inner(), me.id).await?;
    state.media.tidy(&state.pool).await;
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
    let id = id.into_inner();
    if !post::exists(&state.pool, id).await? {
        return Err(ApiError::NotFound("Post not found"));
    }
    Ok(page_response(
        &req,
        page,
        post::replies(&state.pool, id, page, viewer.id()).await?,
    ))
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
    let id = user::id_by_username(&state.pool, &path).await?;
    let rows = post::by_user(
        &state.pool,
        id,
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
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody)))]
#[post("/post/{id}/like/")]
pub async fn like(
    state: web::Data<AppState>,
    me: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let created = likes::like(&state.pool, me.id, id).await?;
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
    likes::unlike(&state.pool, me.id, id.into_inner()).await?;
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
    let id = user::id_by_username(&state.pool, &path).await?;
    Ok(page_response(
        &req,
        page,
        post::liked_by(&state.pool, id, page, viewer.id()).await?,
    ))
}
