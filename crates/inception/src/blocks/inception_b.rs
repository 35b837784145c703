//! The first grid reduction, 35x35 -> 17x17: Keras `mixed3` (torchvision `Mixed_6a`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Device, Tensor};

use super::{conv, conv_stride2, max_pool_stride2};
use crate::conv_bn::BasicConv2d;
use crate::flavor::Flavor;

/// Configuration of an [`InceptionB`] block.
#[derive(Config, Debug)]
pub struct InceptionBConfig {
    /// Input channels (288).
    pub in_channels: usize,
    /// Flavour of batch norm.
    pub flavor: Flavor,
}

/// Branches concatenated as `[3x3/s2, double 3x3 ending s2, max pool]`: 384 + 96 + in channels.
#[derive(Module, Debug)]
pub struct InceptionB {
    /// 3x3 stride 2 valid, 384.
    pub branch3x3: BasicConv2d,
    /// 1x1, 64.
    pub branch3x3dbl_1: BasicConv2d,
    /// 3x3, 96.
    pub branch3x3dbl_2: BasicConv2d,
    /// 3x3 stride 2 valid, 96.
    pub branch3x3dbl_3: BasicConv2d,
    /// 3x3 stride 2 max pooling.
    pub max_pool: MaxPool2d,
}

impl InceptionB {
    /// Conv units in Keras creation order.
    pub const UNITS: [&'static str; 4] =
        ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch3x3,
            &mut self.branch3x3dbl_1,
            &mut self.branch3x3dbl_2,
            &mut self.branch3x3dbl_3,
        ]
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        vec![
            (Self::UNITS[0], &self.branch3x3),
            (Self::UNITS[1], &self.branch3x3dbl_1),
            (Self::UNITS[2], &self.branch3x3dbl_2),
            (Self::UNITS[3], &self.branch3x3dbl_3),
        ]
    }

    /// # Shapes
    /// - input: `[batch, c, h, w]`, output: `[batch, 480 + c, (h-3)/2+1, (w-3)/2+1]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = self.branch3x3.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_1.forward(x.clone());
        let branch3x3dbl = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(branch3x3dbl));
        let branch_pool = self.max_pool.forward(x);
        Tensor::cat(vec![branch3x3, branch3x3dbl, branch_pool], 1)
    }
}

impl InceptionBConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        384 + 96 + self.in_channels
    }

    /// Creates the block.
    pub fn init(&self, device: &Device) -> InceptionB {
        let (f, c) = (self.flavor, self.in_channels);
        InceptionB {
            branch3x3: conv_stride2(f, [c, 384]).init(device),
            branch3x3dbl_1: conv(f, [c, 64], [1, 1]).init(device),
            branch3x3dbl_2: conv(f, [64, 96], [3, 3]).init(device),
            branch3x3dbl_3: conv_stride2(f, [96, 96]).init(device),
            max_pool: max_pool_stride2(),
        }
    }
}
