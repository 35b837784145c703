//! The 17x17 family with factorised 7x7 convolutions: Keras `mixed4`..`mixed7`
//! (torchvision `Mixed_6b`..`Mixed_6e`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::AvgPool2d;
use burn::tensor::{Device, Tensor};

use super::{branch_avg_pool, conv};
use crate::conv_bn::BasicConv2d;
use crate::flavor::Flavor;

/// Configuration of an [`InceptionC`] block.
#[derive(Config, Debug)]
pub struct InceptionCConfig {
    /// Input channels (768).
    pub in_channels: usize,
    /// Width of the 7x7 branches (128 for mixed4, 160 for mixed5-6, 192 for mixed7).
    pub channels_7x7: usize,
    /// Flavour of batch norm and average pooling.
    pub flavor: Flavor,
}

/// Branches concatenated as `[1x1, 7x7, double 7x7, pool]`, 192 channels each (768).
#[derive(Module, Debug)]
pub struct InceptionC {
    /// 1x1, 192.
    pub branch1x1: BasicConv2d,
    /// 1x1, c7.
    pub branch7x7_1: BasicConv2d,
    /// 1x7, c7.
    pub branch7x7_2: BasicConv2d,
    /// 7x1, 192.
    pub branch7x7_3: BasicConv2d,
    /// 1x1, c7.
    pub branch7x7dbl_1: BasicConv2d,
    /// 7x1, c7.
    pub branch7x7dbl_2: BasicConv2d,
    /// 1x7, c7.
    pub branch7x7dbl_3: BasicConv2d,
    /// 7x1, c7.
    pub branch7x7dbl_4: BasicConv2d,
    /// 1x7, 192.
    pub branch7x7dbl_5: BasicConv2d,
    /// 3x3 average pooling, stride 1, same.
    pub avg_pool: AvgPool2d,
    /// 1x1 after the pooling, 192.
    pub branch_pool: BasicConv2d,
}

impl InceptionC {
    /// Conv units in Keras creation order.
    pub const UNITS: [&'static str; 10] = [
        "branch1x1",
        "branch7x7_1",
        "branch7x7_2",
        "branch7x7_3",
        "branch7x7dbl_1",
        "branch7x7dbl_2",
        "branch7x7dbl_3",
        "branch7x7dbl_4",
        "branch7x7dbl_5",
        "branch_pool",
    ];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        vec![
            &mut self.branch1x1,
            &mut self.branch7x7_1,
            &mut self.branch7x7_2,
            &mut self.branch7x7_3,
            &mut self.branch7x7dbl_1,
            &mut self.branch7x7dbl_2,
            &mut self.branch7x7dbl_3,
            &mut self.branch7x7dbl_4,
            &mut self.branch7x7dbl_5,
            &mut self.branch_pool,
        ]
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        vec![
            (Self::UNITS[0], &self.branch1x1),
            (Self::UNITS[1], &self.branch7x7_1),
            (Self::UNITS[2], &self.branch7x7_2),
            (Self::UNITS[3], &self.branch7x7_3),
            (Self::UNITS[4], &self.branch7x7dbl_1),
            (Self::UNITS[5], &self.branch7x7dbl_2),
            (Self::UNITS[6], &self.branch7x7dbl_3),
            (Self::UNITS[7], &self.branch7x7dbl_4),
            (Self::UNITS[8], &self.branch7x7dbl_5),
            (Self::UNITS[9], &self.branch_pool),
        ]
    }

    /// # Shapes
    /// - input: `[batch, 768, h, w]`, output: `[batch, 768, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward(x.clone());
        let branch7x7 = self.branch7x7_1.forward(x.clone());
        let branch7x7 = self.branch7x7_3.forward(self.branch7x7_2.forward(branch7x7));
        let dbl = self.branch7x7dbl_1.forward(x.clone());
        let dbl = self.branch7x7dbl_3.forward(self.branch7x7dbl_2.forward(dbl));
        let dbl = self.branch7x7dbl_5.forward(self.branch7x7dbl_4.forward(dbl));
        let branch_pool = self.branch_pool.forward(self.avg_pool.forward(x));
        Tensor::cat(vec![branch1x1, branch7x7, dbl, branch_pool], 1)
    }
}

impl InceptionCConfig {
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        4 * 192
    }

    /// Creates the block.
    pub fn init(&self, device: &Device) -> InceptionC {
        let (f, c, c7) = (self.flavor, self.in_channels, self.channels_7x7);
        InceptionC {
            branch1x1: conv(f, [c, 192], [1, 1]).init(device),
            branch7x7_1: conv(f, [c, c7], [1, 1]).init(device),
            branch7x7_2: conv(f, [c7, c7], [1, 7]).init(device),
            branch7x7_3: conv(f, [c7, 192], [7, 1]).init(device),
            branch7x7dbl_1: conv(f, [c, c7], [1, 1]).init(device),
            branch7x7dbl_2: conv(f, [c7, c7], [7, 1]).init(device),
            branch7x7dbl_3: conv(f, [c7, c7], [1, 7]).init(device),
            branch7x7dbl_4: conv(f, [c7, c7], [7, 1]).init(device),
            branch7x7dbl_5: conv(f, [c7, 192], [1, 7]).init(device),
            avg_pool: branch_avg_pool(f),
            branch_pool: conv(f, [c, 192], [1, 1]).init(device),
        }
    }
}
