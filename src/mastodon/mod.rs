//! The Mastodon-compatible client API: a second surface over the same domain
//! (`/api/v1`, `/api/v2`, `/oauth`, `/.well-known`), built to Mastodon's own
//! documentation of each method and entity.

pub mod entities;
