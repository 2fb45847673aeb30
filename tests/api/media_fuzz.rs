//! Hostile and malformed pictures: truncated files, wrong magic, huge
//! declared dimensions, decompression bombs, polyglots and random byte
//! damage. Every one gets a 201 or a 422 (never a 500, never a hang), and
//! nothing stored is ever the uploaded bytes.

use std::path::Path;

use image::ImageFormat;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

use crate::helpers::TestApp;
use crate::media::{app_in, picture, stored, upload};

/// CRC-32 (IEEE), for crafting PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A PNG claiming `width` x `height` (8-bit grayscale) whose pixel data is
/// `rows` zero rows deflated: a tiny file that inflates to `width * rows`.
fn png_bomb(width: u32, height: u32, rows: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let raw = vec![0u8; ((width + 1) * rows) as usize];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &raw).unwrap();
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &idat));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// Uploads and checks the invariants; the status.
async fn try_upload(app: &TestApp, token: &str, dir: &Path, bytes: &[u8], ct: &str) -> u16 {
    let before = stored(dir);
    let res = upload(app, token, bytes, ct, "").await;
    let status = res.status.as_u16();
    assert!(
        matches!(status, 201 | 422),
        "{ct}, {} bytes: {status} {:?}",
        bytes.len(),
        String::from_utf8_lossy(&res.body)
    );
    if status == 422 {
        assert_eq!(res.error_locs(), vec![vec!["body", "file"]]);
        assert_eq!(stored(dir), before, "a refused upload stores nothing");
    }
    for name in stored(dir) {
        let kept = std::fs::read(dir.join(&name)).unwrap();
        assert_ne!(kept, bytes, "{name} is the uploaded bytes");
    }
    status
}

#[sqlx::test]
async fn truncated_pictures_never_crash(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    for (format, ct) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::WebP, "image/webp"),
    ] {
        let whole = picture(64, 64, format);
        let mut refused = 0;
        for cut in [
            0,
            1,
            4,
            8,
            12,
            16,
            30,
            whole.len() / 4,
            whole.len() / 2,
            whole.len() - 1,
        ] {
            if try_upload(&app, &token, dir.path(), &whole[..cut], ct).await == 422 {
                refused += 1;
            }
        }
        assert!(refused >= 5, "{ct}: only {refused} truncations refused");
    }
}

#[sqlx::test]
async fn wrong_magic_is_refused_for_every_declared_type(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let png = picture(8, 8, ImageFormat::Png);
    let gif = picture(8, 8, ImageFormat::Gif);
    for (bytes, ct) in [
        (&png, "image/jpeg"),
        (&png, "image/gif"),
        (&png, "image/webp"),
        (&gif, "image/png"),
        (&b"%PDF-1.7 not a picture".to_vec(), "image/png"),
        (
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "image/svg+xml",
        ),
    ] {
        assert_eq!(
            try_upload(&app, &token, dir.path(), bytes, ct).await,
            422,
            "{ct}"
        );
    }
    assert!(stored(dir.path()).is_empty());
}

#[sqlx::test]
async fn huge_declared_dimensions_and_bombs_are_refused_from_the_header(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    // Past the side limit, past the pixel limit, and 4 billion pixels, each
    // a few kilobytes that would inflate to gigabytes.
    for (w, h) in [(100_000, 10), (7000, 7000), (65_535, 65_535)] {
        let bomb = png_bomb(w, h, 64);
        assert!(bomb.len() < 64 * 1024);
        let res = upload(&app, &token, &bomb, "image/png", "").await;
        res.assert_status(422);
        let msg = res.json()["detail"][0]["msg"].as_str().unwrap().to_owned();
        assert!(
            msg.contains(&format!("{w}x{h}")) || msg.contains("memory"),
            "{msg}"
        );
    }
    assert!(stored(dir.path()).is_empty());
}

#[sqlx::test]
async fn a_gif_html_polyglot_is_stored_as_a_clean_png(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let mut polyglot = picture(16, 16, ImageFormat::Gif);
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    assert_eq!(
        try_upload(&app, &token, dir.path(), &polyglot, "image/gif").await,
        201
    );
    for name in stored(dir.path()) {
        let bytes = std::fs::read(dir.path().join(&name)).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"<script"), "{name}");
        assert!(bytes.starts_with(b"\x89PNG"), "{name}");
    }
    let html = b"<html><script>alert(1)</script>".to_vec();
    assert_eq!(
        try_upload(&app, &token, dir.path(), &html, "image/gif").await,
        422
    );
}

#[sqlx::test]
async fn randomly_damaged_pictures_never_crash(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let mut rng = SmallRng::seed_from_u64(17);
    for (format, ct) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::WebP, "image/webp"),
    ] {
        let whole = picture(48, 32, format);
        for _ in 0..25 {
            let mut damaged = whole.clone();
            for _ in 0..rng.random_range(1..12) {
                // Past the magic, so the declared type still matches.
                let at = rng.random_range(12..damaged.len());
                damaged[at] = rng.random();
            }
            try_upload(&app, &token, dir.path(), &damaged, ct).await;
        }
    }
}
