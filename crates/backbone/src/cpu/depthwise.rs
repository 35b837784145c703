//! A depthwise convolution (one window per channel, MobileNet's 3x3) packed for
//! channels-last host inference: each output pixel sums the window's input pixels times the
//! per-channel weights, vectorised over the channels, then the batch norm and activation.

use std::sync::Arc;

use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
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
        })
    }

    /// The same convolution with `finish` after it and `extra` zero padding before it.
    pub fn finished(&self, finish: Finish, extra: ZeroPadding) -> Self {
        Self { finish, window: Window { extra, ..self.window }, ..self.clone() }
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
        let [n, h, w, c] = input.shape;
        debug_assert_eq!(c, self.channels);
        let [oh, ow] = self.output_size([h, w]);
        let [[top, _], [left, _]] = self.window.pads([h, w]);
        let [rows, cols] = self.window.kernel;
        let strides = self.window.strides;
        let (stride, offset) = (target.stride, target.offset);
        target.data[..n * oh * ow * stride].par_chunks_mut(ow * stride).enumerate().for_each(|(row_index, row)| {
            let (b, oy) = (row_index / oh, row_index % oh);
            for (ox, pixel) in row.chunks_exact_mut(stride).enumerate() {
                let out = &mut pixel[offset..offset + c];
                out.fill(0.0);
                for ky in 0..rows {
                    let Some(iy) = (oy * strides[0] + ky).checked_sub(top).filter(|&y| y < h) else {
                        continue;
                    };
                    for kx in 0..cols {
                        let Some(ix) = (ox * strides[1] + kx).checked_sub(left).filter(|&x| x < w) else {
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
