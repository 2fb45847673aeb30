//! Mastodon's OAuth scopes: `read`, `write`, `follow`, `push`, `profile`,
//! the granular `read:statuses` style (a top-level scope implies every
//! `scope:*` below it), and the legacy `follow` (blocks, follows and mutes).

use std::fmt;

/// Every scope name an app may ask for.
pub const KNOWN: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
];

/// What the legacy `follow` scope grants.
const FOLLOW_GRANTS: &[&str] = &[
    "read:blocks",
    "write:blocks",
    "read:follows",
    "write:follows",
    "read:mutes",
    "write:mutes",
];

/// A set of granted scopes; [`Scopes::all`] for pamps' own tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    names: Vec<String>,
    all: bool,
}

impl Scopes {
    /// Everything (a pamps access token used on the Mastodon API).
    pub fn all() -> Self {
        Self {
            names: vec![
                "read".into(),
                "write".into(),
                "follow".into(),
                "push".into(),
            ],
            all: true,
        }
    }

    /// Parses a space- (or `+`-) separated list; `None` names an unknown
    /// scope. An empty list is `read`, Mastodon's default.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut names: Vec<String> = Vec::new();
        for name in text.split([' ', '+']).filter(|s| !s.is_empty()) {
            if !KNOWN.contains(&name) {
                return Err(name.to_owned());
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() {
            names.push("read".into());
        }
        Ok(Self { names, all: false })
    }

    /// Whether these scopes allow a method that needs `needed`.
    pub fn allows(&self, needed: &str) -> bool {
        self.all
            || self.names.iter().any(|granted| {
                granted == needed
                    || needed
                        .strip_prefix(granted.as_str())
                        .is_some_and(|rest| rest.starts_with(':'))
                    || (granted == "follow" && FOLLOW_GRANTS.contains(&needed))
            })
    }

    /// Whether every scope of `self` is allowed by `wider`.
    pub fn within(&self, wider: &Scopes) -> bool {
        self.names.iter().all(|n| wider.allows(n))
    }

    /// The names, in the order given.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_scopes_imply_their_granular_ones_only() {
        let read = Scopes::parse("read").unwrap();
        assert!(read.allows("read:statuses"));
        assert!(read.allows("read"));
        assert!(!read.allows("write:statuses"));
        assert!(!read.allows("readx"));
        let granular = Scopes::parse("read:statuses write:media").unwrap();
        assert!(granular.allows("read:statuses"));
        assert!(!granular.allows("read:accounts"));
        assert!(!granular.allows("read"));
        assert!(granular.allows("write:media"));
    }

    #[test]
    fn follow_grants_blocks_follows_and_mutes() {
        let follow = Scopes::parse("follow").unwrap();
        assert!(follow.allows("write:follows"));
        assert!(follow.allows("read:mutes"));
        assert!(!follow.allows("read:statuses"));
    }

    #[test]
    fn parsing_refuses_unknown_names_and_defaults_to_read() {
        assert_eq!(Scopes::parse("read admin").unwrap_err(), "admin");
        assert_eq!(Scopes::parse("").unwrap().to_string(), "read");
        assert_eq!(
            Scopes::parse("read+write read").unwrap().to_string(),
            "read write"
        );
        let app = Scopes::parse("read write").unwrap();
        assert!(Scopes::parse("read:statuses write").unwrap().within(&app));
        assert!(!Scopes::parse("follow").unwrap().within(&app));
        assert!(Scopes::all().allows("push"));
    }
}
