//! A depthwise convolution (one window per channel, MobileNet's 3x3) packed for
//! channels-last host inference: each output pixel sums the window's input pixels times the
//! per-channel weights, vectorised over the channels, then the batch norm and activation.

use std::sync::Arc;

use rayon::prelude::*;

use super::conv::{Finish, NO_PADDING, total_padding};
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use crate::error::Result;
use crate::layer::{Padding, ZeroPadding, window_output};
use crate::network::ConvParams;

/// A `DepthwiseConv2D` (depth multiplier 1) with what follows it.
#[derive(Debug, Clone)]
pub(crate) struct PackedDepthwise {
    kernel: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    extra: ZeroPadding,
    channels: usize,
    /// `[ky][kx][channel]`.
    weights: Arc<Vec<f32>>,
    finish: Finish,
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
            kernel: [rows, cols],
            strides,
            padding,
            extra: NO_PADDING,
            channels,
            weights: Arc::new(weights),
            finish: Finish::with_bias(bias),
        })
    }

    /// The same convolution with `finish` after it and `extra` zero padding before it.
    pub fn finished(&self, finish: Finish, extra: ZeroPadding) -> Self {
        Self { finish, extra, ..self.clone() }
    }

    /// The bias-only finish it was packed with.
    pub fn base_finish(&self) -> Finish {
        self.finish.clone()
    }

    fn pads(&self, size: [usize; 2]) -> [[usize; 2]; 2] {
        total_padding(self.padding, self.extra, size, self.kernel, self.strides)
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        let pads = self.pads(size);
        [0, 1].map(|a| window_output(size[a], pads[a], self.kernel[a], self.strides[a]))
    }

    /// Runs it, writing its channels into `target` (same pixels as the output).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        let [n, h, w, c] = input.shape;
        debug_assert_eq!(c, self.channels);
        let [oh, ow] = self.output_size([h, w]);
        let [[top, _], [left, _]] = self.pads([h, w]);
        let [rows, cols] = self.kernel;
        let (stride, offset) = (target.stride, target.offset);
        target.data[..n * oh * ow * stride]
            .par_chunks_mut(ow * stride)
            .enumerate()
            .for_each(|(row_index, row)| {
                let (b, oy) = (row_index / oh, row_index % oh);
                for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                    let out = &mut pixel[offset..offset + c];
                    out.fill(0.0);
                    for ky in 0..rows {
                        let Some(iy) = (oy * self.strides[0] + ky).checked_sub(top).filter(|&y| y < h) else {
                            continue;
                        };
                        for kx in 0..cols {
                            let Some(ix) = (ox * self.strides[1] + kx).checked_sub(left).filter(|&x| x < w) else {
                                continue;
                            };
                            let src = &input.data[((b * h + iy) * w + ix) * c..][..c];
                            let k = &self.weights[(ky * cols + kx) * c..][..c];
                            for ((o, x), k) in out.iter_mut().zip(src).zip(k) {
                                *o += x * k;
                            }
                        }
                    }
                    self.finish.apply(out);
                }
            });
    }
}
