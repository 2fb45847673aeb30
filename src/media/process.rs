//! Decoding an upload and re-encoding it: what is stored is never the bytes
//! that were sent, so metadata (EXIF, GPS, comments) and anything appended to
//! the picture (a polyglot's second file) are dropped. CPU-bound: run it on a
//! blocking thread (see [`super::Media::process`]).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Widest or tallest picture accepted.
pub const MAX_SIDE: u32 = 8192;
/// Most pixels accepted (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most memory one decode may allocate: 40 MP of 8-bit RGBA, with room for
/// the decoders' own buffers.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// The thumbnail's longest side.
pub const PREVIEW_SIDE: u32 = 400;
/// JPEG quality of re-encoded photographs.
const JPEG_QUALITY: u8 = 85;

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("file must be a PNG, JPEG, GIF or WebP picture (content type {0:?} is not one)")]
    UnsupportedType(String),
    #[error("file is not a {declared} picture: its content does not match its content type")]
    Mismatch { declared: &'static str },
    #[error(
        "picture is {width}x{height}: at most {MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all"
    )]
    TooLarge { width: u32, height: u32 },
    #[error("picture could not be decoded: {0}")]
    Undecodable(String),
}

/// A picture ready to store: both files re-encoded, with their facts.
#[derive(Debug)]
pub struct Processed {
    /// `image/png` or `image/jpeg`.
    pub content_type: &'static str,
    /// The file name extension of both files.
    pub extension: &'static str,
    pub full: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub small: Vec<u8>,
    pub small_width: u32,
    pub small_height: u32,
    pub blurhash: String,
}

/// The format a declared content type names.
fn declared_format(content_type: &str) -> Result<ImageFormat, Refusal> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence.to_ascii_lowercase().as_str() {
        "image/png" => Ok(ImageFormat::Png),
        "image/jpeg" | "image/jpg" => Ok(ImageFormat::Jpeg),
        "image/gif" => Ok(ImageFormat::Gif),
        "image/webp" => Ok(ImageFormat::WebP),
        _ => Err(Refusal::UnsupportedType(
            essence.chars().take(100).collect(),
        )),
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes `bytes`, which claim to be `content_type`, and re-encodes them:
/// JPEG stays JPEG, the others become PNG (a GIF keeps its first frame).
/// The dimensions are read from the header and refused before any pixel
/// is decoded, so a decompression bomb costs no more than its header.
pub fn process(bytes: &[u8], content_type: &str) -> Result<Processed, Refusal> {
    let declared = declared_format(content_type)?;
    let name = declared.to_mime_type();
    if image::guess_format(bytes).ok() != Some(declared) {
        return Err(Refusal::Mismatch { declared: name });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared);
    reader.limits(limits());
    let undecodable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Refusal::Undecodable("it needs too much memory".into()),
        other => Refusal::Undecodable(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refusal::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(Refusal::Undecodable("it has no pixels".into()));
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    picture.apply_orientation(orientation);
    let small = if width.max(height) > PREVIEW_SIDE {
        picture.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE)
    } else {
        picture.clone()
    };
    let blurhash = blurhash_of(&small)?;
    let (format, content_type, extension) = if declared == ImageFormat::Jpeg {
        (ImageFormat::Jpeg, "image/jpeg", "jpg")
    } else {
        (ImageFormat::Png, "image/png", "png")
    };
    Ok(Processed {
        content_type,
        extension,
        full: encode(&picture, format)?,
        width: picture.width(),
        height: picture.height(),
        small_width: small.width(),
        small_height: small.height(),
        small: encode(&small, format)?,
        blurhash,
    })
}

fn encode(picture: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let done = match format {
        ImageFormat::Jpeg => picture
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)),
        _ => {
            let png = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            match picture {
                // PNG takes 8 and 16 bits of luma, luma+alpha, RGB and RGBA;
                // anything else (floats) is narrowed to 8-bit RGBA.
                DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
                    picture.to_rgba8().write_with_encoder(png)
                }
                _ => picture.write_with_encoder(png),
            }
        }
    };
    done.map_err(|e| Refusal::Undecodable(format!("it could not be re-encoded: {e}")))?;
    Ok(out)
}

/// A 4x3-component blurhash of the thumbnail.
fn blurhash_of(small: &DynamicImage) -> Result<String, Refusal> {
    let rgba = small.to_rgba8();
    blurhash::encode(4, 3, rgba.width(), rgba.height(), rgba.as_raw())
        .map_err(|e| Refusal::Undecodable(format!("no blurhash: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }));
        let mut out = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_png_is_re_encoded_with_a_thumbnail_and_a_blurhash() {
        let done = process(&png(800, 600), "image/png").unwrap();
        assert_eq!((done.width, done.height), (800, 600));
        assert_eq!((done.small_width, done.small_height), (400, 300));
        assert_eq!(done.content_type, "image/png");
        assert_eq!(done.blurhash.len(), 2 + 4 + 2 * 4 * 3 - 2);
        assert_eq!(image::guess_format(&done.small).unwrap(), ImageFormat::Png);
    }

    #[test]
    fn a_declared_type_that_the_bytes_contradict_is_refused() {
        assert_eq!(
            process(&png(10, 10), "image/jpeg").unwrap_err(),
            Refusal::Mismatch {
                declared: "image/jpeg"
            }
        );
        assert!(matches!(
            process(&png(10, 10), "text/html").unwrap_err(),
            Refusal::UnsupportedType(t) if t == "text/html"
        ));
    }
}
