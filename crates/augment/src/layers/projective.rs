//! TF 2.15's `ImageProjectiveTransformV3` on one HWC image, as its CPU kernel computes it
//! (`image_ops.h`): each output pixel `(x, y)` reads the input at
//! `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`, `k = c0 x + c1 y + 1`, in `f32`;
//! the coordinate is first mapped into the image by the fill mode, then sampled bilinearly
//! (neighbours outside the image read `fill_value`) or at the nearest pixel. No crate
//! reproduces TF's mapping rules, which differ from scipy's (ImageDataGenerator's) for
//! `wrap` and `reflect`.

use std::fmt;
use std::str::FromStr;

use crate::error::{AugmentError, Result};
use crate::image::Image;

/// How TF fills points that fall outside the input (Keras' `fill_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransformFillMode {
    /// `d c b a | a b c d | d c b a`: mirrored about the edge (Keras' default).
    #[default]
    Reflect,
    /// `a b c d | a b c d | a b c d`: the image repeated.
    Wrap,
    /// `k k k k | a b c d | k k k k`: `fill_value` outside.
    Constant,
    /// `a a a a | a b c d | d d d d`: the edge pixel repeated.
    Nearest,
}

/// How TF samples the transformed point (Keras' `interpolation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransformInterpolation {
    /// The four neighbours weighted by distance (Keras' default).
    #[default]
    Bilinear,
    /// The nearest pixel (coordinates rounded half away from zero).
    Nearest,
}

impl FromStr for TransformFillMode {
    type Err = AugmentError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "reflect" => Ok(Self::Reflect),
            "wrap" => Ok(Self::Wrap),
            "constant" => Ok(Self::Constant),
            "nearest" => Ok(Self::Nearest),
            _ => Err(AugmentError::InvalidParameter {
                parameter: "fill_mode",
                value: text.into(),
                reason: "only `reflect`, `wrap`, `constant` and `nearest` are supported",
            }),
        }
    }
}

impl fmt::Display for TransformFillMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reflect => "reflect",
            Self::Wrap => "wrap",
            Self::Constant => "constant",
            Self::Nearest => "nearest",
        })
    }
}

impl FromStr for TransformInterpolation {
    type Err = AugmentError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "bilinear" => Ok(Self::Bilinear),
            "nearest" => Ok(Self::Nearest),
            _ => Err(AugmentError::InvalidParameter {
                parameter: "interpolation",
                value: text.into(),
                reason: "only `nearest` and `bilinear` are supported",
            }),
        }
    }
}

impl fmt::Display for TransformInterpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bilinear => "bilinear",
            Self::Nearest => "nearest",
        })
    }
}

/// How a transform fills and samples (Keras' `fill_mode`, `fill_value`, `interpolation`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    /// Where points outside the input read from.
    pub fill_mode: TransformFillMode,
    /// The value outside the input (`constant`, and bilinear neighbours past the edge).
    pub fill_value: f32,
    /// How the point is sampled.
    pub interpolation: TransformInterpolation,
}

/// A projective transform `[a0, a1, a2, b0, b1, b2, c0, c1]` from output to input points.
pub type Projective = [f32; 8];

/// TF's coordinate mapping into `[0, len - 1]` for a fill mode.
fn map_coordinate(coordinate: f32, len: usize, mode: TransformFillMode) -> f32 {
    let len_i = len as i64;
    let last = (len - 1) as f32;
    let mut c = coordinate;
    match mode {
        TransformFillMode::Reflect => {
            if c < 0.0 {
                if len <= 1 {
                    c = 0.0;
                } else {
                    let sz2 = (2 * len_i) as f32;
                    if c < sz2 {
                        c += sz2 * ((-c / sz2) as i64) as f32;
                    }
                    c = if c < -(len_i as f32) { c + sz2 } else { -c - 1.0 };
                }
            } else if c > last {
                if len <= 1 {
                    c = 0.0;
                } else {
                    let sz2 = (2 * len_i) as f32;
                    c -= sz2 * ((c / sz2) as i64) as f32;
                    if c >= len as f32 {
                        c = sz2 - c - 1.0;
                    }
                }
            }
            c.clamp(0.0, last)
        }
        TransformFillMode::Wrap => {
            if c < 0.0 {
                if len <= 1 {
                    c = 0.0;
                } else {
                    let sz = (len_i - 1) as f32;
                    c += len as f32 * (((-c / sz) as i64) + 1) as f32;
                }
            } else if c > last {
                if len <= 1 {
                    c = 0.0;
                } else {
                    let sz = (len_i - 1) as f32;
                    c -= len as f32 * ((c / sz) as i64) as f32;
                }
            }
            c.clamp(0.0, last)
        }
        TransformFillMode::Nearest => c.clamp(0.0, last),
        TransformFillMode::Constant => c,
    }
}

/// Applies `transform` to `image` (same output size), as `ImageProjectiveTransformV3`.
pub fn projective_transform(image: &Image, transform: &Projective, sampling: Sampling) -> Image {
    let (h, w, ch) = (image.height, image.width, image.channels);
    let mut out = vec![0.0f32; h * w * ch];
    let read = |y: i64, x: i64, c: usize| -> f32 {
        match (0..h as i64).contains(&y) && (0..w as i64).contains(&x) {
            true => image.data[(y as usize * w + x as usize) * ch + c],
            false => sampling.fill_value,
        }
    };
    let [a0, a1, a2, b0, b1, b2, c0, c1] = *transform;
    for oy in 0..h {
        for ox in 0..w {
            let pixel = &mut out[(oy * w + ox) * ch..(oy * w + ox + 1) * ch];
            let (xf, yf) = (ox as f32, oy as f32);
            let projection = c0 * xf + c1 * yf + 1.0;
            if projection == 0.0 {
                pixel.fill(sampling.fill_value);
                continue;
            }
            let in_x = (a0 * xf + a1 * yf + a2) / projection;
            let in_y = (b0 * xf + b1 * yf + b2) / projection;
            let x = map_coordinate(in_x, w, sampling.fill_mode);
            let y = map_coordinate(in_y, h, sampling.fill_mode);
            match sampling.interpolation {
                TransformInterpolation::Nearest => {
                    let (ry, rx) = (y.round() as i64, x.round() as i64);
                    for (c, v) in pixel.iter_mut().enumerate() {
                        *v = read(ry, rx, c);
                    }
                }
                TransformInterpolation::Bilinear => {
                    let (y_floor, x_floor) = (y.floor(), x.floor());
                    let (y_ceil, x_ceil) = (y_floor + 1.0, x_floor + 1.0);
                    let (yf0, xf0, yc, xc) = (y_floor as i64, x_floor as i64, y_ceil as i64, x_ceil as i64);
                    for (c, v) in pixel.iter_mut().enumerate() {
                        let top = (x_ceil - x) * read(yf0, xf0, c) + (x - x_floor) * read(yf0, xc, c);
                        let bottom = (x_ceil - x) * read(yc, xf0, c) + (x - x_floor) * read(yc, xc, c);
                        *v = (y_ceil - y) * top + (y - y_floor) * bottom;
                    }
                }
            }
        }
    }
    Image { height: h, width: w, channels: ch, data: out }
}

/// Keras' `get_rotation_matrix(angle, height, width)`: a rotation by `angle` radians
/// (counter-clockwise for positive angles) about the image centre.
pub fn rotation_matrix(angle: f32, height: usize, width: usize) -> Projective {
    let (h1, w1) = ((height as f32) - 1.0, (width as f32) - 1.0);
    let (sin, cos) = angle.sin_cos();
    let x_offset = (w1 - (cos * w1 - sin * h1)) / 2.0;
    let y_offset = (h1 - (sin * w1 + cos * h1)) / 2.0;
    [cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0]
}

/// Keras' `get_zoom_matrix([zx, zy], height, width)`: input coordinates scaled by `zx`, `zy`
/// about the centre (a factor above 1 shows more of the image, smaller).
pub fn zoom_matrix(zx: f32, zy: f32, height: usize, width: usize) -> Projective {
    let x_offset = ((width as f32 - 1.0) / 2.0) * (1.0 - zx);
    let y_offset = ((height as f32 - 1.0) / 2.0) * (1.0 - zy);
    [zx, 0.0, x_offset, 0.0, zy, y_offset, 0.0, 0.0]
}

/// Keras' `get_translation_matrix([dx, dy])`: the content moves by `dx` columns and `dy` rows.
pub fn translation_matrix(dx: f32, dy: f32) -> Projective {
    [1.0, 0.0, -dx, 0.0, 1.0, -dy, 0.0, 0.0]
}
