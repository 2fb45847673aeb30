//! The documented routes as the request path sees them: each path's pattern
//! and methods, in the OpenAPI document's order. `app` builds it from the
//! document and hands it to the app as data, so the default services (405
//! or 404) and path normalisation read it without depending on `openapi`.

use std::sync::Arc;

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, web};
use utoipa::openapi::OpenApi;

/// One documented path.
#[derive(Debug)]
pub struct Route {
    /// The path as documented (`/post/{id}/`).
    pub path: String,
    /// The path as a route pattern.
    pub pattern: ResourceDef,
    /// Its methods, as an `Allow` header names them (`GET, HEAD`, `POST`…).
    pub methods: Vec<&'static str>,
}

/// Every documented path.
#[derive(Debug, Default)]
pub struct RouteTable {
    pub routes: Vec<Route>,
}

impl RouteTable {
    /// The paths of `doc`.
    pub fn new(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| Route {
                path: path.clone(),
                pattern: ResourceDef::new(path.as_str()),
                methods: [
                    (item.get.is_some(), "GET, HEAD"),
                    (item.post.is_some(), "POST"),
                    (item.put.is_some(), "PUT"),
                    (item.patch.is_some(), "PATCH"),
                    (item.delete.is_some(), "DELETE"),
                ]
                .into_iter()
                .filter_map(|(present, method)| present.then_some(method))
                .collect(),
            })
            .collect();
        Self { routes }
    }

    /// The app's table (empty when the app was built without one).
    pub fn of(req: &HttpRequest) -> Arc<Self> {
        req.app_data::<web::Data<Self>>()
            .map(|data| data.clone().into_inner())
            .unwrap_or_default()
    }
}
