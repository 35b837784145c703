//! Convolutions computed straight from channels-last input, without gathering patches:
//! a register tile of 12 output pixels x 32 output channels accumulates, tap by tap and
//! channel by channel, one input value (broadcast) times a vector of weights, the way
//! oneDNN's direct convolutions work. Nothing is copied per product (no `im2col` rows, no
//! re-packing of the weights per tile), which is what a general matrix product costs on
//! InceptionV3's thin stem (32 input channels, 72x72) and small grids (7x7, 1x7 / 7x1
//! kernels).
//!
//! The weights are packed once, in blocks of [`BLOCK`] output channels, `[tap][channel]
//! [BLOCK]` within a block (zeros past the last channel). The input is read already padded:
//! the window of output pixel `(oy, ox)` starts at input pixel `(oy * sy, ox * sx)`.

use std::array;

#[cfg(target_arch = "x86_64")]
use super::vector::{Vector, Ymm, Zmm};

/// Output channels per block of packed weights (and per register tile).
pub(crate) const BLOCK: usize = 32;

/// Output pixels per register tile.
pub(crate) const PIXELS: usize = 12;

/// One register tile's results: [`PIXELS`] pixels x [`BLOCK`] channels.
pub(crate) type TileValues = [[f32; BLOCK]; PIXELS];

/// A convolution's weights packed for [`DirectConv::tile`].
#[derive(Debug, Clone)]
pub(crate) struct DirectConv {
    taps: usize,
    in_channels: usize,
    out_channels: usize,
    /// `[block][tap][channel][BLOCK]`.
    weights: Vec<f32>,
    kernel: Kernel,
}

/// Which register-tile kernel the CPU runs (checked once, when packing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Avx512,
    Avx2,
    Portable,
}

impl Kernel {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Kernel::Avx2;
            }
        }
        Kernel::Portable
    }
}

impl DirectConv {
    /// Packs `weights` laid out `[patch, out_channels]`, patch index `tap * in_channels + c`.
    pub fn new(weights: &[f32], taps: usize, in_channels: usize, out_channels: usize) -> Self {
        let blocks = out_channels.div_ceil(BLOCK);
        let mut packed = vec![0.0; blocks * taps * in_channels * BLOCK];
        for (k, row) in weights.chunks_exact(out_channels).enumerate() {
            for (o, &value) in row.iter().enumerate() {
                packed[((o / BLOCK) * taps * in_channels + k) * BLOCK + o % BLOCK] = value;
            }
        }
        Self { taps, in_channels, out_channels, weights: packed, kernel: Kernel::detect() }
    }

    /// Blocks of [`BLOCK`] output channels.
    pub fn blocks(&self) -> usize {
        self.out_channels.div_ceil(BLOCK)
    }

    /// Computes output channels `block * BLOCK ..` (up to [`BLOCK`] of them) of up to
    /// [`PIXELS`] output pixels whose windows start at `offsets` in `input`, the taps at
    /// `taps` past each start (`taps.len()` equal to the kernel's taps); `offsets` past
    /// `count` are ignored (their values are left undefined in `out`).
    ///
    /// # Panics
    /// If an offset plus a tap plus `in_channels` falls past the end of `input`.
    pub fn tile(&self, input: &[f32], offsets: &[usize], taps: &[usize], block: usize, out: &mut TileValues) {
        assert!(!offsets.is_empty() && offsets.len() <= PIXELS && taps.len() == self.taps);
        let last = offsets.iter().max().expect("not empty") + taps.iter().max().expect("taps") + self.in_channels;
        assert!(last <= input.len(), "a window past the end of the input");
        let starts: [usize; PIXELS] = array::from_fn(|p| offsets.get(p).copied().unwrap_or(offsets[0]));
        let weights =
            &self.weights[block * self.taps * self.in_channels * BLOCK..][..self.taps * self.in_channels * BLOCK];
        match self.kernel {
            // SAFETY: the CPU has AVX-512F (detected when packing); every read is in bounds
            // (checked above: the largest start plus the largest tap plus the channels).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { tile_avx512(input.as_ptr(), &starts, taps, self.in_channels, weights, out) },
            // SAFETY: as above, with AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { tile_avx2(input.as_ptr(), &starts, taps, self.in_channels, weights, out) },
            _ => tile_portable(input, &starts, taps, self.in_channels, weights, out),
        }
    }
}

/// [`DirectConv::tile`] in plain Rust (any CPU).
fn tile_portable(
    input: &[f32],
    starts: &[usize; PIXELS],
    taps: &[usize],
    channels: usize,
    weights: &[f32],
    out: &mut TileValues,
) {
    *out = [[0.0; BLOCK]; PIXELS];
    for group in tap_groups(taps.len(), channels) {
        let mut partial = [[0.0; BLOCK]; PIXELS];
        for t in group {
            for c in 0..channels {
                let w = &weights[(t * channels + c) * BLOCK..][..BLOCK];
                for (p, acc) in partial.iter_mut().enumerate() {
                    let x = input[starts[p] + taps[t] + c];
                    acc.iter_mut().zip(w).for_each(|(a, w)| *a += x * w);
                }
            }
        }
        for (acc, part) in out.iter_mut().zip(&partial) {
            acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
    }
}

/// The fewest terms summed in registers before they are added to a tile's totals.
const GROUP_TERMS: usize = 32;

/// The taps summed together, in order: groups of at least [`GROUP_TERMS`] terms (a tap
/// over `channels` each), whose partial sums are then added up. A blocked sum, as a
/// matrix product's blocks over the reduction are: its rounding error grows with the
/// group's length and the number of groups, not with the whole sum's length.
fn tap_groups(taps: usize, channels: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let per_group = GROUP_TERMS.div_ceil(channels.max(1)).clamp(1, taps.max(1));
    (0..taps).step_by(per_group).map(move |first| first..(first + per_group).min(taps))
}

/// Pixels `first .. first + P` of a tile, output channels `lane .. lane + 2 V::LANES` of the
/// block: `2 P` accumulators in registers, the taps summed group by group into `out`.
///
/// # Safety
/// The CPU has `V`'s instruction set; `input` holds every `starts[p] + tap + channels`;
/// `lane + 2 V::LANES <= BLOCK`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn register_tile<V: Vector, const P: usize>(
    input: *const f32,
    starts: &[usize],
    taps: &[usize],
    channels: usize,
    weights: &[f32],
    (first, lane): (usize, usize),
    out: &mut TileValues,
) {
    for (g, group) in tap_groups(taps.len(), channels).enumerate() {
        let mut low = [V::zero(); P];
        let mut high = [V::zero(); P];
        for t in group {
            let w = weights[t * channels * BLOCK + lane..].as_ptr();
            // SAFETY (all reads): within `input` (the caller's bounds) and `weights` (one
            // tap's `channels` rows of BLOCK, from `lane`).
            unsafe {
                let rows: [*const f32; P] = array::from_fn(|p| input.add(starts[first + p] + taps[t]));
                for c in 0..channels {
                    let w0 = V::load(w.add(c * BLOCK));
                    let w1 = V::load(w.add(c * BLOCK + V::LANES));
                    for p in 0..P {
                        let x = V::splat(*rows[p].add(c));
                        low[p] = x.mul_add(w0, low[p]);
                        high[p] = x.mul_add(w1, high[p]);
                    }
                }
            }
        }
        for p in 0..P {
            // SAFETY: each row of `out` holds BLOCK values; `lane + 2 LANES <= BLOCK`.
            unsafe {
                let row = out[first + p].as_mut_ptr().add(lane);
                if g > 0 {
                    low[p] = V::load(row).add(low[p]);
                    high[p] = V::load(row.add(V::LANES)).add(high[p]);
                }
                low[p].store(row);
                high[p].store(row.add(V::LANES));
            }
        }
    }
}

/// [`DirectConv::tile`] with AVX-512: 24 accumulators (12 pixels x 2 vectors of 16).
///
/// # Safety
/// The CPU must have AVX-512F; `input` must hold every `starts[p] + tap + channels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(
    input: *const f32,
    starts: &[usize; PIXELS],
    taps: &[usize],
    channels: usize,
    weights: &[f32],
    out: &mut TileValues,
) {
    // SAFETY: the caller's contract; 2 x 16 lanes fill the block.
    unsafe { register_tile::<Zmm, PIXELS>(input, starts, taps, channels, weights, (0, 0), out) }
}

/// [`DirectConv::tile`] with AVX2 and FMA: the tile in four passes of 6 pixels x 2 vectors
/// of 8 (12 accumulators of the 16 registers).
///
/// # Safety
/// The CPU must have AVX2 and FMA; `input` must hold every `starts[p] + tap + channels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(
    input: *const f32,
    starts: &[usize; PIXELS],
    taps: &[usize],
    channels: usize,
    weights: &[f32],
    out: &mut TileValues,
) {
    const HALF: usize = PIXELS / 2;
    for part in [(0, 0), (0, 16), (HALF, 0), (HALF, 16)] {
        // SAFETY: the caller's contract; 2 x 8 lanes from lane 0 or 16 stay in the block.
        unsafe { register_tile::<Ymm, HALF>(input, starts, taps, channels, weights, part, out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel the CPU has against the plain sum, with a partial block and tile.
    #[test]
    fn tiles_match_the_plain_sum() {
        let (taps, channels, outputs) = (3, 5, 40);
        let weights: Vec<f32> = (0..taps * channels * outputs).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
        let input: Vec<f32> = (0..400).map(|i| ((i * 53 % 97) as f32 - 48.0) / 32.0).collect();
        let tap_offsets = [0, 7, 30];
        let starts: Vec<usize> = (0..9).map(|p| p * 31 + 3).collect();
        let mut conv = DirectConv::new(&weights, taps, channels, outputs);
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                kernels.push(Kernel::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                kernels.push(Kernel::Avx512);
            }
        }
        for kernel in kernels {
            conv.kernel = kernel;
            for block in 0..conv.blocks() {
                let mut out = [[f32::NAN; BLOCK]; PIXELS];
                conv.tile(&input, &starts, &tap_offsets, block, &mut out);
                for (p, &start) in starts.iter().enumerate() {
                    for o in block * BLOCK..outputs.min((block + 1) * BLOCK) {
                        let expected: f64 = (0..taps * channels)
                            .map(|k| {
                                let x = input[start + tap_offsets[k / channels] + k % channels] as f64;
                                x * weights[k * outputs + o] as f64
                            })
                            .sum();
                        let got = out[p][o - block * BLOCK] as f64;
                        assert!((got - expected).abs() < 1e-5, "{kernel:?} pixel {p} channel {o}: {got} vs {expected}");
                    }
                }
            }
        }
    }
}
