//! `/user/…`: registration, listings, profiles, own profile, follows, timeline.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::session::{self, PasswordChange};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::ApiResult;
use crate::error::{ErrorBody, ValidationBody};
use crate::extract::{JsonBody, Query};
use crate::models::follow::Side;
use crate::models::user::{Profile, ProfileUpdate, RegisterRequest, User};
use crate::models::{follow, post, user};
use crate::pagination::{PageQuery, page_response};
use crate::state::AppState;

/// Configures the `/user` routes; fixed paths come before `{username}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/user")
            .route(web::post().to(register))
            .route(web::get().to(list)),
    );
    cfg.service(
        web::resource("/user/me")
            .route(web::get().to(me))
            .route(web::patch().to(update_me)),
    );
    cfg.service(web::resource("/user/me/password").route(web::post().to(change_password)));
    cfg.service(web::resource("/user/timeline").route(web::get().to(timeline)));
    cfg.service(
        web::resource("/user/follow/{id}")
            .route(web::post().to(follow))
            .route(web::delete().to(unfollow)),
    );
    cfg.service(web::resource("/user/{username}").route(web::get().to(profile)));
    cfg.service(web::resource("/user/{username}/followers").route(web::get().to(followers)));
    cfg.service(web::resource("/user/{username}/following").route(web::get().to(following)));
}

/// Registers a user.
#[utoipa::path(post, path = "/user/", tag = "users", request_body = RegisterRequest,
    responses(
        (status = 201, body = User, headers(("Location" = String, description = "/user/{username}/"))),
        (status = 409, description = "Username or email already registered", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ValidationBody), (status = 429, body = ErrorBody),
    ))]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    state.limits.register(&req)?;
    let new_user = body.validate()?;
    let hash = state.hasher.hash(new_user.password.clone()).await?;
    let created = user::insert(&state.pool, &new_user, &hash).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/user/{}/", created.username)))
        .json(created))
}

/// Lists users, oldest first.
#[utoipa::path(get, path = "/user/", operation_id = "list_users", tag = "users", params(PageQuery),
    responses((status = 200, body = Vec<User>), (status = 422, body = ValidationBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    Ok(page_response(
        &req,
        page,
        user::list(&state.pool, page).await?,
    ))
}

/// A user's public profile.
#[utoipa::path(get, path = "/user/{username}/", tag = "users",
    params(("username" = String, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn profile(
    state: web::Data<AppState>,
    path: web::Path<String>,
    viewer: MaybeAuthUser,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(user::profile(&state.pool, &path, viewer.id()).await?))
}

/// One's own profile, with email.
#[utoipa::path(get, path = "/user/me/", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody)))]
pub async fn me(state: web::Data<AppState>, me: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(user::own_profile(&state.pool, me.id).await?))
}

/// Updates one's email, avatar or bio.
#[utoipa::path(patch, path = "/user/me/", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, body = Profile), (status = 401, body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
    ))]
pub async fn update_me(
    state: web::Data<AppState>,
    me: AuthUser,
    JsonBody(body): JsonBody<ProfileUpdate>,
) -> ApiResult<HttpResponse> {
    let update = body.validate()?;
    user::update_own(&state.pool, me.id, &update).await?;
    Ok(HttpResponse::Ok().json(user::own_profile(&state.pool, me.id).await?))
}

/// Changes one's password (fresh token required); revokes all refresh tokens.
#[utoipa::path(post, path = "/user/me/password", tag = "users", security(("bearer" = [])), request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Token not fresh, or wrong current password", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ValidationBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn change_password(
    state: web::Data<AppState>,
    me: AuthUser,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<HttpResponse> {
    session::change_password(&state, &me, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Follows a user: 201 the first time, 200 after.
#[utoipa::path(post, path = "/user/follow/{id}", tag = "follows", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user to follow")),
    responses(
        (status = 201, description = "Now following", body = Object, headers(("Location" = String))),
        (status = 200, description = "Already following", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "Following oneself", body = ValidationBody), (status = 429, body = ErrorBody),
    ))]
pub async fn follow(
    state: web::Data<AppState>,
    me: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    state.limits.write(me.id)?;
    let id = id.into_inner();
    let created = follow::follow(&state.pool, me.id, id).await?;
    let body = serde_json::json!({"follower_id": me.id, "followee_id": id, "following": true});
    Ok(if created {
        HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/user/{}/following/", me.username),
            ))
            .json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Stops following a user (204 also when not following).
#[utoipa::path(delete, path = "/user/follow/{id}", tag = "follows", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Not following"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn unfollow(
    state: web::Data<AppState>,
    me: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    state.limits.write(me.id)?;
    follow::unfollow(&state.pool, me.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Users following someone, most recent follow first.
#[utoipa::path(get, path = "/user/{username}/followers/", tag = "follows",
    params(("username" = String, Path), PageQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(&req, &state, &path, &q, Side::Followers).await
}

/// Users someone follows, most recent follow first.
#[utoipa::path(get, path = "/user/{username}/following/", tag = "follows",
    params(("username" = String, Path), PageQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _viewer: MaybeAuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(&req, &state, &path, &q, Side::Following).await
}

async fn follow_list(
    req: &HttpRequest,
    state: &AppState,
    username: &str,
    q: &PageQuery,
    side: Side,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let id = user::id_by_username(&state.pool, username).await?;
    Ok(page_response(
        req,
        page,
        follow::list(&state.pool, id, side, page).await?,
    ))
}

/// Posts (replies included) by the users I follow, newest first.
#[utoipa::path(get, path = "/user/timeline", tag = "posts", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Vec<crate::models::post::Post>), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
pub async fn timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    Ok(page_response(
        &req,
        page,
        post::timeline(&state.pool, me.id, page).await?,
    ))
}
