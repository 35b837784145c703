//! Convolutions computed straight from channels-last input, without gathering patches:
//! a register tile of output pixels x output channels (with AVX-512, 6 x 64 where two
//! blocks of outputs remain, else 12 x 32) accumulates, tap by tap and channel by channel,
//! one input value (broadcast) times a vector of weights, the way oneDNN's direct
//! convolutions work. Nothing is copied per product (no `im2col` rows, no
//! re-packing of the weights per tile), which is what a general matrix product costs on
//! InceptionV3's thin stem (32 input channels, 72x72) and small grids (7x7, 1x7 / 7x1
//! kernels).
//!
//! The weights are packed once, in blocks of [`BLOCK`] output channels, `[tap][channel]
//! [BLOCK]` within a block (zeros past the last channel). The caller says where each
//! pixel's window starts and which taps it sums (those not on zero padding).

use std::array;

#[cfg(target_arch = "x86_64")]
use super::vector::{Vector, Ymm, Zmm};

/// Output channels per block of packed weights.
pub(crate) const BLOCK: usize = 32;

/// Output pixels per tile.
pub(crate) const PIXELS: usize = 12;

/// Blocks of output channels a tile computes at most.
pub(crate) const TILE_BLOCKS: usize = 2;

/// One tile's results: [`PIXELS`] pixels x [`TILE_BLOCKS`] blocks of channels.
pub(crate) type TileValues = [[f32; TILE_BLOCKS * BLOCK]; PIXELS];

/// One kernel tap a tile sums: where its input starts, past a pixel's start, and which of
/// the kernel's taps it is (its weights). A tile may sum a subset of the kernel's taps: the
/// ones whose input is not zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tap {
    /// Values past the pixel's start.
    pub offset: usize,
    /// The tap's index in the kernel, `row * cols + col`.
    pub index: usize,
}

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

    /// Computes output channels `block * BLOCK ..` (up to [`TILE_BLOCKS`] blocks of them,
    /// fewer at the last block; returns how many) of up to [`PIXELS`] output pixels whose
    /// windows start at `offsets` in `input`, summing the kernel taps `taps` (in increasing
    /// order of index; the others are taken to read zeros); pixels past `offsets.len()` and
    /// channels past the blocks computed are left undefined in `out`.
    ///
    /// The sum is the same, to the bit, as the whole kernel's over an input whose missing
    /// taps are zeros (a group of zero terms adds exactly nothing), and the same with
    /// AVX-512 and with AVX2 (fused multiply-adds in the same order).
    ///
    /// `next`, the windows of the tile to be computed after this one (or nothing), is a
    /// hint: their input is asked into the first-level cache meanwhile, a line per window
    /// every 16 channels (the hardware's prefetchers do not follow a tile's 12 windows: on a
    /// Zen 4, tiles of a 1x1 convolution 288 -> 64 ran at 82 GFLOP/s a core on fresh input,
    /// 108 on input in cache, 95 with this hint; 768 -> 192 at 97, 111 and 115; the
    /// second-level hint, `prefetcht1`, halved the speed).
    ///
    /// # Panics
    /// If an offset plus a tap plus `in_channels` falls past the end of `input`, a tap is
    /// not the kernel's, or `block` is past the last.
    pub fn tile(
        &self,
        input: &[f32],
        (offsets, next): (&[usize], &[usize]),
        taps: &[Tap],
        block: usize,
        out: &mut TileValues,
    ) -> usize {
        assert!(!offsets.is_empty() && offsets.len() <= PIXELS && block < self.blocks());
        assert!(taps.windows(2).all(|t| t[0].index < t[1].index) && taps.iter().all(|t| t.index < self.taps));
        let blocks = TILE_BLOCKS.min(self.blocks() - block);
        let Some(last_tap) = taps.iter().map(|t| t.offset).max() else {
            *out = [[0.0; TILE_BLOCKS * BLOCK]; PIXELS];
            return blocks;
        };
        let last = offsets.iter().max().expect("not empty") + last_tap + self.in_channels;
        assert!(last <= input.len(), "a window past the end of the input");
        let starts: [usize; PIXELS] = array::from_fn(|p| offsets.get(p).copied().unwrap_or(offsets[0]));
        let next: Option<[usize; PIXELS]> =
            (!next.is_empty()).then(|| array::from_fn(|p| next.get(p).copied().unwrap_or(next[0])));
        let block_len = self.taps * self.in_channels * BLOCK;
        let weights: [&[f32]; TILE_BLOCKS] =
            array::from_fn(|b| &self.weights[(block + b.min(blocks - 1)) * block_len..][..block_len]);
        let next = next.as_ref();
        let tile = Tile { input: input.as_ptr(), starts: &starts, next, taps, channels: self.in_channels, weights };
        match self.kernel {
            // SAFETY: the CPU has AVX-512F (detected when packing); every read is in bounds
            // (checked above: the largest start plus the largest tap plus the channels).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { tile_avx512(&tile, offsets.len(), blocks, out) },
            // SAFETY: as above, with AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { tile_avx2(&tile, blocks, out) },
            _ => (0..blocks).for_each(|b| tile_portable(input, &starts, taps, self.in_channels, weights[b], b, out)),
        }
        blocks
    }
}

/// What a register tile reads: the input, where its pixels' windows start (and the next
/// tile's, to ask for), the taps, and the weights of its blocks.
struct Tile<'a> {
    input: *const f32,
    starts: &'a [usize; PIXELS],
    next: Option<&'a [usize; PIXELS]>,
    taps: &'a [Tap],
    channels: usize,
    weights: [&'a [f32]; TILE_BLOCKS],
}

/// Block `b` of a tile, [`DirectConv::tile`] in plain Rust (any CPU).
fn tile_portable(
    input: &[f32],
    starts: &[usize; PIXELS],
    taps: &[Tap],
    channels: usize,
    weights: &[f32],
    b: usize,
    out: &mut TileValues,
) {
    let columns = b * BLOCK..(b + 1) * BLOCK;
    out.iter_mut().for_each(|row| row[columns.clone()].fill(0.0));
    for group in tap_groups(taps, channels) {
        let mut partial = [[0.0; BLOCK]; PIXELS];
        for tap in &taps[group] {
            for c in 0..channels {
                let w = &weights[(tap.index * channels + c) * BLOCK..][..BLOCK];
                for (p, acc) in partial.iter_mut().enumerate() {
                    let x = input[starts[p] + tap.offset + c];
                    acc.iter_mut().zip(w).for_each(|(a, w)| *a += x * w);
                }
            }
        }
        for (acc, part) in out.iter_mut().zip(&partial) {
            acc[columns.clone()].iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
    }
}

/// `f32` values per cache line.
const LINE: usize = 16;

/// The fewest terms summed in registers before they are added to a tile's totals: taps of
/// 96 channels or more are summed one by one, thinner ones in groups (InceptionV3's 3x3
/// convolutions on 32 channels in threes: 13% faster on its stem than one by one, which
/// stored and reloaded the 24 accumulators every 32 channels).
const GROUP_TERMS: usize = 96;

/// The taps summed together, in order, as ranges of `taps`: the kernel's taps in groups of
/// at least [`GROUP_TERMS`] terms (a tap over `channels` each), whose partial sums are then
/// added up; a tile summing some of the taps keeps each of them in its kernel group. A
/// blocked sum, as a matrix product's blocks over the reduction are: its rounding error
/// grows with the group's length and the number of groups, not with the whole sum's length.
fn tap_groups(taps: &[Tap], channels: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let per_group = GROUP_TERMS.div_ceil(channels.max(1));
    let mut first = 0;
    std::iter::from_fn(move || {
        let group = taps.get(first)?.index / per_group;
        let end = first + taps[first..].iter().take_while(|t| t.index / per_group == group).count();
        Some(std::mem::replace(&mut first, end)..end)
    })
}

/// Pixels `first .. first + P` of a tile, its output channels `lane .. lane + Q V::LANES`
/// (within its blocks): `P Q` accumulators in registers, the taps summed group by group
/// into `out`; with a `next` tile, its input asked for on the way.
///
/// # Safety
/// The CPU has `V`'s instruction set; the tile's input holds every `starts[p] + tap +
/// channels`; `lane + Q V::LANES <= TILE_BLOCKS * BLOCK`, and a vector does not straddle
/// two blocks.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn register_tile<V: Vector, const P: usize, const Q: usize>(
    tile: &Tile<'_>,
    (first, lane): (usize, usize),
    next: Option<&[usize; PIXELS]>,
    out: &mut TileValues,
) {
    let (input, channels) = (tile.input, tile.channels);
    for (g, group) in tap_groups(tile.taps, channels).enumerate() {
        let mut acc = [[V::zero(); Q]; P];
        for tap in &tile.taps[group] {
            // Vector q's weights: its block's, from its lane within the block.
            let w: [*const f32; Q] = array::from_fn(|q| {
                let at = lane + q * V::LANES;
                tile.weights[at / BLOCK][tap.index * channels * BLOCK + at % BLOCK..].as_ptr()
            });
            // SAFETY (all reads): within the input (the caller's bounds) and the weights (one
            // tap's `channels` rows of BLOCK, from each vector's lane).
            unsafe {
                let rows: [*const f32; P] = array::from_fn(|p| input.add(tile.starts[first + p] + tap.offset));
                for line in (0..channels).step_by(LINE) {
                    if let Some(next) = next {
                        next.iter().for_each(|&at| V::prefetch(input.wrapping_add(at + tap.offset + line)));
                    }
                    for c in line..channels.min(line + LINE) {
                        let weights: [V; Q] = array::from_fn(|q| V::load(w[q].add(c * BLOCK)));
                        for p in 0..P {
                            let x = V::splat(*rows[p].add(c));
                            for q in 0..Q {
                                acc[p][q] = x.mul_add(weights[q], acc[p][q]);
                            }
                        }
                    }
                }
            }
        }
        for (p, acc) in acc.iter_mut().enumerate() {
            for (q, acc) in acc.iter_mut().enumerate() {
                // SAFETY: each row of `out` holds TILE_BLOCKS * BLOCK values; the caller keeps
                // `lane + Q LANES` within them.
                unsafe {
                    let at = out[first + p].as_mut_ptr().add(lane + q * V::LANES);
                    if g > 0 {
                        *acc = V::load(at).add(*acc);
                    }
                    acc.store(at);
                }
            }
        }
    }
}

/// [`DirectConv::tile`] with AVX-512: two blocks as two halves of 6 pixels x 4 vectors of
/// 16 (the second half only when there are more than 6 pixels), one block as 12 pixels x
/// 2 vectors; 24 accumulators either way. The wider tile broadcasts each input value for 4
/// vectors of weights instead of 2 and keeps 6 windows' addresses in registers instead of
/// 12: 6-10% faster on InceptionV3's shapes (in a loop of tiles on one Zen 4 core: 1x1
/// 768 -> 192 103 -> 111 GFLOP/s, 3x3 32 -> 64 91 -> 97, 1x7 160 -> 192 91 -> 102).
///
/// # Safety
/// The CPU must have AVX-512F; the input must hold every `starts[p] + tap + channels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(tile: &Tile<'_>, pixels: usize, blocks: usize, out: &mut TileValues) {
    const HALF: usize = PIXELS / 2;
    // SAFETY (both): the caller's contract; 4 vectors of 16 fill two blocks, 2 one.
    unsafe {
        match blocks {
            2 => {
                let second = pixels > HALF;
                register_tile::<Zmm, HALF, 4>(tile, (0, 0), tile.next.filter(|_| !second), out);
                if second {
                    register_tile::<Zmm, HALF, 4>(tile, (HALF, 0), tile.next, out);
                }
            }
            _ => register_tile::<Zmm, PIXELS, 2>(tile, (0, 0), tile.next, out),
        }
    }
}

/// [`DirectConv::tile`] with AVX2 and FMA: each block in four passes of 6 pixels x 2
/// vectors of 8 (12 accumulators of the 16 registers).
///
/// # Safety
/// The CPU must have AVX2 and FMA; the input must hold every `starts[p] + tap + channels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(tile: &Tile<'_>, blocks: usize, out: &mut TileValues) {
    const HALF: usize = PIXELS / 2;
    for b in 0..blocks {
        for (first, lane) in [(0, 0), (0, 16), (HALF, 0), (HALF, 16)] {
            // The next tile's input asked for once, in the first part of the last block.
            let next = tile.next.filter(|_| b + 1 == blocks && (first, lane) == (0, 0));
            // SAFETY: the caller's contract; 2 x 8 lanes from lane 0 or 16 stay in the block.
            unsafe { register_tile::<Ymm, HALF, 2>(tile, (first, b * BLOCK + lane), next, out) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU has.
    fn kernels() -> Vec<Kernel> {
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
        kernels
    }

    /// Deterministic values in [-1.6, 1.6].
    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 53 + salt) % 97) as f32 / 30.0 - 1.6).collect()
    }

    /// Taps at `offsets`, indices in order.
    fn taps_at(offsets: &[usize]) -> Vec<Tap> {
        offsets.iter().enumerate().map(|(index, &offset)| Tap { offset, index }).collect()
    }

    /// Every kernel the CPU has against the plain sum, with a partial block and tile.
    #[test]
    fn tiles_match_the_plain_sum() {
        let (taps, channels, outputs) = (3, 5, 40);
        let weights = values(taps * channels * outputs, 7);
        let input = values(400, 3);
        let tap_offsets = [0, 7, 30];
        let starts: Vec<usize> = (0..9).map(|p| p * 31 + 3).collect();
        let mut conv = DirectConv::new(&weights, taps, channels, outputs);
        for kernel in kernels() {
            conv.kernel = kernel;
            for block in (0..conv.blocks()).step_by(TILE_BLOCKS) {
                let mut out = [[f32::NAN; TILE_BLOCKS * BLOCK]; PIXELS];
                let blocks = conv.tile(&input, (&starts, &[]), &taps_at(&tap_offsets), block, &mut out);
                for (p, &start) in starts.iter().enumerate() {
                    for o in block * BLOCK..outputs.min((block + blocks) * BLOCK) {
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

    /// A tile summing some of the taps gives, to the bit, the whole kernel's sum with the
    /// others reading zeros: with taps grouped together (5 channels) and apart (40).
    #[test]
    fn leaving_out_taps_that_read_zeros_changes_no_bit() {
        for channels in [5, 40] {
            let (taps, outputs) = (3, 40);
            let weights = values(taps * channels * outputs, 11);
            // Values, then zeros: tap 1 at offset 600 reads only zeros.
            let mut input = values(600, 5);
            input.resize(1200, 0.0);
            let starts: Vec<usize> = (0..PIXELS).map(|p| p * 37 + 1).collect();
            let mut conv = DirectConv::new(&weights, taps, channels, outputs);
            let all = taps_at(&[0, 600, 90]);
            let some = [all[0], all[2]];
            for kernel in kernels() {
                conv.kernel = kernel;
                for block in (0..conv.blocks()).step_by(TILE_BLOCKS) {
                    let mut whole = [[f32::NAN; TILE_BLOCKS * BLOCK]; PIXELS];
                    let mut part = whole;
                    let blocks = conv.tile(&input, (&starts, &starts), &all, block, &mut whole);
                    conv.tile(&input, (&starts, &[]), &some, block, &mut part);
                    let bits = |tile: &TileValues| {
                        tile.iter().flat_map(|row| &row[..blocks * BLOCK]).map(|v| v.to_bits()).collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&whole), bits(&part), "{kernel:?}, {channels} channels, block {block}");
                }
            }
        }
    }

    /// The two vector kernels sum in the same order: the same bits, for a pair of blocks and
    /// a last single block, a full tile and one of 5 pixels.
    #[test]
    fn every_vector_kernel_gives_the_same_bits() {
        let (taps, channels, outputs) = (2, 40, 72);
        let mut conv = DirectConv::new(&values(taps * channels * outputs, 13), taps, channels, outputs);
        let input = values(1000, 17);
        let all = taps_at(&[0, 250]);
        for pixels in [PIXELS, 5] {
            let starts: Vec<usize> = (0..pixels).map(|p| p * 41 + 2).collect();
            let results: Vec<Vec<u32>> = (kernels().into_iter().filter(|k| *k != Kernel::Portable))
                .map(|kernel| {
                    conv.kernel = kernel;
                    let mut bits = Vec::new();
                    for block in (0..conv.blocks()).step_by(TILE_BLOCKS) {
                        let mut out = [[f32::NAN; TILE_BLOCKS * BLOCK]; PIXELS];
                        let blocks = conv.tile(&input, (&starts, &[]), &all, block, &mut out);
                        bits.extend(out[..pixels].iter().flat_map(|row| &row[..blocks * BLOCK]).map(|v| v.to_bits()));
                    }
                    bits
                })
                .collect();
            assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "{pixels} pixels");
        }
    }
}
