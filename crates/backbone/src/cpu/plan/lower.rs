//! Pass 1: the layers a run needs as steps, one per layer, except what a convolution takes
//! into its own step: the batch norm and activation that only it feeds (applied on each
//! output tile), the zero padding that only it (or a max pooling) reads, and for a
//! separable convolution the ReLU that only it reads (applied as it reads its input). An
//! `Add` takes the activation that alone reads it.

use super::{Graph, Packed, Step};
use crate::cpu::conv::Finish;
use crate::cpu::pool::MaxPool;
use crate::cpu::steps::Op;
use crate::cpu::window::NO_PADDING;
use crate::layer::{Activation, LayerKind, ZeroPadding};

/// The steps of `graph`'s needed layers, in order, from their `packed` weights; a dropout
/// whose `alias` is another layer is the identity (no step).
pub(super) fn lower(graph: &Graph<'_>, packed: &[Option<Packed>], alias: &[usize]) -> Vec<Step> {
    let layers = graph.layers;
    let mut absorbed = vec![false; layers.len()];
    let mut folded_pad: Vec<Option<(usize, ZeroPadding)>> = vec![None; layers.len()];
    // A ReLU read only by a separable convolution, applied as that convolution reads
    // its input: the ReLU's input, by the convolution's index.
    let mut folded_relu: Vec<Option<usize>> = vec![None; layers.len()];
    let mut steps = Vec::new();
    for i in 0..=graph.last {
        if !graph.needed[i] || absorbed[i] {
            continue;
        }
        let layer = &layers[i];
        let input = graph.inputs_of[i].first().copied().unwrap_or(0);
        let op = match (&layer.kind, &packed[i]) {
            (LayerKind::Input { .. }, _) => continue,
            (LayerKind::Dropout { .. }, _) if alias[i] != i => continue,
            (LayerKind::Dropout { rate, per_image }, _) => Op::Drop { rate: *rate as f32, per_image: *per_image },
            (LayerKind::ZeroPadding2D { padding }, _) => {
                // Folded into the convolution (not a separable one) or max pooling that alone
                // reads it.
                let reader = graph.sole_reader(i).filter(|&r| match layers[r].kind {
                    LayerKind::SeparableConv2D { .. } => false,
                    LayerKind::MaxPooling2D { .. } => true,
                    _ => matches!(packed[r], Some(Packed::Conv(_) | Packed::Depthwise(_))),
                });
                match reader {
                    Some(r) => {
                        folded_pad[r] = Some((input, *padding));
                        continue;
                    }
                    None => Op::Pad(*padding),
                }
            }
            (LayerKind::Activation(Activation::Relu) | LayerKind::ReLU(Activation::Relu), _)
                if let Some(r) = graph.sole_reader(i)
                    && matches!(layers[r].kind, LayerKind::SeparableConv2D { .. }) =>
            {
                folded_relu[r] = Some(input);
                continue;
            }
            (_, Some(Packed::Conv(_) | Packed::Depthwise(_))) => {
                let (source, extra) = match folded_relu[i] {
                    Some(relu_input) => (relu_input, NO_PADDING),
                    None => folded_pad[i].unwrap_or((input, NO_PADDING)),
                };
                let finish = match &packed[i] {
                    Some(Packed::Conv(conv)) => conv.base_finish(),
                    Some(Packed::Depthwise(conv)) => conv.base_finish(),
                    _ => unreachable!(),
                };
                let (finish, end) = take_norm_and_activation(graph, packed, i, finish, &mut absorbed);
                let op = match &packed[i] {
                    Some(Packed::Conv(conv)) if folded_relu[i].is_some() => {
                        Op::Conv(conv.after_relu().finished(finish, extra))
                    }
                    Some(Packed::Conv(conv)) => Op::Conv(conv.finished(finish, extra)),
                    Some(Packed::Depthwise(conv)) => Op::Depthwise(conv.finished(finish, extra)),
                    _ => unreachable!(),
                };
                steps.push(Step { layer: end, inputs: vec![source], op, into: None });
                continue;
            }
            (_, Some(Packed::Norm(norm))) => Op::Finish(norm.clone()),
            (_, Some(Packed::Dense(dense))) => Op::Dense(dense.clone()),
            (LayerKind::Activation(a) | LayerKind::ReLU(a), _) => {
                Op::Finish(Finish::with_bias(None).with_activation(*a))
            }
            (LayerKind::MaxPooling2D { pool, strides, padding }, _) => {
                let (source, zeros) = folded_pad[i].unwrap_or((input, NO_PADDING));
                let op = Op::MaxPool(MaxPool { pool: *pool, strides: *strides, padding: *padding, zeros });
                steps.push(Step { layer: i, inputs: vec![source], op, into: None });
                continue;
            }
            (LayerKind::Flatten { .. }, _) => Op::Flatten,
            (LayerKind::AveragePooling2D { count_include_pad, .. }, _) => {
                Op::AvgPool { counts_padding: *count_include_pad }
            }
            (LayerKind::Concatenate, _) => Op::Concat,
            (LayerKind::Add, _) => {
                // The activation that alone reads the sum (ResNet's `_out` ReLU) is applied on it.
                let activation = graph.sole_reader(i).and_then(|r| match layers[r].kind {
                    LayerKind::Activation(a) | LayerKind::ReLU(a) if a != Activation::Softmax => Some((r, a)),
                    _ => None,
                });
                if let Some((r, a)) = activation {
                    absorbed[r] = true;
                    let op = Op::Add(Finish::with_bias(None).with_activation(a));
                    steps.push(Step { layer: r, inputs: graph.inputs_of[i].clone(), op, into: None });
                    continue;
                }
                Op::Add(Finish::default())
            }
            (LayerKind::GlobalAveragePooling2D, _) => Op::GlobalAveragePool,
            (_, Some(Packed::Channels(map))) => Op::Channels(map.clone()),
            (LayerKind::Multiply, _) => Op::Multiply,
            (LayerKind::Reshape { shape }, _) => Op::Reshape(*shape),
            (kind, _) => unreachable!("layer {i} ({}) is packed or stateless", kind.class_name()),
        };
        steps.push(Step { layer: i, inputs: graph.inputs_of[i].clone(), op, into: None });
    }
    steps
}

/// `finish` (convolution `i`'s) followed by the batch norm, then the activation, that only
/// the convolution feeds, and the last layer taken (marked in `absorbed`). A convolution
/// with its own activation (VGG16's) ends there: it takes neither.
fn take_norm_and_activation(
    graph: &Graph<'_>,
    packed: &[Option<Packed>],
    i: usize,
    mut finish: Finish,
    absorbed: &mut [bool],
) -> (Finish, usize) {
    if let LayerKind::Conv2D { activation, .. } = graph.layers[i].kind
        && activation != Activation::Linear
    {
        return (finish.with_activation(activation), i);
    }
    let mut end = i;
    if let Some(r) = graph.sole_reader(end)
        && let Some(Packed::Norm(norm)) = &packed[r]
    {
        finish = finish.then(norm);
        absorbed[r] = true;
        end = r;
    }
    if let Some(r) = graph.sole_reader(end)
        && let LayerKind::Activation(a) | LayerKind::ReLU(a) = graph.layers[r].kind
    {
        finish = finish.with_activation(a);
        absorbed[r] = true;
        end = r;
    }
    (finish, end)
}
