//! The S3 media store against a real S3-compatible server (moto in server
//! mode, started by `scripts/media-s3.sh`, which runs these ignored tests
//! with `PAMPS_TEST_S3_ENDPOINT`, `PAMPS_TEST_S3_BUCKET` and `AWS_*` keys).

use image::ImageFormat;
use object_store::ObjectStoreExt;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;
use crate::media::{picture, upload};

fn s3_settings() -> (String, String) {
    let endpoint = std::env::var("PAMPS_TEST_S3_ENDPOINT")
        .expect("PAMPS_TEST_S3_ENDPOINT: run scripts/media-s3.sh");
    let bucket = std::env::var("PAMPS_TEST_S3_BUCKET").expect("PAMPS_TEST_S3_BUCKET");
    (endpoint, bucket)
}

/// The bucket's object keys, listed through S3's own API.
async fn bucket_keys(endpoint: &str, bucket: &str) -> Vec<String> {
    let xml = reqwest::get(format!("{endpoint}/{bucket}?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut keys: Vec<String> = xml
        .split("<Key>")
        .skip(1)
        .map(|k| k.split("</Key>").next().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[sqlx::test]
#[ignore = "needs an S3 server: scripts/media-s3.sh"]
async fn pictures_are_stored_served_and_removed_through_s3(pool: PgPool) {
    let (endpoint, bucket) = s3_settings();
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_MEDIA__STORE", "s3"),
            ("PAMPS_MEDIA__S3_ENDPOINT", &endpoint),
            ("PAMPS_MEDIA__S3_BUCKET", &bucket),
        ],
    )
    .await;
    let before = bucket_keys(&endpoint, &bucket).await;
    let (_, token) = app.user("alice").await;
    let original = picture(120, 80, ImageFormat::Jpeg);
    let res = upload(&app, &token, &original, "image/jpeg", "through S3").await;
    res.assert_status(201);
    let media = res.json();
    let key = crate::media::key_of(&media["url"]);
    let now = bucket_keys(&endpoint, &bucket).await;
    assert_eq!(now.len(), before.len() + 2);
    assert!(now.contains(&key));
    let served = app.get(media["url"].as_str().unwrap(), None).await;
    served.assert_status(200);
    assert_eq!(served.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        served.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_ne!(served.body, original);
    // Objects are private (an unsigned GET is a 403): read it signed, through
    // a store of its own.
    let settings = crate::helpers::test_settings(&[
        ("PAMPS_MEDIA__STORE", "s3"),
        ("PAMPS_MEDIA__S3_ENDPOINT", &endpoint),
        ("PAMPS_MEDIA__S3_BUCKET", &bucket),
    ]);
    let store = pamps::media::store::build(&settings.media).unwrap();
    let in_bucket = store
        .get(&pamps::media::store::path(&key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.body, in_bucket.to_vec());
    let anonymous = reqwest::get(format!("{endpoint}/{bucket}/{key}"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403, "the bucket is not public");
    let post = app
        .post(
            "/post/",
            &json!({"text": "s3", "media_ids": [media["id"]]}),
            Some(&token),
        )
        .await
        .json();
    app.delete_post(&token, post["id"].as_i64().unwrap()).await;
    assert_eq!(bucket_keys(&endpoint, &bucket).await, before);
    app.get(media["url"].as_str().unwrap(), None)
        .await
        .assert_status(404);
}
