//! A convolution (with the batch norm and activation after it) packed for channels-last host
//! inference ([`PackedConv`]): what it reads ([`Prologue`]: its input, a depthwise
//! convolution computed into the rows it multiplies, or the average pooling of its input
//! computed after it) and how it multiplies ([`Kernel`]: matrix products of gathered
//! patches, the register-tiled direct kernel or Winograd's), each chosen once when it is
//! packed and matched once when it runs; the batch norm and activation ([`Finish`]) applied
//! to each tile while it is still in cache.

use std::cell::RefCell;
use std::sync::Arc;

use gemm::Parallelism;
use rayon::prelude::*;

pub use super::conv_algorithm::{ConvAlgorithm, WINOGRAD_4X4_MIN_CHANNELS};
pub(crate) use super::finish::{Finish, sigmoid, swish};

use super::buffers::Buffers;
use super::depthwise::{PackedDepthwise, RowsView};
use super::direct::DirectConv;
use super::nhwc::{ChannelSlice, NhwcBatch, host_values};
use super::pool::avg_pool_3x3_same;
use super::simd::vectorized;
use super::window::{NO_PADDING, Window};
use super::winograd::WinogradConv;
use crate::error::Result;
use crate::layer::{Padding, ZeroPadding};
use crate::network::ConvParams;

/// A convolution (with what follows it, [`Finish`]), packed.
#[derive(Debug, Clone)]
pub(crate) struct PackedConv {
    window: Window,
    in_channels: usize,
    out_channels: usize,
    /// The weights as one `[patch, out_channels]` matrix, patch index
    /// `(ky * cols + kx) * in_channels + c`: what [`Kernel::Product`] and a [`Prologue`] of
    /// depthwise rows multiply with. Empty where Winograd's transformed kernels replace it
    /// (3x3 and 5x5 convolutions, which never read a depthwise prologue).
    weights: Arc<Vec<f32>>,
    kernel: Kernel,
    prologue: Prologue,
    finish: Finish,
}

/// How a convolution multiplies.
#[derive(Debug, Clone)]
enum Kernel {
    /// Matrix products of rows of patches (the input itself for a plain 1x1 convolution)
    /// times the weights.
    Product,
    /// The register-tiled direct kernel, straight from the input ([`DirectConv`]).
    Direct(Arc<DirectConv>),
    /// Winograd's minimal filtering on grids of at least `min_blocks` output blocks per
    /// image, the direct kernel on smaller ones.
    Winograd { winograd: Arc<WinogradConv>, min_blocks: usize, direct: Arc<DirectConv> },
}

/// What a convolution multiplies (see [`PackedConv::is_pointwise`]: only a plain 1x1
/// convolution takes a prologue other than its input).
#[derive(Debug, Clone)]
enum Prologue {
    /// Its input.
    Input,
    /// A depthwise convolution of its input that only this convolution reads, computed
    /// tile by tile into the rows it multiplies, never stored whole (MobileNet's
    /// depthwise -> project pairs, Xception's separable convolutions); with the depthwise
    /// convolution's own 1x1 expansion, a whole inverted residual block (`conv_block.rs`).
    Depthwise(Box<PackedDepthwise>),
    /// A 3x3 stride-1 `same` average pooling of its input that only this convolution
    /// reads, computed after it instead, on its output channels.
    AveragePooled {
        /// Divides by 9 at the borders too (torchvision), not by the real pixels (Keras).
        counts_padding: bool,
    },
}

// A 3x3 stride-1 `same` average pooling before a 1x1 convolution, computed after it: both
// are linear and the pooling's weights sum to 1, so `pool(W x) + b = W pool(x) + b`
// (the same values up to float32 rounding); pooling the convolution's output costs what
// pooling its input costs, scaled by output over input channels (InceptionV3's pooling
// branches: 768 -> 192, 288 -> 64, 256 -> 32: a quarter to an eighth).

/// Where the rows of a tile's matrix product come from.
enum Rows<'a> {
    /// The input's pixels themselves (a plain 1x1 convolution).
    Input,
    /// Each output pixel's window of input pixels, gathered (`im2col`).
    Patches,
    /// The output pixels of a depthwise convolution of the input.
    Depthwise(&'a PackedDepthwise),
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
        // Every algorithm that has Winograd tiles runs the direct kernel on the other
        // convolutions of 3x3 and 5x5 (the small grids).
        let kernel = match algorithm.uses_direct_kernel([rows, cols], in_channels) {
            false => Kernel::Product,
            true => {
                let direct = Arc::new(DirectConv::new(&weights, rows * cols, in_channels, out_channels));
                let tile = algorithm
                    .winograd_tile([rows, cols], in_channels)
                    .filter(|_| strides == [1, 1] && in_channels >= 16);
                match tile {
                    Some(tile) => {
                        let winograd = WinogradConv::new(tile, &planar, in_channels, out_channels, winograd_padding);
                        weights = Vec::new(); // only the transformed kernels are used
                        Kernel::Winograd {
                            winograd: Arc::new(winograd),
                            min_blocks: algorithm.winograd_min_blocks(),
                            direct,
                        }
                    }
                    None => Kernel::Direct(direct),
                }
            }
        };
        let bias = conv.bias.as_ref().map(|b| host_values(b.val())).transpose()?;
        Ok(Self {
            window: Window::new([rows, cols], strides, padding),
            in_channels,
            out_channels,
            weights: Arc::new(weights),
            kernel,
            prologue: Prologue::Input,
            finish: Finish::with_bias(bias),
        })
    }

    /// Whether it is a plain 1x1 stride-1 convolution of its input (a matrix product of
    /// the input).
    pub fn is_pointwise(&self) -> bool {
        self.window.kernel == [1, 1]
            && self.window.strides == [1, 1]
            && self.window.extra == NO_PADDING
            && matches!(self.prologue, Prologue::Input)
    }

    /// This pointwise convolution reading what `depthwise` computes from the input
    /// (see [`PackedConv::is_pointwise`]).
    pub fn after_depthwise(&self, depthwise: PackedDepthwise) -> Self {
        debug_assert!(self.is_pointwise());
        Self { prologue: Prologue::Depthwise(Box::new(depthwise)), ..self.clone() }
    }

    /// This convolution, which computes a depthwise one inside (a separable convolution),
    /// reading the ReLU of its input (see `PackedDepthwise::after_relu`).
    pub fn after_relu(&self) -> Self {
        debug_assert!(matches!(self.prologue, Prologue::Depthwise(_)), "only a depthwise prologue reads a ReLU");
        let prologue = match &self.prologue {
            Prologue::Depthwise(depthwise) => Prologue::Depthwise(Box::new(depthwise.after_relu())),
            other => other.clone(),
        };
        Self { prologue, ..self.clone() }
    }

    /// This pointwise convolution reading the output of a 3x3 stride-1 `same` average
    /// pooling of the input (dividing by 9 at the borders too with `counts_padding`),
    /// computed as the pooling of its own output (see [`PackedConv::is_pointwise`]).
    pub fn after_average_pool(&self, counts_padding: bool) -> Self {
        debug_assert!(self.is_pointwise());
        Self { prologue: Prologue::AveragePooled { counts_padding }, ..self.clone() }
    }

    /// The same convolution with `finish` after it and `extra` zero padding before it
    /// (then on the direct kernel: Winograd's transforms assume the layer's own padding).
    pub fn finished(&self, finish: Finish, extra: ZeroPadding) -> Self {
        let kernel = match &self.kernel {
            Kernel::Winograd { direct, .. } if extra != NO_PADDING => Kernel::Direct(direct.clone()),
            kernel => kernel.clone(),
        };
        Self { finish, window: Window { extra, ..self.window }, kernel, ..self.clone() }
    }

    /// The bias-only finish it was packed with.
    pub fn base_finish(&self) -> Finish {
        self.finish.clone()
    }

    /// Its window.
    pub(super) fn window(&self) -> &Window {
        &self.window
    }

    /// What follows it on each output pixel.
    pub(super) fn finish(&self) -> &Finish {
        &self.finish
    }

    /// The Winograd form it runs on an input of `size`, if any (none on a grid too small).
    fn winograd_for(&self, size: [usize; 2]) -> Option<&WinogradConv> {
        match &self.kernel {
            Kernel::Winograd { winograd, min_blocks, .. } if winograd.blocks_per_image(size) >= *min_blocks => {
                Some(winograd)
            }
            _ => None,
        }
    }

    /// What it computes on an input of `size`, for a profile: kernel, stride, channels and
    /// algorithm (`"conv 3x3/1 64->96 F4x4"`, `"conv 1x7/1 160->160"`, ...).
    pub fn describe(&self, size: [usize; 2]) -> String {
        let [kh, kw] = self.window.kernel;
        let [sh, sw] = self.window.strides;
        let stride = if sh == sw { sh.to_string() } else { format!("{sh}x{sw}") };
        let algorithm = match (&self.prologue, self.winograd_for(size)) {
            (Prologue::Depthwise(depthwise), _) => format!(" after {}", depthwise.describe()),
            (Prologue::AveragePooled { .. }, _) => " then average pool 3x3/1".into(),
            (Prologue::Input, Some(winograd)) => format!(" {}", winograd.tile().name()),
            (Prologue::Input, None) => String::new(),
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
        match &self.prologue {
            Prologue::Depthwise(depthwise) => depthwise.output_size(size),
            _ => self.window.output_size(size),
        }
    }

    /// Runs the unit, writing its `out_channels` into `target` (same pixels as the output;
    /// a temporary from `buffers` before a pooling after it).
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, buffers: &Buffers) {
        debug_assert_eq!(target.width, self.out_channels);
        match &self.prologue {
            Prologue::Input => self.convolve_input(input, target, &self.finish),
            Prologue::Depthwise(depthwise) if depthwise.expand().is_some() => {
                self.forward_block(depthwise, input, target, &self.finish)
            }
            Prologue::Depthwise(depthwise) => {
                self.forward_products(Rows::Depthwise(depthwise), input, target, &self.finish)
            }
            Prologue::AveragePooled { counts_padding } => {
                // The convolution alone; bias, batch norm and activation after the pooling.
                let [n, h, w, _] = input.shape;
                let mut output = buffers.take([n, h, w, self.out_channels]);
                self.convolve_input(input, &mut output.as_target(), &Finish::default());
                avg_pool_3x3_same(&output, *counts_padding, &self.finish, target);
                buffers.give(output);
            }
        }
    }

    /// The convolution of the input, with `finish` applied to each output pixel, into
    /// `target`, by its kernel.
    fn convolve_input(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        if let Some(winograd) = self.winograd_for([input.shape[1], input.shape[2]]) {
            return winograd.forward_into(input, target, finish);
        }
        match &self.kernel {
            Kernel::Winograd { direct, .. } | Kernel::Direct(direct) => {
                self.forward_direct(direct, input, target, finish)
            }
            Kernel::Product => {
                let plain = self.window.kernel == [1, 1] && self.window.strides == [1, 1];
                let rows = match plain && self.window.extra == NO_PADDING {
                    true => Rows::Input,
                    false => Rows::Patches,
                };
                self.forward_products(rows, input, target, finish)
            }
        }
    }

    /// The convolution as matrix products of tiles of `rows` times the weights, each tile's
    /// pixels finished with `finish` and written into `target`, tiles across threads.
    fn forward_products(&self, rows: Rows<'_>, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let pixels = n * oh * ow;
        let patch = self.patch_len();
        let tile = tile_rows(pixels, patch);
        let parallelism = match pixels.div_ceil(tile) < rayon::current_num_threads() {
            true => Parallelism::Rayon(0),
            false => Parallelism::None,
        };
        let pads = self.window.pads([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        target.data[..pixels * stride].par_chunks_mut(tile * stride).enumerate().for_each(|(index, chunk)| {
            let first = index * tile;
            let count = chunk.len() / stride;
            match rows {
                Rows::Input => {
                    let lhs = &input.data[first * patch..(first + count) * patch];
                    self.product_into(lhs, count, chunk, (stride, offset), parallelism, finish);
                }
                Rows::Patches => PATCHES.with_borrow_mut(|patches| {
                    patches.resize(count * patch, 0.0);
                    self.gather_patches(input, first, count, [oh, ow], [pads[0][0], pads[1][0]], patches);
                    self.product_into(patches, count, chunk, (stride, offset), parallelism, finish);
                }),
                Rows::Depthwise(depthwise) => PATCHES.with_borrow_mut(|patches| {
                    patches.resize(count * patch, 0.0);
                    depthwise.pixels_into(&RowsView::whole(input), first, [oh, ow], patches);
                    self.product_into(patches, count, chunk, (stride, offset), parallelism, finish);
                }),
            }
        });
    }

    /// `count` rows of patches times the weights, into channels `offset ..` of `count`
    /// pixels of `stride` values in `out`, then `finish`.
    pub(super) fn product_into(
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
