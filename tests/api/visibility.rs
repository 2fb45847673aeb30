//! The visibility table: every read path, as every kind of viewer, against
//! every kind of post, must agree with `pamps::visibility` (the one rule).
//!
//! The tables below are the test: [`CASES`] are the posts (issue 17 adds a
//! level column and its rows: unlisted, followers-only, direct), [`VIEWERS`]
//! who reads (issue 17 adds mentioned, blocked, suspended author), [`LISTS`]
//! the list paths; a single post by id, notifications, the live WebSocket and
//! SSE streams and a resume from `since`/`Last-Event-ID` are checked for
//! every pair. The expected answer of each cell comes from the module's
//! predicates (`may_see`, `on_home`, `on_public`) and what the path lists
//! (a user's posts, a user's likes, ...); the module's own answers are pinned
//! by its unit table. Absence on a stream is shown without waiting: a
//! sentinel post everyone receives ends each read, and the stream is ordered.

use std::collections::{BTreeSet, HashMap};

use pamps::models::event::{self, Event, EventKind};
use pamps::visibility::{self, Audience, Relations, Viewer};
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
    fate: Fate,
}

/// The posts, in creation order (a parent before its replies).
const CASES: &[Case] = &[
    Case {
        key: "top",
        author: "ana",
        parent: None,
        text: "a post",
        fate: Fate::Live,
    },
    Case {
        key: "reply",
        author: "ana",
        parent: Some("top"),
        text: "a reply for @sam",
        fate: Fate::Live,
    },
    Case {
        key: "stranger's",
        author: "sam",
        parent: None,
        text: "sam's post",
        fate: Fate::Live,
    },
    Case {
        key: "deleted",
        author: "ana",
        parent: None,
        text: "soon gone @sam",
        fate: Fate::PostDeleted,
    },
    Case {
        key: "reply to deleted",
        author: "sam",
        parent: Some("deleted"),
        text: "too late",
        fate: Fate::Live,
    },
    Case {
        key: "author deleted",
        author: "dan",
        parent: None,
        text: "dan's post",
        fate: Fate::AuthorDeleted,
    },
    Case {
        key: "reply by deleted author",
        author: "dan",
        parent: Some("top"),
        text: "dan replies",
        fate: Fate::AuthorDeleted,
    },
];

/// Who reads, by kind; named for their relation to ana, the main author.
const VIEWERS: &[(&str, Option<&str>)] = &[
    ("author", Some("ana")),
    ("follower", Some("fay")),
    ("stranger", Some("sam")),
    ("logged out", None),
];

/// Who follows whom (fay also follows dan, whose account goes).
const FOLLOWS: &[(&str, &str)] = &[("fay", "ana"), ("fay", "dan")];

/// Who likes every case post (before deletions).
const LIKERS: &[&str] = &["fay", "sam"];

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
}

const LISTS: &[List] = &[
    List::Public,
    List::Timeline,
    List::ByUser("ana"),
    List::ByUser("sam"),
    List::ByUser("dan"),
    List::Replies("top"),
    List::Replies("deleted"),
    List::Replies("author deleted"),
    List::LikedBy("fay"),
    List::LikedBy("sam"),
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
}

impl World {
    fn token(&self, viewer: Option<&str>) -> Option<&str> {
        viewer.map(|v| self.tokens[v].as_str())
    }

    fn case_of(&self, post_id: i64) -> Option<&'static Case> {
        CASES.iter().find(|c| self.posts[c.key] == post_id)
    }

    /// A case's audience now, by the module.
    fn audience(&self, case: &Case) -> Audience {
        Audience::post(self.ids[case.author], case.fate == Fate::Live)
    }

    async fn relations(&self) -> Relations {
        sqlx::query_as::<_, (i64, i64)>("SELECT follower_id, followee_id FROM follows")
            .fetch_all(&self.pool)
            .await
            .unwrap()
            .into_iter()
            .collect()
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
/// payload to send any more (its post or notification is gone).
fn expected_stream(viewer: &Viewer<'_>, e: &Event, loadable: bool) -> Option<&'static str> {
    if !loadable {
        return None;
    }
    match e.kind {
        EventKind::Notification => {
            visibility::may_see(viewer, Audience::Recipient(e.user_id)).then_some("notifications")
        }
        _ => {
            let audience = Audience::post(e.user_id, true);
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
    viewer: &Viewer<'_>,
    events: &[Event],
    after: i64,
    last: i64,
    loadable: impl Fn(&Event) -> bool,
) -> Delivered {
    events
        .iter()
        .filter(|e| e.pos > after && e.pos <= last)
        .filter_map(|e| expected_stream(viewer, e, loadable(e)).map(|s| (e.pos, s.to_owned())))
        .collect()
}

async fn all_events(pool: &PgPool) -> Vec<Event> {
    wait_until_numbered(pool).await;
    event::after(pool, 0, None, 100_000).await.unwrap()
}

/// Whether the server can still load an event's payload now.
async fn loadable_now(pool: &PgPool, e: &Event) -> bool {
    let sql = match e.kind {
        EventKind::PostDelete => return true,
        EventKind::Post | EventKind::PostUpdate => {
            "SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1 AND deleted_at IS NULL)"
        }
        EventKind::Notification => {
            "SELECT EXISTS (SELECT 1 FROM notifications n LEFT JOIN posts p ON p.id = n.post_id
                             WHERE n.id = $1 AND (n.post_id IS NULL OR p.deleted_at IS NULL))"
        }
    };
    let id = match e.kind {
        EventKind::Notification => e.notification_id,
        _ => e.post_id,
    };
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn build(pool: &PgPool) -> World {
    let server = LiveServer::start(pool, &[]).await;
    let mut ids = HashMap::new();
    let mut tokens = HashMap::new();
    for name in ["ana", "fay", "sam", "dan", "bea"] {
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
    World {
        server,
        pool: pool.clone(),
        ids,
        tokens,
        posts: HashMap::new(),
        sentinels: 0,
    }
}

/// Creates the case posts and the likes (all live at first).
async fn write_cases(world: &mut World) {
    for case in CASES {
        let parent = case.parent.map(|p| world.posts[p]);
        let id = post(&world.server, &world.tokens[case.author], case.text, parent).await;
        world.posts.insert(case.key, id);
    }
    for liker in LIKERS {
        for case in CASES {
            let path = format!("/post/{}/like/", world.posts[case.key]);
            let (status, body) = world
                .server
                .http("POST", &path, Some(&world.tokens[liker]), None)
                .await;
            assert!(status == 201 || status == 200, "{status} {body}");
        }
    }
}

/// Deletes what the cases' fates say.
async fn apply_fates(world: &World) {
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

/// A notification: id, recipient, post, the post's author, whether it is live.
type NotificationRow = (i64, i64, Option<i64>, Option<i64>, Option<bool>);

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
                        visibility::on_public(&viewer, world.audience(c), c.parent.is_none())
                    }),
                ),
                List::Timeline => (
                    "/user/timeline?limit=100".into(),
                    if name.is_some() { 200 } else { 401 },
                    Box::new(|c: &Case| {
                        viewer
                            .id()
                            .is_some_and(|me| known.follows(me, world.ids[c.author]))
                            && visibility::may_see(&viewer, world.audience(c))
                    }),
                ),
                List::ByUser(author) => (
                    format!("/post/user/{author}/?include_replies=true&limit=100"),
                    if account_gone(author) { 404 } else { 200 },
                    Box::new(move |c: &Case| {
                        c.author == author && visibility::may_see(&viewer, world.audience(c))
                    }),
                ),
                List::Replies(parent) => {
                    let parent_case = CASES.iter().find(|c| c.key == parent).unwrap();
                    let seen = visibility::may_see(&viewer, world.audience(parent_case));
                    (
                        format!("/post/{}/replies/?limit=100", world.posts[parent]),
                        if seen { 200 } else { 404 },
                        Box::new(move |c: &Case| {
                            c.parent == Some(parent)
                                && visibility::may_see(&viewer, world.audience(c))
                        }),
                    )
                }
                List::LikedBy(liker) => (
                    format!("/post/likes/{liker}/?limit=100"),
                    200,
                    Box::new(|c: &Case| visibility::may_see(&viewer, world.audience(c))),
                ),
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

/// Checks `GET /post/{id}/` (and its embedded replies) for every case as every viewer.
async fn check_single_posts(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        for case in CASES {
            let (status, body) = world
                .get(&format!("/post/{}/", world.posts[case.key]), *name)
                .await;
            if !visibility::may_see(&viewer, world.audience(case)) {
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
                .filter(|c| {
                    c.parent == Some(case.key) && visibility::may_see(&viewer, world.audience(c))
                })
                .map(|c| c.key)
                .collect();
            assert_eq!(replies, expected, "replies of {} as {kind}", case.key);
        }
    }
}

/// Checks `GET /notifications` and the unread count as every viewer: each
/// notification is the viewer's, and its post one they may see.
async fn check_notifications(world: &World, known: &Relations) {
    let rows: Vec<NotificationRow> = sqlx::query_as(
        "SELECT n.id, n.user_id, n.post_id, p.user_id, p.deleted_at IS NULL
           FROM notifications n LEFT JOIN posts p ON p.id = n.post_id",
    )
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
            .filter(|(_, recipient, post, author, live)| {
                visibility::may_see(&viewer, Audience::Recipient(*recipient))
                    && post.is_none_or(|_| {
                        visibility::may_see(&viewer, Audience::post(author.unwrap(), live.unwrap()))
                    })
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
        let expected = expected_delivery(&viewer, &events, after, last, |e| loadable[&e.pos]);
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
    let all_loadable: HashMap<i64, bool> = all_events(&pool)
        .await
        .iter()
        .map(|e| (e.pos, true))
        .collect();
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
    apply_fates(&world).await;
    let sentinel = world.sentinel().await;
    let known = world.relations().await;
    let mut loadable = HashMap::new();
    for e in all_events(&pool).await {
        loadable.insert(e.pos, e.pos <= seen || loadable_now(&pool, &e).await);
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
    check_single_posts(&world, &known).await;
    check_notifications(&world, &known).await;

    // A resume from the start replays what each viewer may still see.
    let mut resumed = open_streams(&world, Some(start)).await;
    let sentinel = world.sentinel().await;
    let mut loadable = HashMap::new();
    for e in all_events(&pool).await {
        loadable.insert(e.pos, loadable_now(&pool, &e).await);
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
