//! The 35x35 family: Keras `mixed0`, `mixed1`, `mixed2` (torchvision `Mixed_5b/5c/5d`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::AvgPool2d;
use burn::tensor::{Device, Tensor};

use super::{branch_avg_pool, conv};
use crate::conv_bn::BasicConv2d;
use crate::flavor::Flavor;

/// Configuration of an [`InceptionA`] block.
#[derive(Config, Debug)]
pub struct InceptionAConfig {
    /// Input channels (192 for mixed0, 256 for mixed1, 288 for mixed2).
    pub in_channels: usize,
    /// Output channels of the pool branch (32 for mixed0, 64 after).
    pub pool_features: usize,
    /// Flavour of batch norm and average pooling.
    pub flavor: Flavor,
}

/// Branches concatenated as `[1x1, 5x5, double 3x3, pool]`: 64 + 64 + 96 + pool_features channels.
#[derive(Module, Debug)]
pub struct InceptionA {
    /// 1x1, 64.
    pub branch1x1: BasicConv2d,
    /// 1x1, 48.
    pub branch5x5_1: BasicConv2d,
    /// 5x5, 64.
    pub branch5x5_2: BasicConv2d,
    /// 1x1, 64.
    pub branch3x3dbl_1: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_2: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_3: BasicConv2d,
    /// 3x3 average pooling, stride 1, same.
    pub avg_pool: AvgPool2d,
    /// 1x1 after the pooling, `pool_features`.
    pub branch_pool: BasicConv2d,
}

impl InceptionA {
    /// Conv units in Keras creation order.
    pub const UNITS: [&'static str; 7] = [
        "branch1x1",
        "branch5x5_1",
        "branch5x5_2",
        "branch3x3dbl_1",
        "branch3x3dbl_2",
        "branch3x3dbl_3",
        "branch_pool",
    ];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch1x1,
            &mut self.branch5x5_1,
            &mut self.branch5x5_2,
            &mut self.branch3x3dbl_1,
            &mut self.branch3x3dbl_2,
            &mut self.branch3x3dbl_3,
            &mut self.branch_pool,
        ]
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        vec![
            (Self::UNITS[0], &self.branch1x1),
            (Self::UNITS[1], &self.branch5x5_1),
            (Self::UNITS[2], &self.branch5x5_2),
            (Self::UNITS[3], &self.branch3x3dbl_1),
            (Self::UNITS[4], &self.branch3x3dbl_2),
            (Self::UNITS[5], &self.branch3x3dbl_3),
            (Self::UNITS[6], &self.branch_pool),
        ]
    }

    /// # Shapes
    /// - input: `[batch, in_channels, h, w]`, output: `[batch, 224 + pool_features, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward(x.clone());
        let branch5x5 = self.branch5x5_2.forward(self.branch5x5_1.forward(x.clone()));
        let branch3x3dbl = self.branch3x3dbl_1.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(branch3x3dbl));
        let branch_pool = self.branch_pool.forward(self.avg_pool.forward(x));
        Tensor::cat(vec![branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)
    }
}

impl InceptionAConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        64 + 64 + 96 + self.pool_features
    }

    /// Creates the block.
    pub fn init(&self, device: &Device) -> InceptionA {
        let (f, c) = (self.flavor, self.in_channels);
        InceptionA {
            branch1x1: conv(f, [c, 64], [1, 1]).init(device),
            branch5x5_1: conv(f, [c, 48], [1, 1]).init(device),
            branch5x5_2: conv(f, [48, 64], [5, 5]).init(device),
            branch3x3dbl_1: conv(f, [c, 64], [1, 1]).init(device),
            branch3x3dbl_2: conv(f, [64, 96], [3, 3]).init(device),
            branch3x3dbl_3: conv(f, [96, 96], [3, 3]).init(device),
            avg_pool: branch_avg_pool(f),
            branch_pool: conv(f, [c, self.pool_features], [1, 1]).init(device),
        }
    }
}
