//! The Mastodon API's accounts: the entity's shape, credentials (display
//! name, note, pictures), lookup, statuses with their filters, follows,
//! relationships, blocks and mutes with their lists, search; error paths.

use actix_web::test::TestRequest;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

async fn patch_form(
    app: &TestApp,
    body: &str,
    content_type: &str,
    token: &str,
) -> crate::helpers::TestResponse {
    app.send(
        TestRequest::patch()
            .uri("/api/v1/accounts/update_credentials")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", content_type.to_owned()))
            .set_payload(body.to_owned()),
    )
    .await
}

/// A 2x2 PNG.
fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(2, 2, image::Rgb([200, 10, 10]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "pampsboundary";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(file) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn verify_credentials_has_the_source_and_every_account_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    app.create_post(&ana_t, "one", None).await;
    let res = app
        .get("/api/v1/accounts/verify_credentials", Some(&ana_t))
        .await;
    res.assert_status(200);
    let me = res.json();
    assert_eq!(me["id"], json!(ana.to_string()));
    assert_eq!(
        (
            me["username"].clone(),
            me["acct"].clone(),
            me["display_name"].clone()
        ),
        (json!("ana"), json!("ana"), json!("ana"))
    );
    assert_eq!(me["statuses_count"], 1);
    assert_eq!(me["locked"], false);
    assert_eq!(
        (me["fields"].clone(), me["emojis"].clone()),
        (json!([]), json!([]))
    );
    assert!(me["avatar"].as_str().unwrap().starts_with("http"));
    assert!(me["last_status_at"].as_str().unwrap().len() == 10, "{me}");
    assert_eq!(me["source"]["privacy"], "public");
    app.get("/api/v1/accounts/verify_credentials", None)
        .await
        .assert_status(401);
    app.get("/api/v1/accounts/verify_credentials", Some("nonsense"))
        .await
        .assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn update_credentials_sets_the_name_note_and_pictures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("ana").await;
    let res = patch_form(
        &app,
        "display_name=Ana+B&note=I+like+%3Ctags%3E",
        "application/x-www-form-urlencoded",
        &ana_t,
    )
    .await;
    res.assert_status(200);
    let me = res.json();
    assert_eq!(me["display_name"], "Ana B");
    assert_eq!(me["note"], "<p>I like &lt;tags&gt;</p>");
    assert_eq!(me["source"]["note"], "I like <tags>");
    let png = png();
    let (ct, body) = multipart(&[
        ("display_name", None, b"Ana"),
        ("avatar", Some("a.png"), &png),
        ("header", Some("h.png"), &png),
    ]);
    let res = app
        .send(
            TestRequest::patch()
                .uri("/api/v1/accounts/update_credentials")
                .insert_header(("Authorization", format!("Bearer {ana_t}")))
                .insert_header(("Content-Type", ct))
                .set_payload(body),
        )
        .await;
    res.assert_status(200);
    let me = res.json();
    assert_eq!(me["display_name"], "Ana");
    assert!(
        me["avatar"].as_str().unwrap().contains("/media/files/"),
        "{me}"
    );
    assert!(
        me["header"].as_str().unwrap().contains("/media/files/"),
        "{me}"
    );
    let profile = app.get("/user/ana/", None).await.json();
    assert_eq!(
        profile["avatar"], me["avatar"],
        "the pamps profile shows the same picture"
    );

    let long = format!("display_name={}", "x".repeat(31));
    patch_form(&app, &long, "application/x-www-form-urlencoded", &ana_t)
        .await
        .assert_status(422);
    patch_form(
        &app,
        "locked=true",
        "application/x-www-form-urlencoded",
        &ana_t,
    )
    .await
    .assert_status(422);
    patch_form(
        &app,
        "display_name=x",
        "application/x-www-form-urlencoded",
        "bad",
    )
    .await
    .assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn lookup_account_and_statuses_with_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let root = app.create_post(&ana_t, "root #a", None).await;
    let reply = app.create_post(&ana_t, "reply", Some(root)).await;
    let res = app.get("/api/v1/accounts/lookup?acct=ANA", None).await;
    res.assert_status(200);
    assert_eq!(res.json()["id"], json!(ana.to_string()));
    app.get("/api/v1/accounts/lookup?acct=nobody", None)
        .await
        .assert_status(404);
    app.get("/api/v1/accounts/lookup", None)
        .await
        .assert_status(422);
    app.get(&format!("/api/v1/accounts/{ana}"), None)
        .await
        .assert_status(200);
    app.get("/api/v1/accounts/99999", None)
        .await
        .assert_status(404);
    app.get("/api/v1/accounts/x", None).await.assert_status(404);

    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app
        .get(&format!("/api/v1/accounts/{ana}/statuses"), None)
        .await
        .json();
    assert_eq!(ids(all), vec![reply.to_string(), root.to_string()]);
    let top = app
        .get(
            &format!("/api/v1/accounts/{ana}/statuses?exclude_replies=true"),
            None,
        )
        .await
        .json();
    assert_eq!(ids(top), vec![root.to_string()]);
    let tagged = app
        .get(&format!("/api/v1/accounts/{ana}/statuses?tagged=a"), None)
        .await
        .json();
    assert_eq!(ids(tagged), vec![root.to_string()]);
    for filter in ["pinned=true", "only_media=true"] {
        let none = app
            .get(&format!("/api/v1/accounts/{ana}/statuses?{filter}"), None)
            .await
            .json();
        assert_eq!(none, json!([]), "{filter}");
    }
    let first = app
        .get(&format!("/api/v1/accounts/{ana}/statuses?limit=1"), None)
        .await;
    let link = first.header("link").unwrap().to_owned();
    assert!(
        link.contains(&format!("max_id={reply}")) && link.contains("rel=\"next\""),
        "{link}"
    );
    app.get(&format!("/api/v1/accounts/{ana}/statuses?limit=x"), None)
        .await
        .assert_status(422);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_block_and_mute_answer_with_the_relationship(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let rel = app
        .post_empty(&format!("/api/v1/accounts/{bob}/follow"), Some(&ana_t))
        .await;
    rel.assert_status(200);
    assert_eq!(
        (rel.json()["id"].clone(), rel.json()["following"].clone()),
        (json!(bob.to_string()), json!(true))
    );
    let followers = app
        .get(&format!("/api/v1/accounts/{bob}/followers"), None)
        .await
        .json();
    assert_eq!(followers[0]["id"], json!(ana.to_string()));
    let following = app
        .get(&format!("/api/v1/accounts/{ana}/following"), None)
        .await
        .json();
    assert_eq!(following[0]["id"], json!(bob.to_string()));
    let rels = app
        .get(
            &format!("/api/v1/accounts/relationships?id[]={ana}&id[]=99999"),
            Some(&bob_t),
        )
        .await;
    rels.assert_status(200);
    let rels = rels.json();
    assert_eq!(
        rels.as_array().unwrap().len(),
        1,
        "unknown accounts are left out: {rels}"
    );
    assert_eq!(
        (rels[0]["followed_by"].clone(), rels[0]["following"].clone()),
        (json!(true), json!(false))
    );

    let mute = app
        .post(
            &format!("/api/v1/accounts/{bob}/mute"),
            &json!({"duration": 3600}),
            Some(&ana_t),
        )
        .await;
    mute.assert_status(200);
    assert_eq!(mute.json()["muting"], true);
    assert!(mute.json()["muting_expires_at"].is_string());
    assert_eq!(
        app.get("/api/v1/mutes", Some(&ana_t)).await.json()[0]["id"],
        json!(bob.to_string())
    );
    let block = app
        .post_empty(&format!("/api/v1/accounts/{bob}/block"), Some(&ana_t))
        .await;
    assert_eq!(
        (
            block.json()["blocking"].clone(),
            block.json()["following"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(
        app.get("/api/v1/blocks", Some(&ana_t)).await.json()[0]["id"],
        json!(bob.to_string())
    );
    let refused = app
        .post_empty(&format!("/api/v1/accounts/{ana}/follow"), Some(&bob_t))
        .await;
    refused.assert_status(403);
    assert!(refused.json()["error"].is_string());
    for action in ["unblock", "unmute", "unfollow"] {
        app.post_empty(&format!("/api/v1/accounts/{bob}/{action}"), Some(&ana_t))
            .await
            .assert_status(200);
    }
    assert_eq!(
        app.count("blocks").await + app.count("mutes").await + app.count("follows").await,
        0
    );
    app.post_empty(&format!("/api/v1/accounts/{ana}/follow"), Some(&ana_t))
        .await
        .assert_status(422);
    app.post_empty("/api/v1/accounts/99999/follow", Some(&ana_t))
        .await
        .assert_status(404);
    app.post_empty(&format!("/api/v1/accounts/{bob}/follow"), None)
        .await
        .assert_status(401);
    app.get("/api/v1/blocks", None).await.assert_status(401);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn search_finds_accounts_statuses_and_hashtags(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, ana_t) = app.user("anabel").await;
    app.create_post(&ana_t, "walking in the rain #rainy", None)
        .await;
    let res = app.get("/api/v2/search?q=anab", None).await;
    res.assert_status(200);
    assert_eq!(res.json()["accounts"][0]["username"], "anabel");
    let res = app
        .get("/api/v2/search?q=rain&type=statuses", Some(&ana_t))
        .await
        .json();
    assert!(
        res["statuses"][0]["content"]
            .as_str()
            .unwrap()
            .contains("walking")
    );
    assert_eq!(res["accounts"], json!([]));
    let res = app
        .get("/api/v2/search?q=%23rai&type=hashtags", None)
        .await
        .json();
    assert_eq!(res["hashtags"][0]["name"], "rainy");
    let res = app.get("/api/v1/accounts/search?q=ana", None).await.json();
    assert_eq!(res[0]["username"], "anabel");
    for bad in [
        "",
        "?q=",
        "?q=a&type=people",
        "?q=a&offset=-1",
        "?q=a&limit=z",
    ] {
        app.get(&format!("/api/v2/search{bad}"), None)
            .await
            .assert_status(422);
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn an_app_signs_up_an_account_with_pamps_rules_and_gets_its_token(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let created = app
        .post(
            "/api/v1/apps",
            &json!({"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"}),
            None,
        )
        .await
        .json();
    let grant = json!({"grant_type": "client_credentials", "client_id": created["client_id"],
                       "client_secret": created["client_secret"], "scope": "read write"});
    let app_token = app.post("/oauth/token", &grant, None).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = json!({"username": "newbie", "email": "newbie@example.com", "password": "long enough pw", "agreement": true});
    let res = app.post("/api/v1/accounts", &form, Some(&app_token)).await;
    res.assert_status(200);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(res.json()["token_type"], "Bearer");
    let me = app
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    me.assert_status(200);
    assert_eq!(me.json()["username"], "newbie");

    let again = app.post("/api/v1/accounts", &form, Some(&app_token)).await;
    again.assert_status(422);
    assert!(
        again.json()["error"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );
    for bad in [
        json!({"username": "x", "email": "x@example.com", "password": "long enough pw", "agreement": true}),
        json!({"username": "okname", "email": "nope", "password": "long enough pw", "agreement": true}),
        json!({"username": "okname", "email": "ok@example.com", "password": "short", "agreement": true}),
        json!({"username": "okname", "email": "ok@example.com", "password": "long enough pw"}),
    ] {
        app.post("/api/v1/accounts", &bad, Some(&app_token))
            .await
            .assert_status(422);
    }
    let (_, user_t) = app.user("ana").await;
    app.post("/api/v1/accounts", &form, Some(&user_t))
        .await
        .assert_status(403);
    app.post("/api/v1/accounts", &form, None)
        .await
        .assert_status(401);
    assert_eq!(app.count("users").await, 2);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn only_media_and_tagged_pages_are_full_though_most_statuses_do_not_match(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    // Oldest first: three statuses with a picture and the hashtag, then ten
    // without either, so the newest page of all statuses holds none of them.
    let mut matching = Vec::new();
    for i in 0..3 {
        let id = app
            .create_post(&ana_t, &format!("picture {i} #Trip"), None)
            .await;
        sqlx::query(
            "INSERT INTO media (user_id, post_id, position, file_key, preview_key, content_type,
                                width, height, small_width, small_height, blurhash)
             VALUES ($1, $2, 0, md5($2::text) || '.png', md5($2::text) || '_small.png', 'image/png',
                     10, 10, 10, 10, 'LEHV6nWB2yk8pyo0adR*.7kCMdnj')",
        )
        .bind(ana)
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
        matching.push(id.to_string());
    }
    for i in 0..10 {
        app.create_post(&ana_t, &format!("plain {i}"), None).await;
    }
    matching.reverse();
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for filter in [
        "only_media=true",
        "tagged=trip",
        "tagged=%23TRIP",
        "only_media=1&tagged=trip",
    ] {
        let page = app
            .get(
                &format!("/api/v1/accounts/{ana}/statuses?{filter}&limit=2"),
                None,
            )
            .await;
        page.assert_status(200);
        let link = page.header("link").unwrap().to_owned();
        assert_eq!(ids(page.json()), matching[..2], "{filter}: a full page");
        let next = app
            .get(
                &format!(
                    "/api/v1/accounts/{ana}/statuses?{filter}&limit=2&max_id={}",
                    matching[1]
                ),
                None,
            )
            .await
            .json();
        assert_eq!(ids(next), matching[2..], "{filter}: the rest");
        assert!(link.contains(&format!("max_id={}", matching[1])), "{link}");
    }
    let none = app
        .get(
            &format!("/api/v1/accounts/{ana}/statuses?tagged=elsewhere"),
            None,
        )
        .await
        .json();
    assert_eq!(none, json!([]));
    let nul = app
        .get(
            &format!("/api/v1/accounts/{ana}/statuses?tagged=a%00b"),
            None,
        )
        .await;
    nul.assert_status(422);
    assert!(nul.json()["error"].is_string());
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn follow_lists_hide_the_accounts_across_a_block_from_the_viewer(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ana, ana_t) = app.user("ana").await;
    let (bob, bob_t) = app.user("bob").await;
    let (cat, cat_t) = app.user("cat").await;
    let (vic, viewer_t) = app.user("vic").await;
    // bob and cat follow ana; ana follows bob and cat.
    for token in [&bob_t, &cat_t] {
        app.follow(token, ana).await;
    }
    app.follow(&ana_t, bob).await;
    app.follow(&ana_t, cat).await;
    let names = |v: Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_owned())
            .collect();
        out.sort();
        out
    };
    // vic blocks bob; cat blocks vic.
    app.post_empty(&format!("/api/v1/accounts/{bob}/block"), Some(&viewer_t))
        .await
        .assert_status(200);
    app.post_empty(&format!("/api/v1/accounts/{vic}/block"), Some(&cat_t))
        .await
        .assert_status(200);
    for side in ["followers", "following"] {
        let uri = format!("/api/v1/accounts/{ana}/{side}");
        assert_eq!(
            names(app.get(&uri, Some(&viewer_t)).await.json()),
            Vec::<String>::new(),
            "{side}: vic sees neither the account it blocked nor the one blocking it"
        );
        assert_eq!(
            names(app.get(&uri, None).await.json()),
            ["bob", "cat"],
            "{side}: logged out, both"
        );
        assert_eq!(
            names(app.get(&uri, Some(&ana_t)).await.json()),
            ["bob", "cat"],
            "{side}: ana, who blocks nobody, both"
        );
    }
}
