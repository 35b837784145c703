//! A convolution (with the batch norm and activation after it) packed for channels-last host
//! inference: one matrix product per tile of output pixels (the patches of a tile gathered
//! into rows, `im2col`; a 1x1 convolution multiplies the input directly), the batch norm and
//! activation applied to the tile while it is still in cache.

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use std::sync::Arc;

use super::buffers::Buffers;
use super::depthwise::{PackedDepthwise, RowsView};
use super::direct::{BLOCK, DirectConv, PIXELS, TILE_BLOCKS};
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use super::pool::avg_pool_3x3_same;
use super::simd::vectorized;
use super::window::{NO_PADDING, Window};
use super::window_classes::{Geometry, WindowClass};
use super::winograd::{Tile, WinogradConv};
use crate::batch_norm::BatchNormalization;
use crate::error::Result;
use crate::layer::{Activation, Padding, ZeroPadding};
use crate::network::ConvParams;

/// What follows a convolution on each output pixel while it is still in cache: its bias,
/// the batch norm after it (in the reference's order of operations, see
/// [`crate::batch_norm::BatchNormalization::forward_inference`]) and the activation after that.
#[derive(Debug, Clone, Default)]
pub(crate) struct Finish {
    bias: Option<Vec<f32>>,
    norm: Normalization,
    activation: Option<Activation>,
}

/// A batch norm on its moving statistics.
#[derive(Debug, Clone, Default)]
enum Normalization {
    /// None.
    #[default]
    Identity,
    /// TensorFlow: `(x - mean) * factor + beta`.
    Centered { mean: Vec<f32>, factor: Vec<f32>, beta: Vec<f32> },
    /// PyTorch: `x * scale + shift`.
    Affine { scale: Vec<f32>, shift: Vec<f32> },
}

/// ReLU that keeps NaN (as TensorFlow's and PyTorch's do).
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v < 0.0 { 0.0 } else { v }
}

/// ReLU6 (`clamp` keeps NaN).
#[inline(always)]
fn relu6(v: f32) -> f32 {
    v.clamp(0.0, 6.0)
}

/// `exp(x)` of a finite `x` to within 2 ulps (Cephes' `expf`: `2^n * e^r` with
/// `|r| <= ln 2 / 2` and a degree-7 polynomial), with no call, branch or float-to-integer
/// conversion so that loops over channels vectorise; `x` is clamped to where the result is
/// a normal float.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to the nearest integer, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let two_to_n = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * two_to_n
}

/// The logistic sigmoid, `1 / (1 + exp(-v))`.
#[inline(always)]
pub(crate) fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

/// Swish (TensorFlow's `silu`): `v * sigmoid(v)`.
#[inline(always)]
pub(crate) fn swish(v: f32) -> f32 {
    v * sigmoid(v)
}

impl Finish {
    /// The bias of a convolution, to which a batch norm and an activation may be added.
    pub fn with_bias(bias: Option<Vec<f32>>) -> Self {
        Self { bias, ..Self::default() }
    }

    /// Adds the batch norm `bn` (read from any device).
    pub fn with_norm(mut self, bn: &BatchNormalization) -> Result<Self> {
        let epsilon = bn.epsilon as f32;
        let mean = host_values(bn.moving_mean.value())?;
        let inv_std: Vec<f32> =
            host_values(bn.moving_variance.value())?.iter().map(|v| (v + epsilon).sqrt().recip()).collect();
        let beta = host_values(bn.beta.val())?;
        let factor = match &bn.gamma {
            None => inv_std,
            Some(gamma) => host_values(gamma.val())?.iter().zip(&inv_std).map(|(g, s)| g * s).collect(),
        };
        self.norm = match bn.tensorflow_order {
            true => Normalization::Centered { mean, factor, beta },
            false => {
                let shift = beta.iter().zip(&mean).zip(&factor).map(|((b, m), a)| b - m * a).collect();
                Normalization::Affine { scale: factor, shift }
            }
        };
        Ok(self)
    }

    /// This finish followed by `norm`'s batch norm (a finish holding only that).
    pub fn then(mut self, norm: &Finish) -> Self {
        self.norm = norm.norm.clone();
        self
    }

    /// Adds the activation `activation` (not softmax, which is not per channel).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = Some(activation);
        self
    }

    /// Applies bias, batch norm and activation to one pixel's channels in place.
    #[inline(always)]
    pub fn apply(&self, values: &mut [f32]) {
        self.apply_from(values, 0)
    }

    /// Applies bias, batch norm and activation to channels `first .. first + values.len()`
    /// of one pixel, in place.
    #[inline(always)]
    pub fn apply_from(&self, values: &mut [f32], first: usize) {
        match self.activation {
            Some(Activation::Swish | Activation::Sigmoid) => self.apply_transcendental(values, first),
            _ => self.apply_inline(values, first),
        }
    }

    /// [`Finish::apply_from`] with a swish or sigmoid: on AVX2 where the machine has it (the
    /// same operations, 8 channels at a time; no FMA, so the same rounding).
    #[inline(never)]
    fn apply_transcendental(&self, values: &mut [f32], first: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the machine has AVX2 (checked on the line above).
            return unsafe { self.apply_avx2(values, first) };
        }
        self.apply_inline(values, first)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(&self, values: &mut [f32], first: usize) {
        self.apply_inline(values, first)
    }

    #[inline(always)]
    fn apply_inline(&self, values: &mut [f32], first: usize) {
        if let Some(bias) = &self.bias {
            values.iter_mut().zip(&bias[first..]).for_each(|(v, b)| *v += b);
        }
        match self.activation {
            Some(Activation::Relu) => self.normalize_then(values, first, relu),
            Some(Activation::Relu6) => self.normalize_then(values, first, relu6),
            Some(Activation::Swish) => self.normalize_then(values, first, swish),
            Some(Activation::Sigmoid) => self.normalize_then(values, first, sigmoid),
            _ => self.normalize_then(values, first, |v| v),
        }
    }

    #[inline(always)]
    fn normalize_then(&self, values: &mut [f32], first: usize, activation: impl Fn(f32) -> f32) {
        match &self.norm {
            Normalization::Identity => values.iter_mut().for_each(|v| *v = activation(*v)),
            Normalization::Centered { mean, factor, beta } => {
                let (mean, factor, beta) = (&mean[first..], &factor[first..], &beta[first..]);
                for (((v, m), s), b) in values.iter_mut().zip(mean).zip(factor).zip(beta) {
                    *v = activation((*v - m) * s + b);
                }
            }
            Normalization::Affine { scale, shift } => {
                for ((v, a), b) in values.iter_mut().zip(&scale[first..]).zip(&shift[first..]) {
                    *v = activation(*v * a + b);
                }
            }
        }
    }
}

/// How [`super::CpuInference`] computes its convolutions: the 3x3 and 5x5 stride-1 ones
/// (half of InceptionV3's arithmetic at 150x150) by Winograd's minimal filtering or
/// directly, the others directly.
///
/// Every algorithm but [`ConvAlgorithm::Direct`] computes the convolutions it does not
/// give to Winograd on a register-tiled direct kernel (6 output pixels x 64 channels or 12 x 32
/// accumulated in vector registers straight from the channels-last input, no patches
/// gathered; `backbone::cpu::direct`), except 1x1 convolutions over fewer than 512
/// channels, which are a matrix product of the input itself.
///
/// Measured on InceptionV3 cut at `mixed7` at 150x150, batch 32, on a Zen 4 (2 cores),
/// `cargo run --release --example profile_base`: the stem's two 3x3 convolutions on 32
/// channels at 72x72 take 18 and 35 ms on the direct kernel, 15 and 24 ms by F(2x2, 3x3);
/// the three 5x5 48 -> 64 at 16x16 15.7 ms on it, 12.3 ms by F(2x2, 5x5). On the parity
/// fixtures' network (which amplifies float32 rounding: Keras' own float32 `mixed9_0` at
/// 150x150 is 4.4e-4 from its float64 one, `mixed10` at 299x299 4.7e-3) the default path's
/// `mixed9_0` is 5.8e-4 from Keras' float64 output (4.9e-4 with the stem and the 5x5s on
/// the direct kernel; Burn's own convolutions 3.7e-4), `mixed10` at 299x299 6.0e-3 (5.5e-3;
/// 4.3e-3): within 1.5x Keras' own float32 error, the parity tests' bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// Winograd's F(4x4, 3x3) on 3x3 stride-1 convolutions of at least
    /// [`WINOGRAD_4X4_MIN_CHANNELS`] input channels, F(2x2, 3x3) on the thinner ones
    /// (InceptionV3's stem, where F(4x4, 3x3)'s rounding would be amplified the most), and
    /// F(2x2, 5x5) on 5x5 stride-1 ones: within Keras' own float32 accuracy on every
    /// parity test.
    #[default]
    Winograd,
    /// Winograd's F(2x2, 3x3) on every 3x3 stride-1 convolution (5x5 ones on the direct
    /// kernel): 2.25x fewer multiplications than the direct product; its transforms only
    /// add, subtract and halve, so its float32 results stay within ~2x the rounding of the
    /// direct product (mixed0 at 150x150: 1.4e-5 from Keras instead of 7e-6, for values up
    /// to 5).
    Winograd2x2,
    /// Winograd's F(4x4, 3x3) on every 3x3 stride-1 convolution and F(2x2, 5x5) on 5x5
    /// ones: 4x and 2.8x fewer multiplications, with about twice Keras' own float32 error
    /// where the network amplifies rounding (6.0e-4 at `mixed7` on the fixtures' network).
    Winograd4x4,
    /// Every convolution a matrix product of gathered patches: the summation Burn's flex
    /// backend uses, agreeing with it to the last bit or so (the reference the others are
    /// tested against).
    Direct,
}

/// The fewest input channels on which [`ConvAlgorithm::Winograd`] uses F(4x4, 3x3).
pub const WINOGRAD_4X4_MIN_CHANNELS: usize = 64;

/// The fewest Winograd output blocks per image on which [`ConvAlgorithm::Winograd`] uses
/// Winograd (counted in the tile's blocks: 2x2 or 4x4 outputs); smaller grids run on the
/// direct kernel. Image by image, the products on an 8x8 grid (4 blocks) were too short to
/// be efficient; since small grids group whole images into one product (`winograd.rs`), the
/// 8x8 and 7x7 grids gain too (2 Zen 3 cores, batch 32: InceptionV3's 3x3 448 -> 384 at 8x8
/// 99 -> 38-42 ms a pass, ResNet50's three 3x3 512 -> 512 at 7x7 200-240 -> 94 ms).
const WINOGRAD_MIN_BLOCKS: usize = 4;

/// The fewest input channels on which a 1x1 convolution runs on the register-tiled direct
/// kernel rather than as a matrix product of its input (which needs no gathering, and is
/// faster on shorter sums).
const DIRECT_POINTWISE_MIN_CHANNELS: usize = 512;

impl ConvAlgorithm {
    /// Whether a convolution of `kernel` on `in_channels` that is not computed by Winograd
    /// runs on the register-tiled direct kernel (every algorithm but [`ConvAlgorithm::Direct`]).
    fn uses_direct_kernel(self, kernel: [usize; 2], in_channels: usize) -> bool {
        self != ConvAlgorithm::Direct && (kernel != [1, 1] || in_channels >= DIRECT_POINTWISE_MIN_CHANNELS)
    }

    /// The fewest Winograd output blocks per image on which it uses Winograd (0: on every
    /// grid).
    fn winograd_min_blocks(self) -> usize {
        match self {
            ConvAlgorithm::Winograd => WINOGRAD_MIN_BLOCKS,
            _ => 0,
        }
    }

    /// The Winograd tile it uses for a stride-1 `kernel` on `in_channels`, if any.
    fn winograd_tile(self, kernel: [usize; 2], in_channels: usize) -> Option<Tile> {
        match (self, kernel) {
            (ConvAlgorithm::Winograd, [3, 3]) if in_channels >= WINOGRAD_4X4_MIN_CHANNELS => Some(Tile::F4x4),
            (ConvAlgorithm::Winograd2x2 | ConvAlgorithm::Winograd, [3, 3]) => Some(Tile::F2x2),
            (ConvAlgorithm::Winograd4x4, [3, 3]) => Some(Tile::F4x4),
            (ConvAlgorithm::Winograd | ConvAlgorithm::Winograd4x4, [5, 5]) => Some(Tile::F2x2Of5x5),
            _ => None,
        }
    }
}

/// A convolution (with what follows it, [`Finish`]) with the weights laid out as one
/// `[patch, out_channels]` matrix, patch index `(ky * cols + kx) * in_channels + c`.
#[derive(Debug, Clone)]
pub(crate) struct PackedConv {
    window: Window,
    in_channels: usize,
    out_channels: usize,
    /// Empty when `winograd` is used.
    weights: Arc<Vec<f32>>,
    finish: Finish,
    /// The same convolution by Winograd's minimal filtering, for 3x3 and 5x5 stride-1 kernels
    /// on enough channels that the transforms pay off.
    winograd: Option<Arc<WinogradConv>>,
    /// The fewest Winograd output blocks per image on which `winograd` is used (smaller
    /// grids run on `direct`).
    winograd_min_blocks: usize,
    /// The same convolution computed straight from the input ([`DirectConv`]).
    direct: Option<Arc<DirectConv>>,
    /// A depthwise convolution whose output only this (1x1) convolution reads, computed
    /// tile by tile into the rows it multiplies, never stored whole (MobileNet's
    /// depthwise -> project pairs).
    depthwise: Option<Box<PackedDepthwise>>,
    /// An average pooling whose output only this (1x1) convolution reads, computed after
    /// it instead, on its output channels ([`PooledInput`]).
    pooled_input: Option<PooledInput>,
}

/// A 3x3 stride-1 `same` average pooling before a 1x1 convolution, computed after it: both
/// are linear and the pooling's weights sum to 1, so `pool(W x) + b = W pool(x) + b`
/// (the same values up to float32 rounding); pooling the convolution's output costs what
/// pooling its input costs, scaled by output over input channels (InceptionV3's pooling
/// branches: 768 -> 192, 288 -> 64, 256 -> 32: a quarter to an eighth).
#[derive(Debug, Clone, Copy)]
struct PooledInput {
    /// Divides by 9 at the borders too (torchvision), not by the real pixels (Keras).
    counts_padding: bool,
}

/// Output pixels per tile (one matrix product each): enough tiles to keep every thread
/// busy, few enough that each product is efficient and its patches stay in cache.
fn tile_rows(rows: usize, patch: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let cache_rows = (512 * 1024 / (patch * 4)).clamp(32, 512);
    rows.div_ceil(4 * threads).clamp(16, cache_rows)
}

/// The output of a convolution written by several threads, each pixel by one of them.
#[derive(Clone, Copy)]
struct SharedOutput(*mut f32);

// SAFETY: the threads write disjoint values (see `SharedOutput::write`'s contract).
unsafe impl Send for SharedOutput {}
// SAFETY: as above.
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// Copies `values` to `at ..` of the output.
    ///
    /// # Safety
    /// `at + values.len()` is within the output, and no other thread reads or writes
    /// those values meanwhile.
    #[inline(always)]
    unsafe fn write(self, at: usize, values: &[f32]) {
        // Copies of 16 values, whose fixed size compiles to vector moves (a copy of the
        // slice's length is a call to `memmove`, per pixel of every tile: 3.5% of a pass).
        const CHUNK: usize = 16;
        let whole = values.len() / CHUNK * CHUNK;
        for (k, chunk) in values[..whole].chunks_exact(CHUNK).enumerate() {
            // SAFETY: within `at .. at + values.len()`, the caller's contract.
            unsafe { self.0.add(at + k * CHUNK).cast::<[f32; CHUNK]>().write_unaligned(chunk.try_into().expect("16")) }
        }
        for (k, &value) in values[whole..].iter().enumerate() {
            // SAFETY: as above.
            unsafe { self.0.add(at + whole + k).write(value) }
        }
    }
}

thread_local! {
    /// Each thread's expanded rows and depthwise outputs of a fused block's band.
    static BAND: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// Each thread's patch buffer, reused from tile to tile.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl PackedConv {
    /// Packs a `Conv2D` with `kernel`, `strides` and `padding` (read from any device).
    pub fn pack(conv: &ConvParams, strides: [usize; 2], padding: Padding, algorithm: ConvAlgorithm) -> Result<Self> {
        let weight = conv.kernel.val();
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
        // Winograd's transforms assume the same padding for every input size: true of
        // stride-1 square windows of odd size under `valid`, `same` and symmetric padding.
        let winograd_padding = match padding {
            Padding::Valid => [0, 0],
            Padding::Same => [rows / 2, cols / 2],
            Padding::Symmetric(p) => p,
        };
        let winograd = algorithm
            .winograd_tile([rows, cols], in_channels)
            .filter(|_| strides == [1, 1] && in_channels >= 16)
            .map(|tile| Arc::new(WinogradConv::new(tile, &planar, in_channels, out_channels, winograd_padding)));
        let direct = algorithm
            .uses_direct_kernel([rows, cols], in_channels)
            .then(|| Arc::new(DirectConv::new(&weights, rows * cols, in_channels, out_channels)));
        if winograd.is_some() {
            weights = Vec::new(); // only the transformed kernels are used
        }
        let bias = conv.bias.as_ref().map(|b| host_values(b.val())).transpose()?;
        Ok(Self {
            winograd,
            winograd_min_blocks: algorithm.winograd_min_blocks(),
            direct,
            window: Window::new([rows, cols], strides, padding),
            in_channels,
            out_channels,
            weights: Arc::new(weights),
            finish: Finish::with_bias(bias),
            depthwise: None,
            pooled_input: None,
        })
    }

    /// Whether it is a plain 1x1 stride-1 convolution (a matrix product of the input).
    pub fn is_pointwise(&self) -> bool {
        self.window.kernel == [1, 1]
            && self.window.strides == [1, 1]
            && self.window.extra == NO_PADDING
            && self.depthwise.is_none()
            && self.pooled_input.is_none()
    }

    /// This pointwise convolution reading what `depthwise` computes from the input
    /// (see [`PackedConv::is_pointwise`]).
    pub fn after_depthwise(&self, depthwise: PackedDepthwise) -> Self {
        debug_assert!(self.is_pointwise());
        Self { depthwise: Some(Box::new(depthwise)), ..self.clone() }
    }

    /// This convolution, which computes a depthwise one inside (a separable convolution),
    /// reading the ReLU of its input (see `PackedDepthwise::after_relu`).
    pub fn after_relu(&self) -> Self {
        debug_assert!(self.depthwise.is_some());
        Self { depthwise: self.depthwise.as_ref().map(|d| Box::new(d.after_relu())), ..self.clone() }
    }

    /// This pointwise convolution reading the output of a 3x3 stride-1 `same` average
    /// pooling of the input (dividing by 9 at the borders too with `counts_padding`),
    /// computed as the pooling of its own output (see [`PackedConv::is_pointwise`]).
    pub fn after_average_pool(&self, counts_padding: bool) -> Self {
        debug_assert!(self.is_pointwise() && self.pooled_input.is_none());
        Self { pooled_input: Some(PooledInput { counts_padding }), ..self.clone() }
    }

    /// The same convolution with `finish` after it and `extra` zero padding before it.
    pub fn finished(&self, finish: Finish, extra: ZeroPadding) -> Self {
        let winograd = self.winograd.clone().filter(|_| extra == NO_PADDING);
        Self { finish, window: Window { extra, ..self.window }, winograd, ..self.clone() }
    }

    /// The bias-only finish it was packed with.
    pub fn base_finish(&self) -> Finish {
        self.finish.clone()
    }

    /// The Winograd form it runs on an input of `size`, if any (none with extra padding
    /// before it, or on a grid too small).
    fn winograd_for(&self, size: [usize; 2]) -> Option<&WinogradConv> {
        let winograd = self.winograd.as_deref()?;
        let large = winograd.blocks_per_image(size) >= self.winograd_min_blocks || self.direct.is_none();
        large.then_some(winograd)
    }

    /// What it computes on an input of `size`, for a profile: kernel, stride, channels and
    /// algorithm (`"conv 3x3/1 64->96 F4x4"`, `"conv 1x7/1 160->160"`, ...).
    pub fn describe(&self, size: [usize; 2]) -> String {
        let [kh, kw] = self.window.kernel;
        let [sh, sw] = self.window.strides;
        let stride = if sh == sw { sh.to_string() } else { format!("{sh}x{sw}") };
        let algorithm = match (self.winograd_for(size), &self.depthwise, &self.pooled_input) {
            (Some(winograd), _, _) => format!(" {}", winograd.tile().name()),
            (None, Some(depthwise), _) => format!(" after {}", depthwise.describe()),
            (None, None, Some(_)) => " then average pool 3x3/1".into(),
            (None, None, None) => String::new(),
        };
        format!("conv {kh}x{kw}/{stride} {}->{}{algorithm}", self.in_channels, self.out_channels)
    }

    /// Multiply-adds per output value as a direct product: kernel taps times input channels.
    pub fn patch_len(&self) -> usize {
        self.window.kernel[0] * self.window.kernel[1] * self.in_channels
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        match &self.depthwise {
            Some(depthwise) => depthwise.output_size(size),
            None => self.window.output_size(size),
        }
    }

    /// Runs the unit, writing its `out_channels` into `target` (same pixels as the output;
    /// a temporary from `buffers` before a pooling after it).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, buffers: &Buffers) {
        debug_assert_eq!(target.width, self.out_channels);
        match self.pooled_input {
            Some(PooledInput { counts_padding }) => {
                // The convolution alone; bias, batch norm and activation after the pooling.
                let [n, h, w, _] = input.shape;
                let mut output = buffers.take([n, h, w, self.out_channels]);
                self.convolve_into(input, &mut output.as_target(), &Finish::default());
                avg_pool_3x3_same(&output, counts_padding, &self.finish, target);
                buffers.give(output);
            }
            None => self.convolve_into(input, target, &self.finish),
        }
    }

    /// The convolution, with `finish` applied to each output pixel, into `target`.
    fn convolve_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        if let Some(winograd) = self.winograd_for([input.shape[1], input.shape[2]]) {
            return winograd.forward_into(input, target, finish);
        }
        if let Some(direct) = self.direct.as_deref().filter(|_| self.depthwise.is_none()) {
            return self.forward_direct(direct, input, target, finish);
        }
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let rows = n * oh * ow;
        let patch = self.window.kernel[0] * self.window.kernel[1] * self.in_channels;
        let tile = tile_rows(rows, patch);
        let parallelism = match rows.div_ceil(tile) < rayon::current_num_threads() {
            true => Parallelism::Rayon(0),
            false => Parallelism::None,
        };
        let window = self.window;
        let direct = window.kernel == [1, 1] && window.strides == [1, 1] && window.extra == NO_PADDING;
        let pads = window.pads([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        if let Some(depthwise) = self.depthwise.as_deref()
            && depthwise.expand().is_some()
        {
            return self.forward_block(depthwise, input, target, finish);
        }
        target.data[..rows * stride].par_chunks_mut(tile * stride).enumerate().for_each(|(index, chunk)| {
            let first = index * tile;
            let count = chunk.len() / stride;
            match (&self.depthwise, direct) {
                (Some(depthwise), _) => PATCHES.with_borrow_mut(|patches| {
                    patches.resize(count * patch, 0.0);
                    depthwise.pixels_into(&RowsView::whole(input), first, [oh, ow], patches);
                    self.product_into(patches, count, chunk, (stride, offset), parallelism, finish);
                }),
                (None, true) => {
                    let lhs = &input.data[first * patch..(first + count) * patch];
                    self.product_into(lhs, count, chunk, (stride, offset), parallelism, finish);
                }
                (None, false) => PATCHES.with_borrow_mut(|patches| {
                    patches.resize(count * patch, 0.0);
                    self.gather_patches(input, first, count, [oh, ow], [pads[0][0], pads[1][0]], patches);
                    self.product_into(patches, count, chunk, (stride, offset), parallelism, finish);
                }),
            }
        });
    }

    /// The convolution by [`DirectConv`]: the output pixels by class of the taps on the
    /// input ([`WindowClass`], no padded copy), 12 at a time through every block of output
    /// channels, in chunks of tiles across threads, finished and written into the target's
    /// channels. (The product layout of the weights is kept too: a 1x1 convolution fused
    /// after a depthwise one multiplies with it.)
    fn forward_direct(&self, direct: &DirectConv, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        let [n, h, w, _] = input.shape;
        let output = self.output_size([h, w]);
        let [[top, _], [left, _]] = self.window.pads([h, w]);
        let geometry = Geometry {
            input: input.shape,
            output,
            kernel: self.window.kernel,
            strides: self.window.strides,
            padding: [top, left],
        };
        let classes = WindowClass::all(&geometry);
        let tiles: Vec<(usize, usize)> = (classes.iter().enumerate())
            .flat_map(|(k, class)| (0..class.len(n)).step_by(PIXELS).map(move |first| (k, first)))
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let chunk = tiles.len().div_ceil(32 * threads).clamp(1, 4);
        let (stride, offset, outputs) = (target.stride, target.offset, self.out_channels);
        let pixels = n * output[0] * output[1];
        assert!(target.data.len() >= pixels * stride && offset + outputs <= stride);
        let out = SharedOutput(target.data.as_mut_ptr());
        tiles.par_chunks(chunk).for_each(|tiles| {
            vectorized(
                #[inline(always)]
                || {
                    let mut values = [[0.0; TILE_BLOCKS * BLOCK]; PIXELS];
                    // The output pixels of a tile and where their windows start.
                    let places = |&(k, first): &(usize, usize)| {
                        let class: &WindowClass = &classes[k];
                        let count = PIXELS.min(class.len(n) - first);
                        let (mut outputs_at, mut starts) = ([0; PIXELS], [0; PIXELS]);
                        for (i, place) in class.pixels(first, count, &geometry).enumerate() {
                            (outputs_at[i], starts[i]) = place;
                        }
                        (count, outputs_at, starts)
                    };
                    // Tile by tile, every block of channels: the tile's input stays in L1
                    // while the weights stream from L2; the next tile's input is asked for
                    // during the last block.
                    let mut next = places(&tiles[0]);
                    for (t, tile) in tiles.iter().enumerate() {
                        let (count, outputs_at, starts) = next;
                        let taps = &classes[tile.0].taps;
                        let ahead = tiles.get(t + 1).map(places);
                        let ahead_starts = ahead.as_ref().map_or(&[][..], |(count, _, starts)| &starts[..*count]);
                        for block in (0..direct.blocks()).step_by(TILE_BLOCKS) {
                            let last = block + TILE_BLOCKS >= direct.blocks();
                            let hint = if last { ahead_starts } else { &[] };
                            let blocks = direct.tile(&input.data, (&starts[..count], hint), taps, block, &mut values);
                            let channels = block * BLOCK..outputs.min((block + blocks) * BLOCK);
                            for (&pixel, values) in outputs_at[..count].iter().zip(&mut values) {
                                let values = &mut values[..channels.len()];
                                finish.apply_from(values, channels.start);
                                // SAFETY: `pixel` is below `pixels` and the channels within
                                // `offset + outputs <= stride` (checked above), so the write is
                                // in bounds; each output pixel is in one class, once, so in
                                // one tile: no other thread writes these values.
                                unsafe { out.write(pixel * stride + offset + channels.start, values) };
                            }
                        }
                        if let Some(ahead) = ahead {
                            next = ahead;
                        }
                    }
                },
            )
        });
    }

    /// `count` rows of patches times the weights, into channels `offset ..` of `count`
    /// pixels of `stride` values in `out`, then `finish`.
    fn product_into(
        &self,
        lhs: &[f32],
        count: usize,
        out: &mut [f32],
        (stride, offset): (usize, usize),
        parallelism: Parallelism,
        finish: &Finish,
    ) {
        let patch = self.window.kernel[0] * self.window.kernel[1] * self.in_channels;
        assert!(lhs.len() >= count * patch && out.len() >= (count.max(1) - 1) * stride + offset + self.out_channels);
        // SAFETY: `lhs` holds `count` rows of `patch` values, the weights `patch` rows of
        // `out_channels`, and `out` `count` pixels of `stride` values of which
        // `offset .. offset + out_channels` are written (checked above): all in bounds.
        unsafe {
            gemm::gemm(
                count,
                self.out_channels,
                patch,
                out.as_mut_ptr().add(offset),
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
        vectorized(
            #[inline(always)]
            || {
                for pixel in out[..count * stride].chunks_exact_mut(stride) {
                    finish.apply(&mut pixel[offset..offset + self.out_channels]);
                }
            },
        );
    }

    /// A whole inverted residual block (MobileNet): the 1x1 expansion, the depthwise
    /// convolution and this 1x1 projection, band of output rows by band, the expanded rows a
    /// band needs (with the window's overlap recomputed) and its depthwise output kept in
    /// cache instead of written out whole.
    fn forward_block(
        &self,
        depthwise: &PackedDepthwise,
        input: &NhwcBatch,
        target: &mut ChannelSlice<'_>,
        finish: &Finish,
    ) {
        let expand = depthwise.expand().expect("called for a block with its expansion");
        let [n, h, w, cin] = input.shape;
        let [oh, ow] = depthwise.output_size([h, w]);
        let expanded_channels = expand.out_channels;
        let (top, kernel, step) = depthwise.row_geometry([h, w]);
        let band = (256 * 1024 / (step * w * expanded_channels * 4).max(1)).clamp(1, oh);
        let (stride, offset) = (target.stride, target.offset);
        let image_len = oh * ow * stride;
        target.data[..n * image_len].par_chunks_mut(image_len).enumerate().for_each(|(b, image)| {
            image.par_chunks_mut(band * ow * stride).enumerate().for_each(|(k, chunk)| {
                let (first_row, rows) = (k * band, chunk.len() / (ow * stride));
                let iy0 = (first_row * step).saturating_sub(top);
                let iy1 = ((first_row + rows - 1) * step + kernel).saturating_sub(top).min(h);
                BAND.with_borrow_mut(|(expanded, rows_out)| {
                    let pixels = (iy1 - iy0) * w;
                    expanded.resize(pixels * expanded_channels, 0.0);
                    let lhs = &input.data[(b * h + iy0) * w * cin..(b * h + iy1) * w * cin];
                    expand.product_into(
                        lhs,
                        pixels,
                        expanded,
                        (expanded_channels, 0),
                        Parallelism::None,
                        &expand.finish,
                    );
                    let view =
                        RowsView { data: expanded, shape: [n, h, w, expanded_channels], image: b, first_row: iy0 };
                    rows_out.resize(rows * ow * expanded_channels, 0.0);
                    depthwise.pixels_into(&view, (b * oh + first_row) * ow, [oh, ow], rows_out);
                    self.product_into(rows_out, rows * ow, chunk, (stride, offset), Parallelism::None, finish);
                });
            });
        });
    }

    /// Copies the input patches of output pixels `first .. first + count` into rows of
    /// `patches` (zeros where the window hangs over the padding).
    fn gather_patches(
        &self,
        input: &NhwcBatch,
        first: usize,
        count: usize,
        [oh, ow]: [usize; 2],
        [top, left]: [usize; 2],
        patches: &mut [f32],
    ) {
        let [_, h, w, c] = input.shape;
        let [rows, cols] = self.window.kernel;
        let patch = rows * cols * c;
        for (local, row) in patches.chunks_exact_mut(patch).take(count).enumerate() {
            let pixel = first + local;
            let (b, oy, ox) = (pixel / (oh * ow), pixel / ow % oh, pixel % ow);
            for ky in 0..rows {
                let iy = (oy * self.window.strides[0] + ky) as isize - top as isize;
                for kx in 0..cols {
                    let ix = (ox * self.window.strides[1] + kx) as isize - left as isize;
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

#[cfg(test)]
mod activation_tests {
    #[test]
    fn exp_is_within_two_ulps_of_the_libm_one() {
        for i in -8700..=8800 {
            let x = i as f32 * 0.01 + 0.0031;
            let (ours, libm) = (super::exp(x), x.exp());
            let ulps = (ours.to_bits() as i64 - libm.to_bits() as i64).abs();
            assert!(ulps <= 2, "exp({x}) = {ours}, libm {libm} ({ulps} ulps)");
        }
        assert!(super::sigmoid(-200.0) < 1e-38 && super::swish(-200.0).abs() < 1e-35);
    }
}
