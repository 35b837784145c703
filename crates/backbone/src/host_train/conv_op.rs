//! A convolution (groups 1, no bias, any window, strides and padding) as one Flex backend
//! operation with its backward pass, each image's patches a matrix (`conv_columns`): `Y =
//! W · cols(X)`, `dX = cols⁻¹(Wᵀ · dY)`, `dW = Σ dY · cols(X)ᵀ`. Burn computes a
//! convolution's gradients on Flex as a transposed convolution and as a convolution of the
//! swapped input with the output gradient as its window (a patch matrix of whole images
//! per channel): half of a Xception fine-tuning step went there.
// Without the Flex backend the generated dispatch has no backend to pass the arguments to.
#![cfg_attr(not(feature = "flex"), allow(unused_variables))]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

use super::depthwise_kernels::PlaneWindow;

/// A convolution as one backend operation.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff: cfg(feature = "flex"))]
pub trait ConvOps: Backend {
    /// `x` `[batch, channels, rows, cols]` by `kernel` `[filters, channels, k_rows, k_cols]`
    /// at `window`.
    fn conv2d_columns(x: FloatTensor<Self>, kernel: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self>;
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

    use super::ConvOps;
    use crate::host_train::conv_columns::{add_columns, columns};
    use crate::host_train::depthwise_kernels::PlaneWindow;
    use crate::host_train::host::{tensor, values, written};
    use crate::host_train::products::{Matrix, initialised, product};

    /// `[batch, channels, filters]` and the patch matrix's rows (`channels x taps`).
    fn sizes(x: &FlexTensor, kernel: &FlexTensor, window: &PlaneWindow) -> ([usize; 3], usize) {
        let (x, kernel) = (x.shape(), kernel.shape());
        ([x[0], x[1], kernel[0]], x[1] * window.kernel[0] * window.kernel[1])
    }

    impl ConvOps for Flex {
        fn conv2d_columns(x: FloatTensor<Self>, kernel: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self> {
            let ([batch, channels, filters], patch) = sizes(&x, &kernel, &window);
            let (x, kernel) = (values(&x), values(&kernel));
            let (pixels, plane) = (window.output_len(), window.input_len());
            // SAFETY: the product writes every value of its image's output (`accumulate` off).
            let y = unsafe {
                written(batch * filters * pixels, filters * pixels, |n, y| {
                    let mut patches = vec![0.0f32; patch * pixels];
                    columns(&x[n * channels * plane..][..channels * plane], &window, &mut patches);
                    let (w, patches) = (Matrix::rows(&kernel, patch), Matrix::rows(&patches, pixels));
                    product(y, [filters, pixels, patch], w, patches, false)
                })
            };
            tensor(y, [batch, filters, window.output[0], window.output[1]])
        }
    }

    #[derive(Debug)]
    struct ConvBackward;

    impl Backward<Flex, 2> for ConvBackward {
        type State = (NodeId, NodeId, PlaneWindow);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [x_node, kernel_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x_state, kernel_state, window) = ops.state;
            let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
            let kernel: FlexTensor = checkpointer.retrieve_node_output(kernel_state);
            let ([batch, channels, filters], patch) = sizes(&x, &kernel, &window);
            let (x_shape, kernel_shape) = (x.shape(), kernel.shape());
            let (pixels, plane) = (window.output_len(), window.input_len());
            let grad = values(&grad);
            if let Some(node) = x_node {
                let kernel = values(&kernel);
                let mut dx = vec![0.0f32; batch * channels * plane];
                dx.par_chunks_mut(channels * plane).zip(grad.par_chunks(filters * pixels)).for_each_init(
                    || vec![0.0f32; patch * pixels],
                    |patches, (dx, grad)| {
                        let (w_t, grad) = (Matrix::transposed(&kernel, patch), Matrix::rows(grad, pixels));
                        product(initialised(patches), [patch, pixels, filters], w_t, grad, false);
                        add_columns(patches, &window, dx);
                    },
                );
                grads.register::<Flex>(node.id, tensor(dx, x_shape));
            }
            if let Some(node) = kernel_node {
                let x = values(&x);
                let (dw, _) = grad
                    .par_chunks(filters * pixels)
                    .zip(x.par_chunks(channels * plane))
                    .fold(
                        || (vec![0.0f32; filters * patch], vec![0.0f32; patch * pixels]),
                        |(mut dw, mut patches), (grad, x)| {
                            columns(x, &window, &mut patches);
                            let (grad, patches_t) = (Matrix::rows(grad, pixels), Matrix::transposed(&patches, pixels));
                            product(initialised(&mut dw), [filters, patch, pixels], grad, patches_t, true);
                            (dw, patches)
                        },
                    )
                    .reduce(
                        || (vec![0.0f32; filters * patch], Vec::new()),
                        |(mut sum, patches), (part, _)| {
                            sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
                            (sum, patches)
                        },
                    );
                grads.register::<Flex>(node.id, tensor(dw, kernel_shape));
            }
        }
    }

    impl<C: CheckpointStrategy> ConvOps for Autodiff<Flex, C> {
        fn conv2d_columns(x: FloatTensor<Self>, kernel: FloatTensor<Self>, window: PlaneWindow) -> FloatTensor<Self> {
            match ConvBackward.prepare::<C>([x.node(), kernel.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&kernel), window);
                    prep.finish(state, Flex::conv2d_columns(x.into_primitive(), kernel.into_primitive(), window))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(Flex::conv2d_columns(x.into_primitive(), kernel.into_primitive(), window))
                }
            }
        }
    }
}
