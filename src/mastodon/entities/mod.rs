//! Mastodon's entities as its clients expect them: string ids, ISO 8601
//! timestamps with milliseconds and `Z`, `null` or `[]` for what is absent.
//!
//! One converter per entity turns the domain's values into it (gotosocial's
//! `typeutils`): the SQL that fills an entity's extra facts sits beside it,
//! and every URL is absolute, built by [`Urls`] from the request's origin.

pub mod account;
pub mod content;
pub mod edit;
pub mod media;
pub mod relationship;
pub mod search;
pub mod status;
pub mod tag;

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::proxy::Forwarding;

pub use account::{Account, CredentialAccount};
pub use edit::{StatusEdit, StatusSource};
pub use media::MediaAttachment;
pub use relationship::Relationship;
pub use search::SearchResults;
pub use status::{Context, Status};
pub use tag::Tag;

/// A timestamp as Mastodon writes it: `2026-11-21T12:00:00.123Z`.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The absolute URLs of this server's things, from the request's origin
/// (`server.public_url` when set). Accounts, posts and tags point at the web
/// client's pages (`/#/user/…`, `/#/post/…`, `/#/tag/…`).
#[derive(Debug, Clone)]
pub struct Urls {
    origin: String,
}

impl Urls {
    /// URLs under `origin` (`scheme://host`, no trailing slash).
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
        }
    }

    /// `scheme://host`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The host (and port) alone, as `acct` and `uri` domains name it.
    pub fn host(&self) -> &str {
        self.origin
            .split_once("://")
            .map_or(self.origin.as_str(), |(_, h)| h)
    }

    /// A path on this server made absolute; absolute URLs as they are.
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        }
    }

    /// An account's page on the web client.
    pub fn account(&self, username: &str) -> String {
        format!("{}/#/user/{username}", self.origin)
    }

    /// An account's ActivityPub-style identifier.
    pub fn account_uri(&self, username: &str) -> String {
        format!("{}/users/{username}", self.origin)
    }

    /// A post's page on the web client.
    pub fn status(&self, id: i64) -> String {
        format!("{}/#/post/{id}", self.origin)
    }

    /// A post's identifier.
    pub fn status_uri(&self, username: &str, id: i64) -> String {
        format!("{}/users/{username}/statuses/{id}", self.origin)
    }

    /// A hashtag's page on the web client.
    pub fn tag(&self, name: &str) -> String {
        format!("{}/#/tag/{name}", self.origin)
    }

    /// The picture shown for an account without an avatar or header.
    pub fn missing_picture(&self) -> String {
        format!("{}/static/missing.png", self.origin)
    }
}

impl FromRequest for Urls {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let origin = req
            .app_data::<web::Data<Forwarding>>()
            .and_then(|f| f.origin(req))
            .unwrap_or_else(|| {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            });
        ready(Ok(Self::new(origin)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T12:00:00.123456+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(&t), "2026-11-21T12:00:00.123Z");
    }

    #[test]
    fn urls_are_absolute() {
        let urls = Urls::new("https://pamps.example");
        assert_eq!(urls.host(), "pamps.example");
        assert_eq!(
            urls.absolute("/media/files/a.png"),
            "https://pamps.example/media/files/a.png"
        );
        assert_eq!(
            urls.absolute("https://cdn.example/a.png"),
            "https://cdn.example/a.png"
        );
        assert_eq!(urls.status(7), "https://pamps.example/#/post/7");
    }
}
