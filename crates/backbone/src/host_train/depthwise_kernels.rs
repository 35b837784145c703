//! A depthwise convolution and its two gradients on channels-first host values, plane by
//! plane: each `(image, channel)` plane is convolved with its channel's window, the planes
//! split among the threads, the loops compiled for the CPU's widest vectors
//! ([`vectorized`]). At stride 1 a plane runs as padded runs (`depthwise_runs`); otherwise
//! row by row, each output row a strided loop per tap.

use std::ops::Range;

use rayon::prelude::*;

use super::depthwise_runs::{self as runs, Scratch};
use crate::cpu::simd::vectorized;

/// Where a window sits on one plane: its size, strides and leading padding, and the
/// plane's input and output sizes (`[rows, cols]` each). The trailing padding is implied
/// by the output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneWindow {
    /// Window `[rows, cols]`.
    pub kernel: [usize; 2],
    /// Strides `[rows, cols]`.
    pub strides: [usize; 2],
    /// Zeros before the first row and column.
    pub pad_begin: [usize; 2],
    /// Input plane `[rows, cols]`.
    pub input: [usize; 2],
    /// Output plane `[rows, cols]`.
    pub output: [usize; 2],
}

impl PlaneWindow {
    /// The window of `kernel` and `strides` on an `input` plane padded by `[[top, bottom],
    /// [left, right]]`; `None` on an empty plane or where no output would remain.
    pub fn new(kernel: [usize; 2], strides: [usize; 2], pad: [[usize; 2]; 2], input: [usize; 2]) -> Option<Self> {
        let size = |axis: usize| {
            let padded = input[axis] + pad[axis][0] + pad[axis][1];
            (strides[axis] > 0 && padded >= kernel[axis]).then(|| (padded - kernel[axis]) / strides[axis] + 1)
        };
        if input.contains(&0) || kernel.contains(&0) {
            return None;
        }
        let output = [size(0)?, size(1)?];
        Some(Self { kernel, strides, pad_begin: [pad[0][0], pad[1][0]], input, output })
    }

    pub(super) fn input_len(&self) -> usize {
        self.input[0] * self.input[1]
    }

    pub(super) fn output_len(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// The input row that output row `out_row` reads at window row `k`, if inside the plane.
    #[inline(always)]
    pub(super) fn input_row(&self, out_row: usize, k: usize) -> Option<usize> {
        (out_row * self.strides[0] + k).checked_sub(self.pad_begin[0]).filter(|&row| row < self.input[0])
    }

    /// The output columns whose window column `k` falls inside the plane, and the input
    /// column the first of them reads.
    #[inline(always)]
    pub(super) fn columns(&self, k: usize) -> (Range<usize>, usize) {
        let [stride, pad, width, out] = [self.strides[1], self.pad_begin[1], self.input[1], self.output[1]];
        let first = match pad > k {
            true => (pad - k).div_ceil(stride),
            false => 0,
        };
        let end = match width + pad > k {
            true => ((width - 1 + pad - k) / stride + 1).min(out),
            false => 0,
        };
        let first = first.min(end);
        (first..end, (first * stride + k).saturating_sub(pad))
    }
}

/// Planes a parallel task handles at least.
fn min_planes(window: &PlaneWindow) -> usize {
    super::MIN_TASK.div_ceil(window.input_len().max(window.output_len()).max(1))
}

/// Runs `plane_work(source plane, its channel's window taps, output plane, scratch)` for
/// every plane of `source` (`source_len` values each) into a new buffer of output planes
/// (`out_len` values each), the planes split among the threads.
fn per_plane(
    source: &[f32],
    [source_len, out_len]: [usize; 2],
    weights: &[f32],
    channels: usize,
    window: &PlaneWindow,
    plane_work: impl Fn(&[f32], &[f32], &mut [f32], &mut Scratch) + Sync,
) -> Vec<f32> {
    let taps = window.kernel[0] * window.kernel[1];
    let mut out = vec![0.0f32; source.len() / source_len * out_len];
    out.par_chunks_mut(out_len).with_min_len(min_planes(window)).enumerate().for_each_init(
        Scratch::default,
        |scratch, (plane, out)| {
            let source = &source[plane * source_len..][..source_len];
            plane_work(source, &weights[(plane % channels) * taps..][..taps], out, scratch)
        },
    );
    out
}

/// `out[plane] = window(x[plane]) · weights[channel]` for every plane of `x` (`planes x
/// input` values, channels-first, `channels` planes per image); `weights` holds one window
/// per channel (`channels x rows x cols`).
pub fn forward(x: &[f32], weights: &[f32], channels: usize, window: &PlaneWindow) -> Vec<f32> {
    let runs = runs::applies(window);
    let sizes = [window.input_len(), window.output_len()];
    per_plane(x, sizes, weights, channels, window, |input, weights, out, scratch| {
        vectorized(
            #[inline(always)]
            || match runs {
                true => runs::forward_plane(input, weights, out, window, scratch),
                false => forward_plane(input, weights, out, window),
            },
        )
    })
}

/// The gradient of [`forward`]'s input from its output's gradient `grad`.
pub fn input_gradient(grad: &[f32], weights: &[f32], channels: usize, window: &PlaneWindow) -> Vec<f32> {
    let runs = runs::applies(window);
    let sizes = [window.output_len(), window.input_len()];
    per_plane(grad, sizes, weights, channels, window, |grad, weights, dx, scratch| {
        vectorized(
            #[inline(always)]
            || match runs {
                true => runs::input_gradient_plane(grad, weights, dx, window, scratch),
                false => input_gradient_plane(grad, weights, dx, window),
            },
        )
    })
}

/// The gradient of [`forward`]'s weights (`channels x rows x cols`) from its input `x` and
/// its output's gradient `grad`, summed over the images.
pub fn weight_gradient(x: &[f32], grad: &[f32], channels: usize, window: &PlaneWindow) -> Vec<f32> {
    let taps = window.kernel[0] * window.kernel[1];
    let images = x.len() / window.input_len() / channels.max(1);
    let runs = runs::applies(window);
    let mut dw = vec![0.0f32; channels * taps];
    dw.par_chunks_mut(taps).enumerate().for_each_init(Scratch::default, |scratch, (channel, dw)| {
        for image in 0..images {
            let plane = image * channels + channel;
            let input = &x[plane * window.input_len()..][..window.input_len()];
            let grad = &grad[plane * window.output_len()..][..window.output_len()];
            vectorized(
                #[inline(always)]
                || match runs {
                    true => runs::weight_gradient_plane(input, grad, dw, window, scratch),
                    false => weight_gradient_plane(input, grad, dw, window),
                },
            )
        }
    });
    dw
}

#[inline(always)]
fn forward_plane(x: &[f32], weights: &[f32], out: &mut [f32], window: &PlaneWindow) {
    let ([rows, cols], [_, in_cols], [_, kernel_cols]) = (window.output, window.input, window.kernel);
    let stride = window.strides[1];
    for (out_row, out) in out.chunks_exact_mut(cols).enumerate().take(rows) {
        for (k_row, weights) in weights.chunks_exact(kernel_cols).enumerate() {
            let Some(in_row) = window.input_row(out_row, k_row) else { continue };
            let x = &x[in_row * in_cols..][..in_cols];
            for (k_col, &w) in weights.iter().enumerate() {
                let (range, start) = window.columns(k_col);
                if range.is_empty() {
                    continue;
                }
                let out = &mut out[range];
                match stride {
                    1 => out.iter_mut().zip(&x[start..]).for_each(|(o, &x)| *o += w * x),
                    _ => out.iter_mut().zip(x[start..].iter().step_by(stride)).for_each(|(o, &x)| *o += w * x),
                }
            }
        }
    }
}

#[inline(always)]
fn input_gradient_plane(grad: &[f32], weights: &[f32], dx: &mut [f32], window: &PlaneWindow) {
    let ([rows, cols], [_, in_cols], [_, kernel_cols]) = (window.output, window.input, window.kernel);
    let stride = window.strides[1];
    for (out_row, grad) in grad.chunks_exact(cols).enumerate().take(rows) {
        for (k_row, weights) in weights.chunks_exact(kernel_cols).enumerate() {
            let Some(in_row) = window.input_row(out_row, k_row) else { continue };
            let dx = &mut dx[in_row * in_cols..][..in_cols];
            for (k_col, &w) in weights.iter().enumerate() {
                let (range, start) = window.columns(k_col);
                if range.is_empty() {
                    continue;
                }
                let grad = &grad[range];
                match stride {
                    1 => dx[start..].iter_mut().zip(grad).for_each(|(d, &g)| *d += w * g),
                    _ => dx[start..].iter_mut().step_by(stride).zip(grad).for_each(|(d, &g)| *d += w * g),
                }
            }
        }
    }
}

#[inline(always)]
fn weight_gradient_plane(x: &[f32], grad: &[f32], dw: &mut [f32], window: &PlaneWindow) {
    let ([rows, cols], [_, in_cols], [_, kernel_cols]) = (window.output, window.input, window.kernel);
    let stride = window.strides[1];
    for (out_row, grad) in grad.chunks_exact(cols).enumerate().take(rows) {
        for (k_row, dw) in dw.chunks_exact_mut(kernel_cols).enumerate() {
            let Some(in_row) = window.input_row(out_row, k_row) else { continue };
            let x = &x[in_row * in_cols..][..in_cols];
            for (k_col, dw) in dw.iter_mut().enumerate() {
                let (range, start) = window.columns(k_col);
                if range.is_empty() {
                    continue;
                }
                let grad = &grad[range];
                *dw += match stride {
                    1 => dot(grad, &x[start..][..grad.len()]),
                    _ => grad.iter().zip(x[start..].iter().step_by(stride)).map(|(&g, &x)| g * x).sum(),
                };
            }
        }
    }
}

/// `a · b` in 16 running sums (a vector register's lanes), added up at the end.
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = crate::cpu::simd::LANES;
    let mut sums = [0.0f32; LANES];
    let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_blocks.remainder().iter().zip(b_blocks.remainder()).map(|(&a, &b)| a * b).sum();
    for (a, b) in a_blocks.zip(b_blocks) {
        for lane in 0..LANES {
            sums[lane] += a[lane] * b[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook sums, one output at a time, in double precision.
    fn reference(x: &[f32], weights: &[f32], channels: usize, window: &PlaneWindow) -> Vec<f64> {
        let ([rows, cols], [in_rows, in_cols], [k_rows, k_cols]) = (window.output, window.input, window.kernel);
        let planes = x.len() / (in_rows * in_cols);
        let mut out = vec![0.0f64; planes * rows * cols];
        for plane in 0..planes {
            for r in 0..rows {
                for c in 0..cols {
                    let mut sum = 0.0f64;
                    for kr in 0..k_rows {
                        for kc in 0..k_cols {
                            let row = (r * window.strides[0] + kr) as isize - window.pad_begin[0] as isize;
                            let col = (c * window.strides[1] + kc) as isize - window.pad_begin[1] as isize;
                            if row < 0 || col < 0 || row >= in_rows as isize || col >= in_cols as isize {
                                continue;
                            }
                            let value = x[plane * in_rows * in_cols + row as usize * in_cols + col as usize];
                            sum +=
                                value as f64 * weights[(plane % channels) * k_rows * k_cols + kr * k_cols + kc] as f64;
                        }
                    }
                    out[plane * rows * cols + r * cols + c] = sum;
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    fn windows() -> Vec<PlaneWindow> {
        vec![
            // 3x3 "same", stride 1; TF's "same" at stride 2 on an even plane (bottom / right
            // only); "valid" at stride 2 on an odd one; 5x5 "same" at stride 2; a plane
            // smaller than a stride's reach.
            PlaneWindow::new([3, 3], [1, 1], [[1, 1], [1, 1]], [7, 19]).unwrap(),
            PlaneWindow::new([3, 3], [2, 2], [[0, 1], [0, 1]], [10, 10]).unwrap(),
            PlaneWindow::new([3, 3], [2, 2], [[0, 0], [0, 0]], [9, 11]).unwrap(),
            PlaneWindow::new([5, 5], [2, 2], [[1, 2], [1, 2]], [14, 14]).unwrap(),
            PlaneWindow::new([3, 3], [1, 1], [[1, 1], [1, 1]], [1, 2]).unwrap(),
        ]
    }

    #[test]
    fn forward_is_the_windowed_sum() {
        let channels = 3;
        for window in windows() {
            let x = values(2 * channels * window.input_len(), 1);
            let weights = values(channels * window.kernel[0] * window.kernel[1], 2);
            let got = forward(&x, &weights, channels, &window);
            for (got, want) in got.iter().zip(reference(&x, &weights, channels, &window)) {
                assert!((*got as f64 - want).abs() < 1e-5, "{window:?}: {got} vs {want}");
            }
        }
    }

    /// The gradients as the adjoints of the forward: `<forward(x), g> = <x, dx(g)>` and
    /// `d<forward(x), g>/dw = dw(x, g)`, the sums taken in double precision.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        let channels = 3;
        for window in windows() {
            let taps = window.kernel[0] * window.kernel[1];
            let x = values(2 * channels * window.input_len(), 3);
            let weights = values(channels * taps, 4);
            let grad = values(2 * channels * window.output_len(), 5);
            let dx = input_gradient(&grad, &weights, channels, &window);
            // <x, dx> = <forward(x), g>, and each input value's gradient equals the forward's
            // response to that value alone.
            for i in [0, 1, x.len() / 2, x.len() - 1] {
                let mut unit = vec![0.0f32; x.len()];
                unit[i] = 1.0;
                let response: f64 =
                    reference(&unit, &weights, channels, &window).iter().zip(&grad).map(|(y, &g)| y * g as f64).sum();
                assert!((dx[i] as f64 - response).abs() < 1e-5, "{window:?} dx[{i}]: {} vs {response}", dx[i]);
            }
            let dw = weight_gradient(&x, &grad, channels, &window);
            for j in 0..weights.len() {
                let mut unit = vec![0.0f32; weights.len()];
                unit[j] = 1.0;
                let response: f64 =
                    reference(&x, &unit, channels, &window).iter().zip(&grad).map(|(y, &g)| y * g as f64).sum();
                assert!((dw[j] as f64 - response).abs() < 1e-4, "{window:?} dw[{j}]: {} vs {response}", dw[j]);
            }
        }
    }
}
