//! Apps: registering one (`POST /api/v1/apps`), its own token's view, and
//! the signed-in user's authorized apps (each token), for the web client's
//! settings.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::OOB;
use crate::input::FormOrJson;
use crate::mastodon::auth::Token;
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::scopes::Scopes;
use crate::mastodon::tokens::{self, App};
use crate::state::AppState;

/// One URI or several (JSON array, or newline-separated text).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RedirectUris {
    One(String),
    Many(Vec<String>),
}

/// `POST /api/v1/apps` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApp {
    #[schema(min_length = 1, max_length = 60)]
    pub client_name: String,
    pub redirect_uris: RedirectUris,
    pub scopes: Option<String>,
    pub website: Option<String>,
}

/// Whether `uri` may be a redirect URI: the out-of-band URN, or an absolute
/// URI (`https://…`, or an app's own scheme) without a fragment.
fn valid_redirect(uri: &str) -> bool {
    if uri == OOB {
        return true;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && !rest.is_empty()
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
        && uri.len() <= 2000
}

fn app_json(app: &App, with_secret: bool) -> serde_json::Value {
    let scopes: Vec<&str> = app.scopes.split(' ').collect();
    let mut v = json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "vapid_key": "",
    });
    if with_secret {
        v["client_id"] = json!(app.client_id);
        v["client_secret"] = json!(app.client_secret);
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

/// Registers an app: its client id and secret.
#[utoipa::path(operation_id = "mastodon_create_app", tag = "mastodon", request_body = CreateApp,
    responses((status = 200, body = Object), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[post("/api/v1/apps")]
pub async fn create_app(
    state: web::Data<AppState>,
    FormOrJson(body): FormOrJson<CreateApp>,
) -> MastoResult<HttpResponse> {
    let name = body.client_name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(MastoError::unprocessable(
            "Validation failed: Application name must be 1 to 60 characters",
        ));
    }
    let uris: Vec<String> = match body.redirect_uris {
        RedirectUris::One(s) => s.split_whitespace().map(str::to_owned).collect(),
        RedirectUris::Many(v) => v.into_iter().map(|s| s.trim().to_owned()).collect(),
    };
    if uris.is_empty() || uris.len() > 10 || !uris.iter().all(|u| valid_redirect(u)) {
        return Err(MastoError::unprocessable(
            "Validation failed: Redirect URI must be an absolute URI.",
        ));
    }
    let scopes = Scopes::parse(body.scopes.as_deref().unwrap_or("read")).map_err(|s| {
        MastoError::unprocessable(format!("Validation failed: Scopes {s} is unknown"))
    })?;
    let website = body
        .website
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty());
    if website.is_some_and(|w| w.len() > 2000 || !valid_redirect(w)) {
        return Err(MastoError::unprocessable(
            "Validation failed: Website is invalid",
        ));
    }
    let app = tokens::create_app(
        &*state.pool,
        tokens::NewApp {
            name,
            website,
            redirect_uris: &uris,
            scopes: &scopes.to_string(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(app_json(&app, true)))
}

/// The app of the token presented.
#[utoipa::path(operation_id = "mastodon_verify_app", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = MastoErrorBody)))]
#[get("/api/v1/apps/verify_credentials")]
pub async fn verify_app(state: web::Data<AppState>, token: Token) -> MastoResult<HttpResponse> {
    let Some(app_id) = token.app_id else {
        return Ok(HttpResponse::Ok().json(json!({
            "id": "0", "name": "pamps", "website": null, "scopes": ["read", "write", "follow", "push"],
            "redirect_uri": OOB, "redirect_uris": [OOB], "vapid_key": "",
        })));
    };
    let app = tokens::app_by_id(&*state.pool, app_id)
        .await?
        .ok_or_else(MastoError::unauthorized)?;
    Ok(HttpResponse::Ok().json(app_json(&app, false)))
}

/// The signed-in user's authorized apps (each token), for the web client's
/// settings. pamps' own session only.
#[utoipa::path(operation_id = "mastodon_authorized_apps", tag = "mastodon", security(("bearer" = [])),
    responses((status = 200, body = Vec<tokens::Authorized>), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody)))]
#[get("/oauth/authorized_apps")]
pub async fn authorized_apps(
    state: web::Data<AppState>,
    token: Token,
) -> MastoResult<HttpResponse> {
    let me = own_session(&token)?;
    Ok(HttpResponse::Ok().json(tokens::authorized(&*state.pool, me).await?))
}

/// Revokes one of the signed-in user's app tokens (its session ends).
#[utoipa::path(operation_id = "mastodon_revoke_authorized_app", tag = "mastodon", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 404, body = MastoErrorBody),
        (status = 422, body = MastoErrorBody), (status = 429, body = MastoErrorBody)))]
#[delete("/oauth/authorized_apps/{id:[0-9]+}")]
pub async fn revoke_authorized_app(
    state: web::Data<AppState>,
    token: Token,
    id: web::Path<i64>,
) -> MastoResult<HttpResponse> {
    let me = own_session(&token)?;
    if tokens::revoke_by_id(&state.pool, me, id.into_inner()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(MastoError::not_found())
    }
}

/// The user of a pamps session token; an app's token may not manage apps.
fn own_session(token: &Token) -> MastoResult<i64> {
    if token.app_id.is_some() {
        return Err(MastoError::forbidden(
            "Only the pamps web client may manage authorized apps",
        ));
    }
    Ok(token.require("write")?.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_absolute_without_fragments() {
        for ok in [
            OOB,
            "https://app.example/cb",
            "myapp://oauth",
            "http://localhost:4000/x?y=1",
        ] {
            assert!(valid_redirect(ok), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "https://a.example/#frag",
            "1http://x",
            "https://a b",
            "nocolon",
        ] {
            assert!(!valid_redirect(bad), "{bad}");
        }
    }
}
