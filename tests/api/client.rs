//! The client layer both harnesses share. A request is a method, a path, an
//! optional bearer token and an optional JSON body; the answer is the status
//! and the body as JSON. [`TestApp`](crate::helpers::TestApp) sends it to the
//! app in this process, [`Endpoint`](crate::live::Endpoint) over a real TCP
//! connection; the account and post helpers are written once, here.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::helpers::PASSWORD;

/// One request: a method, a path, an optional bearer token and JSON body.
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub body: Option<&'a Value>,
}

impl<'a> Call<'a> {
    /// A POST of `body`.
    fn post(path: &'a str, token: Option<&'a str>, body: &'a Value) -> Self {
        let (method, body) = (Method::POST, Some(body));
        Self {
            method,
            path,
            token,
            body,
        }
    }
}

/// Something that answers the API.
pub trait Client {
    /// Sends one request; the status and the body as JSON (Null when none is).
    async fn call(&self, req: Call<'_>) -> (u16, Value);

    /// Logs `username` in with [`PASSWORD`] (a JSON body); the access token.
    async fn token(&self, username: &str) -> String {
        let login = json!({"username": username, "password": PASSWORD});
        let (status, body) = self.call(Call::post("/token", None, &login)).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Registers `username` (email `<username>@example.com`, password
/// [`PASSWORD`]); the new user as JSON.
pub async fn register(api: &impl Client, username: &str) -> Value {
    let new = json!({"email": format!("{username}@example.com"), "username": username, "password": PASSWORD});
    let (status, body) = api.call(Call::post("/user/", None, &new)).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Registers `username` and logs in; the id and the access token.
pub async fn user(api: &impl Client, username: &str) -> (i64, String) {
    let id = register(api, username).await["id"].as_i64().unwrap();
    (id, api.token(username).await)
}

/// Creates a post (a reply with `parent`); its id.
pub async fn post(api: &impl Client, token: &str, text: &str, parent: Option<i64>) -> i64 {
    let new = json!({"text": text, "parent_id": parent});
    let (status, body) = api.call(Call::post("/post/", Some(token), &new)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}
