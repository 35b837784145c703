//! Which algorithm computes each convolution of the packed engine ([`ConvAlgorithm`]):
//! the policy, measured; `conv.rs` carries it out.

use super::winograd::Tile;

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
    pub(super) fn uses_direct_kernel(self, kernel: [usize; 2], in_channels: usize) -> bool {
        self != ConvAlgorithm::Direct && (kernel != [1, 1] || in_channels >= DIRECT_POINTWISE_MIN_CHANNELS)
    }

    /// The fewest Winograd output blocks per image on which it uses Winograd (0: on every
    /// grid).
    pub(super) fn winograd_min_blocks(self) -> usize {
        match self {
            ConvAlgorithm::Winograd => WINOGRAD_MIN_BLOCKS,
            _ => 0,
        }
    }

    /// The Winograd tile it uses for a stride-1 `kernel` on `in_channels`, if any.
    pub(super) fn winograd_tile(self, kernel: [usize; 2], in_channels: usize) -> Option<Tile> {
        match (self, kernel) {
            (ConvAlgorithm::Winograd, [3, 3]) if in_channels >= WINOGRAD_4X4_MIN_CHANNELS => Some(Tile::F4x4),
            (ConvAlgorithm::Winograd2x2 | ConvAlgorithm::Winograd, [3, 3]) => Some(Tile::F2x2),
            (ConvAlgorithm::Winograd4x4, [3, 3]) => Some(Tile::F4x4),
            (ConvAlgorithm::Winograd | ConvAlgorithm::Winograd4x4, [5, 5]) => Some(Tile::F2x2Of5x5),
            _ => None,
        }
    }
}
