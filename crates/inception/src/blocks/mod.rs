//! InceptionV3's building blocks, one family per file, named as in torchvision
//! (`InceptionA`..`InceptionE`) with the Keras block names in their docs.

mod inception_a;
mod inception_b;
mod inception_c;
mod inception_d;
mod inception_e;
mod stem;

pub use inception_a::{InceptionA, InceptionAConfig};
pub use inception_b::{InceptionB, InceptionBConfig};
pub use inception_c::{InceptionC, InceptionCConfig};
pub use inception_d::{InceptionD, InceptionDConfig};
pub use inception_e::{InceptionE, InceptionEConfig, InceptionEPart};
pub use stem::{Stem, StemConfig};

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};

use crate::conv_bn::{BasicConv2dConfig, Padding};
use crate::flavor::Flavor;

/// A stride-1 `same` conv unit (the common case in every block).
pub(crate) fn conv(flavor: Flavor, channels: [usize; 2], kernel: [usize; 2]) -> BasicConv2dConfig {
    BasicConv2dConfig::new(channels[0], channels[1], kernel)
        .with_scale(flavor.batch_norm_has_gamma())
}

/// A 3x3 stride-2 `valid` conv unit (the grid reductions).
pub(crate) fn conv_stride2(flavor: Flavor, channels: [usize; 2]) -> BasicConv2dConfig {
    conv(flavor, channels, [3, 3]).with_stride(2).with_padding(Padding::Valid)
}

/// The branch-pool 3x3 stride-1 average pooling, padded by 1; whether padding counts in the
/// divisor depends on the flavour.
pub(crate) fn branch_avg_pool(flavor: Flavor) -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(flavor.avg_pool_counts_padding())
        .init()
}

/// The 3x3 stride-2 `valid` max pooling of the stem and the grid reductions.
pub(crate) fn max_pool_stride2() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}
