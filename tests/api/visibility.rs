//! The visibility table: every read path, as every kind of viewer, against
//! every kind of post, must agree with `pamps::visibility` (the one rule).
//!
//! The tables below are the test: [`CASES`] are the posts (each level:
//! public, unlisted, followers-only, direct; a reply asking to be wider than
//! its parent; deleted posts and authors; a suspended author's, a blocked
//! user's, and kit's, who blocks mia late and whom sam unfollows late),
//! [`VIEWERS`] who reads (author, follower, mentioned, stranger, blocked,
//! muting follower, logged out), [`LISTS`] the list paths (the public list,
//! home, a user's posts, replies, likes, post search, the hashtag timeline,
//! one's bookmarks, who reposted). A single post by id, notifications, the
//! live WebSocket and SSE streams (posts, and reposts by fay, whom the
//! author, the blocked and the muting follower follow) and a resume from
//! `since`/`Last-Event-ID` are checked for every pair; so are the account
//! reads (profiles with their block state, account search, "who to
//! follow") and the hashtag's use count. Every viewer bookmarks, and fay,
//! sam and ben like and repost, every case they may before the fates, so a
//! bookmark of a post that later became hidden (its author suspended or
//! blocking the viewer, a followers-only post after an unfollow) is a row.
//! The expected answer of each cell comes from the module's predicates
//! (`may_see`, `on_home`, `on_public`, `may_repost`, `may_find_account`)
//! and what the path lists (a user's posts, a user's likes, ...); the
//! module's own answers are pinned by its unit table. Absence on a stream
//! is shown without waiting: a sentinel post everyone receives ends each
//! read, and the stream is ordered.

use std::collections::{BTreeSet, HashMap};

use pamps::models::event::{self, Event, EventKind};
use pamps::visibility::{self, Audience, Level, PostFacts, Relations, Viewer};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::live::{LiveServer, Sse, Ws, post, user, wait_until_numbered};

/// What became of a post by the time the paths are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    /// Deleted by its author (a tombstone).
    PostDeleted,
    /// Its author's account was deleted.
    AuthorDeleted,
}

/// One kind of post.
struct Case {
    key: &'static str,
    author: &'static str,
    /// The key of the case it replies to.
    parent: Option<&'static str>,
    text: &'static str,
    /// The level asked for (a reply may be narrowed to its parent's).
    level: Level,
    fate: Fate,
}

/// The posts, in creation order (a parent before its replies).
const CASES: &[Case] = &[
    Case {
        key: "top",
        author: "ana",
        parent: None,
        text: "a post #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "reply",
        author: "ana",
        parent: Some("top"),
        text: "a reply for @sam #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "stranger's",
        author: "sam",
        parent: None,
        text: "sam's post #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "deleted",
        author: "ana",
        parent: None,
        text: "soon gone @sam #vt",
        level: Level::Public,
        fate: Fate::PostDeleted,
    },
    Case {
        key: "reply to deleted",
        author: "sam",
        parent: Some("deleted"),
        text: "too late #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "author deleted",
        author: "dan",
        parent: None,
        text: "dan's post #vt",
        level: Level::Public,
        fate: Fate::AuthorDeleted,
    },
    Case {
        key: "reply by deleted author",
        author: "dan",
        parent: Some("top"),
        text: "dan replies #vt",
        level: Level::Public,
        fate: Fate::AuthorDeleted,
    },
    Case {
        key: "unlisted",
        author: "ana",
        parent: None,
        text: "an unlisted post #vt",
        level: Level::Unlisted,
        fate: Fate::Live,
    },
    Case {
        key: "followers-only",
        author: "ana",
        parent: None,
        text: "for my followers and @mia #vt",
        level: Level::Private,
        fate: Fate::Live,
    },
    Case {
        key: "direct",
        author: "ana",
        parent: None,
        text: "just for @mia and @moe #vt",
        level: Level::Direct,
        fate: Fate::Live,
    },
    Case {
        key: "public reply to followers-only",
        author: "fay",
        parent: Some("followers-only"),
        text: "fay answers in the open #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "reply to direct",
        author: "mia",
        parent: Some("direct"),
        text: "thanks @ana #vt",
        level: Level::Direct,
        fate: Fate::Live,
    },
    Case {
        key: "suspended's",
        author: "sus",
        parent: None,
        text: "sus writes to @ana #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "suspended's reply",
        author: "sus",
        parent: Some("top"),
        text: "sus replies #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "blocked's",
        author: "ben",
        parent: None,
        text: "ben writes to @ana #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "kit's",
        author: "kit",
        parent: None,
        text: "kit writes #vt",
        level: Level::Public,
        fate: Fate::Live,
    },
    Case {
        key: "kit's followers-only",
        author: "kit",
        parent: None,
        text: "kit writes to followers #vt",
        level: Level::Private,
        fate: Fate::Live,
    },
];

/// Who reads, by kind; named for their relation to ana, the main author.
const VIEWERS: &[(&str, Option<&str>)] = &[
    ("author", Some("ana")),
    ("follower", Some("fay")),
    ("mentioned", Some("mia")),
    ("stranger", Some("sam")),
    ("blocked", Some("ben")),
    ("muting follower", Some("moe")),
    ("logged out", None),
];

/// The accounts.
const USERS: &[&str] = &[
    "ana", "fay", "sam", "dan", "bea", "mia", "ben", "moe", "sus", "kit",
];

/// Who follows whom (fay also follows dan, whose account goes, and sus,
/// who is suspended; ben's follow ends with ana's block). fay, whose
/// reposts reach them, is followed by ana, ben, moe and mia; sam follows
/// kit until [`UNFOLLOW`].
const FOLLOWS: &[(&str, &str)] = &[
    ("fay", "ana"),
    ("fay", "dan"),
    ("fay", "sus"),
    ("moe", "ana"),
    ("ben", "ana"),
    ("ana", "fay"),
    ("ben", "fay"),
    ("moe", "fay"),
    ("mia", "fay"),
    ("sam", "kit"),
];

/// ana blocks ben.
const BLOCK: (&str, &str) = ("ana", "ben");

/// With the fates, after mia liked, bookmarked and (through fay) received
/// kit's posts: kit blocks mia.
const LATE_BLOCK: (&str, &str) = ("kit", "mia");

/// With the fates, after sam bookmarked kit's followers-only post: sam
/// unfollows kit.
const UNFOLLOW: (&str, &str) = ("sam", "kit");

/// moe mutes ana.
const MUTE: (&str, &str) = ("moe", "ana");

/// The suspended author.
const SUSPENDED: &str = "sus";

/// Who likes every case post they may (before deletions).
const LIKERS: &[&str] = &["fay", "sam", "mia", "ben"];

/// Who reposts every case post they may (before deletions).
const REPOSTERS: &[&str] = &["fay", "sam", "ben"];

/// The hashtag every case carries, for search and the hashtag timeline.
const TAG: &str = "vt";

/// The list paths.
#[derive(Debug, Clone, Copy)]
enum List {
    /// `GET /post/`: top-level posts.
    Public,
    /// `GET /user/timeline`: posts of the people the viewer follows.
    Timeline,
    /// `GET /post/user/{username}/?include_replies=true`.
    ByUser(&'static str),
    /// `GET /post/{id}/replies/` of a case.
    Replies(&'static str),
    /// `GET /post/likes/{username}/`.
    LikedBy(&'static str),
    /// `GET /search/posts/?q=vt`.
    Search,
    /// `GET /post/tag/vt/`.
    Tag,
    /// `GET /user/bookmarks/`: the viewer's own.
    Bookmarks,
    /// `GET /post/{id}/reposted_by/` of a case (accounts, not posts).
    RepostedBy(&'static str),
}

const LISTS: &[List] = &[
    List::Public,
    List::Timeline,
    List::ByUser("ana"),
    List::ByUser("sam"),
    List::ByUser("dan"),
    List::ByUser("fay"),
    List::ByUser("sus"),
    List::ByUser("ben"),
    List::Replies("top"),
    List::Replies("deleted"),
    List::Replies("author deleted"),
    List::Replies("followers-only"),
    List::Replies("direct"),
    List::LikedBy("fay"),
    List::LikedBy("sam"),
    List::LikedBy("mia"),
    List::Search,
    List::Tag,
    List::Bookmarks,
    List::RepostedBy("top"),
    List::RepostedBy("stranger's"),
    List::RepostedBy("blocked's"),
    List::RepostedBy("kit's"),
    List::RepostedBy("suspended's"),
    List::RepostedBy("unlisted"),
    List::RepostedBy("deleted"),
];

/// The streams a viewer subscribes to: all it may.
fn streams_of(viewer: Option<&str>) -> &'static str {
    if viewer.is_some() {
        "home,notifications,public"
    } else {
        "public"
    }
}

/// The world under test: account ids, tokens, case post ids.
struct World {
    server: LiveServer,
    pool: PgPool,
    ids: HashMap<&'static str, i64>,
    tokens: HashMap<&'static str, String>,
    posts: HashMap<&'static str, i64>,
    sentinels: i64,
    /// Whether the fates are applied yet (deletions, [`SUSPENDED`] suspended).
    fates_applied: bool,
    /// (liker, case) pairs liked.
    liked: BTreeSet<(&'static str, &'static str)>,
    /// (reposter, case) pairs reposted.
    reposted: BTreeSet<(&'static str, &'static str)>,
    /// (viewer, case) pairs bookmarked.
    bookmarked: BTreeSet<(&'static str, &'static str)>,
}

impl World {
    fn token(&self, viewer: Option<&str>) -> Option<&str> {
        viewer.map(|v| self.tokens[v].as_str())
    }

    fn case_of(&self, post_id: i64) -> Option<&'static Case> {
        CASES.iter().find(|c| self.posts[c.key] == post_id)
    }

    /// A case's level: the asked one, narrowed to its parent's.
    fn level(case: &Case) -> Level {
        let parent = case
            .parent
            .map(|p| Self::level(CASES.iter().find(|c| c.key == p).unwrap()));
        parent.map_or(case.level, |p| p.max(case.level))
    }

    /// What the rule knows of a case now; `with_fate`: whether its deletion
    /// counts (a stream's delete event reaches whoever could see the post).
    fn facts(&self, case: &Case, with_fate: bool) -> PostFacts {
        let mentioned = case
            .text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix('@'))
            .map(|name| self.ids[name])
            .collect();
        PostFacts {
            author: self.ids[case.author],
            level: Self::level(case),
            mentioned,
            live: !(self.fates_applied
                && ((with_fate && case.fate != Fate::Live) || case.author == SUSPENDED)),
        }
    }

    /// A case's audience now, by the module.
    fn sees(&self, viewer: &Viewer<'_>, case: &Case) -> bool {
        visibility::may_see(viewer, Audience::post(&self.facts(case, true)))
    }

    /// Whether an account is live now: not deleted, nor suspended.
    fn account_live(&self, name: &str) -> bool {
        let deleted = CASES
            .iter()
            .any(|c| c.author == name && c.fate == Fate::AuthorDeleted);
        !(self.fates_applied && (deleted || name == SUSPENDED))
    }

    /// Whether `blocker` blocks `blocked` now.
    fn blocks(&self, blocker: i64, blocked: i64) -> bool {
        let mut blocks = vec![BLOCK];
        if self.fates_applied {
            blocks.push(LATE_BLOCK);
        }
        blocks
            .iter()
            .any(|(a, b)| self.ids[a] == blocker && self.ids[b] == blocked)
    }

    /// The name of account `id`.
    fn name_of(&self, id: i64) -> &'static str {
        USERS.iter().find(|u| self.ids[**u] == id).unwrap()
    }

    /// A post event's facts: a case's, or a public sentinel's.
    fn event_facts(&self, e: &Event) -> PostFacts {
        match e.post_id.and_then(|id| self.case_of(id)) {
            Some(case) => self.facts(case, false),
            None => PostFacts {
                author: e.user_id,
                level: Level::Public,
                mentioned: vec![],
                live: true,
            },
        }
    }

    async fn relations(&self) -> Relations {
        let follows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT follower_id, followee_id FROM follows")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let blocks: Vec<(i64, i64)> = sqlx::query_as("SELECT blocker_id, blocked_id FROM blocks")
            .fetch_all(&self.pool)
            .await
            .unwrap();
        let mutes: Vec<(i64, i64)> = sqlx::query_as("SELECT muter_id, muted_id FROM mutes")
            .fetch_all(&self.pool)
            .await
            .unwrap();
        let mut expected = vec![BLOCK];
        if self.fates_applied {
            expected.push(LATE_BLOCK);
        }
        let expected: BTreeSet<(i64, i64)> = expected
            .iter()
            .map(|(a, b)| (self.ids[a], self.ids[b]))
            .collect();
        assert_eq!(blocks.iter().copied().collect::<BTreeSet<_>>(), expected);
        assert_eq!(mutes, [(self.ids[MUTE.0], self.ids[MUTE.1])]);
        follows
            .into_iter()
            .collect::<Relations>()
            .with_blocks(blocks)
            .with_mutes(mutes)
    }

    /// Whether a notification reaches its recipient: theirs, its actor not
    /// suspended, blocked or muted, and its post one they may see.
    fn notification_seen(&self, known: &Relations, n: &NotificationRow) -> bool {
        let (_, recipient, post, actor) = *n;
        let viewer = Viewer::new(Some(recipient), known);
        let actor_hidden = (self.fates_applied && actor == self.ids[SUSPENDED])
            || known.blocked_between(recipient, actor)
            || known.mutes(recipient, actor);
        !actor_hidden
            && post.is_none_or(|id| self.case_of(id).is_none_or(|case| self.sees(&viewer, case)))
    }

    async fn get(&self, path: &str, viewer: Option<&str>) -> (u16, Value) {
        self.server
            .http("GET", path, self.token(viewer), None)
            .await
    }

    /// A top-level post by bea that every subscriber receives; its id.
    async fn sentinel(&mut self) -> i64 {
        self.sentinels += 1;
        let text = format!("sentinel {}", self.sentinels);
        post(&self.server, &self.tokens["bea"], &text, None).await
    }
}

/// The events a stream delivered before (and with) the sentinel post, as
/// `(position, stream)`.
type Delivered = Vec<(i64, String)>;

fn delivered_frame(frame: &Value, sentinel: i64, got: &mut Delivered) -> bool {
    let pos = frame["id"].as_str().unwrap().parse().unwrap();
    got.push((pos, frame["stream"].as_str().unwrap().to_owned()));
    frame["event"] == "post" && frame["data"]["id"] == sentinel
}

async fn ws_until(ws: &mut Ws, sentinel: i64) -> Delivered {
    let mut got = Vec::new();
    while !delivered_frame(&ws.next_json().await, sentinel, &mut got) {}
    got
}

async fn sse_until(sse: &mut Sse, sentinel: i64) -> Delivered {
    let mut got = Vec::new();
    while !delivered_frame(&sse.next_event().await.data, sentinel, &mut got) {}
    got
}

/// The stream an event reaches `viewer` on, by the module, among all the
/// streams it subscribed to; `loadable` is false when the server has no
/// payload to send any more (its post or notification is gone or hidden).
fn expected_stream(
    world: &World,
    viewer: &Viewer<'_>,
    e: &Event,
    loadable: bool,
) -> Option<&'static str> {
    if !loadable {
        return None;
    }
    match e.kind {
        EventKind::Notification => {
            visibility::may_see(viewer, Audience::Recipient(e.user_id)).then_some("notifications")
        }
        _ => {
            let facts = world.event_facts(e);
            let audience = if e.kind == EventKind::Repost {
                let reposter = world.account_live(world.name_of(e.user_id));
                Audience::repost(e.user_id, reposter, &facts)
            } else {
                Audience::post(&facts)
            };
            if viewer.id().is_some() && visibility::on_home(viewer, audience) {
                Some("home")
            } else if visibility::on_public(viewer, audience, e.top_level) {
                Some("public")
            } else {
                None
            }
        }
    }
}

/// What the module says `viewer` receives of the events up to `last`.
fn expected_delivery(
    world: &World,
    viewer: &Viewer<'_>,
    events: &[Event],
    after: i64,
    last: i64,
    loadable: impl Fn(&Event) -> bool,
) -> Delivered {
    events
        .iter()
        .filter(|e| e.pos > after && e.pos <= last)
        .filter_map(|e| {
            expected_stream(world, viewer, e, loadable(e)).map(|s| (e.pos, s.to_owned()))
        })
        .collect()
}

async fn all_events(pool: &PgPool) -> Vec<Event> {
    wait_until_numbered(pool).await;
    event::after(pool, 0, None, 100_000).await.unwrap()
}

/// Whether the server can still load an event's payload now: a live post,
/// or a notification its recipient sees.
async fn loadable_now(world: &World, known: &Relations, e: &Event) -> bool {
    match e.kind {
        EventKind::PostDelete => true,
        EventKind::Post | EventKind::PostUpdate | EventKind::Repost | EventKind::PostCounts => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1 AND deleted_at IS NULL)",
            )
            .bind(e.post_id)
            .fetch_one(&world.pool)
            .await
            .unwrap()
        }
        EventKind::Notification => {
            let row: Option<NotificationRow> = sqlx::query_as(
                "SELECT id, user_id, post_id, actor_id FROM notifications WHERE id = $1",
            )
            .bind(e.notification_id)
            .fetch_optional(&world.pool)
            .await
            .unwrap();
            row.is_some_and(|n| world.notification_seen(known, &n))
        }
    }
}

async fn build(pool: &PgPool) -> World {
    let server = LiveServer::start(pool, &[]).await;
    let mut ids = HashMap::new();
    let mut tokens = HashMap::new();
    for &name in USERS {
        let (id, token) = user(&server, name).await;
        ids.insert(name, id);
        tokens.insert(name, token);
    }
    for (follower, followee) in FOLLOWS {
        let (status, body) = server
            .http(
                "POST",
                &format!("/user/follow/{}", ids[followee]),
                Some(&tokens[follower]),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    for (path, (who, whom)) in [("block", BLOCK), ("mute", MUTE)] {
        let path = format!("/user/{whom}/{path}/");
        let (status, body) = server.http("POST", &path, Some(&tokens[who]), None).await;
        assert_eq!(status, 204, "{path}: {body}");
    }
    World {
        server,
        pool: pool.clone(),
        ids,
        tokens,
        posts: HashMap::new(),
        sentinels: 0,
        fates_applied: false,
        liked: BTreeSet::new(),
        reposted: BTreeSet::new(),
        bookmarked: BTreeSet::new(),
    }
}

/// Creates the case posts, the likes, reposts and bookmarks (all live at
/// first): a like or repost of a post the actor may not see is not found,
/// across a block refused, a repost of a non-public post refused; a bookmark
/// of a post the actor may not see is not found.
async fn write_cases(world: &mut World) {
    for case in CASES {
        let parent = case.parent.map(|p| world.posts[p]);
        let level: &str = case.level.into();
        let body = json!({"text": case.text, "parent_id": parent, "visibility": level});
        let (status, created) = world
            .server
            .http(
                "POST",
                "/post/",
                Some(&world.tokens[case.author]),
                Some(&body),
            )
            .await;
        assert_eq!(status, 201, "{}: {created}", case.key);
        let level: &str = World::level(case).into();
        assert_eq!(created["visibility"], level, "{}", case.key);
        world
            .posts
            .insert(case.key, created["id"].as_i64().unwrap());
    }
    let known = world.relations().await;
    for liker in LIKERS {
        let viewer = Viewer::new(Some(world.ids[liker]), &known);
        for case in CASES {
            let path = format!("/post/{}/like/", world.posts[case.key]);
            let (status, body) = world
                .server
                .http("POST", &path, Some(&world.tokens[liker]), None)
                .await;
            if known.blocked_between(world.ids[liker], world.ids[case.author]) {
                assert_eq!(status, 403, "{liker} likes {}: {body}", case.key);
                assert!(body["detail"].as_str().unwrap().contains("blocks"));
            } else if world.sees(&viewer, case) {
                assert!(status == 201 || status == 200, "{status} {body}");
                world.liked.insert((liker, case.key));
            } else {
                assert_eq!(
                    (status, &body["detail"]),
                    (404, &json!("Post not found")),
                    "{liker} likes {}",
                    case.key
                );
            }
        }
    }
    for reposter in REPOSTERS {
        let viewer = Viewer::new(Some(world.ids[reposter]), &known);
        for case in CASES {
            let path = format!("/post/{}/repost/", world.posts[case.key]);
            let (status, body) = world
                .server
                .http("POST", &path, Some(&world.tokens[reposter]), None)
                .await;
            let what = format!("{reposter} reposts {}: {body}", case.key);
            let facts = world.facts(case, true);
            let audience = Audience::post(&facts);
            if known.blocked_between(world.ids[reposter], world.ids[case.author]) {
                assert_eq!(status, 403, "{what}");
                assert!(body["detail"].as_str().unwrap().contains("blocks"));
            } else if !world.sees(&viewer, case) {
                assert_eq!(
                    (status, &body["detail"]),
                    (404, &json!("Post not found")),
                    "{what}"
                );
            } else if !visibility::may_repost(&viewer, audience) {
                assert_eq!(
                    (status, &body["detail"]),
                    (403, &json!("Only public posts can be reposted")),
                    "{what}"
                );
            } else {
                assert_eq!(status, 201, "{what}");
                world.reposted.insert((reposter, case.key));
            }
        }
    }
    for (_, name) in VIEWERS {
        let Some(name) = *name else { continue };
        let viewer = Viewer::new(Some(world.ids[name]), &known);
        for case in CASES {
            let path = format!("/post/{}/bookmark/", world.posts[case.key]);
            let (status, body) = world
                .server
                .http("POST", &path, Some(&world.tokens[name]), None)
                .await;
            if world.sees(&viewer, case) {
                assert_eq!(status, 201, "{name} bookmarks {}: {body}", case.key);
                world.bookmarked.insert((name, case.key));
            } else {
                assert_eq!(
                    (status, &body["detail"]),
                    (404, &json!("Post not found")),
                    "{name} bookmarks {}",
                    case.key
                );
            }
        }
    }
}

/// Deletes what the cases' fates say, suspends [`SUSPENDED`], and makes the
/// [`LATE_BLOCK`] and the [`UNFOLLOW`].
async fn apply_fates(world: &mut World) {
    let (who, whom) = LATE_BLOCK;
    let path = format!("/user/{whom}/block/");
    let (status, body) = world
        .server
        .http("POST", &path, Some(&world.tokens[who]), None)
        .await;
    assert_eq!(status, 204, "{path}: {body}");
    let (who, whom) = UNFOLLOW;
    let path = format!("/user/follow/{}", world.ids[whom]);
    let (status, body) = world
        .server
        .http("DELETE", &path, Some(&world.tokens[who]), None)
        .await;
    assert_eq!(status, 204, "{path}: {body}");
    sqlx::query("UPDATE users SET suspended_at = now() WHERE id = $1")
        .bind(world.ids[SUSPENDED])
        .execute(&world.pool)
        .await
        .unwrap();
    world.fates_applied = true;
    for case in CASES.iter().filter(|c| c.fate == Fate::PostDeleted) {
        let path = format!("/post/{}/", world.posts[case.key]);
        let (status, body) = world
            .server
            .http("DELETE", &path, Some(&world.tokens[case.author]), None)
            .await;
        assert_eq!(status, 204, "{body}");
    }
    for case in CASES.iter().filter(|c| c.fate == Fate::AuthorDeleted) {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(world.ids[case.author])
            .execute(&world.pool)
            .await
            .unwrap();
    }
}

/// Whether a list path should show a case post to the viewer.
type Placed<'a> = Box<dyn Fn(&Case) -> bool + 'a>;

/// A notification: id, recipient, post, actor.
type NotificationRow = (i64, i64, Option<i64>, i64);

/// Checks every list path as every viewer.
async fn check_lists(world: &World, known: &Relations) {
    let account_gone = |name: &str| {
        CASES
            .iter()
            .any(|c| c.author == name && c.fate == Fate::AuthorDeleted)
    };
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        for list in LISTS {
            let (path, expect_status, placed): (String, u16, Placed<'_>) = match *list {
                List::Public => (
                    "/post/?limit=100".into(),
                    200,
                    Box::new(|c: &Case| {
                        visibility::on_public(
                            &viewer,
                            Audience::post(&world.facts(c, true)),
                            c.parent.is_none(),
                        )
                    }),
                ),
                List::Timeline => (
                    "/user/timeline?limit=100".into(),
                    if name.is_some() { 200 } else { 401 },
                    Box::new(|c: &Case| {
                        let Some(me) = viewer.id() else { return false };
                        let followed = known.follows(me, world.ids[c.author])
                            && !known.mutes(me, world.ids[c.author])
                            && world.sees(&viewer, c);
                        // Reposts by the people followed, where the rule places them.
                        let facts = world.facts(c, true);
                        let reposted = world.reposted.iter().any(|&(r, key)| {
                            key == c.key
                                && known.follows(me, world.ids[r])
                                && visibility::on_home(
                                    &viewer,
                                    Audience::repost(world.ids[r], world.account_live(r), &facts),
                                )
                        });
                        followed || reposted
                    }),
                ),
                List::ByUser(author) => (
                    format!("/post/user/{author}/?include_replies=true&limit=100"),
                    if account_gone(author) || author == SUSPENDED {
                        404
                    } else {
                        200
                    },
                    Box::new(move |c: &Case| c.author == author && world.sees(&viewer, c)),
                ),
                List::Replies(parent) => {
                    let parent_case = CASES.iter().find(|c| c.key == parent).unwrap();
                    let seen = world.sees(&viewer, parent_case);
                    (
                        format!("/post/{}/replies/?limit=100", world.posts[parent]),
                        if seen { 200 } else { 404 },
                        Box::new(move |c: &Case| {
                            c.parent == Some(parent) && world.sees(&viewer, c)
                        }),
                    )
                }
                List::LikedBy(liker) => (
                    format!("/post/likes/{liker}/?limit=100"),
                    200,
                    Box::new(move |c: &Case| {
                        world.liked.contains(&(liker, c.key)) && world.sees(&viewer, c)
                    }),
                ),
                // Search and a hashtag's timeline list replies too.
                List::Search | List::Tag => (
                    match list {
                        List::Search => format!("/search/posts/?q={TAG}&limit=100"),
                        _ => format!("/post/tag/{TAG}/?limit=100"),
                    },
                    200,
                    Box::new(|c: &Case| {
                        visibility::on_public(&viewer, Audience::post(&world.facts(c, true)), true)
                    }),
                ),
                List::Bookmarks => (
                    "/user/bookmarks/?limit=100".into(),
                    if name.is_some() { 200 } else { 401 },
                    Box::new(|c: &Case| {
                        name.is_some_and(|n| world.bookmarked.contains(&(n, c.key)))
                            && world.sees(&viewer, c)
                    }),
                ),
                List::RepostedBy(key) => {
                    check_reposted_by(world, &viewer, kind, *name, key).await;
                    continue;
                }
            };
            let (status, body) = world.get(&path, *name).await;
            assert_eq!(status, expect_status, "{list:?} as {kind}: {body}");
            if status != 200 {
                assert!(body["detail"].is_string(), "{list:?} as {kind}: {body}");
                continue;
            }
            let got: BTreeSet<&str> = body
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| world.case_of(p["id"].as_i64().unwrap()).map(|c| c.key))
                .collect();
            let expected: BTreeSet<&str> =
                CASES.iter().filter(|c| placed(c)).map(|c| c.key).collect();
            assert_eq!(got, expected, "{list:?} as {kind}");
        }
    }
}

/// Checks `GET /post/{id}/reposted_by/` of case `key` as a viewer: not
/// found unless they may see the post, else its reposters they find.
async fn check_reposted_by(
    world: &World,
    viewer: &Viewer<'_>,
    kind: &str,
    name: Option<&str>,
    key: &'static str,
) {
    let case = CASES.iter().find(|c| c.key == key).unwrap();
    let path = format!("/post/{}/reposted_by/?limit=100", world.posts[key]);
    let (status, body) = world.get(&path, name).await;
    if !world.sees(viewer, case) {
        assert_eq!(
            (status, &body["detail"]),
            (404, &json!("Post not found")),
            "reposted_by {key} as {kind}"
        );
        return;
    }
    assert_eq!(status, 200, "reposted_by {key} as {kind}: {body}");
    let got: BTreeSet<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| world.name_of(u["id"].as_i64().unwrap()))
        .collect();
    let expected: BTreeSet<&str> = world
        .reposted
        .iter()
        .filter(|&&(r, k)| {
            k == key && visibility::may_find_account(viewer, world.ids[r], world.account_live(r))
        })
        .map(|&(r, _)| r)
        .collect();
    assert_eq!(got, expected, "reposted_by {key} as {kind}");
}

/// Checks every account read as every viewer: a profile (404 once
/// suspended or deleted; across a block it shows, with the block's state),
/// account search and "who to follow" (neither shows an account across a
/// block, nor a suspended or deleted one), and the hashtag's use count
/// (the public posts a logged-out reader finds).
async fn check_accounts(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let me = name.map(|n| world.ids[n]);
        let viewer = Viewer::new(me, known);
        for account in USERS {
            let id = world.ids[account];
            let live = world.account_live(account);
            let (status, body) = world.get(&format!("/user/{account}/"), *name).await;
            if !live {
                assert_eq!(status, 404, "profile of {account} as {kind}: {body}");
            } else {
                assert_eq!(status, 200, "profile of {account} as {kind}: {body}");
                // The viewer's relations to the account: absent when logged out.
                let state = |k: &str| body.get(k).cloned();
                let expected = |v: fn(&World, &Relations, i64, i64) -> bool| {
                    me.map(|me| json!(v(world, known, me, id)))
                };
                assert_eq!(
                    [
                        state("blocking"),
                        state("blocked_by"),
                        state("following"),
                        state("muting")
                    ],
                    [
                        expected(|w, _, me, id| w.blocks(me, id)),
                        expected(|w, _, me, id| w.blocks(id, me)),
                        expected(|_, k, me, id| k.follows(me, id)),
                        expected(|_, k, me, id| k.mutes(me, id)),
                    ],
                    "profile of {account} as {kind}"
                );
            }
            let (status, body) = world
                .get(&format!("/search/accounts/?q={account}&limit=100"), *name)
                .await;
            assert_eq!(status, 200, "search {account} as {kind}: {body}");
            let found = body.as_array().unwrap().iter().any(|u| u["id"] == id);
            assert_eq!(
                found,
                visibility::may_find_account(&viewer, id, live),
                "search {account} as {kind}"
            );
        }
        let (status, body) = world.get("/user/suggestions/?limit=100", *name).await;
        let Some(me) = me else {
            assert_eq!(status, 401, "suggestions as {kind}: {body}");
            continue;
        };
        assert_eq!(status, 200, "suggestions as {kind}: {body}");
        let got: BTreeSet<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| world.name_of(u["id"].as_i64().unwrap()))
            .collect();
        let expected: BTreeSet<&str> = USERS
            .iter()
            .copied()
            .filter(|u| {
                let id = world.ids[u];
                id != me
                    && !known.follows(me, id)
                    && visibility::may_find_account(&viewer, id, world.account_live(u))
            })
            .collect();
        assert_eq!(got, expected, "suggestions as {kind}");
    }
    let nobody = Relations::default();
    let logged_out = Viewer::new(None, &nobody);
    let (status, body) = world.get(&format!("/search/hashtags/?q={TAG}"), None).await;
    assert_eq!(status, 200, "{body}");
    let counted = CASES
        .iter()
        .filter(|c| visibility::on_public(&logged_out, Audience::post(&world.facts(c, true)), true))
        .count();
    assert_eq!(
        body,
        json!([{"name": TAG, "uses": counted}]),
        "hashtag uses"
    );
}

/// Checks `GET /post/{id}/` (and its embedded replies) for every case as every viewer.
async fn check_single_posts(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        for case in CASES {
            let (status, body) = world
                .get(&format!("/post/{}/", world.posts[case.key]), *name)
                .await;
            if !world.sees(&viewer, case) {
                assert_eq!(
                    (status, &body["detail"]),
                    (404, &json!("Post not found")),
                    "{} as {kind}",
                    case.key
                );
                continue;
            }
            assert_eq!(status, 200, "{} as {kind}: {body}", case.key);
            assert_eq!(body["text"], case.text);
            let replies: BTreeSet<&str> = body["replies"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| world.case_of(p["id"].as_i64().unwrap()).map(|c| c.key))
                .collect();
            let expected: BTreeSet<&str> = CASES
                .iter()
                .filter(|c| c.parent == Some(case.key) && world.sees(&viewer, c))
                .map(|c| c.key)
                .collect();
            assert_eq!(replies, expected, "replies of {} as {kind}", case.key);
        }
    }
}

/// Checks `GET /notifications` and the unread count as every viewer: each
/// notification is the viewer's, and its post one they may see.
async fn check_notifications(world: &World, known: &Relations) {
    let rows: Vec<NotificationRow> =
        sqlx::query_as("SELECT n.id, n.user_id, n.post_id, n.actor_id FROM notifications n")
            .fetch_all(&world.pool)
            .await
            .unwrap();
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        let (status, body) = world.get("/notifications?limit=100", *name).await;
        let (unread_status, unread) = world.get("/notifications/unread", *name).await;
        if name.is_none() {
            assert_eq!((status, unread_status), (401, 401), "as {kind}: {body}");
            continue;
        }
        assert_eq!(status, 200, "as {kind}: {body}");
        let got: BTreeSet<i64> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_i64().unwrap())
            .collect();
        let expected: BTreeSet<i64> = rows
            .iter()
            .filter(|n| {
                visibility::may_see(&viewer, Audience::Recipient(n.1))
                    && world.notification_seen(known, n)
            })
            .map(|r| r.0)
            .collect();
        assert_eq!(got, expected, "notifications as {kind}");
        assert_eq!(unread_status, 200);
        assert_eq!(unread["count"], expected.len(), "unread as {kind}");
    }
}

/// A viewer's open streams: a WebSocket and an SSE response.
struct Live {
    kind: &'static str,
    name: Option<&'static str>,
    ws: Ws,
    sse: Sse,
}

async fn open_streams(world: &World, since: Option<i64>) -> Vec<Live> {
    let mut open = Vec::new();
    for (kind, name) in VIEWERS {
        let mut path = format!("/stream?streams={}", streams_of(*name));
        let mut headers = Vec::new();
        let auth = world.token(*name).map(|t| format!("Bearer {t}"));
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        let since_text = since.map(|s| s.to_string());
        if let Some(since) = &since_text {
            headers.push(("Last-Event-ID", since.as_str()));
        }
        let (status, sse) = Sse::open(&world.server, &path, &headers).await;
        assert_eq!(status, 200, "SSE as {kind}");
        if let Some(since) = &since_text {
            path.push_str(&format!("&since={since}"));
        }
        let ws = Ws::connect(&world.server, &path, world.token(*name)).await;
        open.push(Live {
            kind,
            name: *name,
            ws,
            sse: sse.unwrap(),
        });
    }
    open
}

/// Reads every viewer's streams up to `sentinel` and compares them with
/// what the module says of the events in `(after, sentinel's]`.
async fn check_streams(
    world: &World,
    streams: &mut [Live],
    sentinel: i64,
    after: i64,
    known: &Relations,
    loadable: &HashMap<i64, bool>,
    what: &str,
) -> i64 {
    let events = all_events(&world.pool).await;
    let last = events
        .iter()
        .find(|e| e.kind == EventKind::Post && e.post_id == Some(sentinel))
        .unwrap()
        .pos;
    for live in streams.iter_mut() {
        let viewer = Viewer::new(live.name.map(|n| world.ids[n]), known);
        let expected =
            expected_delivery(world, &viewer, &events, after, last, |e| loadable[&e.pos]);
        assert_eq!(
            ws_until(&mut live.ws, sentinel).await,
            expected,
            "{what} WebSocket as {}",
            live.kind
        );
        assert_eq!(
            sse_until(&mut live.sse, sentinel).await,
            expected,
            "{what} SSE as {}",
            live.kind
        );
    }
    last
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_read_path_shows_each_viewer_exactly_what_the_visibility_rule_allows(pool: PgPool) {
    let mut world = build(&pool).await;
    let mut live = open_streams(&world, None).await;
    // Whether the follows' notifications arrive live depends on timing: the
    // table starts after a first sentinel.
    let sentinel = world.sentinel().await;
    for open in &mut live {
        ws_until(&mut open.ws, sentinel).await;
        sse_until(&mut open.sse, sentinel).await;
    }
    let start = all_events(&pool).await.last().unwrap().pos;

    // Live, while every post exists: each event is loadable when sent.
    write_cases(&mut world).await;
    let sentinel = world.sentinel().await;
    let known = world.relations().await;
    let mut all_loadable = HashMap::new();
    for e in all_events(&pool).await {
        all_loadable.insert(e.pos, loadable_now(&world, &known, &e).await);
    }
    let seen = check_streams(
        &world,
        &mut live,
        sentinel,
        start,
        &known,
        &all_loadable,
        "live",
    )
    .await;

    // The deletions, live: a deleted post's delete event reaches whoever saw it.
    apply_fates(&mut world).await;
    let sentinel = world.sentinel().await;
    let known = world.relations().await;
    let mut loadable = HashMap::new();
    for e in all_events(&pool).await {
        loadable.insert(
            e.pos,
            e.pos <= seen || loadable_now(&world, &known, &e).await,
        );
    }
    check_streams(
        &world,
        &mut live,
        sentinel,
        seen,
        &known,
        &loadable,
        "live after deletions",
    )
    .await;

    // Every REST read path, after the deletions.
    check_lists(&world, &known).await;
    check_accounts(&world, &known).await;
    check_single_posts(&world, &known).await;
    check_notifications(&world, &known).await;

    // A resume from the start replays what each viewer may still see.
    let mut resumed = open_streams(&world, Some(start)).await;
    let sentinel = world.sentinel().await;
    let mut loadable = HashMap::new();
    for e in all_events(&pool).await {
        loadable.insert(e.pos, loadable_now(&world, &known, &e).await);
    }
    check_streams(
        &world,
        &mut resumed,
        sentinel,
        start,
        &known,
        &loadable,
        "resume",
    )
    .await;
    drop((live, resumed));
    world.server.stop().await;
}

/// The events a resume of `token`'s home from `since` replays up to the
/// post `sentinel`: (event, post id, reposted_by).
async fn home_resume(
    server: &LiveServer,
    token: &str,
    since: i64,
    sentinel: i64,
) -> Vec<(String, i64, Value)> {
    let path = format!("/stream?streams=home&since={since}");
    let mut ws = Ws::connect(server, &path, Some(token)).await;
    let mut got = Vec::new();
    loop {
        let frame = ws.next_json().await;
        let id = frame["data"]["id"].as_i64().unwrap_or_default();
        let kind = frame["event"].as_str().unwrap().to_owned();
        got.push((kind.clone(), id, frame["data"]["reposted_by"].clone()));
        if kind == "post" && id == sentinel {
            return got;
        }
    }
}

/// A suspended reposter's reposts reach nobody, as its own posts do: a
/// resume from before them replays the reposted post's `repost` event while
/// the reposter is live, not after the suspension.
#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn a_suspended_reposters_reposts_are_not_replayed(pool: PgPool) {
    let server = LiveServer::start(&pool, &[]).await;
    let (_, ana) = user(&server, "ana").await;
    let (rex_id, rex) = user(&server, "rex").await;
    let (_, fay) = user(&server, "fay").await;
    let path = format!("/user/follow/{rex_id}");
    let (status, body) = server.http("POST", &path, Some(&fay), None).await;
    assert_eq!(status, 201, "{body}");
    let start = all_events(&pool).await.last().unwrap().pos;
    let reposted = post(&server, &ana, "ana writes", None).await;
    let path = format!("/post/{reposted}/repost/");
    let (status, body) = server.http("POST", &path, Some(&rex), None).await;
    assert_eq!(status, 201, "{body}");

    let sentinel = post(&server, &fay, "fay's first sentinel", None).await;
    let reposts = |got: Vec<(String, i64, Value)>| -> Vec<(i64, Value)> {
        got.into_iter()
            .filter(|(kind, ..)| kind == "repost")
            .map(|(_, id, by)| (id, by))
            .collect()
    };
    assert_eq!(
        reposts(home_resume(&server, &fay, start, sentinel).await),
        [(reposted, json!("rex"))]
    );

    sqlx::query("UPDATE users SET suspended_at = now() WHERE id = $1")
        .bind(rex_id)
        .execute(&pool)
        .await
        .unwrap();
    let sentinel = post(&server, &fay, "fay's second sentinel", None).await;
    assert_eq!(
        reposts(home_resume(&server, &fay, start, sentinel).await),
        []
    );
    server.stop().await;
}
