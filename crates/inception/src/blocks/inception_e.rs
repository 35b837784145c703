//! The 8x8 family with expanded filter banks: Keras `mixed9`, `mixed10` (torchvision
//! `Mixed_7b`, `Mixed_7c`), whose inner concatenations are the layers `mixed9_0` (in mixed9)
//! and `mixed9_1` (in mixed10).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::AvgPool2d;
use burn::tensor::{Device, Tensor};

use super::{branch_avg_pool, conv};
use crate::conv_bn::BasicConv2d;
use crate::flavor::Flavor;

/// How much of an [`InceptionE`] block is built.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum InceptionEPart {
    /// The whole block (output 2048 channels).
    Full,
    /// Only the 1x3 / 3x1 branch up to its concatenation (Keras `mixed9_0` / `mixed9_1`,
    /// 768 channels): what a model cut at that layer holds.
    Branch3x3,
}

/// Configuration of an [`InceptionE`] block.
#[derive(Config, Debug)]
pub struct InceptionEConfig {
    /// Input channels (1280 for mixed9, 2048 for mixed10).
    pub in_channels: usize,
    /// Flavour of batch norm and average pooling.
    pub flavor: Flavor,
    /// Which part of the block to build. Default: all of it.
    #[config(default = "InceptionEPart::Full")]
    pub part: InceptionEPart,
}

/// Branches concatenated as `[1x1, (1x3, 3x1), (3x3 -> 1x3, 3x1), pool]`:
/// 320 + 768 + 768 + 192 = 2048 channels.
///
/// The fields other than the `branch3x3_*` ones are `None` in a block built as
/// [`InceptionEPart::Branch3x3`].
#[derive(Module, Debug)]
pub struct InceptionE {
    /// 1x1, 320.
    pub branch1x1: Option<BasicConv2d>,
    /// 1x1, 384.
    pub branch3x3_1: BasicConv2d,
    /// 1x3, 384.
    pub branch3x3_2a: BasicConv2d,
    /// 3x1, 384.
    pub branch3x3_2b: BasicConv2d,
    /// 1x1, 448.
    pub branch3x3dbl_1: Option<BasicConv2d>,
    /// 3x3, 384.
    pub branch3x3dbl_2: Option<BasicConv2d>,
    /// 1x3, 384.
    pub branch3x3dbl_3a: Option<BasicConv2d>,
    /// 3x1, 384.
    pub branch3x3dbl_3b: Option<BasicConv2d>,
    /// 3x3 average pooling, stride 1, same.
    pub avg_pool: AvgPool2d,
    /// 1x1 after the pooling, 192.
    pub branch_pool: Option<BasicConv2d>,
}

impl InceptionE {
    /// Conv units in Keras creation order.
    pub const UNITS: [&'static str; 9] = [
        "branch1x1",
        "branch3x3_1",
        "branch3x3_2a",
        "branch3x3_2b",
        "branch3x3dbl_1",
        "branch3x3dbl_2",
        "branch3x3dbl_3a",
        "branch3x3dbl_3b",
        "branch_pool",
    ];

    /// The conv units this block holds, mutably, in Keras creation order.
    pub fn units_mut(&mut self) -> Vec<&mut BasicConv2d> {
        [
            self.branch1x1.as_mut(),
            Some(&mut self.branch3x3_1),
            Some(&mut self.branch3x3_2a),
            Some(&mut self.branch3x3_2b),
            self.branch3x3dbl_1.as_mut(),
            self.branch3x3dbl_2.as_mut(),
            self.branch3x3dbl_3a.as_mut(),
            self.branch3x3dbl_3b.as_mut(),
            self.branch_pool.as_mut(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The conv units this block holds, in Keras creation order, with their field names.
    pub fn units(&self) -> Vec<(&'static str, &BasicConv2d)> {
        let fields = [
            self.branch1x1.as_ref(),
            Some(&self.branch3x3_1),
            Some(&self.branch3x3_2a),
            Some(&self.branch3x3_2b),
            self.branch3x3dbl_1.as_ref(),
            self.branch3x3dbl_2.as_ref(),
            self.branch3x3dbl_3a.as_ref(),
            self.branch3x3dbl_3b.as_ref(),
            self.branch_pool.as_ref(),
        ];
        Self::UNITS
            .into_iter()
            .zip(fields)
            .filter_map(|(name, unit)| unit.map(|unit| (name, unit)))
            .collect()
    }

    /// Conv units of a block built as [`InceptionEPart::Branch3x3`], in Keras creation order.
    pub const BRANCH3X3_UNITS: [&'static str; 3] = ["branch3x3_1", "branch3x3_2a", "branch3x3_2b"];

    /// The inner concatenation of the 1x3 and 3x1 convolutions (Keras `mixed9_0` in mixed9,
    /// `mixed9_1` in mixed10).
    ///
    /// # Shapes
    /// - input: `[batch, c, h, w]`, output: `[batch, 768, h, w]`
    pub fn forward_branch3x3(&self, x: Tensor<4>) -> Tensor<4> {
        let b = self.branch3x3_1.forward(x);
        Tensor::cat(vec![self.branch3x3_2a.forward(b.clone()), self.branch3x3_2b.forward(b)], 1)
    }

    /// The whole block, or `None` when it was built as [`InceptionEPart::Branch3x3`].
    ///
    /// # Shapes
    /// - input: `[batch, c, h, w]`, output: `[batch, 2048, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        let branch1x1 = self.branch1x1.as_ref()?.forward(x.clone());
        let branch3x3 = self.forward_branch3x3(x.clone());
        let dbl = self.branch3x3dbl_1.as_ref()?.forward(x.clone());
        let dbl = self.branch3x3dbl_2.as_ref()?.forward(dbl);
        let dbl = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.as_ref()?.forward(dbl.clone()),
                self.branch3x3dbl_3b.as_ref()?.forward(dbl),
            ],
            1,
        );
        let branch_pool = self.branch_pool.as_ref()?.forward(self.avg_pool.forward(x));
        Some(Tensor::cat(vec![branch1x1, branch3x3, dbl, branch_pool], 1))
    }
}

impl InceptionEConfig {
    /// Output channels of the full block.
    pub fn out_channels(&self) -> usize {
        320 + 768 + 768 + 192
    }

    /// Creates the block (or its `branch3x3` part).
    pub fn init(&self, device: &Device) -> InceptionE {
        let (f, c) = (self.flavor, self.in_channels);
        let full = self.part == InceptionEPart::Full;
        let only_full = |config: crate::conv_bn::BasicConv2dConfig| full.then(|| config.init(device));
        InceptionE {
            branch1x1: only_full(conv(f, [c, 320], [1, 1])),
            branch3x3_1: conv(f, [c, 384], [1, 1]).init(device),
            branch3x3_2a: conv(f, [384, 384], [1, 3]).init(device),
            branch3x3_2b: conv(f, [384, 384], [3, 1]).init(device),
            branch3x3dbl_1: only_full(conv(f, [c, 448], [1, 1])),
            branch3x3dbl_2: only_full(conv(f, [448, 384], [3, 3])),
            branch3x3dbl_3a: only_full(conv(f, [384, 384], [1, 3])),
            branch3x3dbl_3b: only_full(conv(f, [384, 384], [3, 1])),
            avg_pool: branch_avg_pool(f),
            branch_pool: only_full(conv(f, [c, 192], [1, 1])),
        }
    }
}
