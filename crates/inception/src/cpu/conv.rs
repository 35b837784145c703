//! A conv unit (convolution, batch norm, ReLU) packed for channels-last host inference:
//! the convolution is one matrix product per tile of output pixels (the patches of a tile
//! gathered into rows, `im2col`; a 1x1 convolution multiplies the input directly), the batch
//! norm and ReLU are applied to the tile while it is still in cache.

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use super::winograd::Winograd3x3;
use crate::conv_bn::BasicConv2d;
use crate::error::Result;

/// The batch norm of a unit, in the reference implementation's order of operations (see
/// [`crate::batch_norm::BatchNormalization::forward_inference`]).
#[derive(Debug, Clone)]
enum Normalization {
    /// Keras: `(x - mean) * inv_std + beta`.
    Centered {
        mean: Vec<f32>,
        inv_std: Vec<f32>,
        beta: Vec<f32>,
    },
    /// torchvision: `x * scale + shift`.
    Affine { scale: Vec<f32>, shift: Vec<f32> },
}

impl Normalization {
    /// Normalises one pixel's output channels in place and applies ReLU.
    #[inline]
    fn apply_relu(&self, values: &mut [f32]) {
        match self {
            Normalization::Centered { mean, inv_std, beta } => {
                for (((v, m), s), b) in values.iter_mut().zip(mean).zip(inv_std).zip(beta) {
                    *v = ((*v - m) * s + b).max(0.0);
                }
            }
            Normalization::Affine { scale, shift } => {
                for ((v, a), b) in values.iter_mut().zip(scale).zip(shift) {
                    *v = (*v * a + b).max(0.0);
                }
            }
        }
    }
}

/// How [`super::CpuInference`] computes the 3x3 stride-1 convolutions (half of
/// InceptionV3's arithmetic at 150x150; every other kernel is a direct matrix product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// Winograd's F(2x2, 3x3): 2.25x fewer multiplications, ~25% faster overall; float32
    /// results within ~2x the rounding of the direct product (mixed0 at 150x150: 1.4e-5 from
    /// Keras instead of 7e-6, for values up to 5).
    #[default]
    Winograd,
    /// A direct matrix product of the gathered patches: the summation Burn's flex backend
    /// uses, agreeing with it to the last bit or so.
    Direct,
}

/// `relu(batch_norm(conv(x)))` with the weights laid out as one `[patch, out_channels]`
/// matrix, patch index `(ky * cols + kx) * in_channels + c`.
#[derive(Debug, Clone)]
pub(crate) struct PackedConv {
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    in_channels: usize,
    out_channels: usize,
    /// Empty when `winograd` is used.
    weights: Vec<f32>,
    norm: Normalization,
    /// The same convolution by Winograd's F(2x2, 3x3), for 3x3 stride-1 kernels on enough
    /// channels that the transforms pay off.
    winograd: Option<Winograd3x3>,
}

/// Output pixels per tile (one matrix product each): enough tiles to keep every thread
/// busy, few enough that each product is efficient and its patches stay in cache.
fn tile_rows(rows: usize, patch: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let cache_rows = (512 * 1024 / (patch * 4)).clamp(32, 512);
    rows.div_ceil(4 * threads).clamp(16, cache_rows)
}

thread_local! {
    /// Each thread's patch buffer, reused from tile to tile.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl PackedConv {
    /// Packs a unit's weights and batch-norm statistics (read from any device).
    pub fn pack(unit: &BasicConv2d, algorithm: ConvAlgorithm) -> Result<Self> {
        let weight = unit.conv.weight.val();
        let [out_channels, in_channels, rows, cols] = weight.dims();
        let planar = host_values(weight)?;
        let patch = rows * cols * in_channels;
        let mut weights = vec![0.0; patch * out_channels];
        for o in 0..out_channels {
            for c in 0..in_channels {
                for ky in 0..rows {
                    for kx in 0..cols {
                        let k = (ky * cols + kx) * in_channels + c;
                        weights[k * out_channels + o] = planar[((o * in_channels + c) * rows + ky) * cols + kx];
                    }
                }
            }
        }
        let bn = &unit.bn;
        let epsilon = bn.epsilon as f32;
        let mean = host_values(bn.moving_mean.value())?;
        let inv_std: Vec<f32> = host_values(bn.moving_variance.value())?
            .iter()
            .map(|v| (v + epsilon).sqrt().recip())
            .collect();
        let beta = host_values(bn.beta.val())?;
        let norm = match &bn.gamma {
            None => Normalization::Centered { mean, inv_std, beta },
            Some(gamma) => {
                let scale: Vec<f32> = host_values(gamma.val())?
                    .iter()
                    .zip(&inv_std)
                    .map(|(g, s)| g * s)
                    .collect();
                let shift = beta
                    .iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((b, m), a)| b - m * a)
                    .collect();
                Normalization::Affine { scale, shift }
            }
        };
        let winograd = (algorithm == ConvAlgorithm::Winograd
            && [rows, cols] == [3, 3]
            && unit.conv.stride == [1, 1]
            && in_channels >= 16)
            .then(|| Winograd3x3::new(&planar, in_channels, out_channels, unit.padding));
        if winograd.is_some() {
            weights = Vec::new(); // only the transformed kernels are used
        }
        Ok(Self {
            winograd,
            kernel: [rows, cols],
            stride: unit.conv.stride[0],
            padding: unit.padding,
            in_channels,
            out_channels,
            weights,
            norm,
        })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let axis = |n: usize, k: usize, p: usize| (n + 2 * p - k) / self.stride + 1;
        [
            axis(h, self.kernel[0], self.padding[0]),
            axis(w, self.kernel[1], self.padding[1]),
        ]
    }

    /// Runs the unit into a new buffer.
    pub fn forward(&self, input: &NhwcBatch) -> NhwcBatch {
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let mut output = NhwcBatch::zeros([n, oh, ow, self.out_channels]);
        self.forward_into(input, &mut output.as_target());
        output
    }

    /// Runs the unit, writing its `out_channels` into `target` (same pixels as the output).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        debug_assert_eq!(input.channels(), self.in_channels);
        debug_assert_eq!(target.width, self.out_channels);
        if let Some(winograd) = &self.winograd {
            return winograd.forward_into(input, target, &|pixel| self.norm.apply_relu(pixel));
        }
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let rows = n * oh * ow;
        let patch = self.kernel[0] * self.kernel[1] * self.in_channels;
        let tile = tile_rows(rows, patch);
        let parallelism = match rows.div_ceil(tile) < rayon::current_num_threads() {
            true => Parallelism::Rayon(0),
            false => Parallelism::None,
        };
        let direct = self.kernel == [1, 1] && self.stride == 1;
        let (stride, offset) = (target.stride, target.offset);
        target.data[..rows * stride]
            .par_chunks_mut(tile * stride)
            .enumerate()
            .for_each(|(index, chunk)| {
                let first = index * tile;
                let count = chunk.len() / stride;
                let destination = chunk.as_mut_ptr();
                let multiply = |lhs: &[f32]| {
                    // SAFETY: `lhs` holds `count` rows of `patch` values, the weights `patch` rows
                    // of `out_channels`, and `chunk` `count` pixels of `stride` channels of which
                    // `offset .. offset + out_channels` are written: all in bounds.
                    unsafe {
                        gemm::gemm(
                            count,
                            self.out_channels,
                            patch,
                            destination.add(offset),
                            1,
                            stride as isize,
                            false,
                            lhs.as_ptr(),
                            1,
                            patch as isize,
                            self.weights.as_ptr(),
                            1,
                            self.out_channels as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            parallelism,
                        )
                    }
                };
                match direct {
                    true => multiply(&input.data[first * patch..(first + count) * patch]),
                    false => PATCHES.with_borrow_mut(|patches| {
                        patches.resize(count * patch, 0.0);
                        self.gather_patches(input, first, count, [oh, ow], patches);
                        multiply(patches);
                    }),
                }
                for pixel in chunk.chunks_exact_mut(stride) {
                    self.norm.apply_relu(&mut pixel[offset..offset + self.out_channels]);
                }
            });
    }

    /// Copies the input patches of output pixels `first .. first + count` into rows of
    /// `patches` (zeros where the window hangs over the padding).
    fn gather_patches(&self, input: &NhwcBatch, first: usize, count: usize, [oh, ow]: [usize; 2], patches: &mut [f32]) {
        let [_, h, w, c] = input.shape;
        let [rows, cols] = self.kernel;
        let patch = rows * cols * c;
        for (local, row) in patches.chunks_exact_mut(patch).take(count).enumerate() {
            let pixel = first + local;
            let (b, oy, ox) = (pixel / (oh * ow), pixel / ow % oh, pixel % ow);
            for ky in 0..rows {
                let iy = (oy * self.stride + ky) as isize - self.padding[0] as isize;
                for kx in 0..cols {
                    let ix = (ox * self.stride + kx) as isize - self.padding[1] as isize;
                    let dst = &mut row[(ky * cols + kx) * c..(ky * cols + kx + 1) * c];
                    match (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                        true => {
                            let src = ((b * h + iy as usize) * w + ix as usize) * c;
                            dst.copy_from_slice(&input.data[src..src + c]);
                        }
                        false => dst.fill(0.0),
                    }
                }
            }
        }
    }
}
