//! Row and response types, and the SQL that fills them.

pub mod block;
pub mod bookmark;
pub mod event;
pub mod follow;
pub mod hashtag;
pub mod home_feed;
pub mod like;
pub mod moderation;
pub mod mute;
pub mod notification;
pub mod post;
pub mod refresh_token;
pub mod repost;
pub mod search;
pub mod suggestion;
pub mod user;

/// RFC 3339 timestamps in UTC with microseconds, as the contract shows them.
pub mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    /// Serializes a timestamp as `2026-11-21T12:00:00.123456Z`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    /// The same for an optional timestamp (`null` when absent).
    pub mod option {
        use super::*;

        /// Serializes `Some(t)` like [`super::serialize`], `None` as null.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }
    }
}
