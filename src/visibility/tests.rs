//! The rule as a table: each viewer kind against each level.

use super::*;

const ANA: i64 = 1;
const FAY: i64 = 2;
const SAM: i64 = 3;
const MIA: i64 = 4;
const BEN: i64 = 5;
const MUTER: i64 = 6;

fn facts(level: Level, live: bool) -> PostFacts {
    PostFacts {
        author: ANA,
        level,
        mentioned: vec![MIA],
        live,
    }
}

/// Each viewer kind against each post level: (may see, on home, on public).
#[test]
fn the_rule_as_a_table() {
    let known = [(FAY, ANA), (MUTER, ANA), (BEN, ANA)]
        .into_iter()
        .collect::<Relations>()
        .with_blocks([(ANA, BEN)])
        .with_mutes([(MUTER, ANA)]);
    let viewers = [
        ("author", Some(ANA)),
        ("follower", Some(FAY)),
        ("mentioned", Some(MIA)),
        ("stranger", Some(SAM)),
        ("blocked", Some(BEN)),
        ("muting follower", Some(MUTER)),
        ("logged out", None),
    ];
    const Y: bool = true;
    const N: bool = false;
    let table = [
        (
            facts(Level::Public, true),
            [
                (Y, Y, Y),
                (Y, Y, Y),
                (Y, N, Y),
                (Y, N, Y),
                (N, N, N),
                (Y, N, N),
                (Y, N, Y),
            ],
        ),
        (
            facts(Level::Unlisted, true),
            [
                (Y, Y, N),
                (Y, Y, N),
                (Y, N, N),
                (Y, N, N),
                (N, N, N),
                (Y, N, N),
                (Y, N, N),
            ],
        ),
        (
            facts(Level::Private, true),
            [
                (Y, Y, N),
                (Y, Y, N),
                (Y, N, N),
                (N, N, N),
                (N, N, N),
                (Y, N, N),
                (N, N, N),
            ],
        ),
        (
            facts(Level::Direct, true),
            [
                (Y, Y, N),
                (N, N, N),
                (Y, N, N),
                (N, N, N),
                (N, N, N),
                (N, N, N),
                (N, N, N),
            ],
        ),
        (facts(Level::Public, false), [(N, N, N); 7]),
    ];
    for (facts, row) in &table {
        let audience = Audience::post(facts);
        for ((name, id), (sees, home, public)) in viewers.iter().zip(row) {
            let viewer = Viewer::new(*id, &known);
            let level = facts.level;
            assert_eq!(may_see(&viewer, audience), *sees, "{name} sees {level:?}");
            assert_eq!(on_home(&viewer, audience), *home, "{name} home {level:?}");
            assert_eq!(
                on_public(&viewer, audience, true),
                *public,
                "{name} public {level:?}"
            );
            assert!(
                !on_public(&viewer, audience, false),
                "replies are not on public lists"
            );
        }
    }
}

#[test]
fn a_notification_is_its_recipients_only() {
    let known = Relations::default();
    for (id, sees) in [(Some(FAY), true), (Some(ANA), false), (None, false)] {
        let viewer = Viewer::new(id, &known);
        assert_eq!(may_see(&viewer, Audience::Recipient(FAY)), sees);
    }
}

#[test]
fn levels_parse_by_their_mastodon_names_and_followers() {
    for (name, level) in [
        ("public", Level::Public),
        ("unlisted", Level::Unlisted),
        ("private", Level::Private),
        ("followers", Level::Private),
        ("direct", Level::Direct),
    ] {
        let parsed: Level = serde_json::from_value(serde_json::json!(name)).unwrap();
        assert_eq!(parsed, level);
    }
    assert!(serde_json::from_value::<Level>(serde_json::json!("friends")).is_err());
    assert_eq!(serde_json::to_value(Level::Private).unwrap(), "private");
    assert!(Level::Public < Level::Unlisted && Level::Private < Level::Direct);
}

/// A repost by fay of ana's public post, for each viewer: (may see, on
/// home). It reaches fay's followers unless they block, are blocked by or
/// mute either account; never the public stream.
#[test]
fn a_repost_reaches_the_reposters_followers_only_where_the_post_itself_may() {
    const IVY: i64 = 7;
    const BLOCKER: i64 = 8;
    const REPOSTER_MUTER: i64 = 9;
    let follows = [FAY, MUTER, BEN, SAM, BLOCKER, REPOSTER_MUTER].map(|f| (f, IVY));
    let known = follows
        .into_iter()
        .chain([(ANA, IVY), (MUTER, ANA)])
        .collect::<Relations>()
        .with_blocks([(ANA, BEN), (BLOCKER, ANA)])
        .with_mutes([(MUTER, ANA), (REPOSTER_MUTER, IVY)]);
    let facts = facts(Level::Public, true);
    let repost = Audience::repost(IVY, true, &facts);
    for (name, id, sees, home) in [
        ("the author, following the reposter", Some(ANA), true, true),
        ("the reposter", Some(IVY), true, true),
        ("a follower of the reposter", Some(SAM), true, true),
        ("blocked by the author", Some(BEN), false, false),
        ("blocking the author", Some(BLOCKER), false, false),
        ("muting the author", Some(MUTER), true, false),
        ("muting the reposter", Some(REPOSTER_MUTER), true, false),
        ("not following the reposter", Some(MIA), true, false),
        ("logged out", None, true, false),
    ] {
        let viewer = Viewer::new(id, &known);
        assert_eq!(may_see(&viewer, repost), sees, "{name} sees");
        assert_eq!(on_home(&viewer, repost), home, "{name} home");
        assert!(!on_public(&viewer, repost, true), "{name} public");
    }
    let blocked_reposter = Relations::default().with_blocks([(SAM, IVY)]);
    let viewer = Viewer::new(Some(SAM), &blocked_reposter);
    assert!(!may_see(&viewer, repost), "blocking the reposter");
    let gone = self::facts(Level::Public, false);
    assert_eq!(Audience::repost(IVY, true, &gone), Audience::Nobody);
    assert_eq!(
        Audience::repost(IVY, false, &facts),
        Audience::Nobody,
        "a suspended or deleted reposter's"
    );
}

/// Who finds an account in search, suggestions and account lists.
#[test]
fn an_account_is_found_by_all_but_those_across_a_block() {
    let known = Relations::default().with_blocks([(ANA, BEN), (SAM, ANA)]);
    for (id, live, found) in [
        (Some(FAY), true, true),
        (None, true, true),
        (Some(ANA), true, true),
        (Some(BEN), true, false),
        (Some(SAM), true, false),
        (Some(FAY), false, false),
        (None, false, false),
    ] {
        let viewer = Viewer::new(id, &known);
        assert_eq!(may_find_account(&viewer, ANA, live), found, "{id:?} {live}");
    }
}
