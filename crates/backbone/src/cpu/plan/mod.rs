//! The packed engine's planner: the layers a run needs, lowered to [`Step`]s, then fused,
//! in named passes, each with its own job (and its own tests):
//! 1. [`lower`]: one step per layer, a convolution taking the batch norm and activation that
//!    only it feeds, and the zero padding (or a separable convolution's ReLU) that only it
//!    reads ([`lower::lower`]);
//! 2. [`fuse::pool_after_pointwise`]: an average pooling read only by a 1x1 convolution is
//!    computed after it, on its fewer channels;
//! 3. [`fuse::depthwise_into_pointwise`]: a depthwise convolution read only by a 1x1 one is
//!    computed inside it, with the 1x1 expansion that only it reads (MobileNet's inverted
//!    residual block);
//! 4. [`concat::write_into_concatenations`]: a step read only by a concatenation writes
//!    straight into its buffer.

mod concat;
mod fuse;
mod lower;
mod pack;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use super::conv::{Finish, PackedConv};
use super::dense::PackedDense;
use super::depthwise::PackedDepthwise;
use super::steps::{ChannelMap, Op};
use crate::architecture::Architecture;
use crate::layer::Layer;

pub(super) use pack::pack;

/// A weighted layer's packed weights.
#[derive(Debug, Clone)]
pub(super) enum Packed {
    Conv(PackedConv),
    Depthwise(PackedDepthwise),
    Norm(Finish),
    Dense(Arc<PackedDense>),
    Channels(ChannelMap),
}

/// One step of a run: the layer whose output it gives (after the layers fused into it),
/// the layers it reads, and where it writes when its only reader is a concatenation.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub layer: usize,
    pub inputs: Vec<usize>,
    pub op: Op,
    /// `(concatenation, first channel)`: written straight into the concatenation's buffer.
    pub into: Option<(usize, usize)>,
}

/// The layer graph as a run to some outputs sees it.
pub(super) struct Graph<'a> {
    pub architecture: &'a Architecture,
    pub layers: &'a [Layer],
    /// Each layer's inputs, each the layer whose value it is (see [`plan`]'s `alias`).
    pub inputs_of: Vec<Vec<usize>>,
    /// The layers the run computes that read each layer.
    pub readers: Vec<Vec<usize>>,
    /// Whether each layer is asked for.
    pub is_output: Vec<bool>,
    /// Whether each layer is needed for the outputs.
    pub needed: Vec<bool>,
    /// The last layer computed.
    pub last: usize,
}

impl<'a> Graph<'a> {
    fn new(architecture: &'a Architecture, alias: &[usize], outputs: &[usize]) -> Self {
        let layers = architecture.layers();
        let inputs_of: Vec<Vec<usize>> =
            layers.iter().map(|layer| layer.inputs.iter().map(|&j| alias[j]).collect()).collect();
        let needed = architecture.ancestors(outputs);
        let last = outputs.iter().copied().max().unwrap_or(0);
        let mut is_output = vec![false; layers.len()];
        outputs.iter().for_each(|&o| is_output[o] = true);
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); layers.len()];
        for i in (0..=last.min(layers.len().saturating_sub(1))).filter(|&i| needed[i] && alias[i] == i) {
            inputs_of[i].iter().for_each(|&input| readers[input].push(i));
        }
        Self { architecture, layers, inputs_of, readers, is_output, needed, last }
    }

    /// The layer that alone reads `i`'s output, reading nothing else, if `i` is not asked for.
    pub fn sole_reader(&self, i: usize) -> Option<usize> {
        match self.readers[i].as_slice() {
            [r] if !self.is_output[i] && self.inputs_of[*r] == [i] => Some(*r),
            _ => None,
        }
    }
}

/// The steps that compute the layers `outputs` of `architecture` from its `packed` weights,
/// each layer's value that of the layer `alias` gives it: a dropout's readers read the
/// dropout's input (inference) or the dropout itself (the identity: a training step's
/// run). `pools_after`: whether pass 2 runs (not with the direct algorithm, which keeps
/// Burn's order of operations).
pub(super) fn plan(
    architecture: &Architecture,
    packed: &[Option<Packed>],
    alias: &[usize],
    outputs: &[usize],
    pools_after: bool,
) -> Vec<Step> {
    let outputs: Vec<usize> = outputs.iter().map(|&o| alias[o]).collect();
    let graph = Graph::new(architecture, alias, &outputs);
    let steps = lower::lower(&graph, packed, alias);
    let readers = fuse::step_readers(&graph, &steps);
    let steps = match pools_after {
        true => fuse::pool_after_pointwise(steps, &readers),
        false => steps,
    };
    let steps = fuse::depthwise_into_pointwise(steps, &readers);
    concat::write_into_concatenations(steps, &graph)
}
