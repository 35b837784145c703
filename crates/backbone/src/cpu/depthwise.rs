//! A depthwise convolution (one window per channel, MobileNet's 3x3) packed for
//! channels-last host inference: each output pixel sums the window's input pixels times the
//! per-channel weights, vectorised over the channels, then the batch norm and activation.

use std::sync::Arc;

use rayon::prelude::*;

use super::conv::{Finish, PackedConv};
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use super::simd::vectorized;
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
        })
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
        let c = self.channels;
        target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
            let mut taps = Vec::with_capacity(self.window.kernel[0] * self.window.kernel[1]);
            vectorized(|| {
                let view = RowsView::whole(input);
                for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                    self.pixel(&view, row_index * ow + ox, [oh, ow], &mut taps, &mut pixel[offset..offset + c]);
                }
            })
        });
    }

    /// Output pixels `first ..` (batch-major, as many as fit) into consecutive rows of
    /// `out`, `channels` values each.
    pub fn pixels_into(&self, input: &RowsView<'_>, first: usize, output: [usize; 2], out: &mut [f32]) {
        let mut taps = Vec::with_capacity(self.window.kernel[0] * self.window.kernel[1]);
        vectorized(|| {
            for (local, pixel) in out.chunks_exact_mut(self.channels).enumerate() {
                self.pixel(input, first + local, output, &mut taps, pixel);
            }
        })
    }

    /// One output pixel (`index` in batch-major order over an output of `[oh, ow]`).
    #[inline(always)]
    fn pixel(
        &self,
        input: &RowsView<'_>,
        index: usize,
        [oh, ow]: [usize; 2],
        taps: &mut Vec<(usize, usize)>,
        out: &mut [f32],
    ) {
        let [_, h, w, c] = input.shape;
        let [[top, _], [left, _]] = self.window.pads([h, w]);
        let [rows, cols] = self.window.kernel;
        let strides = self.window.strides;
        let (b, oy, ox) = (index / (oh * ow), index / ow % oh, index % ow);
        taps.clear();
        for ky in 0..rows {
            let Some(iy) = (oy * strides[0] + ky).checked_sub(top).filter(|&y| y < h) else { continue };
            for kx in 0..cols {
                let Some(ix) = (ox * strides[1] + kx).checked_sub(left).filter(|&x| x < w) else { continue };
                taps.push((input.offset(b, iy, ix), (ky * cols + kx) * c));
            }
        }
        accumulate(out, taps, input.data, &self.weights);
        self.finish.apply(out);
    }
}

/// Lanes summed at once: a register's worth with AVX-512.
const LANES: usize = 16;

/// `out[ch] = sum over taps of input[pixel + ch] * weights[position + ch]`, taps in order,
/// a register of channels at a time.
#[inline(always)]
fn accumulate(out: &mut [f32], taps: &[(usize, usize)], input: &[f32], weights: &[f32]) {
    let c = out.len();
    let mut start = 0;
    while start + LANES <= c {
        let mut sum = [0.0f32; LANES];
        for &(pixel, position) in taps {
            let x: &[f32; LANES] = input[pixel + start..pixel + start + LANES].try_into().expect("lanes");
            let k: &[f32; LANES] = weights[position + start..position + start + LANES].try_into().expect("lanes");
            for lane in 0..LANES {
                sum[lane] += x[lane] * k[lane];
            }
        }
        out[start..start + LANES].copy_from_slice(&sum);
        start += LANES;
    }
    for ch in start..c {
        out[ch] =
            taps.iter().map(|&(pixel, position)| input[pixel + ch] * weights[position + ch]).fold(0.0, |s, v| s + v);
    }
}
