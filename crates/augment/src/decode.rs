//! Image files to [`Image`]: decoding, conversion to RGB and resizing as Keras' `load_img`
//! does it through Pillow.

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::integrity::{container_problem, is_truncated_jpeg};
use crate::text_enum::text_enum;

/// Resampling filter: of the resize to `target_size` (Keras `interpolation`), and of
/// `apply_transform`'s warp (Keras' `interpolation_order`, see [`Interpolation::from_order`];
/// the warp samples the source at one point, so there the two are scipy's nearest and
/// bilinear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Pillow `NEAREST` (Keras' default): `src = trunc((dst + 0.5) * in / out)`, computed
    /// incrementally as Pillow does.
    #[default]
    Nearest,
    /// Pillow `BILINEAR`: triangle filter widened by the downscale factor (antialiased),
    /// 8-bit fixed point, two passes in Pillow's order.
    Bilinear,
}

text_enum!(Interpolation, "interpolation", "must be nearest or bilinear",
    "nearest" => Interpolation::Nearest, "bilinear" => Interpolation::Bilinear);

impl Interpolation {
    /// From a spline order as Keras' `apply_transform` passes it to scipy
    /// (`interpolation_order`): 0 nearest, 1 bilinear; higher orders are not supported.
    pub fn from_order(order: u8) -> crate::error::Result<Self> {
        match order {
            0 => Ok(Interpolation::Nearest),
            1 => Ok(Interpolation::Bilinear),
            _ => Err(crate::error::AugmentError::InvalidParameter {
                parameter: "interpolation_order",
                value: order.to_string(),
                reason: "only 0 (nearest) and 1 (bilinear) are supported",
            }),
        }
    }
}

/// Whether truncated JPEG files are decoded (their missing rows grey) instead of refused:
/// Pillow's `ImageFile.LOAD_TRUNCATED_IMAGES`. Default: false.
static LOAD_TRUNCATED_IMAGES: AtomicBool = AtomicBool::new(false);

/// Pillow's `Image.MAX_IMAGE_PIXELS` (89,478,485); images of more than twice as many pixels
/// are refused as decompression bombs, as Pillow refuses them. 0: no limit.
static MAX_IMAGE_PIXELS: AtomicU64 = AtomicU64::new(89_478_485);

/// Accepts (`true`) or refuses (`false`, the default) truncated JPEG files, as Pillow's
/// `ImageFile.LOAD_TRUNCATED_IMAGES = True` does: a file cut short decodes with its missing
/// rows grey instead of being an error.
pub fn set_load_truncated_images(accept: bool) {
    LOAD_TRUNCATED_IMAGES.store(accept, Ordering::Relaxed);
}

/// Sets Pillow's `Image.MAX_IMAGE_PIXELS`: images of more than twice `limit` pixels are
/// errors (decompression bombs) before any pixel is allocated; `None` lifts the limit.
pub fn set_max_image_pixels(limit: Option<u64>) {
    MAX_IMAGE_PIXELS.store(limit.unwrap_or(0), Ordering::Relaxed);
}

/// The largest image, in pixels, that is decoded: twice [`set_max_image_pixels`]'s limit, as
/// Pillow refuses images of more than twice `MAX_IMAGE_PIXELS`; `None` when lifted. Sizes
/// read from flags and files (a `--size`, a checkpoint's input size) are held to it too.
pub fn max_image_pixels() -> Option<u64> {
    match MAX_IMAGE_PIXELS.load(Ordering::Relaxed) {
        0 => None,
        limit => Some(2 * limit),
    }
}

/// Opens and decodes an image file, its format guessed from its bytes; unreadable files,
/// files that are not regular files, corrupt or truncated ones (see
/// [`set_load_truncated_images`]), images of more than twice [`set_max_image_pixels`]'s
/// pixels and images without pixels are errors naming the file.
pub(crate) fn open_image(path: &Path) -> Result<image::DynamicImage> {
    let (bytes, _) = read_checked(path)?;
    let mut reader = image_reader(path, &bytes)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = None; // the pixel limit checked bounds the allocation
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| corrupt(path, e.to_string()))?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(corrupt(path, "image has no pixels".into()));
    }
    Ok(decoded)
}

/// Checks an image file as far as can be done without decoding its pixels (cheap: what a
/// folder scan runs on every file): a regular file, a known format with a readable header,
/// not over the pixel limit ([`set_max_image_pixels`]), not a truncated JPEG (unless
/// [`set_load_truncated_images`]), a PNG whole up to its `IEND` with every chunk's CRC
/// right, a BMP holding the pixel rows its header declares. Returns its `[width, height]`.
pub fn check_image(path: &Path) -> Result<[u32; 2]> {
    Ok(read_checked(path)?.1)
}

fn corrupt(path: &Path, reason: String) -> AugmentError {
    AugmentError::CorruptImage { path: path.to_path_buf(), reason }
}

/// The bytes and `[width, height]` of an image file that passed [`check_image`]'s checks.
fn read_checked(path: &Path) -> Result<(Vec<u8>, [u32; 2])> {
    let io = |source| AugmentError::Io { path: path.to_path_buf(), source };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(corrupt(path, "not a regular file (a folder, FIFO or device)".into()));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let (width, height) = image_reader(path, &bytes)?.into_dimensions().map_err(|e| corrupt(path, e.to_string()))?;
    let limit = MAX_IMAGE_PIXELS.load(Ordering::Relaxed);
    let pixels = u64::from(width) * u64::from(height);
    if limit > 0 && pixels > 2 * limit {
        return Err(corrupt(
            path,
            format!(
                "{width}x{height} = {pixels} pixels exceeds the limit of {} (twice Pillow's MAX_IMAGE_PIXELS): \
                 could be a decompression bomb; raise it with augment::set_max_image_pixels",
                2 * limit
            ),
        ));
    }
    if is_truncated_jpeg(&bytes) && !LOAD_TRUNCATED_IMAGES.load(Ordering::Relaxed) {
        return Err(corrupt(
            path,
            "image file is truncated (no end-of-image marker after the last scan); accept such files \
             with augment::set_load_truncated_images(true), as Pillow's LOAD_TRUNCATED_IMAGES"
                .into(),
        ));
    }
    if let Some(problem) = container_problem(&bytes) {
        return Err(corrupt(path, problem));
    }
    Ok((bytes, [width, height]))
}

/// A decoder of `bytes`, its format guessed from them.
fn image_reader<'a>(path: &Path, bytes: &'a [u8]) -> Result<image::ImageReader<Cursor<&'a [u8]>>> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| AugmentError::Io { path: path.to_path_buf(), source })
}

/// Decodes an image file (JPEG, PNG, BMP, GIF; grayscale, RGBA and 16-bit converted to
/// 8-bit RGB as Pillow's `convert('RGB')`) into an `Image` of values 0..255.
pub fn decode_image(path: &Path) -> Result<Image> {
    let (image, _permit) = decode_rgb8(path)?;
    Ok(image.to_f32())
}

/// Decodes an image file to its 8-bit RGB samples, as [`decode_image`] does, with the
/// [`LargeDecode`] permit of a large image (hold it until the full-size samples are gone).
pub(crate) fn decode_rgb8(path: &Path) -> Result<(Image<u8>, Option<LargeDecode>)> {
    let (decoded, permit) = open_image_bounded(path)?;
    let rgb = to_rgb_as_pillow(decoded);
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    Ok((Image { height, width, channels: 3, data: rgb.into_raw() }, permit))
}

/// Images of more pixels than this decode one at a time across the process (a 169-megapixel
/// PNG needs ~0.5 GB per 8-bit copy; one per decoding thread would take gigabytes).
const LARGE_IMAGE_PIXELS: u64 = 16 << 20;

/// The process's one permit for a large decode: held from the decode of an image over
/// [`LARGE_IMAGE_PIXELS`] until its full-size samples are dropped.
pub(crate) struct LargeDecode {
    _held: std::sync::MutexGuard<'static, ()>,
}

static LARGE_DECODES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`open_image`], waiting first for the large-decode permit when the header declares a
/// large image.
pub(crate) fn open_image_bounded(path: &Path) -> Result<(image::DynamicImage, Option<LargeDecode>)> {
    let [width, height] = check_image(path)?;
    let permit = (u64::from(width) * u64::from(height) > LARGE_IMAGE_PIXELS)
        .then(|| LargeDecode { _held: LARGE_DECODES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) });
    Ok((open_image(path)?, permit))
}

/// 8-bit RGB as Pillow's `Image.open(f).convert('RGB')` makes it. Pillow reads 16-bit
/// PNGs in two ways: grayscale as mode `I;16`, whose conversion clips values over 255 to
/// 255; colour (and grey with alpha) as 8-bit modes of each sample's high byte. 8-bit
/// modes (grey, grey + alpha, palette, RGBA with the alpha dropped, CMYK) convert as the
/// `image` crate does, which is Pillow's conversion for them.
fn to_rgb_as_pillow(image: image::DynamicImage) -> image::RgbImage {
    let grey = |width, height, values: Vec<u8>| {
        let rgb = values.into_iter().flat_map(|v| [v, v, v]).collect();
        image::RgbImage::from_raw(width, height, rgb).expect("three samples per pixel")
    };
    let (width, height) = (image.width(), image.height());
    match image {
        image::DynamicImage::ImageLuma16(deep) => {
            grey(width, height, deep.into_raw().into_iter().map(|v| v.min(255) as u8).collect())
        }
        image::DynamicImage::ImageLumaA16(deep) => {
            grey(width, height, deep.into_raw().chunks_exact(2).map(|la| (la[0] >> 8) as u8).collect())
        }
        image::DynamicImage::ImageRgb16(deep) => {
            let rgb = deep.into_raw().into_iter().map(|v| (v >> 8) as u8).collect();
            image::RgbImage::from_raw(width, height, rgb).expect("three samples per pixel")
        }
        image::DynamicImage::ImageRgba16(deep) => {
            let rgb =
                deep.into_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]].map(|v| (v >> 8) as u8)).collect();
            image::RgbImage::from_raw(width, height, rgb).expect("three samples per pixel")
        }
        other => other.into_rgb8(), // no copy when the decoder gave 8-bit RGB
    }
}

/// Keras `load_img(path, target_size=(rows, cols), interpolation=...)` + `img_to_array`.
/// The resize reads the decoder's 8-bit samples (as Pillow resizes an 8-bit image), so
/// floats exist only at the target size.
pub fn load_img(path: &Path, target_size: Option<[usize; 2]>, interpolation: Interpolation) -> Result<Image> {
    let (image, _permit) = decode_rgb8(path)?;
    Ok(match target_size {
        Some(size) => resize(&image, size, interpolation),
        None => image.to_f32(),
    })
}

/// Resizes to `[rows, cols]` as Pillow's `Image.resize` on an 8-bit image (of 8-bit samples,
/// or floats holding 0..255 values).
pub fn resize<T: Copy + Into<f32>>(
    image: &Image<T>,
    [height, width]: [usize; 2],
    interpolation: Interpolation,
) -> Image {
    if image.height == height && image.width == width {
        return image.to_f32();
    }
    match interpolation {
        Interpolation::Nearest => resize_nearest(image, height, width),
        Interpolation::Bilinear => {
            // Pillow (13) resamples rows first when it widens and shortens the image,
            // columns first otherwise; the 8-bit rounding between passes makes it matter.
            let vertical_first = width > image.width && height < image.height;
            let first = match vertical_first {
                true if image.height != height => resample_axis(image, height, false),
                false if image.width != width => resample_axis(image, width, true),
                _ => image.to_f32(),
            };
            match vertical_first {
                true if first.width != width => resample_axis(&first, width, true),
                false if first.height != height => resample_axis(&first, height, false),
                _ => first,
            }
        }
    }
}

/// Pillow's nearest-neighbour source indices for `out` samples over `input` pixels.
fn nearest_indices(input: usize, out: usize) -> Vec<usize> {
    let step = input as f64 / out as f64;
    let mut coord = step * 0.5;
    (0..out)
        .map(|_| {
            let i = (coord as usize).min(input - 1);
            coord += step;
            i
        })
        .collect()
}

fn resize_nearest<T: Copy + Into<f32>>(image: &Image<T>, height: usize, width: usize) -> Image {
    let ch = image.channels;
    let cols = nearest_indices(image.width, width);
    let rows = nearest_indices(image.height, height);
    let mut data = Vec::with_capacity(height * width * ch);
    for &r in &rows {
        let row = &image.data[r * image.width * ch..(r + 1) * image.width * ch];
        for &c in &cols {
            data.extend(row[c * ch..(c + 1) * ch].iter().map(|&v| v.into()));
        }
    }
    Image { height, width, channels: ch, data }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's `precompute_coeffs` for the bilinear filter, as 8-bit fixed point: for each
/// output sample, the first input index and the integer weights.
fn bilinear_coefficients(input: usize, out: usize) -> Vec<(usize, Vec<i64>)> {
    let scale = input as f64 / out as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // bilinear support 1.0
    let ss = 1.0 / filter_scale;
    (0..out)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) * ss).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let k = if total != 0.0 { w / total } else { *w };
                    let scaled = k * (1u64 << PRECISION_BITS) as f64;
                    (if k < 0.0 { -0.5 + scaled } else { 0.5 + scaled }) as i64
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// One Pillow resampling pass along columns (`horizontal`) or rows, with 8-bit rounding.
fn resample_axis<T: Copy + Into<f32>>(image: &Image<T>, out: usize, horizontal: bool) -> Image {
    let ch = image.channels;
    let (h, w) = (image.height, image.width);
    let coefficients = bilinear_coefficients(if horizontal { w } else { h }, out);
    let (oh, ow) = if horizontal { (h, out) } else { (out, w) };
    let mut data = vec![0.0f32; oh * ow * ch];
    let clip8 = |acc: i64| ((acc >> PRECISION_BITS).clamp(0, 255)) as f32;
    for r in 0..oh {
        for c in 0..ow {
            let (start, weights) = &coefficients[if horizontal { c } else { r }];
            for k in 0..ch {
                let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                for (i, weight) in weights.iter().enumerate() {
                    let (sr, sc) = if horizontal { (r, start + i) } else { (start + i, c) };
                    acc += image.data[(sr * w + sc) * ch + k].into() as i64 * weight;
                }
                data[(r * ow + c) * ch + k] = clip8(acc);
            }
        }
    }
    Image { height: oh, width: ow, channels: ch, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_indices_follow_pillow() {
        assert_eq!(nearest_indices(4, 2), vec![1, 3]);
        assert_eq!(nearest_indices(2, 4), vec![0, 0, 1, 1]);
        assert_eq!(nearest_indices(3, 3), vec![0, 1, 2]);
    }

    #[test]
    fn bilinear_weights_sum_to_one_in_fixed_point() {
        for (input, out) in [(400, 150), (150, 400), (7, 3)] {
            for (_, weights) in bilinear_coefficients(input, out) {
                let total: i64 = weights.iter().sum();
                assert!((total - (1 << PRECISION_BITS)).abs() <= weights.len() as i64);
            }
        }
    }
}
