//! The OpenAPI 3.1 document (`/openapi.json`) and the offline Swagger UI
//! (`/docs`). The paths come from the route table itself (see `routes`).

use std::sync::{Arc, LazyLock};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::routes;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/token",
                Scopes::new(),
            ))])),
        );
    }
}

/// OpenAPI requires a description on every response: the ones the handlers
/// leave out get their status' reason phrase ("Payload Too Large").
struct DescribeResponses;

impl Modify for DescribeResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &mut operation.responses.responses {
                    if let RefOr::T(response) = response
                        && response.description.is_empty()
                    {
                        response.description = status
                            .parse()
                            .ok()
                            .and_then(|code| StatusCode::from_u16(code).ok())
                            .and_then(|code| code.canonical_reason())
                            .unwrap_or("Response")
                            .to_owned();
                    }
                }
            }
        }
    }
}

/// What the routes don't say: title, tags, security schemes.
#[derive(OpenApi)]
#[openapi(
    info(title = "pamps", description = "A twitter-like blog API: posts, replies, likes, follows and timelines."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Tokens: login, refresh with rotation, logout"),
        (name = "users", description = "Registration and profiles"),
        (name = "follows", description = "Following people"),
        (name = "posts", description = "Posts, threads and timelines"),
        (name = "likes", description = "Likes"),
        (name = "notifications", description = "Likes, replies, follows and mentions of me"),
        (name = "stream", description = "The live stream (GET /stream: WebSocket or Server-Sent Events; see docs/API.md)"),
        (name = "operations", description = "Probes"),
    )
)]
struct ApiDoc;

/// The document: [`ApiDoc`] plus every path the route table registers.
pub static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::api)
        .split_for_parts();
    DescribeResponses.modify(&mut doc);
    doc
});

const SPEC_URL: &str = "/openapi.json";

/// `/openapi.json`, and Swagger UI at `/docs/` and `/docs`, from the binary.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let config = Arc::new(Config::from(SPEC_URL));
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url(SPEC_URL, DOCUMENT.clone()))
        .app_data(web::Data::from(config))
        .route("/docs", web::get().to(docs_without_slash));
}

/// Swagger UI's page at `/docs`: the same page as `/docs/`, with a base URL
/// so that its relative asset links resolve under `/docs/` (no redirect).
async fn docs_without_slash(config: web::Data<Config<'static>>) -> HttpResponse {
    match utoipa_swagger_ui::serve("index.html", config.into_inner()) {
        Ok(Some(file)) => {
            let html = String::from_utf8_lossy(&file.bytes).replacen(
                "<head>",
                "<head><base href=\"/docs/\">",
                1,
            );
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(html)
        }
        _ => HttpResponse::NotFound().finish(),
    }
}
