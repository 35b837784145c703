//! ReLU and ReLU6 (a clamp to `[0, ceiling]`) as one Flex backend operation with its
//! backward pass. Burn's `clamp` on Flex builds two comparison masks and two masked fills
//! forward and as many backward: ~6 ns a value, as long as a 1x1 convolution of the same
//! map; here it is one pass each way.
// Without the Flex backend the generated dispatch has no backend to pass the arguments to.
#![cfg_attr(not(feature = "flex"), allow(unused_variables))]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

/// `max(x, 0)`, or `min(max(x, 0), ceiling)` with a ceiling, as one backend operation.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff: cfg(feature = "flex"))]
pub trait ClampOps: Backend {
    /// `x` clamped below at 0 and, if `ceiling` is finite, above at `ceiling`.
    fn relu_clamp(x: FloatTensor<Self>, ceiling: f32) -> FloatTensor<Self>;
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

    use super::ClampOps;
    use crate::cpu::simd::vectorized;
    use crate::host_train::MIN_TASK as CHUNK;
    use crate::host_train::host::{tensor, values, written};

    impl ClampOps for Flex {
        fn relu_clamp(x: FloatTensor<Self>, ceiling: f32) -> FloatTensor<Self> {
            let input = values(&x);
            // SAFETY: the closure writes every value of its chunk.
            let out = unsafe {
                written(input.len(), CHUNK, |i, out| {
                    let input = &input[i * CHUNK..][..out.len()];
                    vectorized(
                        #[inline(always)]
                        || {
                            out.iter_mut().zip(input).for_each(|(o, &x)| {
                                o.write(x.max(0.0).min(ceiling));
                            })
                        },
                    )
                })
            };
            tensor(out, x.shape())
        }
    }

    /// The gradient passes where the output is strictly inside `(0, ceiling)`.
    #[derive(Debug)]
    struct ClampBackward;

    impl Backward<Flex, 1> for ClampBackward {
        type State = (NodeId, f32);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [x_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x_state, ceiling) = ops.state;
            let Some(node) = x_node else { return };
            let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
            let (x, grad_values) = (values(&x), values(&grad));
            // SAFETY: the closure writes every value of its chunk.
            let dx = unsafe {
                written(x.len(), CHUNK, |i, dx| {
                    let (x, grad) = (&x[i * CHUNK..][..dx.len()], &grad_values[i * CHUNK..][..dx.len()]);
                    vectorized(
                        #[inline(always)]
                        || {
                            dx.iter_mut().zip(x.iter().zip(grad)).for_each(|(d, (&x, &g))| {
                                d.write(if x > 0.0 && x < ceiling { g } else { 0.0 });
                            })
                        },
                    )
                })
            };
            grads.register::<Flex>(node.id, tensor(dx, grad.shape()));
        }
    }

    impl<C: CheckpointStrategy> ClampOps for Autodiff<Flex, C> {
        fn relu_clamp(x: FloatTensor<Self>, ceiling: f32) -> FloatTensor<Self> {
            match ClampBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = prep.checkpoint(&x);
                    prep.finish((state, ceiling), Flex::relu_clamp(x.into_primitive(), ceiling))
                }
                OpsKind::UnTracked(prep) => prep.finish(Flex::relu_clamp(x.into_primitive(), ceiling)),
            }
        }
    }
}
