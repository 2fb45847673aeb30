//! The authorization request: `GET /oauth/authorize` checks it and sends
//! the browser to the web client's consent page, whose calls are here too.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{BAD_CLIENT, BAD_REDIRECT, BAD_SCOPE, OOB};
use crate::input::{JsonBody, Query};
use crate::mastodon::auth::Token;
use crate::mastodon::error::{MastoError, MastoErrorBody, MastoResult};
use crate::mastodon::scopes::Scopes;
use crate::mastodon::tokens::{self, App};
use crate::state::AppState;

/// What `GET /oauth/authorize` and the consent page ask for.
#[derive(Debug, Clone, Deserialize, Serialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// `code`.
    #[param(pattern = "^code$")]
    #[schema(pattern = "^code$")]
    pub response_type: Option<String>,
    #[param(min_length = 1)]
    #[schema(min_length = 1)]
    pub client_id: String,
    #[param(min_length = 1)]
    #[schema(min_length = 1)]
    pub redirect_uri: String,
    /// Space- (or `+`-) separated; `read` when absent.
    pub scope: Option<String>,
    pub state: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)).
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// `S256`, the only method.
    #[param(pattern = "^S256$")]
    #[schema(pattern = "^S256$")]
    pub code_challenge_method: Option<String>,
    pub force_login: Option<String>,
    pub lang: Option<String>,
}

/// A checked authorization request: the app, and the scopes asked.
struct Request {
    app: App,
    scopes: Scopes,
}

async fn check_request(state: &AppState, q: &AuthorizeQuery) -> MastoResult<Request> {
    if q.response_type.as_deref().is_some_and(|t| t != "code") {
        return Err(MastoError::oauth(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        ));
    }
    let app = tokens::app_by_client_id(&*state.pool, &q.client_id)
        .await?
        .ok_or_else(|| MastoError::oauth("invalid_client", BAD_CLIENT))?;
    if !app.redirect_uris.contains(&q.redirect_uri) {
        return Err(MastoError::oauth("invalid_redirect_uri", BAD_REDIRECT));
    }
    let scopes = requested_scopes(&app, q.scope.as_deref())?;
    if let Some(challenge) = &q.code_challenge {
        if q.code_challenge_method.as_deref().unwrap_or("plain") != "S256" {
            return Err(MastoError::oauth(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return Err(MastoError::oauth(
                "invalid_request",
                "code_challenge is malformed",
            ));
        }
    }
    Ok(Request { app, scopes })
}

/// The scopes asked (`read` by default), which must be within the app's.
pub(super) fn requested_scopes(app: &App, asked: Option<&str>) -> MastoResult<Scopes> {
    let scopes = Scopes::parse(asked.unwrap_or("read"))
        .map_err(|_| MastoError::oauth("invalid_scope", BAD_SCOPE))?;
    let registered =
        Scopes::parse(&app.scopes).map_err(|_| MastoError::oauth("invalid_scope", BAD_SCOPE))?;
    if !scopes.within(&registered) {
        return Err(MastoError::oauth("invalid_scope", BAD_SCOPE));
    }
    Ok(scopes)
}

/// The authorization page: checks the request, then sends the browser to
/// the web client's consent page (`/#/authorize?…`), which logs in if needed.
#[utoipa::path(operation_id = "mastodon_authorize", tag = "mastodon", params(AuthorizeQuery),
    responses((status = 302, description = "To the consent page"), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[get("/oauth/authorize")]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    Query(q): Query<AuthorizeQuery>,
) -> MastoResult<HttpResponse> {
    check_request(&state, &q).await?;
    Ok(HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("/#/authorize?{}", req.query_string()),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// What the consent page shows: the app, the scopes asked, where it goes.
#[utoipa::path(operation_id = "mastodon_consent_details", tag = "mastodon", params(AuthorizeQuery),
    responses((status = 200, body = Object), (status = 400, body = MastoErrorBody),
        (status = 401, body = MastoErrorBody), (status = 422, body = MastoErrorBody)))]
#[get("/oauth/consent")]
pub async fn consent_details(
    state: web::Data<AppState>,
    Query(q): Query<AuthorizeQuery>,
) -> MastoResult<HttpResponse> {
    let r = check_request(&state, &q).await?;
    Ok(HttpResponse::Ok().json(json!({
        "app": {"name": r.app.name, "website": r.app.website},
        "scopes": r.scopes.names(),
        "redirect_uri": q.redirect_uri,
        "oob": q.redirect_uri == OOB,
    })))
}

/// The consent page's answer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Consent {
    #[serde(flatten)]
    pub request: AuthorizeQuery,
    /// True to approve, false to deny.
    pub approve: bool,
}

/// Where `uri` goes with `params` added to its query.
fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// The signed-in user approves (a code) or denies the app's request. Only
/// the web client's own session may answer (a pamps token), never an app.
#[utoipa::path(operation_id = "mastodon_consent", tag = "mastodon", request_body = Consent, security(("bearer" = [])),
    responses((status = 200, description = "`{\"redirect_uri\": …}` to follow, or `{\"code\": …}` to show (out of band)", body = Object),
        (status = 400, body = MastoErrorBody), (status = 401, body = MastoErrorBody),
        (status = 403, body = MastoErrorBody), (status = 413, body = MastoErrorBody),
        (status = 415, body = MastoErrorBody), (status = 422, body = MastoErrorBody),
        (status = 429, body = MastoErrorBody)))]
#[post("/oauth/consent")]
pub async fn consent(
    state: web::Data<AppState>,
    token: Token,
    JsonBody(body): JsonBody<Consent>,
) -> MastoResult<HttpResponse> {
    if token.app_id.is_some() {
        return Err(MastoError::forbidden(
            "Only the pamps web client may authorize apps",
        ));
    }
    let me = token.require("write")?;
    let q = &body.request;
    let r = check_request(&state, q).await?;
    let oob = q.redirect_uri == OOB;
    let state_param = q.state.as_deref();
    if !body.approve {
        if oob {
            return Ok(HttpResponse::Ok().json(json!({"denied": true})));
        }
        let mut params = vec![
            ("error", "access_denied"),
            (
                "error_description",
                "The resource owner or authorization server denied the request.",
            ),
        ];
        if let Some(s) = state_param {
            params.push(("state", s));
        }
        return Ok(
            HttpResponse::Ok().json(json!({"redirect_uri": with_params(&q.redirect_uri, &params)}))
        );
    }
    let code = tokens::create_code(
        &*state.pool,
        r.app.id,
        me.id,
        &q.redirect_uri,
        &r.scopes.to_string(),
        q.code_challenge.as_deref(),
    )
    .await?;
    if oob {
        return Ok(HttpResponse::Ok().json(json!({"code": code})));
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = state_param {
        params.push(("state", s));
    }
    Ok(HttpResponse::Ok().json(json!({"redirect_uri": with_params(&q.redirect_uri, &params)})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_join_the_redirect_uris_query() {
        assert_eq!(
            with_params("https://a.example/cb", &[("code", "x y")]),
            "https://a.example/cb?code=x+y"
        );
        assert_eq!(
            with_params("https://a.example/cb?k=1", &[("state", "s")]),
            "https://a.example/cb?k=1&state=s"
        );
    }
}
