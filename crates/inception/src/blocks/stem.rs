//! The stem: five conv units and two max pools before the first Inception block.

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Device, Tensor};

use super::{conv, conv_stride2, max_pool_stride2};
use crate::conv_bn::{BasicConv2d, Padding};
use crate::flavor::Flavor;

/// Configuration of the [`Stem`].
#[derive(Config, Debug)]
pub struct StemConfig {
    /// Flavour of batch norm.
    pub flavor: Flavor,
}

/// Keras: `conv2d_bn(32, 3x3, s2, valid)`, `(32, 3x3, valid)`, `(64, 3x3)`, max pool,
/// `(80, 1x1, valid)`, `(192, 3x3, valid)`, max pool. torchvision: `Conv2d_1a_3x3` ..
/// `Conv2d_4a_3x3` with `maxpool1`, `maxpool2`.
#[derive(Module, Debug)]
pub struct Stem {
    /// 3 -> 32, 3x3 stride 2, valid.
    pub conv2d_1a_3x3: BasicConv2d,
    /// 32 -> 32, 3x3, valid.
    pub conv2d_2a_3x3: BasicConv2d,
    /// 32 -> 64, 3x3, same.
    pub conv2d_2b_3x3: BasicConv2d,
    /// 3x3 stride 2.
    pub maxpool1: MaxPool2d,
    /// 64 -> 80, 1x1.
    pub conv2d_3b_1x1: BasicConv2d,
    /// 80 -> 192, 3x3, valid.
    pub conv2d_4a_3x3: BasicConv2d,
    /// 3x3 stride 2.
    pub maxpool2: MaxPool2d,
}

impl Stem {
    /// Conv units in Keras creation order (the order of the `conv2d_N` suffixes).
    pub const UNITS: [&'static str; 5] =
        ["conv2d_1a_3x3", "conv2d_2a_3x3", "conv2d_2b_3x3", "conv2d_3b_1x1", "conv2d_4a_3x3"];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.conv2d_1a_3x3,
            &mut self.conv2d_2a_3x3,
            &mut self.conv2d_2b_3x3,
            &mut self.conv2d_3b_1x1,
            &mut self.conv2d_4a_3x3,
        ]
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        vec![
            (Self::UNITS[0], &self.conv2d_1a_3x3),
            (Self::UNITS[1], &self.conv2d_2a_3x3),
            (Self::UNITS[2], &self.conv2d_2b_3x3),
            (Self::UNITS[3], &self.conv2d_3b_1x1),
            (Self::UNITS[4], &self.conv2d_4a_3x3),
        ]
    }

    /// Output channels.
    pub const OUT_CHANNELS: usize = 192;

    /// # Shapes
    /// - input: `[batch, 3, h, w]`, output: `[batch, 192, h', w']` (h = 150 gives 16, 299 gives 35)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv2d_1a_3x3.forward(x);
        let x = self.conv2d_2a_3x3.forward(x);
        let x = self.conv2d_2b_3x3.forward(x);
        let x = self.maxpool1.forward(x);
        let x = self.conv2d_3b_1x1.forward(x);
        let x = self.conv2d_4a_3x3.forward(x);
        self.maxpool2.forward(x)
    }
}

impl StemConfig {
    /// Creates the stem.
    pub fn init(&self, device: &Device) -> Stem {
        let f = self.flavor;
        Stem {
            conv2d_1a_3x3: conv_stride2(f, [3, 32]).init(device),
            conv2d_2a_3x3: conv(f, [32, 32], [3, 3]).with_padding(Padding::Valid).init(device),
            conv2d_2b_3x3: conv(f, [32, 64], [3, 3]).init(device),
            maxpool1: max_pool_stride2(),
            conv2d_3b_1x1: conv(f, [64, 80], [1, 1]).with_padding(Padding::Valid).init(device),
            conv2d_4a_3x3: conv(f, [80, 192], [3, 3]).with_padding(Padding::Valid).init(device),
            maxpool2: max_pool_stride2(),
        }
    }
}
