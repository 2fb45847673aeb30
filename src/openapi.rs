//! The OpenAPI 3.1 document (`/openapi.json`) and the offline Swagger UI
//! (`/docs`). The paths come from the route table itself (see `routes`).

use std::sync::{Arc, LazyLock};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::route_table::RouteTable;
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

/// What every operation gets without each handler repeating it:
/// - a description on every response (OpenAPI requires one): the status'
///   reason phrase ("Payload Too Large") where the handler gives none;
/// - the OAuth2 password flow beside every `bearer` requirement, so Swagger
///   UI's "Authorize" sends its token and generated clients accept either;
/// - the `Link` header on every list (a 200 whose body is an array).
struct Complete;

impl Modify for Complete {
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
                if let Some(requirements) = operation.security.as_mut() {
                    let named = |r: &SecurityRequirement, name: &str| {
                        serde_json::to_value(r).is_ok_and(|v| v.get(name).is_some())
                    };
                    if requirements.iter().any(|r| named(r, "bearer"))
                        && !requirements.iter().any(|r| named(r, "oauth2"))
                    {
                        requirements.push(SecurityRequirement::new("oauth2", Vec::<String>::new()));
                    }
                }
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if response.description.is_empty() {
                        response.description = status
                            .parse()
                            .ok()
                            .and_then(|code| StatusCode::from_u16(code).ok())
                            .and_then(|code| code.canonical_reason())
                            .unwrap_or("Response")
                            .to_owned();
                    }
                    let is_list = response.content.get("application/json").is_some_and(|c| {
                        matches!(c, RefOr::T(c) if matches!(c.schema, Some(RefOr::T(Schema::Array(_)))))
                    });
                    if status == "200" && is_list {
                        let mut link = Header::new(Object::with_type(Type::String));
                        link.description = Some(
                            "`<URL>; rel=\"next\"` (RFC 8288) when more items exist".to_owned(),
                        );
                        response.headers.insert("Link".to_owned(), RefOr::T(link));
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
        (name = "media", description = "Pictures: uploads with alt text, attached to posts with media_ids"),
        (name = "reposts", description = "Reposts (boosts): on the reposters' followers' home timelines"),
        (name = "bookmarks", description = "Bookmarks, private to their owner"),
        (name = "notifications", description = "Likes, replies, follows, mentions and reposts of me"),
        (name = "moderation", description = "Reports, the moderators' queue, suspensions and the audit log"),
        (name = "search", description = "Finding posts, accounts and hashtags"),
        (name = "stream", description = "The live stream (GET /stream: WebSocket or Server-Sent Events; see docs/API.md)"),
        (name = "operations", description = "Probes"),
        (name = "mastodon", description = "The Mastodon-compatible client API (see README, \"Use your Mastodon app\")"),
    )
)]
struct ApiDoc;

/// The document: [`ApiDoc`] plus every path the route table registers.
fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::api)
        .configure(crate::mastodon::api)
        .split_for_parts();
    Complete.modify(&mut doc);
    doc
}

/// What the app keeps of the document, built once per process: its JSON,
/// served as is, and its route table. The document itself is dropped: handed
/// to Swagger UI it was cloned into every worker and serialised per request
/// (about 11 MB of heap a worker).
pub struct Spec {
    pub json: web::Bytes,
    pub routes: Arc<RouteTable>,
}

pub static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    let doc = document();
    Spec {
        json: serde_json::to_vec(&doc)
            .expect("the OpenAPI document serialises")
            .into(),
        routes: Arc::new(RouteTable::new(&doc)),
    }
});

const SPEC_URL: &str = "/openapi.json";

/// `/openapi.json`, and Swagger UI at `/docs/` and `/docs`, from the binary.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let config = Config::from(SPEC_URL);
    cfg.route(SPEC_URL, web::get().to(spec_json))
        .service(SwaggerUi::new("/docs/{_:.*}").config(config.clone()))
        .app_data(web::Data::from(Arc::new(config)))
        .route("/docs", web::get().to(docs_without_slash));
}

/// `/openapi.json`: the document's JSON, serialised once.
async fn spec_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(SPEC.json.clone())
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::SPEC;
    use crate::validation::post_text;

    /// The patterns the spec gives properties and parameters named `name`.
    fn patterns(v: &Value, name: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties")
                    && let Some(Value::String(p)) = props.get(name).and_then(|s| s.get("pattern"))
                {
                    out.push(p.clone());
                }
                if map.get("name").and_then(Value::as_str) == Some(name)
                    && let Some(Value::String(p)) = map.get("schema").and_then(|s| s.get("pattern"))
                {
                    out.push(p.clone());
                }
                map.values().for_each(|v| patterns(v, name, out));
            }
            Value::Array(items) => items.iter().for_each(|v| patterns(v, name, out)),
            _ => {}
        }
    }

    /// For every one-character string, the spec's pattern and the server's
    /// rule agree (schemathesis generates text from the pattern and calls a
    /// refused one a defect): a post's text and a search's `q`.
    #[test]
    fn text_patterns_are_the_servers_rules() {
        let spec: Value = serde_json::from_slice(&SPEC.json).unwrap();
        type Rule = fn(&str) -> bool;
        let rules: [(&str, Rule); 3] = [
            ("text", |s| post_text(s).is_ok()),
            ("status", |s| post_text(s).is_ok()),
            ("q", |s| !s.trim().is_empty()),
        ];
        for (name, rule) in rules {
            let mut found = Vec::new();
            patterns(&spec, name, &mut found);
            assert!(!found.is_empty(), "no pattern for {name}");
            for pattern in found {
                let re = regex_lite::Regex::new(&pattern).unwrap();
                for c in (1..=0xFFFF).filter_map(char::from_u32) {
                    let s = c.to_string();
                    assert_eq!(re.is_match(&s), rule(&s), "{name} {c:?} against {pattern}");
                }
            }
        }
    }
}
