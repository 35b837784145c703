//! TF 2.15's `tf.image.resize` (antialias off) on a float HWC image, as its CPU kernels
//! compute it with half-pixel centres: `bilinear` (`ResizeBilinear`), `nearest`
//! (`ResizeNearestNeighbor`), `bicubic` (`ResizeBicubic`: Keys' cubic with a = -0.5, the
//! 1024-entry weight table, neighbours outside the image dropped) and `area` (`ResizeArea`). This is
//! not Pillow's resize (that is `augment::resize`, which `flow_from_directory` uses).

use std::fmt;
use std::str::FromStr;

use crate::error::{AugmentError, Result};
use crate::image::Image;

/// `tf.image.resize`'s `method` (Keras' `interpolation` of `image_dataset_from_directory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TfResize {
    /// Linear in each direction (the default).
    #[default]
    Bilinear,
    /// The nearest pixel.
    Nearest,
    /// Keys' cubic convolution.
    Bicubic,
    /// The mean over the area each output pixel covers.
    Area,
}

impl FromStr for TfResize {
    type Err = AugmentError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "bilinear" => Ok(Self::Bilinear),
            "nearest" => Ok(Self::Nearest),
            "bicubic" => Ok(Self::Bicubic),
            "area" => Ok(Self::Area),
            _ => Err(AugmentError::InvalidParameter {
                parameter: "interpolation",
                value: text.into(),
                reason: "expected bilinear, nearest, bicubic or area",
            }),
        }
    }
}

impl fmt::Display for TfResize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bilinear => "bilinear",
            Self::Nearest => "nearest",
            Self::Bicubic => "bicubic",
            Self::Area => "area",
        })
    }
}

/// `tf.image.resize(image, [rows, cols], method)` of a float image (or of 8-bit samples,
/// read as the floats they are).
pub fn tf_resize<T: Copy + Into<f32>>(image: &Image<T>, [rows, cols]: [usize; 2], method: TfResize) -> Image {
    if (rows, cols) == (image.height, image.width) && method != TfResize::Area {
        return image.to_f32();
    }
    match method {
        TfResize::Bilinear => bilinear(image, rows, cols),
        TfResize::Nearest => nearest(image, rows, cols),
        TfResize::Bicubic => bicubic(image, rows, cols),
        TfResize::Area => area(image, rows, cols),
    }
}

/// TF's `CalculateResizeScale` without corner alignment.
fn scale(input: usize, output: usize) -> f32 {
    input as f32 / output as f32
}

/// One axis of a bilinear resize: the two source indices and the weight of the upper.
struct Linear {
    lower: usize,
    upper: usize,
    lerp: f32,
}

fn linear_axis(input: usize, output: usize) -> Vec<Linear> {
    let s = scale(input, output);
    (0..output)
        .map(|i| {
            let at = (i as f32 + 0.5) * s - 0.5;
            let floor = at.floor();
            Linear {
                lower: (floor as i64).max(0) as usize,
                upper: (at.ceil() as i64).min(input as i64 - 1) as usize,
                lerp: at - floor,
            }
        })
        .collect()
}

fn bilinear<T: Copy + Into<f32>>(image: &Image<T>, rows: usize, cols: usize) -> Image {
    let (ys, xs) = (linear_axis(image.height, rows), linear_axis(image.width, cols));
    let ch = image.channels;
    let mut out = Vec::with_capacity(rows * cols * ch);
    for y in &ys {
        for x in &xs {
            for c in 0..ch {
                let at = |row: usize, col: usize| image.data[(row * image.width + col) * ch + c].into();
                let (top_left, top_right) = (at(y.lower, x.lower), at(y.lower, x.upper));
                let (bottom_left, bottom_right) = (at(y.upper, x.lower), at(y.upper, x.upper));
                let top = top_left + (top_right - top_left) * x.lerp;
                let bottom = bottom_left + (bottom_right - bottom_left) * x.lerp;
                out.push(top + (bottom - top) * y.lerp);
            }
        }
    }
    Image { height: rows, width: cols, channels: ch, data: out }
}

fn nearest<T: Copy + Into<f32>>(image: &Image<T>, rows: usize, cols: usize) -> Image {
    let axis = |input: usize, output: usize| -> Vec<usize> {
        let s = scale(input, output);
        (0..output).map(|i| (((i as f32 + 0.5) * s).floor() as usize).min(input - 1)).collect()
    };
    let (ys, xs) = (axis(image.height, rows), axis(image.width, cols));
    let ch = image.channels;
    let mut out = Vec::with_capacity(rows * cols * ch);
    for &y in &ys {
        for &x in &xs {
            out.extend(image.pixel(y, x).iter().map(|&v| v.into()));
        }
    }
    Image { height: rows, width: cols, channels: ch, data: out }
}

/// Keys' cubic weights (a = -0.5) for the four neighbours of each output position, from
/// TF's table of 1024 steps; neighbours outside the image get weight 0 and the others are
/// renormalised, as TF's half-pixel kernel does.
fn cubic_axis(input: usize, output: usize) -> Vec<([usize; 4], [f32; 4])> {
    const TABLE: usize = 1024;
    const A: f64 = -0.5;
    let table: Vec<[f32; 2]> = (0..=TABLE)
        .map(|i| {
            let x = (i as f64 / TABLE as f64) as f32 as f64;
            let near = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
            let x1 = (x as f32 + 1.0) as f64;
            let far = ((A * x1 - 5.0 * A) * x1 + 8.0 * A) * x1 - 4.0 * A;
            [near as f32, far as f32]
        })
        .collect();
    let s = scale(input, output);
    (0..output)
        .map(|i| {
            let at = (i as f32 + 0.5) * s - 0.5;
            let floor = at.floor() as i64;
            let offset = ((at - floor as f32) * TABLE as f32).round_ties_even() as usize;
            let raw = [table[offset][1], table[offset][0], table[TABLE - offset][0], table[TABLE - offset][1]];
            let mut index = [0usize; 4];
            let mut weights = [0.0f32; 4];
            for k in 0..4 {
                let wanted = floor + k as i64 - 1;
                let bounded = wanted.clamp(0, input as i64 - 1);
                index[k] = bounded as usize;
                weights[k] = if bounded == wanted { raw[k] } else { 0.0 };
            }
            let sum: f32 = weights.iter().sum();
            if sum.abs() >= 1000.0 * f32::MIN_POSITIVE {
                let inverse = 1.0 / sum;
                weights.iter_mut().for_each(|w| *w *= inverse);
            }
            (index, weights)
        })
        .collect()
}

fn bicubic<T: Copy + Into<f32>>(image: &Image<T>, rows: usize, cols: usize) -> Image {
    let (ys, xs) = (cubic_axis(image.height, rows), cubic_axis(image.width, cols));
    let ch = image.channels;
    let mut out = Vec::with_capacity(rows * cols * ch);
    for (y_index, y_weight) in &ys {
        for (x_index, x_weight) in &xs {
            for c in 0..ch {
                let row_value = |row: usize| {
                    (0..4)
                        .map(|k| x_weight[k] * image.data[(row * image.width + x_index[k]) * ch + c].into())
                        .sum::<f32>()
                };
                out.push((0..4).map(|k| y_weight[k] * row_value(y_index[k])).sum());
            }
        }
    }
    Image { height: rows, width: cols, channels: ch, data: out }
}

/// TF's `ResizeArea`: each output pixel is the mean of the input it covers, input pixels
/// cut at the covered fraction.
fn area<T: Copy + Into<f32>>(image: &Image<T>, rows: usize, cols: usize) -> Image {
    let (height_scale, width_scale) = (scale(image.height, rows), scale(image.width, cols));
    // For each output row/column: (source index, weight) pairs, with TF's weights: the
    // covered part of the first and last cell (the whole scale when one cell covers all).
    let spans = |input: usize, output: usize, s: f32| -> Vec<Vec<(usize, f32)>> {
        (0..output)
            .map(|i| {
                let (start, end) = (i as f32 * s, (i + 1) as f32 * s);
                (start.floor() as i64..end.ceil() as i64)
                    .map(|k| {
                        let (kf, next) = (k as f32, (k + 1) as f32);
                        let weight = match (kf < start, next > end) {
                            (true, true) => s,
                            (true, false) => next - start,
                            (false, true) => end - kf,
                            (false, false) => 1.0,
                        };
                        (k.clamp(0, input as i64 - 1) as usize, weight)
                    })
                    .collect()
            })
            .collect()
    };
    let (ys, xs) = (spans(image.height, rows, height_scale), spans(image.width, cols, width_scale));
    let ch = image.channels;
    let normaliser = 1.0 / (height_scale * width_scale);
    let mut out = Vec::with_capacity(rows * cols * ch);
    for y_span in &ys {
        for x_span in &xs {
            for c in 0..ch {
                let mut sum = 0.0f32;
                for &(y, wy) in y_span {
                    let mut row = 0.0f32;
                    for &(x, wx) in x_span {
                        row += image.data[(y * image.width + x) * ch + c].into() * wx;
                    }
                    sum += row * wy;
                }
                out.push(sum * normaliser);
            }
        }
    }
    Image { height: rows, width: cols, channels: ch, data: out }
}

/// Keras' `smart_resize` crop (`crop_to_aspect_ratio=True`): the largest centred window of
/// the target's aspect ratio, computed in `f32` and truncated as Keras does.
pub fn crop_to_aspect_ratio<T: Copy>(image: &Image<T>, [rows, cols]: [usize; 2]) -> Image<T> {
    let (height, width) = (image.height, image.width);
    let crop_height = (((width * rows) as f32 / cols as f32) as usize).min(height);
    let crop_width = (((height * cols) as f32 / rows as f32) as usize).min(width);
    let top = ((height - crop_height) as f32 / 2.0) as usize;
    let left = ((width - crop_width) as f32 / 2.0) as usize;
    let ch = image.channels;
    let mut data = Vec::with_capacity(crop_height * crop_width * ch);
    for row in top..top + crop_height {
        let start = (row * width + left) * ch;
        data.extend_from_slice(&image.data[start..start + crop_width * ch]);
    }
    Image { height: crop_height, width: crop_width, channels: ch, data }
}
