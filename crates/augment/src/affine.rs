//! The geometric warp of Keras' `apply_affine_transform` (scipy `ndimage.affine_transform`,
//! order 0 or 1, with its four fill modes) and the flips.

use crate::decode::Interpolation;
use crate::image::Image;
use crate::params::TransformParams;

/// How samples outside the image are filled (Keras `fill_mode`, scipy `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum FillMode {
    /// Repeat the edge pixel (`aaaa|abcd|dddd`). Keras' default.
    #[default]
    Nearest,
    /// A constant value `cval` wherever the source falls outside the image.
    Constant(f32),
    /// Half-sample symmetric mirror (`dcba|abcd|dcba`).
    Reflect,
    /// scipy's `wrap`: coordinates outside `[0, n-1]` taken modulo `n-1`.
    Wrap,
}

impl std::str::FromStr for FillMode {
    type Err = crate::error::AugmentError;

    /// Keras' `fill_mode` spelling; `constant` fills with 0 (Keras' default `cval`: set
    /// another with `FillMode::Constant(cval)`).
    fn from_str(text: &str) -> crate::error::Result<Self> {
        match text {
            "nearest" => Ok(FillMode::Nearest),
            "constant" => Ok(FillMode::Constant(0.0)),
            "reflect" => Ok(FillMode::Reflect),
            "wrap" => Ok(FillMode::Wrap),
            _ => Err(crate::error::AugmentError::InvalidParameter {
                parameter: "fill_mode",
                value: text.into(),
                reason: "must be one of nearest, constant, reflect or wrap",
            }),
        }
    }
}

impl std::fmt::Display for FillMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FillMode::Nearest => "nearest",
            FillMode::Constant(_) => "constant",
            FillMode::Reflect => "reflect",
            FillMode::Wrap => "wrap",
        })
    }
}

/// Which geometry the warp uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Geometry {
    /// Exactly Keras, quirks included (see [`TransformParams`]). The default.
    #[default]
    Keras,
    /// The geometry Keras means: centre `(cols/2 - 0.5, rows/2 - 0.5)` for (column, row);
    /// `tx` (drawn from `height_shift_range`, scaled by the height) moves the content
    /// vertically and `ty` (width) horizontally.
    Corrected,
}

/// The 3x3 matrix `M = R T S Z` of Keras (`theta`, `shear` in degrees), identity parts skipped.
pub fn transform_matrix(p: &TransformParams) -> [[f64; 3]; 3] {
    let mut m = IDENTITY;
    if p.theta != 0.0 {
        let t = p.theta.to_radians();
        m = matmul(m, [[t.cos(), -t.sin(), 0.0], [t.sin(), t.cos(), 0.0], [0.0, 0.0, 1.0]]);
    }
    if p.tx != 0.0 || p.ty != 0.0 {
        m = matmul(m, [[1.0, 0.0, p.tx], [0.0, 1.0, p.ty], [0.0, 0.0, 1.0]]);
    }
    if p.shear != 0.0 {
        let s = p.shear.to_radians();
        m = matmul(m, [[1.0, -s.sin(), 0.0], [0.0, s.cos(), 0.0], [0.0, 0.0, 1.0]]);
    }
    if p.zx != 1.0 || p.zy != 1.0 {
        m = matmul(m, [[p.zx, 0.0, 0.0], [0.0, p.zy, 0.0], [0.0, 0.0, 1.0]]);
    }
    m
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

fn matmul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// The output-to-input map `(source column, source row) = A (col, row) + b` for an image
/// of `height x width`: Keras' matrix moved to its centre.
pub fn sampling_map(p: &TransformParams, height: usize, width: usize, geometry: Geometry) -> [[f64; 3]; 2] {
    let (params, o_col, o_row) = match geometry {
        // Keras: transform_matrix_offset_center(M, h, w) puts h/2 - 0.5 on the first
        // (column) coordinate.
        Geometry::Keras => (*p, height as f64 / 2.0 - 0.5, width as f64 / 2.0 - 0.5),
        Geometry::Corrected => {
            let swapped = TransformParams { tx: p.ty, ty: p.tx, ..*p };
            (swapped, width as f64 / 2.0 - 0.5, height as f64 / 2.0 - 0.5)
        }
    };
    let m = transform_matrix(&params);
    let offset = [[1.0, 0.0, o_col], [0.0, 1.0, o_row], [0.0, 0.0, 1.0]];
    let reset = [[1.0, 0.0, -o_col], [0.0, 1.0, -o_row], [0.0, 0.0, 1.0]];
    let c = matmul(matmul(offset, m), reset);
    [c[0], c[1]]
}

/// Where one source coordinate reads from along an axis of `n` pixels: two neighbour
/// indices and the weight of the second, or `None` for "outside" (constant fill).
#[inline(always)]
fn neighbours(coord: f64, n: usize, mode: FillMode, interpolation: Interpolation) -> Option<(usize, usize, f64)> {
    let last = (n - 1) as f64;
    let clamped_pair = |c: f64| {
        let c = c.clamp(0.0, last);
        let i0 = c.floor();
        let i = i0 as usize;
        Some((i, (i + 1).min(n - 1), c - i0))
    };
    let c = match mode {
        FillMode::Nearest => coord,
        FillMode::Constant(_) => {
            if !(0.0..=last).contains(&coord) {
                return None;
            }
            coord
        }
        FillMode::Wrap => {
            if (0.0..=last).contains(&coord) || n == 1 {
                coord
            } else {
                coord.rem_euclid(last)
            }
        }
        FillMode::Reflect => {
            let reflect = |i: i64| {
                let period = 2 * n as i64;
                let m = i.rem_euclid(period);
                (if m >= n as i64 { period - 1 - m } else { m }) as usize
            };
            if interpolation == Interpolation::Nearest {
                let i = reflect((coord + 0.5).floor() as i64);
                return Some((i, i, 0.0));
            }
            let i0 = coord.floor();
            return Some((reflect(i0 as i64), reflect(i0 as i64 + 1), coord - i0));
        }
    };
    if interpolation == Interpolation::Nearest {
        let i = (c.clamp(0.0, last) + 0.5).floor() as usize;
        let i = i.min(n - 1);
        return Some((i, i, 0.0));
    }
    clamped_pair(c)
}

/// Applies the affine part of `p` (Keras `apply_affine_transform`) with bilinear (scipy's
/// `order` 1) or nearest (`order` 0) sampling. Computes coordinates in f64, stores f32.
pub fn warp(
    image: &Image,
    p: &TransformParams,
    fill: FillMode,
    interpolation: Interpolation,
    geometry: Geometry,
) -> Image {
    let mut out = vec![0.0f32; image.data.len()];
    warp_into(image, p, fill, interpolation, geometry, 1.0, &mut out);
    Image { height: image.height, width: image.width, channels: image.channels, data: out }
}

/// [`warp`] into `out`, every value multiplied by `scale` on the way (a `rescale` folded in).
pub fn warp_into(
    image: &Image,
    p: &TransformParams,
    fill: FillMode,
    interpolation: Interpolation,
    geometry: Geometry,
    scale: f32,
    out: &mut [f32],
) {
    warp_mirrored_into(image, p, Sampling { fill, interpolation, geometry }, scale, false, out);
}

/// How a warp reads its source: outside it (`fill`), between its pixels (`interpolation`)
/// and where its coordinates are measured from (`geometry`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sampling {
    pub fill: FillMode,
    pub interpolation: Interpolation,
    pub geometry: Geometry,
}

/// [`warp_into`], then mirrored left-right when `mirror` (Keras' horizontal flip after the
/// warp), in one pass where the fast path applies.
pub(crate) fn warp_mirrored_into(
    image: &Image,
    p: &TransformParams,
    sampling: Sampling,
    scale: f32,
    mirror: bool,
    out: &mut [f32],
) {
    let (h, w, ch) = (image.height, image.width, image.channels);
    let Sampling { fill, interpolation, geometry } = sampling;
    if fill == FillMode::Nearest && interpolation == Interpolation::Bilinear && ch == 3 && !p.is_affine_identity() {
        let m = sampling_map(p, h, w, geometry);
        return warp_nearest_bilinear_rgb(image, m, scale, mirror, out);
    }
    warp_general(image, p, sampling, scale, out);
    if mirror {
        mirror_columns(out, w, ch);
    }
}

/// [`warp_into`] for any fill, interpolation and channels.
fn warp_general(image: &Image, p: &TransformParams, sampling: Sampling, scale: f32, out: &mut [f32]) {
    let Sampling { fill, interpolation, geometry } = sampling;
    let (h, w, ch) = (image.height, image.width, image.channels);
    if p.is_affine_identity() {
        out.iter_mut().zip(&image.data).for_each(|(o, v)| *o = v * scale);
        return;
    }
    let [[a00, a01, a02], [a10, a11, a12]] = sampling_map(p, h, w, geometry);
    let cval = match fill {
        FillMode::Constant(v) => v * scale,
        _ => 0.0,
    };
    let src = &image.data;
    for r in 0..h {
        let row_out = &mut out[r * w * ch..(r + 1) * w * ch];
        let rf = r as f64;
        for c in 0..w {
            let cf = c as f64;
            let u = a00 * cf + a01 * rf + a02; // source column
            let v = a10 * cf + a11 * rf + a12; // source row
            let px = &mut row_out[c * ch..(c + 1) * ch];
            let (Some((c0, c1, tc)), Some((r0, r1, tr))) =
                (neighbours(u, w, fill, interpolation), neighbours(v, h, fill, interpolation))
            else {
                px.fill(cval);
                continue;
            };
            let (i00, i01, i10, i11) = ((r0 * w + c0) * ch, (r0 * w + c1) * ch, (r1 * w + c0) * ch, (r1 * w + c1) * ch);
            for k in 0..ch {
                let top = src[i00 + k] as f64 * (1.0 - tc) + src[i01 + k] as f64 * tc;
                let bottom = src[i10 + k] as f64 * (1.0 - tc) + src[i11 + k] as f64 * tc;
                px[k] = (top * (1.0 - tr) + bottom * tr) as f32 * scale;
            }
        }
    }
}

/// The common case (RGB, Keras' defaults: `nearest` fill, bilinear) without per-pixel dispatch:
/// clamp both coordinates (f64), interpolate the four neighbours (f32; the difference from
/// Keras' f64 interpolation is below 1e-4 on the 0..255 scale).
fn warp_nearest_bilinear_rgb(image: &Image, m: [[f64; 3]; 2], scale: f32, mirror: bool, out: &mut [f32]) {
    let (h, w) = (image.height, image.width);
    let (last_c, last_r) = ((w - 1) as f64, (h - 1) as f64);
    let src = &image.data[..h * w * 3];
    // Per row, first the coordinates of every column (a loop the compiler vectorises), then
    // the gathers and blends.
    let (mut base, mut steps) = (vec![0u32; w], vec![[0u32; 2]; w]);
    let (mut tcs, mut trs) = (vec![0f32; w], vec![0f32; w]);
    for (r, row_out) in out.chunks_exact_mut(w * 3).enumerate() {
        let rf = r as f64;
        let (u0, v0) = (m[0][1] * rf + m[0][2], m[1][1] * rf + m[1][2]);
        for c in 0..w {
            let cf = c as f64;
            let uc = (m[0][0] * cf + u0).clamp(0.0, last_c);
            let vc = (m[1][0] * cf + v0).clamp(0.0, last_r);
            let (cu, rv) = (uc as u32, vc as u32);
            base[c] = (rv * w as u32 + cu) * 3;
            steps[c] =
                [if (cu as usize) + 1 < w { 3 } else { 0 }, if (rv as usize) + 1 < h { 3 * w as u32 } else { 0 }];
            tcs[c] = (uc - cu as f64) as f32;
            trs[c] = (vc - rv as f64) as f32;
        }
        for c in 0..w {
            let target = if mirror { w - 1 - c } else { c };
            let (i00, [dc, dr]) = (base[c] as usize, steps[c]);
            let (dc, dr) = (dc as usize, dr as usize);
            let (tc, tr) = (tcs[c], trs[c]);
            debug_assert!(i00 + dr + dc + 2 < src.len());
            let px = &mut row_out[target * 3..target * 3 + 3];
            for (k, value) in px.iter_mut().enumerate() {
                // SAFETY: the coordinates are clamped to [0, w-1] x [0, h-1] and the neighbour
                // steps (dc, dr) are 0 on the last column / row, so every index is at most
                // ((h-1) * w + (w-1)) * 3 + 2 < h * w * 3 = src.len().
                let (p00, p01, p10, p11) = unsafe {
                    let i = i00 + k;
                    (
                        *src.get_unchecked(i),
                        *src.get_unchecked(i + dc),
                        *src.get_unchecked(i + dr),
                        *src.get_unchecked(i + dr + dc),
                    )
                };
                let top = p00 + (p01 - p00) * tc;
                let bottom = p10 + (p11 - p10) * tc;
                *value = (top + (bottom - top) * tr) * scale;
            }
        }
    }
}

/// Mirrors the image left-right in place.
pub fn flip_horizontal(image: &mut Image) {
    mirror_columns(&mut image.data, image.width, image.channels);
}

/// Mirrors HWC `data` of rows `w` pixels wide left-right in place.
fn mirror_columns(data: &mut [f32], w: usize, ch: usize) {
    for row in data.chunks_exact_mut(w * ch) {
        for c in 0..w / 2 {
            for k in 0..ch {
                row.swap(c * ch + k, (w - 1 - c) * ch + k);
            }
        }
    }
}

/// Mirrors the image top-bottom in place.
pub fn flip_vertical(image: &mut Image) {
    let stride = image.width * image.channels;
    let h = image.height;
    for r in 0..h / 2 {
        let (top, bottom) = image.data.split_at_mut((h - 1 - r) * stride);
        top[r * stride..(r + 1) * stride].swap_with_slice(&mut bottom[..stride]);
    }
}
