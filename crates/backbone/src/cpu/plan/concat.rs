//! Pass 4: a step whose only reader is a concatenation writes straight into its share of
//! the concatenation's buffer (no copy of the branch afterwards).

use super::{Graph, Step};
use crate::cpu::steps::Op;
use crate::layer::LayerKind;

/// Sets `into` on every step (a convolution or max pooling) that only a concatenation
/// reads, once, and that is not asked for: the concatenation and its first channel.
pub(super) fn write_into_concatenations(mut steps: Vec<Step>, graph: &Graph<'_>) -> Vec<Step> {
    for step in &mut steps {
        let writes_into = matches!(step.op, Op::Conv(_) | Op::Depthwise(_) | Op::MaxPool(_));
        if let ([reader], false, true) =
            (graph.readers[step.layer].as_slice(), graph.is_output[step.layer], writes_into)
            && graph.layers[*reader].kind == LayerKind::Concatenate
            && graph.inputs_of[*reader].iter().filter(|&&j| j == step.layer).count() == 1
        {
            let inputs = &graph.inputs_of[*reader];
            let position = inputs.iter().position(|&j| j == step.layer).expect("reader reads it");
            let offset = inputs[..position].iter().map(|&j| graph.architecture.channels(j)).sum();
            step.into = Some((*reader, offset));
        }
    }
    steps
}
