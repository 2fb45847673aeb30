//! Method parameters as Mastodon's clients send them: a JSON body (masto.js),
//! a multipart form's text fields (masto.js's sign-up), a form (Mastodon.py, with `media_ids[]=1&media_ids[]=2` arrays and
//! `source[privacy]=…` hashes), or a query string of the same shape. Both
//! become one JSON value, read into the method's type; a form's values are
//! strings, so booleans and ids accept either form ([`flag`], [`id`], [`ids`]).

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{MastoError, MastoResult};
use super::forms::{form_value, read_multipart};

/// Parameters from the body (JSON or a form; an empty body is `{}`).
#[derive(Debug)]
pub struct Params<T>(pub T);

/// Parameters from the query string.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

/// An id from the path (a status, account, notification…): Mastodon
/// answers 404 to one that is not a number.
pub fn path_id(raw: &str) -> MastoResult<i64> {
    raw.parse().map_err(|_| MastoError::not_found())
}

/// Reads `value` into `T`; a mismatch is a 422 naming the parameter.
pub fn read<T: DeserializeOwned>(value: Value) -> Result<T, MastoError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let why = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        if path.is_empty() || path == "." {
            MastoError::unprocessable(format!("Validation failed: {why}"))
        } else {
            MastoError::unprocessable(format!("Validation failed: {path}: {why}"))
        }
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Params<T> {
    type Error = MastoError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, MastoError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let mime = req.mime_type().ok().flatten();
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        let headers = req.headers().clone();
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| {
                MastoError::Status(e.as_response_error().status_code(), e.to_string())
            })?;
            let value = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                let kind = mime.as_ref().map(|m| {
                    let json = m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json");
                    (json, m.subtype() == "x-www-form-urlencoded")
                });
                let multipart = mime
                    .as_ref()
                    .is_some_and(|m| m.type_() == "multipart" && m.subtype() == "form-data");
                match kind {
                    _ if multipart => {
                        let stream = futures_util::stream::once(async move {
                            Ok::<_, actix_web::error::PayloadError>(bytes)
                        });
                        let parts = actix_multipart::Multipart::new(&headers, stream);
                        read_multipart(parts, 0).await?.0
                    }
                    None if typed => return Err(unsupported()),
                    None | Some((true, _)) => serde_json::from_slice(&bytes).map_err(|e| {
                        MastoError::Status(
                            StatusCode::BAD_REQUEST,
                            format!("The body is not valid JSON: {e}"),
                        )
                    })?,
                    Some((_, true)) => form_value(&bytes),
                    Some(_) => return Err(unsupported()),
                }
            };
            read(value).map(Params)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for QueryParams<T> {
    type Error = MastoError;
    type Future = std::future::Ready<Result<Self, MastoError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(read(form_value(req.query_string().as_bytes())).map(QueryParams))
    }
}

fn unsupported() -> MastoError {
    MastoError::Status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Send parameters as application/json or application/x-www-form-urlencoded".into(),
    )
}

/// A boolean given as JSON or as a form's `true`/`false`/`1`/`0`.
pub mod flag {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// Reads an optional flag (absent or null: None).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) => match s.as_str() {
                "true" | "1" | "on" => Ok(Some(true)),
                "false" | "0" | "off" | "" => Ok(Some(false)),
                _ => Err(D::Error::custom("expected a boolean")),
            },
            Some(_) => Err(D::Error::custom("expected a boolean")),
        }
    }
}

/// The id in a JSON number or string (Mastodon's ids are strings).
fn id_of(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An optional id, as a string or a number (empty: None).
pub mod id {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// Reads an optional id.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => super::id_of(&v)
                .map(Some)
                .ok_or_else(|| D::Error::custom("expected an id")),
        }
    }
}

/// A list of ids (one id alone counts as a list of one; empty entries,
/// as a form's `id[]=` sends, are skipped).
pub mod ids {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// Reads a list of ids (absent: empty).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        let items = match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(one) => vec![one],
        };
        items
            .iter()
            .filter(|v| v.as_str() != Some(""))
            .map(|v| super::id_of(v).ok_or_else(|| D::Error::custom("expected a list of ids")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_arrays_hashes_and_strings() {
        assert_eq!(
            form_value(b"status=hi&media_ids[]=1&media_ids[]=2&source[privacy]=public&x=1&x=2"),
            serde_json::json!({
                "status": "hi", "media_ids": ["1", "2"], "source": {"privacy": "public"}, "x": "2"
            })
        );
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct P {
        #[serde(default, deserialize_with = "flag::deserialize")]
        sensitive: Option<bool>,
        #[serde(default, deserialize_with = "ids::deserialize")]
        media_ids: Vec<i64>,
        #[serde(default, deserialize_with = "id::deserialize")]
        in_reply_to_id: Option<i64>,
    }

    #[test]
    fn flags_and_ids_read_from_strings_or_json() {
        let from_form: P =
            read(form_value(b"sensitive=true&media_ids[]=3&in_reply_to_id=9")).unwrap();
        let from_json: P =
            read(serde_json::json!({"sensitive": true, "media_ids": ["3"], "in_reply_to_id": 9}))
                .unwrap();
        assert_eq!(from_form, from_json);
        assert!(read::<P>(serde_json::json!({"sensitive": "maybe"})).is_err());
        assert!(read::<P>(serde_json::json!({"media_ids": ["x"]})).is_err());
    }
}
