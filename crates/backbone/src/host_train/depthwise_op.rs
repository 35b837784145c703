//! The depthwise convolution as a Burn backend operation of its own on the Flex backend,
//! with its backward pass: Burn's generic grouped convolution computes a depthwise
//! convolution's gradients one group at a time (hundreds of tiny convolutions a layer),
//! the step that made fine-tuning MobileNetV2, Xception and EfficientNet slow on the CPU.
// Without the Flex backend the generated dispatch has no backend to pass the arguments to.
#![cfg_attr(not(feature = "flex"), allow(unused_variables))]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

use super::depthwise_kernels::PlaneWindow;

/// A depthwise convolution (`depth_multiplier=1`, no bias) as one backend operation.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff: cfg(feature = "flex"))]
pub trait DepthwiseOps: Backend {
    /// `x` `[batch, channels, rows, cols]` convolved plane by plane with `weight`
    /// `[channels, 1, k_rows, k_cols]` at `window`.
    fn depthwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self>;
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Flex, TensorMetadata};

    use super::super::depthwise_kernels::{PlaneWindow, forward, input_gradient, weight_gradient};
    use super::DepthwiseOps;
    use crate::host_train::host::{tensor, values};

    fn channels(weight: &FlexTensor) -> usize {
        weight.shape()[0]
    }

    impl DepthwiseOps for Flex {
        fn depthwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self> {
            let batch = x.shape()[0];
            let channels = channels(&weight);
            let out = forward(&values(&x), &values(&weight), channels, &window);
            tensor(out, [batch, channels, window.output[0], window.output[1]])
        }
    }

    #[derive(Debug)]
    struct DepthwiseBackward;

    impl Backward<Flex, 2> for DepthwiseBackward {
        type State = (NodeId, NodeId, PlaneWindow);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [x_node, weight_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x_state, weight_state, window) = ops.state;
            let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
            let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
            let (batch, channels) = (x.shape()[0], channels(&weight));
            let grad = values(&grad);
            if let Some(node) = x_node {
                let dx = input_gradient(&grad, &values(&weight), channels, &window);
                grads.register::<Flex>(node.id, tensor(dx, [batch, channels, window.input[0], window.input[1]]));
            }
            if let Some(node) = weight_node {
                let dw = weight_gradient(&values(&x), &grad, channels, &window);
                grads.register::<Flex>(node.id, tensor(dw, [channels, 1, window.kernel[0], window.kernel[1]]));
            }
        }
    }

    impl<C: CheckpointStrategy> DepthwiseOps for Autodiff<Flex, C> {
        fn depthwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self> {
            match DepthwiseBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let weight_state = prep.checkpoint(&weight);
                    let out = Flex::depthwise_conv2d(x.into_primitive(), weight.into_primitive(), window);
                    prep.finish((x_state, weight_state, window), out)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(Flex::depthwise_conv2d(x.into_primitive(), weight.into_primitive(), window))
                }
            }
        }
    }
}
