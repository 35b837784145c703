//! A depthwise convolution (one window per channel, MobileNet's 3x3) packed for
//! channels-last host inference: each output pixel sums the window's input pixels times the
//! per-channel weights, vectorised over the channels, then the batch norm and activation.

use std::sync::Arc;

use rayon::prelude::*;

use super::conv::{Finish, PackedConv};
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use super::simd::{LANES, vectorized};
use super::window::Window;
use crate::error::Result;
use crate::layer::{Padding, ZeroPadding};
use crate::network::ConvParams;

/// A `DepthwiseConv2D` (depth multiplier 1) with what follows it.
#[derive(Debug, Clone)]
pub(crate) struct PackedDepthwise {
    window: Window,
    channels: usize,
    /// `[ky][kx][channel]`.
    weights: Arc<Vec<f32>>,
    finish: Finish,
    /// The 1x1 expansion whose output only this convolution reads, computed on the fly
    /// (see `PackedConv::forward_block`).
    expand: Option<Box<PackedConv>>,
    /// Whether it reads the ReLU of its input (a ReLU that only it reads, applied as each
    /// value is loaded: Xception's `_sepconv1_act` before its separable convolutions).
    input_relu: bool,
}

/// Rows `first_row ..` of image `image` of a `[batch, rows, cols, channels]` batch (or, with
/// both 0, the whole batch), where a depthwise window reads its input.
pub(crate) struct RowsView<'a> {
    /// The values, starting at row `first_row` of image `image`.
    pub data: &'a [f32],
    /// The shape of the whole batch.
    pub shape: [usize; 4],
    /// The first image held.
    pub image: usize,
    /// The first row held of that image.
    pub first_row: usize,
}

impl<'a> RowsView<'a> {
    /// The whole batch.
    pub fn whole(batch: &'a NhwcBatch) -> Self {
        Self { data: &batch.data, shape: batch.shape, image: 0, first_row: 0 }
    }

    /// Offset of pixel `(b, iy, ix)` in `data`.
    #[inline(always)]
    fn offset(&self, b: usize, iy: usize, ix: usize) -> usize {
        let [_, h, w, c] = self.shape;
        (((b - self.image) * h + iy - self.first_row) * w + ix) * c
    }
}

impl PackedDepthwise {
    /// Packs a kernel `[channels, 1, rows, cols]` (read from any device).
    pub fn pack(conv: &ConvParams, strides: [usize; 2], padding: Padding) -> Result<Self> {
        let weight = conv.kernel.val();
        let [channels, _, rows, cols] = weight.dims();
        let planar = host_values(weight)?;
        let mut weights = vec![0.0; rows * cols * channels];
        for c in 0..channels {
            for k in 0..rows * cols {
                weights[k * channels + c] = planar[c * rows * cols + k];
            }
        }
        let bias = conv.bias.as_ref().map(|b| host_values(b.val())).transpose()?;
        Ok(Self {
            window: Window::new([rows, cols], strides, padding),
            channels,
            weights: Arc::new(weights),
            finish: Finish::with_bias(bias),
            expand: None,
            input_relu: false,
        })
    }

    /// The same convolution reading the ReLU of its input.
    pub fn after_relu(&self) -> Self {
        Self { input_relu: true, ..self.clone() }
    }

    /// The same convolution with `finish` after it and `extra` zero padding before it.
    pub fn finished(&self, finish: Finish, extra: ZeroPadding) -> Self {
        Self { finish, window: Window { extra, ..self.window }, ..self.clone() }
    }

    /// This depthwise convolution reading what the pointwise `expand` computes from the input.
    pub fn after_expand(&self, expand: PackedConv) -> Self {
        Self { expand: Some(Box::new(expand)), ..self.clone() }
    }

    /// The expansion computed on the fly, if any.
    pub fn expand(&self) -> Option<&PackedConv> {
        self.expand.as_deref()
    }

    /// `(top padding, kernel rows, row stride)` over an input of `[rows, cols]`.
    pub fn row_geometry(&self, size: [usize; 2]) -> (usize, usize, usize) {
        (self.window.pads(size)[0][0], self.window.kernel[0], self.window.strides[0])
    }

    /// What it computes, for a profile (`"depthwise 3x3/2 96"`, with the expansion before it).
    pub fn describe(&self) -> String {
        let [kh, kw] = self.window.kernel;
        let relu = if self.input_relu { " after ReLU" } else { "" };
        let own = format!("depthwise {kh}x{kw}/{} {}{relu}", self.window.strides[0], self.channels);
        match &self.expand {
            // A 1x1 convolution: described the same on any grid.
            Some(expand) => format!("{own} after {}", expand.describe([0, 0])),
            None => own,
        }
    }

    /// The bias-only finish it was packed with.
    pub fn base_finish(&self) -> Finish {
        self.finish.clone()
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        self.window.output_size(size)
    }

    /// Runs it, writing its channels into `target` (same pixels as the output).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
            let view = RowsView::whole(input);
            let out = PixelsOut { data: row, stride, offset };
            vectorized(
                #[inline(always)]
                || match self.input_relu {
                    true => self.pixels::<true>(&view, row_index * ow, [oh, ow], out),
                    false => self.pixels::<false>(&view, row_index * ow, [oh, ow], out),
                },
            )
        });
    }

    /// Output pixels `first ..` (batch-major, as many as fit) into consecutive rows of
    /// `out`, `channels` values each.
    pub fn pixels_into(&self, input: &RowsView<'_>, first: usize, output: [usize; 2], out: &mut [f32]) {
        let out = PixelsOut { data: out, stride: self.channels, offset: 0 };
        vectorized(
            #[inline(always)]
            || match self.input_relu {
                true => self.pixels::<true>(input, first, output, out),
                false => self.pixels::<false>(input, first, output, out),
            },
        )
    }

    /// Output pixels `first ..` into `out`, a row of the output at a time: the pixels of a
    /// 3x3 window inside the input by [`interior_run`], the others tap by tap; with `RELU`,
    /// of the ReLU of the input.
    #[inline(always)]
    fn pixels<const RELU: bool>(&self, input: &RowsView<'_>, first: usize, [oh, ow]: [usize; 2], out: PixelsOut<'_>) {
        let [_, h, w, c] = input.shape;
        let [top, left] = self.top_left([h, w]);
        let [rows, cols] = self.window.kernel;
        let [sy, sx] = self.window.strides;
        let count = out.data.len() / out.stride;
        let mut taps = Vec::with_capacity(rows * cols);
        let mut index = first;
        while index < first + count {
            let (b, oy, ox) = (index / (oh * ow), index / ow % oh, index % ow);
            let run_end = (index - ox + ow).min(first + count);
            // Output columns whose windows lie inside the input: left <= ox * sx and
            // ox * sx + cols <= w + left.
            let rows_inside = oy * sy >= top && oy * sy + rows <= h + top;
            let lo = left.div_ceil(sx);
            let hi = match w + left >= cols {
                true => (w + left - cols) / sx + 1,
                false => 0,
            };
            let (lo, hi) = (lo.max(ox), hi.min(ox + run_end - index));
            let end = ox + run_end - index;
            let (lo, hi) = match [rows, cols] == [3, 3] && rows_inside && lo < hi {
                true => (lo, hi),
                false => (end, end),
            };
            let at = |column: usize| (index - first + column - ox) * out.stride;
            for column in (ox..lo).chain(hi..end) {
                let pixel = &mut out.data[at(column) + out.offset..at(column) + out.offset + c];
                self.pixel::<RELU>(input, (b, oy, column), [top, left], &mut taps, pixel);
            }
            if lo < hi {
                let iy = oy * sy - top;
                let row_offsets = [0, 1, 2].map(|ky| input.offset(b, iy + ky, 0));
                let run = &mut out.data[at(lo)..at(hi)];
                interior_run::<RELU>(
                    input.data,
                    row_offsets,
                    [(lo * sx - left) * c, sx * c],
                    &self.weights,
                    c,
                    run,
                    [hi - lo, out.stride, out.offset],
                );
                for pixel in run.chunks_exact_mut(out.stride) {
                    self.finish.apply(&mut pixel[out.offset..out.offset + c]);
                }
            }
            index = run_end;
        }
    }

    /// The padding `[top, left]` over an input of `[rows, cols]`.
    fn top_left(&self, size: [usize; 2]) -> [usize; 2] {
        let [[top, _], [left, _]] = self.window.pads(size);
        [top, left]
    }

    /// One output pixel `(image, row, column)`, tap by tap (windows over the padding).
    #[inline(always)]
    fn pixel<const RELU: bool>(
        &self,
        input: &RowsView<'_>,
        (b, oy, ox): (usize, usize, usize),
        [top, left]: [usize; 2],
        taps: &mut Vec<(usize, usize)>,
        out: &mut [f32],
    ) {
        let [_, h, w, c] = input.shape;
        let [rows, cols] = self.window.kernel;
        let strides = self.window.strides;
        taps.clear();
        for ky in 0..rows {
            let Some(iy) = (oy * strides[0] + ky).checked_sub(top).filter(|&y| y < h) else { continue };
            for kx in 0..cols {
                let Some(ix) = (ox * strides[1] + kx).checked_sub(left).filter(|&x| x < w) else { continue };
                taps.push((input.offset(b, iy, ix), (ky * cols + kx) * c));
            }
        }
        accumulate::<RELU>(out, taps, input.data, &self.weights);
        self.finish.apply(out);
    }
}

/// Where output pixels go: pixel `i`'s channels at `data[i * stride + offset ..]`.
struct PixelsOut<'a> {
    data: &'a mut [f32],
    stride: usize,
    offset: usize,
}

/// An input value as read: its ReLU with `RELU` (as `Finish` computes it: NaN kept).
#[inline(always)]
fn read<const RELU: bool>(x: f32) -> f32 {
    if RELU && x < 0.0 { 0.0 } else { x }
}

/// Pixels per pass of [`interior_run`]: independent sums that share each weight load.
const RUN: usize = 4;

/// A run of `count` output pixels of one row whose 3x3 windows lie inside the input: the
/// window of pixel `p` starts at column offset `first + p * step` of the three input rows
/// at `row_offsets`. Channels a register at a time, the nine weights of a register held
/// while `RUN` pixels are summed, taps in the same order as [`accumulate`] (so the same
/// values). Writes pixel `p` at `out[p * stride + offset ..]`; no finish.
#[inline(always)]
fn interior_run<const RELU: bool>(
    input: &[f32],
    row_offsets: [usize; 3],
    [first, step]: [usize; 2],
    weights: &[f32],
    c: usize,
    out: &mut [f32],
    [count, stride, offset]: [usize; 3],
) {
    let mut start = 0;
    while start + LANES <= c {
        let k: [[f32; LANES]; 9] = std::array::from_fn(|t| {
            weights[t * c + start..t * c + start + LANES].try_into().expect("a register of weights")
        });
        let mut p = 0;
        while p + RUN <= count {
            let base = first + p * step + start;
            // The furthest value the loads below read (row 2, column 2, the run's last pixel).
            let end = row_offsets[2] + base + (RUN - 1) * step + 2 * c + LANES;
            assert!(end <= input.len(), "a depthwise window past its input");
            let mut sum = [[0.0f32; LANES]; RUN];
            for (t, weight) in k.iter().enumerate() {
                let tap = row_offsets[t / 3] + base + (t % 3) * c;
                for (q, acc) in sum.iter_mut().enumerate() {
                    // SAFETY: `tap + q * step + LANES <= end <= input.len()` (asserted above).
                    let x = unsafe { &*input.as_ptr().add(tap + q * step).cast::<[f32; LANES]>() };
                    for lane in 0..LANES {
                        acc[lane] += read::<RELU>(x[lane]) * weight[lane];
                    }
                }
            }
            for (q, acc) in sum.iter().enumerate() {
                let at = (p + q) * stride + offset + start;
                out[at..at + LANES].copy_from_slice(acc);
            }
            p += RUN;
        }
        while p < count {
            let mut acc = [0.0f32; LANES];
            for (t, weight) in k.iter().enumerate() {
                let at = row_offsets[t / 3] + first + p * step + (t % 3) * c + start;
                let x: &[f32; LANES] = input[at..at + LANES].try_into().expect("a register of inputs");
                for lane in 0..LANES {
                    acc[lane] += read::<RELU>(x[lane]) * weight[lane];
                }
            }
            let at = p * stride + offset + start;
            out[at..at + LANES].copy_from_slice(&acc);
            p += 1;
        }
        start += LANES;
    }
    for ch in start..c {
        for p in 0..count {
            let mut acc = 0.0f32;
            for t in 0..9 {
                acc +=
                    read::<RELU>(input[row_offsets[t / 3] + first + p * step + (t % 3) * c + ch]) * weights[t * c + ch];
            }
            out[p * stride + offset + ch] = acc;
        }
    }
}

/// Registers of channels summed side by side: independent chains hide the adds' latency.
const REGISTERS: usize = 4;

/// `out[ch] = sum over taps of input[pixel + ch] * weights[position + ch]`, taps in order,
/// `REGISTERS` registers of channels at a time, then one register, then one channel.
#[inline(always)]
fn accumulate<const RELU: bool>(out: &mut [f32], taps: &[(usize, usize)], input: &[f32], weights: &[f32]) {
    let c = out.len();
    let mut start = 0;
    while start + REGISTERS * LANES <= c {
        accumulate_block::<{ REGISTERS * LANES }, RELU>(&mut out[start..], taps, input, weights, start);
        start += REGISTERS * LANES;
    }
    while start + LANES <= c {
        accumulate_block::<LANES, RELU>(&mut out[start..], taps, input, weights, start);
        start += LANES;
    }
    for ch in start..c {
        out[ch] = taps
            .iter()
            .map(|&(pixel, position)| read::<RELU>(input[pixel + ch]) * weights[position + ch])
            .fold(0.0, |s, v| s + v);
    }
}

/// Channels `start .. start + N` of [`accumulate`] (`out` starting at `start`), summed in
/// registers.
#[inline(always)]
fn accumulate_block<const N: usize, const RELU: bool>(
    out: &mut [f32],
    taps: &[(usize, usize)],
    input: &[f32],
    weights: &[f32],
    start: usize,
) {
    let mut sum = [0.0f32; N];
    for &(pixel, position) in taps {
        let x: &[f32; N] = input[pixel + start..pixel + start + N].try_into().expect("a block of channels");
        let k: &[f32; N] = weights[position + start..position + start + N].try_into().expect("a block of channels");
        for lane in 0..N {
            sum[lane] += read::<RELU>(x[lane]) * k[lane];
        }
    }
    out[..N].copy_from_slice(&sum);
}
