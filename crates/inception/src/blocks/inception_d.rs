//! The second grid reduction, 17x17 -> 8x8: Keras `mixed8` (torchvision `Mixed_7a`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Device, Tensor};

use super::{conv, conv_stride2, max_pool_stride2};
use crate::conv_bn::BasicConv2d;
use crate::flavor::Flavor;

/// Configuration of an [`InceptionD`] block.
#[derive(Config, Debug)]
pub struct InceptionDConfig {
    /// Input channels (768).
    pub in_channels: usize,
    /// Flavour of batch norm.
    pub flavor: Flavor,
}

/// Branches concatenated as `[3x3/s2, 7x7x3 ending s2, max pool]`: 320 + 192 + in channels.
#[derive(Module, Debug)]
pub struct InceptionD {
    /// 1x1, 192.
    pub branch3x3_1: BasicConv2d,
    /// 3x3 stride 2 valid, 320.
    pub branch3x3_2: BasicConv2d,
    /// 1x1, 192.
    pub branch7x7x3_1: BasicConv2d,
    /// 1x7, 192.
    pub branch7x7x3_2: BasicConv2d,
    /// 7x1, 192.
    pub branch7x7x3_3: BasicConv2d,
    /// 3x3 stride 2 valid, 192.
    pub branch7x7x3_4: BasicConv2d,
    /// 3x3 stride 2 max pooling.
    pub max_pool: MaxPool2d,
}

impl InceptionD {
    /// Conv units in Keras creation order.
    pub const UNITS: [&'static str; 6] = [
        "branch3x3_1",
        "branch3x3_2",
        "branch7x7x3_1",
        "branch7x7x3_2",
        "branch7x7x3_3",
        "branch7x7x3_4",
    ];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch3x3_1,
            &mut self.branch3x3_2,
            &mut self.branch7x7x3_1,
            &mut self.branch7x7x3_2,
            &mut self.branch7x7x3_3,
            &mut self.branch7x7x3_4,
        ]
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        vec![
            (Self::UNITS[0], &self.branch3x3_1),
            (Self::UNITS[1], &self.branch3x3_2),
            (Self::UNITS[2], &self.branch7x7x3_1),
            (Self::UNITS[3], &self.branch7x7x3_2),
            (Self::UNITS[4], &self.branch7x7x3_3),
            (Self::UNITS[5], &self.branch7x7x3_4),
        ]
    }

    /// # Shapes
    /// - input: `[batch, 768, h, w]`, output: `[batch, 1280, (h-3)/2+1, (w-3)/2+1]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = self.branch3x3_2.forward(self.branch3x3_1.forward(x.clone()));
        let b = self.branch7x7x3_1.forward(x.clone());
        let b = self.branch7x7x3_3.forward(self.branch7x7x3_2.forward(b));
        let branch7x7x3 = self.branch7x7x3_4.forward(b);
        let branch_pool = self.max_pool.forward(x);
        Tensor::cat(vec![branch3x3, branch7x7x3, branch_pool], 1)
    }
}

impl InceptionDConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        320 + 192 + self.in_channels
    }

    /// Creates the block.
    pub fn init(&self, device: &Device) -> InceptionD {
        let (f, c) = (self.flavor, self.in_channels);
        InceptionD {
            branch3x3_1: conv(f, [c, 192], [1, 1]).init(device),
            branch3x3_2: conv_stride2(f, [192, 320]).init(device),
            branch7x7x3_1: conv(f, [c, 192], [1, 1]).init(device),
            branch7x7x3_2: conv(f, [192, 192], [1, 7]).init(device),
            branch7x7x3_3: conv(f, [192, 192], [7, 1]).init(device),
            branch7x7x3_4: conv_stride2(f, [192, 192]).init(device),
            max_pool: max_pool_stride2(),
        }
    }
}
