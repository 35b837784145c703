//! [`CpuInference`]: a frozen copy of an [`InceptionV3`] for fast inference on the CPU.

use burn::tensor::Tensor;

use super::block::{Branch, PackedBlock, Step};
use super::conv::{ConvAlgorithm, PackedConv};
use super::nhwc::NhwcBatch;
use crate::blocks::{InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, Stem};
use crate::conv_bn::BasicConv2d;
use crate::error::{InceptionError, Result};
use crate::flavor::Flavor;
use crate::layer_name::{LayerName, check_input_size};
use crate::model::InceptionV3;

/// One block of the network and the layer name it ends.
#[derive(Debug, Clone)]
struct Stage {
    /// The layer the block's output is (`None` for the stem).
    name: Option<LayerName>,
    block: PackedBlock,
    /// A layer that is the output of one branch alone (`mixed9_0` / `mixed9_1`: the
    /// 1x3 / 3x1 concatenation inside mixed9 / mixed10), with the branch's index.
    inner: Option<(LayerName, usize)>,
}

/// An [`InceptionV3`]'s weights packed for inference on the CPU: channels-last feature
/// maps, every convolution one matrix product per tile of pixels (3x3 stride-1 ones by
/// Winograd's F(2x2, 3x3) unless [`ConvAlgorithm::Direct`] is asked for) with the batch
/// norm and ReLU applied on the tile, every branch writing straight into its block's output.
///
/// It computes what [`InceptionV3::forward_to`] computes on an inference device (batch
/// norms on their moving statistics, in the same order of operations), about 2.5x faster
/// than Burn's generic CPU convolutions. It is a snapshot: weights changed later (training)
/// are not seen; pack again.
///
/// ```no_run
/// # fn main() -> inception::Result<()> {
/// use burn::tensor::{Device, Tensor};
/// use inception::{CpuInference, Flavor, InceptionV3Config, LayerName};
/// let device = Device::flex();
/// let model = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7).init(&device)?;
/// let fast = CpuInference::new(&model)?;
/// let images = Tensor::<4>::zeros([2, 3, 150, 150], &device);
/// let features = fast.forward_to(images, LayerName::Mixed7)?; // [2, 768, 7, 7]
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CpuInference {
    stages: Vec<Stage>,
    cut: LayerName,
}

/// Packs the blocks of one model: its flavour and the convolution algorithm.
#[derive(Clone, Copy)]
struct Packer {
    flavor: Flavor,
    algorithm: ConvAlgorithm,
}

impl Packer {
    fn conv(self, unit: &BasicConv2d) -> Result<PackedConv> {
        PackedConv::pack(unit, self.algorithm)
    }

    fn step(self, unit: &BasicConv2d) -> Result<Step> {
        Ok(Step::Conv(Box::new(self.conv(unit)?)))
    }

    fn chain(self, units: &[&BasicConv2d]) -> Result<Branch> {
        Ok(Branch::of(units.iter().map(|u| self.step(u)).collect::<Result<_>>()?))
    }

    fn pooled(self, unit: &BasicConv2d) -> Result<Branch> {
        let pool = Step::AvgPool {
            counts_padding: self.flavor.avg_pool_counts_padding(),
        };
        Ok(Branch::of(vec![pool, self.step(unit)?]))
    }

    fn split(self, units: &[&BasicConv2d], pair: [&BasicConv2d; 2]) -> Result<Branch> {
        let mut branch = self.chain(units)?;
        branch.split = vec![self.conv(pair[0])?, self.conv(pair[1])?];
        Ok(branch)
    }

    fn stem(self, s: &Stem) -> Result<PackedBlock> {
        let mut steps = Vec::new();
        for unit in [&s.conv2d_1a_3x3, &s.conv2d_2a_3x3, &s.conv2d_2b_3x3] {
            steps.push(self.step(unit)?);
        }
        steps.push(Step::MaxPool);
        steps.extend([
            self.step(&s.conv2d_3b_1x1)?,
            self.step(&s.conv2d_4a_3x3)?,
            Step::MaxPool,
        ]);
        Ok(PackedBlock {
            branches: vec![Branch::of(steps)],
        })
    }

    fn inception_a(self, b: &InceptionA) -> Result<PackedBlock> {
        Ok(PackedBlock {
            branches: vec![
                self.chain(&[&b.branch1x1])?,
                self.chain(&[&b.branch5x5_1, &b.branch5x5_2])?,
                self.chain(&[&b.branch3x3dbl_1, &b.branch3x3dbl_2, &b.branch3x3dbl_3])?,
                self.pooled(&b.branch_pool)?,
            ],
        })
    }

    fn inception_b(self, b: &InceptionB) -> Result<PackedBlock> {
        Ok(PackedBlock {
            branches: vec![
                self.chain(&[&b.branch3x3])?,
                self.chain(&[&b.branch3x3dbl_1, &b.branch3x3dbl_2, &b.branch3x3dbl_3])?,
                Branch::of(vec![Step::MaxPool]),
            ],
        })
    }

    fn inception_c(self, b: &InceptionC) -> Result<PackedBlock> {
        Ok(PackedBlock {
            branches: vec![
                self.chain(&[&b.branch1x1])?,
                self.chain(&[&b.branch7x7_1, &b.branch7x7_2, &b.branch7x7_3])?,
                self.chain(&[
                    &b.branch7x7dbl_1,
                    &b.branch7x7dbl_2,
                    &b.branch7x7dbl_3,
                    &b.branch7x7dbl_4,
                    &b.branch7x7dbl_5,
                ])?,
                self.pooled(&b.branch_pool)?,
            ],
        })
    }

    fn inception_d(self, b: &InceptionD) -> Result<PackedBlock> {
        Ok(PackedBlock {
            branches: vec![
                self.chain(&[&b.branch3x3_1, &b.branch3x3_2])?,
                self.chain(&[&b.branch7x7x3_1, &b.branch7x7x3_2, &b.branch7x7x3_3, &b.branch7x7x3_4])?,
                Branch::of(vec![Step::MaxPool]),
            ],
        })
    }

    /// InceptionE's branches and the index of its 1x3 / 3x1 branch (0 when only that branch
    /// was built, for a model cut inside the block).
    fn inception_e(self, b: &InceptionE) -> Result<(PackedBlock, usize)> {
        let branch3x3 = self.split(&[&b.branch3x3_1], [&b.branch3x3_2a, &b.branch3x3_2b])?;
        let others = (|| {
            Some((
                b.branch1x1.as_ref()?,
                b.branch3x3dbl_1.as_ref()?,
                b.branch3x3dbl_2.as_ref()?,
                b.branch3x3dbl_3a.as_ref()?,
                b.branch3x3dbl_3b.as_ref()?,
                b.branch_pool.as_ref()?,
            ))
        })();
        Ok(match others {
            None => (
                PackedBlock {
                    branches: vec![branch3x3],
                },
                0,
            ),
            Some((b1x1, dbl_1, dbl_2, dbl_3a, dbl_3b, pool)) => {
                let branches = vec![
                    self.chain(&[b1x1])?,
                    branch3x3,
                    self.split(&[dbl_1, dbl_2], [dbl_3a, dbl_3b])?,
                    self.pooled(pool)?,
                ];
                (PackedBlock { branches }, 1)
            }
        })
    }
}

impl CpuInference {
    /// Packs `model`'s current weights (read from whatever device it lives on), with
    /// Winograd 3x3 convolutions ([`ConvAlgorithm::Winograd`]).
    pub fn new(model: &InceptionV3) -> Result<Self> {
        Self::with_algorithm(model, ConvAlgorithm::Winograd)
    }

    /// Packs `model`'s current weights with the given algorithm for 3x3 convolutions.
    pub fn with_algorithm(model: &InceptionV3, algorithm: ConvAlgorithm) -> Result<Self> {
        Self::packing(model, algorithm, model.cut)
    }

    /// Packs only the blocks of `model` up to `last` (the frozen part of a partly trainable
    /// base), with Winograd 3x3 convolutions.
    pub fn up_to(model: &InceptionV3, last: LayerName) -> Result<Self> {
        Self::packing(model, ConvAlgorithm::Winograd, last.min(model.cut))
    }

    fn packing(model: &InceptionV3, algorithm: ConvAlgorithm, last: LayerName) -> Result<Self> {
        use LayerName::*;
        super::host_memory::keep_freed_memory();
        let wanted = |name: LayerName| name <= last;
        let p = Packer {
            flavor: model.flavor,
            algorithm,
        };
        let stage = |name, block| Stage {
            name: Some(name),
            block,
            inner: None,
        };
        let mut stages = vec![Stage {
            name: None,
            block: p.stem(&model.stem)?,
            inner: None,
        }];
        for (name, block) in [
            (Mixed0, &model.mixed0),
            (Mixed1, &model.mixed1),
            (Mixed2, &model.mixed2),
        ] {
            if let Some(block) = block.as_ref().filter(|_| wanted(name)) {
                stages.push(stage(name, p.inception_a(block)?));
            }
        }
        if let Some(block) = model.mixed3.as_ref().filter(|_| wanted(Mixed3)) {
            stages.push(stage(Mixed3, p.inception_b(block)?));
        }
        let blocks_17 = [
            (Mixed4, &model.mixed4),
            (Mixed5, &model.mixed5),
            (Mixed6, &model.mixed6),
            (Mixed7, &model.mixed7),
        ];
        for (name, block) in blocks_17 {
            if let Some(block) = block.as_ref().filter(|_| wanted(name)) {
                stages.push(stage(name, p.inception_c(block)?));
            }
        }
        if let Some(block) = model.mixed8.as_ref().filter(|_| wanted(Mixed8)) {
            stages.push(stage(Mixed8, p.inception_d(block)?));
        }
        for (inner, name, block) in [(Mixed9_0, Mixed9, &model.mixed9), (Mixed9_1, Mixed10, &model.mixed10)] {
            if let Some(block) = block.as_ref().filter(|_| wanted(inner)) {
                let (block, branch) = p.inception_e(block)?;
                stages.push(Stage {
                    name: Some(name),
                    block,
                    inner: Some((inner, branch)),
                });
            }
        }
        Ok(Self { stages, cut: last })
    }

    /// The last layer the packed model holds.
    pub fn cut(&self) -> LayerName {
        self.cut
    }

    /// Runs the network up to `layer` on a channels-last batch of `[batch, rows, cols, 3]`.
    ///
    /// # Shapes
    /// - input: `[batch, rows, cols, 3]`, rows and cols >= 75
    /// - output: `[batch, rows', cols', channels]` as [`LayerName::output_shape`] gives
    pub fn forward_nhwc(&self, input: &NhwcBatch, layer: LayerName) -> Result<NhwcBatch> {
        if layer > self.cut {
            return Err(InceptionError::LayerCutAway {
                layer: layer.to_string(),
                cut: self.cut.to_string(),
            });
        }
        let [_, rows, cols, channels] = input.shape;
        if channels != 3 {
            return Err(InceptionError::InputChannels { channels });
        }
        check_input_size(rows, cols)?;
        let mut x = self.stages[0].block.forward(input);
        for stage in &self.stages[1..] {
            if let Some((inner, branch)) = stage.inner
                && inner == layer
            {
                return Ok(stage.block.forward_branch(&x, branch));
            }
            x = stage.block.forward(&x);
            if stage.name == Some(layer) {
                return Ok(x);
            }
        }
        Err(InceptionError::LayerCutAway {
            layer: layer.to_string(),
            cut: self.cut.to_string(),
        })
    }

    /// [`InceptionV3::forward_to`] on Burn tensors: reads the NCHW batch to the host, runs
    /// [`CpuInference::forward_nhwc`], and returns the features as NCHW on the input's
    /// device (a permuted view of channels-last data).
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward_to(&self, input: Tensor<4>, layer: LayerName) -> Result<Tensor<4>> {
        InceptionV3::check_input(&input)?;
        let device = input.device();
        let features = self.forward_nhwc(&NhwcBatch::from_nchw(input)?, layer)?;
        Ok(features.into_nchw(&device))
    }

    /// Runs the whole packed model: the output of the layer it was cut at.
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_to(input, self.cut)
    }
}
