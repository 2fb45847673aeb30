//! The documented routes as the request path sees them: each path's pattern
//! and methods, in the OpenAPI document's order. `app` builds it from the
//! document and hands it to the app as data, so the default services (405
//! or 404) and path normalisation read it without depending on `openapi`.

use std::collections::HashMap;
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
    /// For each literal first segment (`user` of `/user/{username}/`), the
    /// routes a path starting with it can match, in document order: that
    /// one's and those whose first segment is a parameter.
    by_first: HashMap<String, Vec<usize>>,
    /// The routes whose first segment is a parameter.
    open_first: Vec<usize>,
}

/// A path's first segment (`user` of `/user/ana/`, `` of `/`).
fn first_segment(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split('/').next().unwrap_or_default()
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
            .collect::<Vec<Route>>();
        let open_first: Vec<usize> = (0..routes.len())
            .filter(|&i| first_segment(&routes[i].path).contains('{'))
            .collect();
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, route) in routes.iter().enumerate() {
            let first = first_segment(&route.path);
            if !first.contains('{') {
                by_first.entry(first.to_owned()).or_default().push(i);
            }
        }
        for list in by_first.values_mut() {
            list.extend(&open_first);
            list.sort_unstable();
        }
        Self {
            routes,
            by_first,
            open_first,
        }
    }

    /// The routes `path` (or its form with or without a trailing slash) can
    /// match, in document order: a lookup by its first segment instead of a
    /// pattern match against every route (that scan was ~10 % of a
    /// `GET /user/{username}/`'s CPU).
    pub fn candidates<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Route> + 'a {
        self.by_first
            .get(first_segment(path))
            .unwrap_or(&self.open_first)
            .iter()
            .map(|&i| &self.routes[i])
    }

    /// The app's table (empty when the app was built without one).
    pub fn of(req: &HttpRequest) -> Arc<Self> {
        req.app_data::<web::Data<Self>>()
            .map(|data| data.clone().into_inner())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    /// Every documented route is among the candidates of a concrete path it
    /// matches, with and without the trailing slash, and a path under an
    /// unknown first segment has none but the open ones.
    #[test]
    fn candidates_keep_every_route_a_path_can_match() {
        let table = &crate::openapi::SPEC.routes;
        assert!(table.routes.len() > 100);
        for route in &table.routes {
            let concrete: String = route
                .path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "7" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            assert!(route.pattern.is_match(&concrete), "{concrete}");
            let other = match concrete.strip_suffix('/') {
                Some(trimmed) => trimmed.to_owned(),
                None => format!("{concrete}/"),
            };
            for path in [&concrete, &other] {
                assert!(
                    table.candidates(path).any(|r| r.path == route.path),
                    "{} missing for {path}",
                    route.path
                );
            }
        }
        assert_eq!(
            table.candidates("/nowhere/at/all").count(),
            table.open_first.len()
        );
    }
}
