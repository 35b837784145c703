//! A 1x1 convolution (stride 1, no padding, no bias) as one Flex backend operation with its
//! backward pass, each a matrix product per image straight into its output: `Y = W · X`,
//! `dX = Wᵀ · dY`, `dW = Σ dY · Xᵀ`. Burn's convolution computes a 1x1 layer's gradients on
//! Flex as a transposed convolution and as a convolution with the output as its window,
//! and its matrix product zero-fills and copies every output once more.
// Without the Flex backend the generated dispatch has no backend to pass the arguments to.
#![cfg_attr(not(feature = "flex"), allow(unused_variables))]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

/// A 1x1 convolution as one backend operation.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff: cfg(feature = "flex"))]
pub trait PointwiseOps: Backend {
    /// `x` `[batch, channels, rows, cols]` by `kernel` `[filters, channels, 1, 1]`.
    fn pointwise_conv2d(x: FloatTensor<Self>, kernel: FloatTensor<Self>) -> FloatTensor<Self>;
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
    use rayon::prelude::*;

    use super::PointwiseOps;
    use crate::host_train::host::{tensor, values, written};
    use crate::host_train::products::{Matrix, initialised, product};

    /// `[batch, channels, pixels]` and `filters` of a 1x1 convolution.
    fn sizes(x: &FlexTensor, kernel: &FlexTensor) -> ([usize; 3], usize) {
        let (x, kernel) = (x.shape(), kernel.shape());
        ([x[0], x[1], x[2] * x[3]], kernel[0])
    }

    impl PointwiseOps for Flex {
        fn pointwise_conv2d(x: FloatTensor<Self>, kernel: FloatTensor<Self>) -> FloatTensor<Self> {
            let ([batch, channels, pixels], filters) = sizes(&x, &kernel);
            let shape = x.shape();
            let (x, kernel) = (values(&x), values(&kernel));
            // SAFETY: the product writes every value of its image's output (`accumulate` off).
            let y = unsafe {
                written(batch * filters * pixels, filters * pixels, |n, y| {
                    let x = &x[n * channels * pixels..][..channels * pixels];
                    let (w, x) = (Matrix::rows(&kernel, channels), Matrix::rows(x, pixels));
                    product(y, [filters, pixels, channels], w, x, false)
                })
            };
            tensor(y, [batch, filters, shape[2], shape[3]])
        }
    }

    #[derive(Debug)]
    struct PointwiseBackward;

    impl Backward<Flex, 2> for PointwiseBackward {
        type State = (NodeId, NodeId);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [x_node, kernel_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x_state, kernel_state) = ops.state;
            let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
            let kernel: FlexTensor = checkpointer.retrieve_node_output(kernel_state);
            let ([batch, channels, pixels], filters) = sizes(&x, &kernel);
            let (x_shape, kernel_shape) = (x.shape(), kernel.shape());
            let grad = values(&grad);
            if let Some(node) = x_node {
                let kernel = values(&kernel);
                // SAFETY: the product writes every value of its image's output (`accumulate` off).
                let dx = unsafe {
                    written(batch * channels * pixels, channels * pixels, |n, dx| {
                        let grad = &grad[n * filters * pixels..][..filters * pixels];
                        let (w_t, grad) = (Matrix::transposed(&kernel, channels), Matrix::rows(grad, pixels));
                        product(dx, [channels, pixels, filters], w_t, grad, false)
                    })
                };
                grads.register::<Flex>(node.id, tensor(dx, x_shape));
            }
            if let Some(node) = kernel_node {
                let x = values(&x);
                let dw = grad
                    .par_chunks(filters * pixels)
                    .zip(x.par_chunks(channels * pixels))
                    .fold(
                        || vec![0.0f32; filters * channels],
                        |mut dw, (grad, x)| {
                            let (grad, x_t) = (Matrix::rows(grad, pixels), Matrix::transposed(x, pixels));
                            product(initialised(&mut dw), [filters, channels, pixels], grad, x_t, true);
                            dw
                        },
                    )
                    .reduce(
                        || vec![0.0f32; filters * channels],
                        |mut sum, part| {
                            sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
                            sum
                        },
                    );
                grads.register::<Flex>(node.id, tensor(dw, kernel_shape));
            }
        }
    }

    impl<C: CheckpointStrategy> PointwiseOps for Autodiff<Flex, C> {
        fn pointwise_conv2d(x: FloatTensor<Self>, kernel: FloatTensor<Self>) -> FloatTensor<Self> {
            match PointwiseBackward.prepare::<C>([x.node(), kernel.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&kernel));
                    prep.finish(state, Flex::pointwise_conv2d(x.into_primitive(), kernel.into_primitive()))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(Flex::pointwise_conv2d(x.into_primitive(), kernel.into_primitive()))
                }
            }
        }
    }
}
