//! Query strings and urlencoded forms: pairs of text read as the target
//! field's type asks, as FastAPI reads them.

use std::borrow::Cow;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{DeserializeOwned, Deserializer, Error as _, IntoDeserializer, Visitor};

use super::field_error;
use crate::error::ApiError;

/// Query parameters of type `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_urlencoded(req.query_string().as_bytes(), "query").map(Query))
    }
}

/// Parses a urlencoded string (query or form body) into `T`.
pub fn parse_urlencoded<T: DeserializeOwned>(
    bytes: &[u8],
    place: &'static str,
) -> Result<T, ApiError> {
    parse_pairs(form_urlencoded::parse(bytes), place)
}

pub(super) fn parse_pairs<'a, T: DeserializeOwned>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    place: &'static str,
) -> Result<T, ApiError> {
    let de = MapDeserializer::<_, DeError>::new(pairs.map(|(k, v)| (k, FieldValue(v))));
    serde_path_to_error::deserialize(de)
        .map_err(|err| field_error(place, &err.path().to_string(), &err.inner().to_string()))
}

/// Boolean spellings pydantic (so FastAPI) accepts, in any case.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// One query or form value, read as the target field's type asks.
struct FieldValue<'a>(Cow<'a, str>);

impl<'de> IntoDeserializer<'de, DeError> for FieldValue<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.0.parse().map_err(DeError::custom)?)
        }
    )*};
}

impl<'de> Deserializer<'de> for FieldValue<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Cow::Borrowed(s) => visitor.visit_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match parse_bool(&self.0) {
            Some(b) => visitor.visit_bool(b),
            None => Err(DeError::custom(
                "Input should be a valid boolean, unable to interpret input",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        IntoDeserializer::<DeError>::into_deserializer(self.0)
            .deserialize_enum(name, variants, visitor)
    }

    parse_number! {
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32, deserialize_i64 => visit_i64,
        deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
        deserialize_f32 => visit_f32, deserialize_f64 => visit_f64
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
