//! The OpenAPI 3.1 document (`/openapi.json`) and the offline Swagger UI (`/docs`).

use actix_web::http::StatusCode;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

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

/// The API description, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "pamps", description = "A twitter-like blog API: posts, replies, likes, follows and timelines."),
    modifiers(&Security, &DescribeResponses),
    paths(
        crate::routes::auth::login, crate::routes::auth::refresh, crate::routes::auth::logout,
        crate::routes::user::register, crate::routes::user::list, crate::routes::user::profile,
        crate::routes::user::me, crate::routes::user::update_me, crate::routes::user::change_password,
        crate::routes::user::follow, crate::routes::user::unfollow,
        crate::routes::user::followers, crate::routes::user::following, crate::routes::user::timeline,
        crate::routes::post::list, crate::routes::post::create, crate::routes::post::get,
        crate::routes::post::edit, crate::routes::post::delete, crate::routes::post::replies,
        crate::routes::post::by_user, crate::routes::post::like, crate::routes::post::unlike,
        crate::routes::post::liked_by,
        crate::routes::ops::health, crate::routes::ops::ready,
    ),
    tags(
        (name = "auth", description = "Tokens: login, refresh with rotation, logout"),
        (name = "users", description = "Registration and profiles"),
        (name = "follows", description = "Following people"),
        (name = "posts", description = "Posts, threads and timelines"),
        (name = "likes", description = "Likes"),
        (name = "operations", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// `/openapi.json` and the Swagger UI at `/docs/`, both served from the binary.
pub fn docs() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi())
}
