//! The visibility table on the Mastodon surface: the world of
//! [`crate::visibility`] (its posts, viewers, likes, reposts, bookmarks and
//! fates), read through `/api/v1` and `/api/v2` with each viewer's pamps
//! token as Bearer. Every cell's answer comes from `pamps::visibility`, as
//! on the pamps surface, in Mastodon's conventions: a status one may not see
//! is 404 and absent from every list; a reblog shows its post, which must be
//! one the viewer sees.

use std::collections::{BTreeSet, HashMap};

use pamps::models::event::EventKind;
use pamps::visibility::{self, Audience, Relations, Viewer};
use serde_json::Value;
use sqlx::PgPool;

use crate::live::{Sse, Ws, post};
use crate::visibility::{
    CASES, Case, NotificationRow, SUSPENDED, TAG, USERS, VIEWERS, World, all_events, apply_fates,
    build, loadable_now, write_cases,
};

/// The case keys of a status list (a reblog counts as its post); panics on a
/// status the viewer may not see, wherever it is nested.
fn keys(world: &World, viewer: &Viewer<'_>, list: &Value, what: &str) -> BTreeSet<&'static str> {
    list.as_array()
        .unwrap_or_else(|| panic!("{what}: {list}"))
        .iter()
        .filter_map(|s| case_of_status(world, viewer, s, what))
        .collect()
}

/// The case a status shows (its reblogged post's, for a reblog), checked
/// against the rule.
fn case_of_status(
    world: &World,
    viewer: &Viewer<'_>,
    status: &Value,
    what: &str,
) -> Option<&'static str> {
    let shown = if status["reblog"].is_object() {
        &status["reblog"]
    } else {
        status
    };
    let id: i64 = shown["id"].as_str().unwrap().parse().unwrap();
    let case = world.case_of(id)?;
    assert!(
        world.sees(viewer, case),
        "{what}: shows {} it may not see",
        case.key
    );
    Some(case.key)
}

fn expected(placed: impl Fn(&Case) -> bool) -> BTreeSet<&'static str> {
    CASES.iter().filter(|c| placed(c)).map(|c| c.key).collect()
}

fn account_names(world: &World, list: &Value, what: &str) -> BTreeSet<&'static str> {
    list.as_array()
        .unwrap_or_else(|| panic!("{what}: {list}"))
        .iter()
        .map(|a| world.name_of(a["id"].as_str().unwrap().parse().unwrap()))
        .collect()
}

/// One status, its context, who favourited and who reblogged it.
async fn check_statuses(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        for case in CASES {
            let id = world.posts[case.key];
            let sees = world.sees(&viewer, case);
            for sub in [
                "",
                "/context",
                "/history",
                "/favourited_by",
                "/reblogged_by",
            ] {
                let path = format!("/api/v1/statuses/{id}{sub}");
                let (status, body) = world.get(&path, *name).await;
                let what = format!("{path} ({}) as {kind}", case.key);
                if !sees {
                    assert_eq!(status, 404, "{what}: {body}");
                    assert!(body["error"].is_string(), "{what}: {body}");
                    continue;
                }
                assert_eq!(status, 200, "{what}: {body}");
                match sub {
                    "" => {
                        assert_eq!(case_of_status(world, &viewer, &body, &what), Some(case.key))
                    }
                    "/history" => {
                        let versions = body.as_array().unwrap();
                        assert!(!versions.is_empty(), "{what}");
                        for v in versions {
                            assert_eq!(v["content"], versions.last().unwrap()["content"], "{what}");
                        }
                    }
                    "/context" => {
                        let parent = case
                            .parent
                            .map(|p| CASES.iter().find(|c| c.key == p).unwrap());
                        assert_eq!(
                            keys(world, &viewer, &body["ancestors"], &what),
                            expected(|c| parent
                                .is_some_and(|p| p.key == c.key && world.sees(&viewer, c))),
                            "{what}: ancestors"
                        );
                        assert_eq!(
                            keys(world, &viewer, &body["descendants"], &what),
                            expected(|c| c.parent == Some(case.key) && world.sees(&viewer, c)),
                            "{what}: descendants"
                        );
                    }
                    _ => {
                        let done = if sub == "/favourited_by" {
                            &world.liked
                        } else {
                            &world.reposted
                        };
                        let want: BTreeSet<&str> = done
                            .iter()
                            .filter(|&&(who, k)| {
                                k == case.key
                                    && visibility::may_find_account(
                                        &viewer,
                                        world.ids[who],
                                        world.account_live(who),
                                    )
                            })
                            .map(|&(who, _)| who)
                            .collect();
                        assert_eq!(account_names(world, &body, &what), want, "{what}");
                    }
                }
            }
        }
    }
}

/// Timelines, an account's statuses, status search, bookmarks, favourites.
async fn check_lists(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let me = name.map(|n| world.ids[n]);
        let viewer = Viewer::new(me, known);
        let sees = |c: &Case| world.sees(&viewer, c);
        let public = |c: &Case, top: bool| {
            visibility::on_public(&viewer, Audience::post(&world.facts(c, true)), top)
        };
        // Mastodon's home: the viewer's own posts and reblogs too.
        let home = |c: &Case| {
            let Some(me) = me else { return false };
            let facts = world.facts(c, true);
            let reposted = world.reposted.iter().any(|&(r, key)| {
                key == c.key
                    && (world.ids[r] == me || known.follows(me, world.ids[r]))
                    && visibility::on_home(
                        &viewer,
                        Audience::repost(world.ids[r], world.account_live(r), &facts),
                    )
            });
            visibility::on_home(&viewer, Audience::post(&facts)) || reposted
        };
        let mine = |done: &BTreeSet<(&'static str, &'static str)>, c: &Case| {
            name.is_some_and(|n| done.contains(&(n, c.key))) && sees(c)
        };
        let lists: Vec<(String, bool, BTreeSet<&str>)> = vec![
            (
                "/api/v1/timelines/home?limit=80".into(),
                true,
                expected(home),
            ),
            (
                "/api/v1/timelines/public?limit=80".into(),
                false,
                expected(|c| public(c, c.parent.is_none())),
            ),
            (
                format!("/api/v1/timelines/tag/{TAG}?limit=80"),
                false,
                expected(|c| public(c, true)),
            ),
            (
                format!("/api/v2/search?q={TAG}&type=statuses&limit=40"),
                false,
                expected(|c| public(c, true)),
            ),
            (
                "/api/v1/bookmarks?limit=80".into(),
                true,
                expected(|c| mine(&world.bookmarked, c)),
            ),
            (
                "/api/v1/favourites?limit=80".into(),
                true,
                expected(|c| mine(&world.liked, c)),
            ),
        ];
        for (path, login, want) in lists {
            let (status, body) = world.get(&path, *name).await;
            let what = format!("{path} as {kind}");
            if login && name.is_none() {
                assert_eq!(status, 401, "{what}: {body}");
                continue;
            }
            assert_eq!(status, 200, "{what}: {body}");
            let list = if path.starts_with("/api/v2/search") {
                &body["statuses"]
            } else {
                &body
            };
            assert_eq!(keys(world, &viewer, list, &what), want, "{what}");
        }
        for author in USERS {
            let path = format!("/api/v1/accounts/{}/statuses?limit=80", world.ids[author]);
            let (status, body) = world.get(&path, *name).await;
            let what = format!("statuses of {author} as {kind}");
            if !world.account_live(author) {
                assert_eq!(status, 404, "{what}: {body}");
                continue;
            }
            assert_eq!(status, 200, "{what}: {body}");
            let own: Vec<Value> = body
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| !s["reblog"].is_object())
                .cloned()
                .collect();
            // Reblogs are checked by `keys` (each one a post the viewer sees).
            keys(world, &viewer, &body, &what);
            assert_eq!(
                keys(world, &viewer, &Value::from(own), &what),
                expected(|c| c.author == *author && sees(c)),
                "{what}"
            );
            let path = format!(
                "/api/v1/accounts/{}/statuses?tagged={TAG}&exclude_replies=true&exclude_reblogs=true",
                world.ids[author]
            );
            let (status, body) = world.get(&path, *name).await;
            assert_eq!(status, 200, "{path} as {kind}: {body}");
            assert_eq!(
                keys(world, &viewer, &body, &what),
                expected(|c| c.author == *author && c.parent.is_none() && sees(c)),
                "{path} as {kind}"
            );
        }
    }
}

/// Accounts (404 once suspended or deleted), follow lists and account
/// search (nobody across a block, suspended or deleted), relationships (the
/// block's state).
async fn check_accounts(world: &World, known: &Relations) {
    for (kind, name) in VIEWERS {
        let me = name.map(|n| world.ids[n]);
        let viewer = Viewer::new(me, known);
        for account in USERS {
            let id = world.ids[account];
            let live = world.account_live(account);
            let (status, body) = world.get(&format!("/api/v1/accounts/{id}"), *name).await;
            let what = format!("account {account} as {kind}");
            assert_eq!(status, if live { 200 } else { 404 }, "{what}: {body}");
            let (status, body) = world
                .get(&format!("/api/v1/accounts/lookup?acct={account}"), *name)
                .await;
            assert_eq!(
                status,
                if live { 200 } else { 404 },
                "lookup {what}: {body}"
            );
            // Live accounts, without those across a block from the viewer
            // (as Mastodon; pamps' own lists do not hide them).
            for (side, of) in [("followers", 1), ("following", 0)] {
                let path = format!("/api/v1/accounts/{id}/{side}?limit=80");
                let (status, body) = world.get(&path, *name).await;
                if !live {
                    assert_eq!(status, 404, "{path} ({account}) as {kind}: {body}");
                    continue;
                }
                assert_eq!(status, 200, "{path} ({account}) as {kind}: {body}");
                let want: BTreeSet<&str> = USERS
                    .iter()
                    .copied()
                    .filter(|u| {
                        let pair = [world.ids[u], id];
                        known.follows(pair[1 - of], pair[of])
                            && world.account_live(u)
                            && me.is_none_or(|me| !known.blocked_between(me, world.ids[u]))
                    })
                    .collect();
                assert_eq!(
                    account_names(world, &body, &path),
                    want,
                    "{path} ({account}) as {kind}"
                );
            }
            let (status, body) = world
                .get(
                    &format!("/api/v2/search?q={account}&type=accounts&limit=40"),
                    *name,
                )
                .await;
            assert_eq!(status, 200, "search {what}: {body}");
            let found = account_names(world, &body["accounts"], &what).contains(account);
            assert_eq!(
                found,
                visibility::may_find_account(&viewer, id, live),
                "search {what}"
            );
            let path = format!("/api/v1/accounts/relationships?id[]={id}");
            let (status, body) = world.get(&path, *name).await;
            let Some(me) = me else {
                assert_eq!(status, 401, "relationship {what}: {body}");
                continue;
            };
            assert_eq!(status, 200, "relationship {what}: {body}");
            if !live || id == me {
                continue;
            }
            let r = &body[0];
            assert_eq!(
                [
                    &r["blocking"],
                    &r["blocked_by"],
                    &r["following"],
                    &r["muting"]
                ],
                [
                    world.blocks(me, id),
                    world.blocks(id, me),
                    known.follows(me, id),
                    known.mutes(me, id)
                ]
                .map(Value::from)
                .each_ref(),
                "relationship {what}: {body}"
            );
        }
    }
}

/// Notifications, listed and one by one: the viewer's own, each one's actor
/// and status as the rule allows.
async fn check_notifications(world: &World, known: &Relations) {
    let rows: Vec<NotificationRow> =
        sqlx::query_as("SELECT id, user_id, post_id, actor_id FROM notifications")
            .fetch_all(&world.pool)
            .await
            .unwrap();
    for (kind, name) in VIEWERS {
        let viewer = Viewer::new(name.map(|n| world.ids[n]), known);
        let (status, body) = world.get("/api/v1/notifications?limit=80", *name).await;
        if name.is_none() {
            assert_eq!(status, 401, "notifications as {kind}: {body}");
            continue;
        }
        assert_eq!(status, 200, "notifications as {kind}: {body}");
        let got: BTreeSet<i64> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                if n["status"].is_object() {
                    case_of_status(world, &viewer, &n["status"], "notification");
                }
                n["id"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        let shown = |n: &NotificationRow| {
            visibility::may_see(&viewer, Audience::Recipient(n.1))
                && world.notification_seen(known, n)
        };
        let want: BTreeSet<i64> = rows.iter().filter(|n| shown(n)).map(|n| n.0).collect();
        assert_eq!(got, want, "notifications as {kind}");
        for n in &rows {
            let path = format!("/api/v1/notifications/{}", n.0);
            let (status, body) = world.get(&path, *name).await;
            let expect = if shown(n) { 200 } else { 404 };
            assert_eq!(status, expect, "{path} as {kind}: {body}");
        }
    }
}

/// A viewer's Mastodon streams: a WebSocket subscribed to `user` (logged
/// in), `public` and `hashtag` (#vt); SSE on `user` (logged in) or `public`.
struct Streams {
    kind: &'static str,
    name: Option<&'static str>,
    ws: Ws,
    sse: Sse,
}

impl Streams {
    fn first(&self) -> &'static str {
        if self.name.is_some() {
            "user"
        } else {
            "public"
        }
    }
}

async fn open_streams(world: &World) -> Vec<Streams> {
    let mut open = Vec::new();
    for (kind, name) in VIEWERS {
        let token = world.token(*name);
        let first = if name.is_some() { "user" } else { "public" };
        let mut path = format!("/api/v1/streaming?stream={first}");
        if let Some(t) = token {
            path.push_str(&format!("&access_token={t}"));
        }
        let mut ws = Ws::connect(&world.server, &path, None).await;
        if name.is_some() {
            ws.send(r#"{"type": "subscribe", "stream": "public"}"#)
                .await;
        }
        ws.send(&format!(
            r#"{{"type": "subscribe", "stream": "hashtag", "tag": "{TAG}"}}"#
        ))
        .await;
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, sse) = Sse::open(
            &world.server,
            &format!("/api/v1/streaming/{first}"),
            &headers,
        )
        .await;
        assert_eq!(status, 200, "SSE {first} as {kind}");
        open.push(Streams {
            kind,
            name: *name,
            ws,
            sse: sse.unwrap(),
        });
    }
    open
}

/// What a message shows, as `stream event what`: a case post (`by` its
/// reblogger), a deleted post's case, a notification's id; `None` for
/// anything else (sentinels). A shown status must be one the viewer sees.
fn delivered(
    world: &World,
    viewer: &Viewer<'_>,
    stream: &str,
    event: &str,
    payload: &Value,
    what: &str,
) -> Option<String> {
    let shown = match event {
        "update" | "status.update" => {
            let key = case_of_status(world, viewer, payload, what)?;
            match payload["reblog"].is_object() {
                true => format!(
                    "{key} by {}",
                    payload["account"]["username"].as_str().unwrap()
                ),
                false => key.to_owned(),
            }
        }
        "delete" => {
            let id: i64 = payload
                .as_str()
                .map_or_else(|| payload.as_i64().unwrap(), |s| s.parse().unwrap());
            world.case_of(id)?.key.to_owned()
        }
        "notification" => payload["id"].as_str().unwrap().to_owned(),
        other => panic!("{what}: event {other}"),
    };
    Some(format!("{stream} {event} {shown}"))
}

/// Posts the sentinels: bea's public `#vt` post, and each logged-in
/// viewer's own post (on their `user` stream); their ids.
async fn post_sentinels(world: &mut World) -> (i64, HashMap<&'static str, i64>) {
    world.sentinels += 1;
    let n = world.sentinels;
    let public = post(
        &world.server,
        &world.tokens["bea"],
        &format!("sentinel {n} #{TAG}"),
        None,
    )
    .await;
    let mut own = HashMap::new();
    for (_, name) in VIEWERS {
        if let Some(name) = *name {
            let text = format!("{name}'s sentinel {n}");
            own.insert(
                name,
                post(&world.server, &world.tokens[name], &text, None).await,
            );
        }
    }
    (public, own)
}

/// Reads every viewer's streams up to the sentinels and compares what they
/// delivered with what the rule says of the events after `after`; with
/// `after` `None`, only reads (the warm-up: a socket opened while earlier
/// events were still on their way may get some of them).
async fn check_streams(
    world: &World,
    known: &Relations,
    streams: &mut [Streams],
    sentinels: &(i64, HashMap<&'static str, i64>),
    after: Option<i64>,
    what: &str,
) -> i64 {
    let events = all_events(&world.pool).await;
    let mut loadable = HashMap::new();
    for e in &events {
        loadable.insert(e.pos, loadable_now(world, known, e).await);
    }
    let last = events.last().unwrap().pos;
    let (public, own) = sentinels;
    for live in streams.iter_mut() {
        let viewer = Viewer::new(live.name.map(|n| world.ids[n]), known);
        let label = format!("{what} as {}", live.kind);
        let mut waiting: BTreeSet<(String, i64)> = [("public", *public), ("hashtag", *public)]
            .into_iter()
            .map(|(s, id)| (s.to_owned(), id))
            .collect();
        if let Some(name) = live.name {
            waiting.insert(("user".into(), own[name]));
        }
        let mut ws_got = BTreeSet::new();
        while !waiting.is_empty() {
            let message = live.ws.next_json().await;
            assert!(message["error"].is_null(), "{label}: {message}");
            let stream = message["stream"][0].as_str().unwrap().to_owned();
            let event = message["event"].as_str().unwrap();
            let raw = message["payload"].as_str().unwrap();
            let payload = serde_json::from_str(raw).unwrap_or_else(|_| Value::from(raw));
            if event == "update" {
                waiting.remove(&(
                    stream.clone(),
                    payload["id"].as_str().unwrap().parse().unwrap(),
                ));
            }
            ws_got.extend(delivered(world, &viewer, &stream, event, &payload, &label));
        }
        let first = live.first();
        let end = if first == "user" {
            own[live.name.unwrap()]
        } else {
            *public
        };
        let mut sse_got = BTreeSet::new();
        loop {
            let e = live.sse.next_event().await;
            let event = e.event.unwrap_or_default();
            if event == "update" && e.data["id"].as_str().and_then(|s| s.parse().ok()) == Some(end)
            {
                break;
            }
            sse_got.extend(delivered(world, &viewer, first, &event, &e.data, &label));
        }
        let Some(after) = after else { continue };
        let mut expected = BTreeSet::new();
        for e in events.iter().filter(|e| e.pos > after && loadable[&e.pos]) {
            if e.kind == EventKind::Notification {
                if live.name.is_some()
                    && visibility::may_see(&viewer, Audience::Recipient(e.user_id))
                {
                    expected.insert(format!("user notification {}", e.notification_id.unwrap()));
                }
                continue;
            }
            let Some(case) = e.post_id.and_then(|id| world.case_of(id)) else {
                continue;
            };
            let facts = world.event_facts(e);
            let (event, audience, shown) = match e.kind {
                EventKind::Post => ("update", Audience::post(&facts), case.key.to_owned()),
                EventKind::PostUpdate => {
                    ("status.update", Audience::post(&facts), case.key.to_owned())
                }
                EventKind::PostDelete => ("delete", Audience::post(&facts), case.key.to_owned()),
                EventKind::Repost => {
                    let by = world.name_of(e.user_id);
                    (
                        "update",
                        Audience::repost(e.user_id, world.account_live(by), &facts),
                        format!("{} by {by}", case.key),
                    )
                }
                _ => continue,
            };
            if live.name.is_some() && visibility::on_home(&viewer, audience) {
                expected.insert(format!("user {event} {shown}"));
            }
            if visibility::on_public(&viewer, audience, e.top_level) {
                expected.insert(format!("public {event} {shown}"));
                expected.insert(format!("hashtag {event} {shown}"));
            }
        }
        assert_eq!(ws_got, expected, "{label}: WebSocket");
        let sse_expected: BTreeSet<String> = expected
            .iter()
            .filter(|s| s.starts_with(&format!("{first} ")))
            .cloned()
            .collect();
        assert_eq!(sse_got, sse_expected, "{label}: SSE");
    }
    last
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn every_mastodon_read_path_shows_each_viewer_exactly_what_the_visibility_rule_allows(
    pool: PgPool,
) {
    let mut world = build(&pool).await;
    let mut streams = open_streams(&world).await;
    // Subscriptions by message start when read, and the world's own events
    // may still be on their way: the table starts after a first round of
    // sentinels, read but not compared.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let sentinels = post_sentinels(&mut world).await;
    let known = world.relations().await;
    let start = check_streams(&world, &known, &mut streams, &sentinels, None, "warm-up").await;

    write_cases(&mut world).await;
    let sentinels = post_sentinels(&mut world).await;
    let known = world.relations().await;
    let seen = check_streams(
        &world,
        &known,
        &mut streams,
        &sentinels,
        Some(start),
        "live",
    )
    .await;

    apply_fates(&mut world).await;
    let sentinels = post_sentinels(&mut world).await;
    let known = world.relations().await;
    check_streams(
        &world,
        &known,
        &mut streams,
        &sentinels,
        Some(seen),
        "after the fates",
    )
    .await;
    drop(streams);
    assert!(!world.account_live(SUSPENDED));
    check_statuses(&world, &known).await;
    check_lists(&world, &known).await;
    check_accounts(&world, &known).await;
    check_notifications(&world, &known).await;
    world.server.stop().await;
}
