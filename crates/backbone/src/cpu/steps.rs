//! What one step of the packed engine computes, and running it on channels-last buffers.

use std::sync::Arc;

use rayon::prelude::*;

use super::buffers::Buffers;
use super::conv::{Finish, PackedConv};
use super::dense::PackedDense;
use super::depthwise::PackedDepthwise;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::pool::{MaxPool, avg_pool_3x3_same};
use crate::layer::ZeroPadding;

/// What one step computes.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Conv(PackedConv),
    Depthwise(PackedDepthwise),
    /// A batch norm or activation on its own.
    Finish(Finish),
    MaxPool(MaxPool),
    /// Keras' `Flatten`: the channels-last map read as one vector per image.
    Flatten,
    AvgPool {
        counts_padding: bool,
    },
    Pad(ZeroPadding),
    Concat,
    /// `Add`, then the activation (only: no bias or batch norm) that alone reads it.
    Add(Finish),
    GlobalAveragePool,
    Dense(Arc<PackedDense>),
    /// A per-channel map on its own (Keras' `Rescaling`, `Normalization`).
    Channels(ChannelMap),
    /// `Multiply` of a map by 1x1 maps (per image and channel).
    Multiply,
    /// Keras' `Reshape` to `(rows, cols, channels)`: channels-last values keep their order.
    Reshape([usize; 3]),
    /// Keras' `Dropout` in a training step (only in a plan that drops; see [`dropped`]).
    Drop {
        rate: f32,
        per_image: bool,
    },
}

/// A per-channel elementwise map, in the reference's order of operations.
#[derive(Debug, Clone)]
pub(crate) enum ChannelMap {
    /// Keras' `Rescaling`: `x * scale + offset`.
    Rescale { scale: Vec<f32>, offset: f32 },
    /// Keras' `Normalization`: `(x - mean) / divisor`, `divisor = max(sqrt(variance), 1e-7)`.
    Normalize { mean: Vec<f32>, divisor: Vec<f32> },
}

impl ChannelMap {
    /// Applies the map to one pixel's channels in place.
    fn apply(&self, pixel: &mut [f32]) {
        match self {
            ChannelMap::Rescale { scale, offset } => {
                pixel.iter_mut().zip(scale.iter().cycle()).for_each(|(v, s)| *v = *v * s + offset)
            }
            ChannelMap::Normalize { mean, divisor } => {
                pixel.iter_mut().zip(mean).zip(divisor).for_each(|((v, m), d)| *v = (*v - m) / d)
            }
        }
    }
}

/// What a step computes on an input of `size`, for a profile.
pub(crate) fn describe(op: &Op, size: [usize; 2]) -> String {
    match op {
        Op::Conv(conv) => conv.describe(size),
        Op::Depthwise(conv) => conv.describe(),
        Op::Finish(_) => "batch norm / activation".into(),
        Op::MaxPool(pool) => pool.describe(),
        Op::Flatten => "flatten".into(),
        Op::AvgPool { .. } => "average pool 3x3/1".into(),
        Op::Pad(_) => "zero padding".into(),
        Op::Concat => "concatenate".into(),
        Op::Add(_) => "add".into(),
        Op::GlobalAveragePool => "global average pool".into(),
        Op::Dense(_) => "dense".into(),
        Op::Channels(ChannelMap::Rescale { .. }) => "rescaling".into(),
        Op::Channels(ChannelMap::Normalize { .. }) => "normalization".into(),
        Op::Multiply => "multiply".into(),
        Op::Reshape(_) => "reshape".into(),
        Op::Drop { .. } => "dropout".into(),
    }
}

/// Multiply-adds per output value of a step computed as a direct convolution (0 for what
/// is not a convolution), for a profile's rates.
pub(crate) fn multiply_adds_per_output(op: &Op) -> usize {
    match op {
        Op::Conv(conv) => conv.patch_len(),
        _ => 0,
    }
}

pub(crate) fn output_size(op: &Op, size: [usize; 2]) -> [usize; 2] {
    match op {
        Op::Conv(conv) => conv.output_size(size),
        Op::Depthwise(conv) => conv.output_size(size),
        Op::MaxPool(pool) => pool.output_size(size),
        _ => size,
    }
}

/// Runs a step that writes into a slice of a concatenation (temporaries from `buffers`).
pub(crate) fn forward_into(op: &Op, input: &NhwcBatch, target: &mut ChannelSlice<'_>, buffers: &Buffers) {
    match op {
        Op::Conv(conv) => conv.forward_into(input, target, buffers),
        Op::Depthwise(conv) => conv.forward_into(input, target),
        Op::MaxPool(pool) => pool.forward_into(input, target),
        other => {
            let output = forward(other, &[input], buffers);
            copy_into(&output, target);
            buffers.give(output);
        }
    }
}

/// Runs a step into a buffer of `buffers`.
pub(crate) fn forward(op: &Op, inputs: &[&NhwcBatch], buffers: &Buffers) -> NhwcBatch {
    let input = inputs[0];
    let [n, h, w, c] = input.shape;
    match op {
        Op::Conv(_) | Op::Depthwise(_) | Op::MaxPool(_) => {
            let [oh, ow] = output_size(op, [h, w]);
            let channels = match op {
                Op::Conv(conv) => conv.out_channels(),
                _ => c,
            };
            let mut output = buffers.take([n, oh, ow, channels]);
            forward_into(op, input, &mut output.as_target(), buffers);
            output
        }
        Op::Finish(finish) => {
            let mut output = buffers.take(input.shape);
            output.data.par_chunks_mut(c * w.max(1)).zip(input.data.par_chunks(c * w.max(1))).for_each(|(row, x)| {
                row.copy_from_slice(x);
                row.chunks_exact_mut(c).for_each(|p| finish.apply(p));
            });
            output
        }
        Op::AvgPool { counts_padding } => {
            let mut output = buffers.take(input.shape);
            avg_pool_3x3_same(input, *counts_padding, &Finish::default(), &mut output.as_target());
            output
        }
        Op::Pad(padding) => input.padded(padding.resolve([h, w])),
        Op::Add(activation) => {
            let mut output = buffers.take(input.shape);
            output.data.par_chunks_mut(1 << 14).zip(input.data.par_chunks(1 << 14)).enumerate().for_each(
                |(i, (out, a))| {
                    out.copy_from_slice(a);
                    for other in &inputs[1..] {
                        out.iter_mut().zip(&other.data[i << 14..]).for_each(|(o, v)| *o += v);
                    }
                    // Elementwise: an activation alone does not depend on the channel.
                    activation.apply(out);
                },
            );
            output
        }
        Op::GlobalAveragePool => {
            let mut output = NhwcBatch::zeros([n, 1, 1, c]);
            // Each row summed in f32, the rows in f64: a float32 running sum over a large map
            // (12544 pixels of EfficientNet's first squeeze) drifts by ~1e-6 relative, which
            // the gates then spread over the whole map.
            output.data.par_chunks_mut(c).enumerate().for_each(|(b, out)| {
                let (mut sums, mut row_sums) = (vec![0f64; c], vec![0f32; c]);
                for row in input.data[b * h * w * c..(b + 1) * h * w * c].chunks_exact(w * c) {
                    row_sums.iter_mut().for_each(|s| *s = 0.0);
                    for pixel in row.chunks_exact(c) {
                        row_sums.iter_mut().zip(pixel).for_each(|(s, &v)| *s += v);
                    }
                    sums.iter_mut().zip(&row_sums).for_each(|(s, &r)| *s += f64::from(r));
                }
                out.iter_mut().zip(&sums).for_each(|(o, s)| *o = (s / (h * w) as f64) as f32);
            });
            output
        }
        Op::Channels(map) => {
            let mut output = buffers.take(input.shape);
            output.data.par_chunks_mut(c * w.max(1)).zip(input.data.par_chunks(c * w.max(1))).for_each(|(row, x)| {
                row.copy_from_slice(x);
                row.chunks_exact_mut(c).for_each(|p| map.apply(p));
            });
            output
        }
        Op::Multiply => {
            let mut output = buffers.take(input.shape);
            let row = c * w.max(1);
            let rows_per_image = h.max(1);
            output.data.par_chunks_mut(row).zip(input.data.par_chunks(row)).enumerate().for_each(|(r, (out, x))| {
                let b = r / rows_per_image;
                out.copy_from_slice(x);
                for gates in &inputs[1..] {
                    let gates = &gates.data[b * c..(b + 1) * c];
                    out.chunks_exact_mut(c).for_each(|p| p.iter_mut().zip(gates).for_each(|(v, g)| *v *= g));
                }
            });
            output
        }
        Op::Reshape([rows, cols, channels]) => {
            let mut output = input.clone();
            output.shape = [n, *rows, *cols, *channels];
            output
        }
        Op::Dense(dense) => dense.forward(input),
        Op::Flatten => {
            let mut output = input.clone();
            output.shape = [n, 1, 1, h * w * c];
            output
        }
        Op::Concat => unreachable!("concatenations are assembled in `run`"),
        Op::Drop { .. } => unreachable!("dropouts are drawn in `run`"),
    }
}

/// Copies a batch into the channel slice of a larger one (same pixels).
pub(crate) fn copy_into(part: &NhwcBatch, target: &mut ChannelSlice<'_>) {
    let c = part.channels();
    let (stride, offset) = (target.stride, target.offset);
    target
        .data
        .par_chunks_mut(stride)
        .zip(part.data.par_chunks(c))
        .for_each(|(out, pixel)| out[offset..offset + c].copy_from_slice(pixel));
}

/// A uniform number in `[0, 1)` for `index` of the stream `seed` (splitmix64's top 24 bits):
/// the same draw whichever thread computes it.
fn uniform(seed: u64, index: u64) -> f32 {
    let mut z = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// Keras' `Dropout(rate)` in a training step on a batch whose first image is image
/// `first_image` of the whole batch: each image (`per_image`, EfficientNet's drop-connect:
/// `noise_shape=(None, 1, 1, 1)`) or each value kept with probability `1 - rate` and scaled by
/// `1 / (1 - rate)`, zeroed otherwise; the draws come from `seed` and the image's index in the
/// whole batch, so a batch split among threads drops as the whole would.
pub(crate) fn dropped(
    input: &NhwcBatch,
    (rate, per_image): (f32, bool),
    (seed, first_image): (u64, usize),
    buffers: &Buffers,
) -> NhwcBatch {
    let mut output = buffers.take(input.shape);
    let [_, h, w, c] = input.shape;
    let image = h * w * c;
    let keep = 1.0 - rate;
    let scale = 1.0 / keep;
    output.data.par_chunks_mut(image).zip(input.data.par_chunks(image)).enumerate().for_each(|(b, (out, x))| {
        let global = (first_image + b) as u64;
        match per_image {
            true => {
                let factor = if uniform(seed, global) < keep { scale } else { 0.0 };
                out.iter_mut().zip(x).for_each(|(o, v)| *o = v * factor);
            }
            false => {
                for (i, (o, v)) in out.iter_mut().zip(x).enumerate() {
                    let kept = uniform(seed, global * image as u64 + i as u64) < keep;
                    *o = if kept { v * scale } else { 0.0 };
                }
            }
        }
    });
    output
}
