//! Input that looks like content but is not: text made of invisible
//! characters, and avatars that would make every viewer's browser fetch an
//! address inside their own network.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, editable_columns, post_texts};

const INVISIBLE: [&str; 6] = [
    "\u{200b}",
    " \u{200b} \u{200c}\u{200d} ",
    "\u{feff}\u{2060}\u{2061}",
    "\u{202e}\u{202d}\u{2066}\u{2069}",
    "\u{ad}\u{3164}\u{115f}\u{1160}",
    "\u{e0041}\u{e007f}\u{fe0f}",
];

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn posts_of_invisible_characters_only_are_blank(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let post = app.create_post(&alice, "visible", None).await;

    for text in INVISIBLE {
        for res in [
            app.post("/post/", &json!({"text": text}), Some(&alice))
                .await,
            app.patch(
                &format!("/post/{post}/"),
                &json!({"text": text}),
                Some(&alice),
            )
            .await,
        ] {
            res.assert_status(422);
            assert_eq!(
                res.json(),
                json!({"detail": [{"loc": ["body", "text"], "type": "value_error",
                    "msg": "text must contain visible characters"}]}),
                "{text:?}"
            );
        }
    }
    assert_eq!(post_texts(&app).await, ["visible"]);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn text_with_invisible_or_bidi_characters_around_letters_is_kept_as_written(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    // Bidi controls are neutralised where text is shown (the web client), not
    // refused: right-to-left writers use them.
    for text in ["\u{202e}olleh", "a\u{200b}b", "👍\u{fe0f}"] {
        app.post("/post/", &json!({"text": text}), Some(&alice))
            .await
            .assert_status(201);
    }
    let mut texts = post_texts(&app).await;
    texts.sort();
    let mut expected = ["\u{202e}olleh", "a\u{200b}b", "👍\u{fe0f}"];
    expected.sort();
    assert_eq!(texts, expected);
}

/// Avatars on the viewer's own machine or network, in every spelling.
const INTERNAL_AVATARS: [&str; 16] = [
    "http://127.0.0.1:8000/a.png",
    "http://192.168.1.1/a.png",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://[::1]/a.png",
    "http://[fe80::1]/",
    "http://[::ffff:7f00:1]/",
    "http://localhost:8000/a.png",
    "https://tracker.localhost/p.gif",
    "http://printer.local/",
    "http://intranet/",
];

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn avatars_on_private_loopback_or_link_local_hosts_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, alice) = app.user("alice").await;
    let (id, _) = app.user("bob").await;

    for avatar in INTERNAL_AVATARS {
        let res = app
            .post(
                "/user/",
                &json!({"email": "carol@example.com", "username": "carol",
                    "password": crate::helpers::PASSWORD, "avatar": avatar}),
                None,
            )
            .await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "avatar"]], "{avatar}");
        let res = app
            .patch("/user/me/", &json!({"avatar": avatar}), Some(&alice))
            .await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), [["body", "avatar"]], "{avatar}");
    }
    assert_eq!(app.count("users").await, 2, "carol was never created");
    app.patch(
        "/user/me/",
        &json!({"avatar": "https://cdn.example.com/a.png"}),
        Some(&alice),
    )
    .await
    .assert_status(200);
    let row: Option<String> =
        sqlx::query_scalar("SELECT avatar FROM users WHERE username = 'alice'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(row.as_deref(), Some("https://cdn.example.com/a.png"));
    assert_eq!(editable_columns(&app, id).await.1, None, "bob untouched");
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn the_web_client_loads_images_over_https_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let res = app.get("/", None).await;
    res.assert_status(200);
    let csp = res.header("content-security-policy").unwrap();
    let img = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src"))
        .unwrap();
    assert_eq!(img, "img-src 'self' data: https:", "{csp}");
}
