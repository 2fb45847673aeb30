//! `/user/…`: registration, listings, profiles, own profile, follows, timeline.

use actix_web::http::header;
use futures_util::TryStreamExt;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};

use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::session::{self, AccountDeletion, PasswordChange};
use crate::auth::{AuthUser, MaybeAuthUser, Writer};
use crate::bus;
use crate::domain::{accounts, archive, relationships, timelines};
use crate::error::{ApiError, ApiResult};
use crate::error::{ErrorBody, ValidationBody};
use crate::input::{JsonBody, Query};
use crate::models::follow::{Following, Side};
use crate::models::user::{Profile, ProfileUpdate, RegisterRequest, User};
use crate::pagination::{PageQuery, page_response};
use crate::state::AppState;

/// A JSON object, as documented beside it.
type Object = serde_json::Map<String, serde_json::Value>;

/// Registers the `/user` routes; fixed paths come before `{username}`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(list)
        .service(me)
        .service(update_me)
        .service(change_password)
        .service(timeline)
        .service(bookmarks)
        .service(export)
        .service(delete_account)
        .service(follow)
        .service(unfollow)
        .service(profile)
        .service(followers)
        .service(following);
}

/// Registers a user.
#[utoipa::path(tag = "users", request_body = RegisterRequest,
    responses(
        (status = 201, body = User, headers(("Location" = String, description = "/user/{username}/"))),
        (status = 409, description = "Username or email already registered", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody),
    ))]
#[post("/user/")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    state.limits.register(&req).await?;
    let new_user = accounts::registration(&body)?;
    let hash = state.hasher.hash(new_user.password.clone()).await?;
    let created = accounts::register(&*state.pool, &new_user, &hash).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/user/{}/", created.username)))
        .json(created))
}

/// Lists users, oldest first.
#[utoipa::path(operation_id = "list_users", tag = "users", params(PageQuery),
    responses((status = 200, body = Vec<User>), (status = 422, body = ValidationBody)))]
#[get("/user/")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    Ok(page_response(
        &req,
        page,
        accounts::directory(&state.pool, page).await?,
    ))
}

/// A user's public profile.
#[utoipa::path(tag = "users",
    params(("username" = String, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/user/{username}/")]
pub async fn profile(
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(accounts::profile(&state.pool, &path, viewer.id()).await?))
}

/// One's own profile, with email.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody)))]
#[get("/user/me/")]
pub async fn me(state: web::Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(accounts::own_profile(&state.pool, caller.id).await?))
}

/// Updates one's email, avatar or bio.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, body = Profile), (status = 401, body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
    ))]
#[patch("/user/me/")]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Writer,
    JsonBody(body): JsonBody<ProfileUpdate>,
) -> ApiResult<HttpResponse> {
    let edit = accounts::profile_edit(&body)?;
    accounts::edit_profile(&*state.pool, caller.id, &edit).await?;
    Ok(HttpResponse::Ok().json(accounts::own_profile(&state.pool, caller.id).await?))
}

/// Changes one's password (fresh token required); revokes all refresh tokens.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Token not fresh, or wrong current password", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
#[post("/user/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<HttpResponse> {
    state.limits.password_check(&req, caller.id).await?;
    session::change_password(&state, &caller, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Follows a user: 201 the first time, 200 after.
#[utoipa::path(tag = "follows", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user to follow")),
    responses(
        (status = 201, description = "Now following", body = Following, headers(("Location" = String))),
        (status = 200, description = "Already following", body = Following),
        (status = 401, body = ErrorBody), (status = 403, description = "Across a block", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Following oneself", body = ValidationBody), (status = 429, body = ErrorBody),
    ))]
#[post("/user/follow/{id}")]
pub async fn follow(
    state: web::Data<AppState>,
    caller: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let created = relationships::follow(&state.pool, caller.id, id).await?;
    let body = Following {
        follower_id: caller.id,
        followee_id: id,
        following: true,
    };
    Ok(if created {
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/user/{}/following/", caller.username),
            ))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Stops following a user (204 also when not following).
#[utoipa::path(tag = "follows", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Not following"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[delete("/user/follow/{id}")]
pub async fn unfollow(
    state: web::Data<AppState>,
    caller: Writer,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    relationships::unfollow(&*state.pool, caller.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Users following someone, most recent follow first (without those across
/// a block from the caller).
#[utoipa::path(tag = "follows",
    params(("username" = String, Path), PageQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/user/{username}/followers/")]
pub async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(&req, &state, &path, &q, Side::Followers, viewer.id()).await
}

/// Users someone follows, most recent follow first (without those across a
/// block from the caller).
#[utoipa::path(tag = "follows",
    params(("username" = String, Path), PageQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
#[get("/user/{username}/following/")]
pub async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(&req, &state, &path, &q, Side::Following, viewer.id()).await
}

async fn follow_list(
    req: &HttpRequest,
    state: &AppState,
    username: &str,
    q: &PageQuery,
    side: Side,
    viewer: Option<i64>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = timelines::follows(&state.pool, username, side, page, viewer).await?;
    Ok(page_response(req, page, rows))
}

/// Query of `GET /user/timeline`, beside its page.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Also my own posts and reposts (default false: the people I follow only).
    pub include_own: Option<bool>,
}

/// Posts (replies included) by the users I follow, and the posts they
/// reposted (each once, `reposted_by` naming the latest reposter), newest first.
#[utoipa::path(tag = "posts", security(("bearer" = [])), params(TimelineQuery, PageQuery),
    responses((status = 200, body = Vec<crate::models::post::Post>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/user/timeline")]
pub async fn timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    Query(t): Query<TimelineQuery>,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let own = t.include_own.unwrap_or(false);
    Ok(page_response(
        &req,
        page,
        timelines::home(&state.pool, caller.id, own, page).await?,
    ))
}

/// My bookmarked posts, newest bookmark first (private: only mine).
#[utoipa::path(tag = "bookmarks", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<crate::models::post::Post>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
#[get("/user/bookmarks/")]
pub async fn bookmarks(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let rows = timelines::bookmarks(&state.pool, caller.id, page).await?;
    Ok(page_response(&req, page, rows))
}

/// The archive's shape, for the documentation: the body is streamed from
/// the rows (`domain::archive`), never built as this value.
#[derive(ToSchema)]
pub struct Archive {
    /// `{id, username, email, avatar, header, bio, created_at, role}`.
    pub profile: Object,
    /// `{id, text, date, parent_id, edited_at, like_count, reply_count}`, oldest first.
    pub posts: Vec<Object>,
    /// `{username, since}`, oldest follow first.
    pub following: Vec<Object>,
    /// `{username, since}`, oldest follow first.
    pub followers: Vec<Object>,
    /// `{id, url, purpose, post_id, description, created_at}`: my pictures.
    pub media: Vec<Object>,
    /// `{post_id, author, liked_at}`, oldest like first.
    pub likes: Vec<Object>,
}

/// Downloads my data: profile, posts, follows both ways, pictures and likes, as one
/// JSON document streamed a page of rows at a time.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The archive", content_type = "application/json",
        body = Archive), (status = 401, body = ErrorBody)))]
#[get("/user/export/")]
pub async fn export(state: web::Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    let chunks = archive::archive(state.pool.clone(), caller.id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"pamps-archive.json\"",
        ))
        .streaming(chunks.map_ok(web::Bytes::from).map_err(ApiError::from)))
}

/// Deletes my account, with my password: see README for what is kept.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = AccountDeletion,
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "Wrong password", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[delete("/user/")]
pub async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Writer,
    JsonBody(body): JsonBody<AccountDeletion>,
) -> ApiResult<HttpResponse> {
    state.limits.password_check(&req, caller.id).await?;
    session::delete_account(&state, &caller, body).await?;
    bus::end_user(&state, caller.id);
    Ok(HttpResponse::NoContent().finish())
}
