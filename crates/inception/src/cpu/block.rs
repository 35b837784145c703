//! A block as branches of steps whose outputs are concatenated along the channels, each
//! branch writing straight into its share of the block's output.

use std::borrow::Cow;

use super::conv::PackedConv;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::pool::{avg_pool_3x3_same, max_pool_3x3_stride2, max_pool_output_size};

/// One step of a branch.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A conv unit.
    Conv(Box<PackedConv>),
    /// 3x3 stride-1 `same` average pooling.
    AvgPool {
        /// Whether padded zeros count in the divisor (torchvision).
        counts_padding: bool,
    },
    /// 3x3 stride-2 `valid` max pooling.
    MaxPool,
}

impl Step {
    fn out_channels(&self, in_channels: usize) -> usize {
        match self {
            Step::Conv(conv) => conv.out_channels(),
            Step::AvgPool { .. } | Step::MaxPool => in_channels,
        }
    }

    fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        match self {
            Step::Conv(conv) => conv.output_size(size),
            Step::AvgPool { .. } => size,
            Step::MaxPool => max_pool_output_size(size),
        }
    }

    fn forward(&self, input: &NhwcBatch) -> NhwcBatch {
        match self {
            Step::Conv(conv) => conv.forward(input),
            Step::AvgPool { counts_padding } => avg_pool_3x3_same(input, *counts_padding),
            Step::MaxPool => {
                let [n, h, w, c] = input.shape;
                let [oh, ow] = max_pool_output_size([h, w]);
                let mut output = NhwcBatch::zeros([n, oh, ow, c]);
                max_pool_3x3_stride2(input, &mut output.as_target());
                output
            }
        }
    }

    fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        match self {
            Step::Conv(conv) => conv.forward_into(input, target),
            Step::MaxPool => max_pool_3x3_stride2(input, target),
            Step::AvgPool { .. } => {
                let pooled = self.forward(input);
                let c = pooled.channels();
                for (out, pixel) in target
                    .data
                    .chunks_exact_mut(target.stride)
                    .zip(pooled.data.chunks_exact(c))
                {
                    out[target.offset..target.offset + c].copy_from_slice(pixel);
                }
            }
        }
    }
}

/// Steps run one after the other; when `split` is not empty, the last step's output feeds
/// each of the `split` units, whose outputs are concatenated (InceptionE's 1x3 / 3x1 pairs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Branch {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Units run side by side at the end (may be empty).
    pub split: Vec<PackedConv>,
}

impl Branch {
    /// A branch of steps with no split.
    pub fn of(steps: Vec<Step>) -> Self {
        Self {
            steps,
            split: Vec::new(),
        }
    }

    fn out_channels(&self, in_channels: usize) -> usize {
        match self.split.is_empty() {
            true => self.steps.iter().fold(in_channels, |c, step| step.out_channels(c)),
            false => self.split.iter().map(PackedConv::out_channels).sum(),
        }
    }

    fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        let size = self.steps.iter().fold(size, |s, step| step.output_size(s));
        self.split.iter().fold(size, |s, conv| conv.output_size(s))
    }

    fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>) {
        let run_all = !self.split.is_empty();
        let last = match run_all {
            true => self.steps.len(),
            false => self.steps.len() - 1,
        };
        let mut x = Cow::Borrowed(input);
        for step in &self.steps[..last] {
            x = Cow::Owned(step.forward(&x));
        }
        match run_all {
            false => self.steps[last].forward_into(&x, target),
            true => {
                let mut offset = 0;
                for conv in &self.split {
                    conv.forward_into(&x, &mut target.narrow(offset, conv.out_channels()));
                    offset += conv.out_channels();
                }
            }
        }
    }
}

/// A block: its branches, concatenated in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedBlock {
    /// The branches.
    pub branches: Vec<Branch>,
}

impl PackedBlock {
    /// Runs every branch, concatenated.
    pub fn forward(&self, input: &NhwcBatch) -> NhwcBatch {
        self.forward_branches(input, &self.branches)
    }

    /// Runs only branch `index`.
    pub fn forward_branch(&self, input: &NhwcBatch, index: usize) -> NhwcBatch {
        self.forward_branches(input, &self.branches[index..=index])
    }

    fn forward_branches(&self, input: &NhwcBatch, branches: &[Branch]) -> NhwcBatch {
        let [n, h, w, c] = input.shape;
        let [oh, ow] = branches[0].output_size([h, w]);
        let widths: Vec<usize> = branches.iter().map(|b| b.out_channels(c)).collect();
        let mut output = NhwcBatch::zeros([n, oh, ow, widths.iter().sum()]);
        let mut target = output.as_target();
        let mut offset = 0;
        for (branch, width) in branches.iter().zip(widths) {
            branch.forward_into(input, &mut target.narrow(offset, width));
            offset += width;
        }
        output
    }
}
