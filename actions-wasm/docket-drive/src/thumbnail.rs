//! Thumbnails: decoding a PNG or JPEG, scaling it, encoding a PNG.

use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::imageops::FilterType as Resample;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::fit;

/// The most memory a decoded image may take (an RGBA image of 4096×4096).
const MAX_DECODED_BYTES: u64 = 64 << 20;

/// The image format of a file with MIME type `mime`, when the drive makes
/// thumbnails of it.
pub fn format_for(mime: &str) -> Option<ImageFormat> {
    match mime {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        _ => None,
    }
}

/// A PNG of `bytes` (an image in `format`) scaled to fit a `size`×`size` box,
/// `size` clamped to [`fit::MIN_EDGE`]..=[`fit::MAX_EDGE`]. Answers why not
/// when the bytes are not a readable image or too large to decode.
pub fn render(bytes: &[u8], format: ImageFormat, size: u32) -> Result<Vec<u8>, String> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| e.to_string())?;

    let (width, height) = fit::fit(image.width(), image.height(), fit::edge(size));
    let scaled = if width <= image.width() && height <= image.height() {
        // Area averaging: fast, and the right filter for shrinking.
        image.thumbnail_exact(width, height)
    } else {
        image.resize_exact(width, height, Resample::Triangle)
    };
    encode(&scaled)
}

/// `image` as a PNG, 8 bits per channel, alpha kept only when it has some.
fn encode(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let image = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    let mut png = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::Adaptive);
    image
        .write_with_encoder(encoder)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    fn decode(png: &[u8]) -> DynamicImage {
        image::load_from_memory_with_format(png, ImageFormat::Png).unwrap()
    }

    fn png_of(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn shrinks_a_png_keeping_aspect_and_alpha() {
        let source = RgbaImage::from_fn(400, 100, |x, _| Rgba([(x % 256) as u8, 0, 0, 128]));
        let png = png_of(&DynamicImage::ImageRgba8(source));
        let thumb = decode(&render(&png, ImageFormat::Png, 200).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (200, 50));
        assert!(thumb.color().has_alpha());
    }

    #[test]
    fn shrinks_a_jpeg() {
        let source = RgbImage::from_fn(300, 600, |x, y| Rgb([x as u8, y as u8, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .write_image(source.as_raw(), 300, 600, image::ExtendedColorType::Rgb8)
            .unwrap();
        let thumb = decode(&render(&jpeg, ImageFormat::Jpeg, 100).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (50, 100));
        assert!(!thumb.color().has_alpha());
    }

    #[test]
    fn enlarges_small_images_and_clamps_the_size() {
        let png = png_of(&DynamicImage::ImageRgb8(RgbImage::new(4, 2)));
        let thumb = decode(&render(&png, ImageFormat::Png, 1).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (16, 8));
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        assert!(render(b"not a png", ImageFormat::Png, 200).is_err());
        let png = png_of(&DynamicImage::ImageRgb8(RgbImage::new(8, 8)));
        assert!(render(&png, ImageFormat::Jpeg, 200).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_for("image/png"), Some(ImageFormat::Png));
        assert_eq!(format_for("image/jpeg"), Some(ImageFormat::Jpeg));
        assert_eq!(format_for("image/gif"), None);
    }
}
