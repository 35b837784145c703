//! Passes 2 and 3: steps merged into the 1x1 convolution that alone reads them.

use super::{Graph, Step};
use crate::cpu::steps::Op;

/// How many steps (and requested outputs) read each layer.
pub(super) fn step_readers(graph: &Graph<'_>, steps: &[Step]) -> Vec<usize> {
    let mut readers: Vec<usize> = graph.is_output.iter().map(|&o| usize::from(o)).collect();
    for step in steps {
        step.inputs.iter().for_each(|&j| readers[j] += 1);
    }
    readers
}

/// Whether `step` reads only `layer`, which nothing else reads (`readers`: see
/// [`step_readers`]).
fn sole_reader_of(step: &Step, layer: usize, readers: &[usize]) -> bool {
    step.inputs == [layer] && readers[layer] == 1
}

/// Pass 2: an average pooling that only a pointwise convolution reads is computed after it,
/// in the convolution's place (`PackedConv::after_average_pool`).
pub(super) fn pool_after_pointwise(steps: Vec<Step>, readers: &[usize]) -> Vec<Step> {
    let mut fused: Vec<Step> = Vec::with_capacity(steps.len());
    for mut step in steps {
        let pooling =
            fused.iter().rposition(|s| matches!(s.op, Op::AvgPool { .. }) && sole_reader_of(&step, s.layer, readers));
        if let (Some(at), Op::Conv(conv)) = (pooling, &step.op)
            && conv.is_pointwise()
        {
            let pooling = fused.remove(at);
            let Op::AvgPool { counts_padding } = pooling.op else { unreachable!("found as a pooling") };
            step.op = Op::Conv(conv.after_average_pool(counts_padding));
            step.inputs = pooling.inputs;
        }
        fused.push(step);
    }
    fused
}

/// Pass 3: a depthwise convolution that only the pointwise one right after it reads is
/// computed inside it (`PackedConv::after_depthwise`), with the pointwise expansion right
/// before it that only it reads (`PackedDepthwise::after_expand`): a whole inverted
/// residual block as one step.
pub(super) fn depthwise_into_pointwise(steps: Vec<Step>, readers: &[usize]) -> Vec<Step> {
    let mut fused: Vec<Step> = Vec::with_capacity(steps.len());
    for mut step in steps {
        let depthwise = match (fused.last(), &step.op) {
            (Some(Step { op: Op::Depthwise(depthwise), layer, .. }), Op::Conv(conv))
                if conv.is_pointwise() && sole_reader_of(&step, *layer, readers) =>
            {
                Some(depthwise.clone())
            }
            _ => None,
        };
        if let (Some(mut depthwise), Op::Conv(conv)) = (depthwise, &step.op) {
            step.inputs = fused.pop().expect("checked above").inputs;
            if let Some(Step { op: Op::Conv(expand), layer, inputs, .. }) = fused.last()
                && expand.is_pointwise()
                && sole_reader_of(&step, *layer, readers)
            {
                depthwise = depthwise.after_expand(expand.clone());
                step.inputs = inputs.clone();
                fused.pop();
            }
            step.op = Op::Conv(conv.after_depthwise(depthwise));
        }
        fused.push(step);
    }
    fused
}
