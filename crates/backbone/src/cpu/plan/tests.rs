//! Each pass of the planner on a small network: the steps it plans (the layer each gives,
//! what it reads, what it computes, where it writes).

use burn::tensor::Device;

use super::{Graph, Packed, Step, concat, fuse, lower, pack, plan};
use crate::cpu::conv::ConvAlgorithm;
use crate::cpu::steps::describe;
use crate::layer::{Activation, LayerKind, Padding, ZeroPadding};
use crate::network::Network;
use crate::{Architecture, NetworkBuilder, Node};

fn conv(filters: usize, kernel: usize, activation: Activation) -> LayerKind {
    let kernel = [kernel, kernel];
    LayerKind::Conv2D { filters, kernel, strides: [1, 1], padding: Padding::Same, use_bias: false, activation }
}

fn depthwise() -> LayerKind {
    LayerKind::DepthwiseConv2D { kernel: [3, 3], strides: [1, 1], padding: Padding::Same, use_bias: false }
}

fn norm() -> LayerKind {
    LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.99, scale: true, tensorflow_order: true }
}

/// `x` through a convolution `kind`, its batch norm and `activation` (Keras' conv block).
fn conv_block(builder: &mut NetworkBuilder, name: &str, kind: LayerKind, activation: Activation, x: Node) -> Node {
    let x = builder.named(name, kind, &[x]);
    let x = builder.named(&format!("{name}_bn"), norm(), &[x]);
    builder.named(&format!("{name}_relu"), LayerKind::ReLU(activation), &[x])
}

/// A network of `build`'s layers (8 input channels), its packed weights (`algorithm`).
fn packed(build: impl FnOnce(&mut NetworkBuilder, Node) -> Node) -> (Architecture, Vec<Option<Packed>>) {
    let (mut builder, input) = NetworkBuilder::new("planned", 8, 4);
    let output = build(&mut builder, input);
    let network = Network::init(builder.finish(output), &Device::flex());
    let everything = vec![true; network.architecture().len()];
    let packed = pack(&network, &everything, ConvAlgorithm::Winograd).expect("every layer packs");
    (network.architecture().clone(), packed)
}

/// `(layer, inputs, what it computes)` of each step, on a 6x6 input.
fn summary(steps: &[Step]) -> Vec<(usize, Vec<usize>, String)> {
    steps.iter().map(|s| (s.layer, s.inputs.clone(), describe(&s.op, [6, 6]))).collect()
}

fn lowered(architecture: &Architecture, packed: &[Option<Packed>], outputs: &[usize]) -> Vec<Step> {
    let alias: Vec<usize> = (0..architecture.len()).collect();
    lower::lower(&Graph::new(architecture, &alias, outputs), packed, &alias)
}

#[test]
fn lowering_takes_each_convolutions_norm_activation_and_padding_into_its_step() {
    let (architecture, packed) = packed(|b, x| {
        let x = b.named("pad", LayerKind::ZeroPadding2D { padding: ZeroPadding::Fixed([[1, 0], [1, 0]]) }, &[x]);
        let x = conv_block(b, "conv", conv(16, 3, Activation::Linear), Activation::Relu, x);
        // VGG16's convolution with its own ReLU takes neither the batch norm nor the ReLU.
        let x = b.named("vgg", conv(16, 3, Activation::Relu), &[x]);
        let x = b.named("vgg_bn", norm(), &[x]);
        b.named("vgg_relu", LayerKind::ReLU(Activation::Relu), &[x])
    });
    // 0 input, 1 pad, 2 conv, 3 bn, 4 relu, 5 vgg, 6 bn, 7 relu.
    let steps = summary(&lowered(&architecture, &packed, &[7]));
    assert_eq!(
        steps,
        vec![
            (4, vec![0], "conv 3x3/1 8->16".into()),
            (5, vec![4], "conv 3x3/1 16->16 F2x2".into()),
            (6, vec![5], "batch norm / activation".into()),
            (7, vec![6], "batch norm / activation".into()),
        ],
        "the padding read by the first convolution (no Winograd with extra padding)"
    );
    // A batch norm that is asked for stays a step of its own, with what follows it.
    let steps = summary(&lowered(&architecture, &packed, &[3, 7]));
    assert_eq!(steps[..2], [(3, vec![0], "conv 3x3/1 8->16".into()), (4, vec![3], "batch norm / activation".into())]);
}

#[test]
fn lowering_applies_a_separable_convolutions_relu_as_it_reads_and_an_adds_activation_on_the_sum() {
    let (architecture, packed) = packed(|b, x| {
        let relu = b.named("relu", LayerKind::ReLU(Activation::Relu), &[x]);
        let separable = LayerKind::SeparableConv2D {
            filters: 8,
            kernel: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            use_bias: false,
        };
        let sep = b.named("sep", separable, &[relu]);
        let sum = b.named("add", LayerKind::Add, &[sep, x]);
        b.named("out", LayerKind::ReLU(Activation::Relu), &[sum])
    });
    // 0 input, 1 relu, 2 sep, 3 add, 4 out.
    let steps = summary(&lowered(&architecture, &packed, &[4]));
    assert_eq!(
        steps,
        vec![(2, vec![0], "conv 1x1/1 8->8 after depthwise 3x3/1 8 after ReLU".into()), (4, vec![2, 0], "add".into()),]
    );
}

/// Input -> 3x3 average pooling -> 1x1 convolution (InceptionV3's pooling branch).
fn pooling_branch(b: &mut NetworkBuilder, x: Node) -> Node {
    let pooling =
        LayerKind::AveragePooling2D { pool: [3, 3], strides: [1, 1], padding: Padding::Same, count_include_pad: false };
    let x = b.named("pool", pooling, &[x]);
    conv_block(b, "conv", conv(4, 1, Activation::Linear), Activation::Relu, x)
}

#[test]
fn an_average_pooling_read_only_by_a_pointwise_convolution_is_computed_after_it() {
    let (architecture, packed) = packed(pooling_branch);
    let alias: Vec<usize> = (0..architecture.len()).collect();
    let graph = Graph::new(&architecture, &alias, &[4]);
    let steps = lower::lower(&graph, &packed, &alias);
    assert_eq!(summary(&steps)[0], (1, vec![0], "average pool 3x3/1".into()));
    let readers = fuse::step_readers(&graph, &steps);
    let fused = summary(&fuse::pool_after_pointwise(steps, &readers));
    assert_eq!(fused, vec![(4, vec![0], "conv 1x1/1 8->4 then average pool 3x3/1".into())]);
    // Not when the pooling is asked for too.
    let graph = Graph::new(&architecture, &alias, &[1, 4]);
    let steps = lower::lower(&graph, &packed, &alias);
    let readers = fuse::step_readers(&graph, &steps);
    assert_eq!(fuse::pool_after_pointwise(steps, &readers).len(), 2);
    // And never on the direct algorithm, which keeps Burn's order of operations.
    assert_eq!(plan(&architecture, &packed, &alias, &[4], false).len(), 2);
}

/// MobileNetV2's inverted residual block: expand 1x1, depthwise 3x3, project 1x1.
fn inverted_residual(b: &mut NetworkBuilder, x: Node) -> Node {
    let x = conv_block(b, "expand", conv(24, 1, Activation::Linear), Activation::Relu6, x);
    let x = conv_block(b, "depthwise", depthwise(), Activation::Relu6, x);
    let x = b.named("project", conv(8, 1, Activation::Linear), &[x]);
    b.named("project_bn", norm(), &[x])
}

#[test]
fn an_inverted_residual_block_becomes_one_step() {
    let (architecture, packed) = packed(inverted_residual);
    let alias: Vec<usize> = (0..architecture.len()).collect();
    // 0 input, 1-3 expand, 4-6 depthwise, 7 project, 8 bn.
    let graph = Graph::new(&architecture, &alias, &[8]);
    let steps = lower::lower(&graph, &packed, &alias);
    assert_eq!(
        summary(&steps),
        vec![
            (3, vec![0], "conv 1x1/1 8->24".into()),
            (6, vec![3], "depthwise 3x3/1 24".into()),
            (8, vec![6], "conv 1x1/1 24->8".into()),
        ]
    );
    let readers = fuse::step_readers(&graph, &steps);
    let fused = summary(&fuse::depthwise_into_pointwise(steps, &readers));
    let block = "conv 1x1/1 24->8 after depthwise 3x3/1 24 after conv 1x1/1 8->24";
    assert_eq!(fused, vec![(8, vec![0], block.into())]);
    // The expansion's output asked for too: only the depthwise step goes inside.
    let graph = Graph::new(&architecture, &alias, &[3, 8]);
    let steps = lower::lower(&graph, &packed, &alias);
    let readers = fuse::step_readers(&graph, &steps);
    let fused = summary(&fuse::depthwise_into_pointwise(steps, &readers));
    assert_eq!(fused[1], (8, vec![3], "conv 1x1/1 24->8 after depthwise 3x3/1 24".into()));
}

#[test]
fn branches_read_only_by_a_concatenation_write_into_their_share_of_it() {
    let (architecture, packed) = packed(|b, x| {
        let left = b.named("left", conv(4, 1, Activation::Linear), &[x]);
        let right = b.named("right", conv(6, 3, Activation::Linear), &[x]);
        let pooling = LayerKind::MaxPooling2D { pool: [3, 3], strides: [1, 1], padding: Padding::Same };
        let pooled = b.named("pooled", pooling, &[x]);
        let both = b.named("mixed", LayerKind::Concatenate, &[left, right, pooled]);
        b.named("after", conv(4, 1, Activation::Linear), &[both])
    });
    // 0 input, 1 left, 2 right, 3 pooled, 4 mixed, 5 after.
    let alias: Vec<usize> = (0..architecture.len()).collect();
    let graph = Graph::new(&architecture, &alias, &[5]);
    let steps = concat::write_into_concatenations(lower::lower(&graph, &packed, &alias), &graph);
    let into: Vec<(usize, Option<(usize, usize)>)> = steps.iter().map(|s| (s.layer, s.into)).collect();
    assert_eq!(into, vec![(1, Some((4, 0))), (2, Some((4, 4))), (3, Some((4, 10))), (4, None), (5, None)]);
    // A branch that is asked for keeps its own buffer.
    let graph = Graph::new(&architecture, &alias, &[2, 5]);
    let steps = concat::write_into_concatenations(lower::lower(&graph, &packed, &alias), &graph);
    assert_eq!(steps[1].into, None);
}
