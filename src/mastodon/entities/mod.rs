//! Mastodon's entities as its clients expect them: string ids, ISO 8601
//! timestamps with milliseconds and `Z`, `null` or `[]` for what is absent.
