//! A batch norm in inference mode, `(x - mean) * factor + beta` per channel, as one Flex
//! backend operation with its backward pass. Burn's broadcast subtraction, product and sum
//! are three passes over the map forward, and their gradients (with the per-channel sums
//! of `factor` and `beta`) as many more backward, each into a freshly zeroed and copied
//! buffer; here it is one pass forward and two backward (the input's gradient by plane, the
//! per-channel sums by channel).

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};

/// `(x - mean) * factor + beta` with per-channel `mean`, `factor` and `beta` as one backend
/// operation.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff: cfg(feature = "flex"))]
pub trait ChannelAffineOps: Backend {
    /// `x` `[batch, channels, rows, cols]`; `mean`, `factor` and `beta` `[channels]`.
    fn channel_affine(
        x: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        factor: FloatTensor<Self>,
        beta: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
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

    use super::ChannelAffineOps;
    use crate::cpu::simd::vectorized;
    use crate::host_train::host::{tensor, values, written};

    impl ChannelAffineOps for Flex {
        fn channel_affine(
            x: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            factor: FloatTensor<Self>,
            beta: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            let shape = x.shape();
            let (x, mean, factor, beta) = (values(&x), values(&mean), values(&factor), values(&beta));
            let channels = mean.len();
            let plane = shape[2] * shape[3];
            // SAFETY: the closure writes every value of its plane.
            let y = unsafe {
                written(x.len(), plane, |i, y| {
                    let x = &x[i * plane..][..plane];
                    let (m, f, b) = (mean[i % channels], factor[i % channels], beta[i % channels]);
                    vectorized(
                        #[inline(always)]
                        || {
                            y.iter_mut().zip(x).for_each(|(y, &x)| {
                                y.write((x - m) * f + b);
                            })
                        },
                    )
                })
            };
            tensor(y, shape)
        }
    }

    #[derive(Debug)]
    struct AffineBackward;

    impl Backward<Flex, 4> for AffineBackward {
        type State = [NodeId; 4];

        fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [x_node, mean_node, factor_node, beta_node] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let [x, mean, factor, _] = ops.state.map(|state| checkpointer.retrieve_node_output::<FlexTensor>(state));
            let shape = grad.shape();
            let (grad, x, mean, factor) = (values(&grad), values(&x), values(&mean), values(&factor));
            let channels = mean.len();
            let plane = shape[2] * shape[3];
            if let Some(node) = x_node {
                // SAFETY: the closure writes every value of its plane.
                let dx = unsafe {
                    written(grad.len(), plane, |i, dx| {
                        let (grad, f) = (&grad[i * plane..][..plane], factor[i % channels]);
                        vectorized(
                            #[inline(always)]
                            || {
                                dx.iter_mut().zip(grad).for_each(|(d, &g)| {
                                    d.write(g * f);
                                })
                            },
                        )
                    })
                };
                grads.register::<Flex>(node.id, tensor(dx, shape.clone()));
            }
            if mean_node.is_none() && factor_node.is_none() && beta_node.is_none() {
                return;
            }
            // Per channel: Σ g and Σ g·(x - mean), in f64 across the batch's planes.
            let images = grad.len() / plane / channels;
            let sums: Vec<[f64; 2]> = (0..channels)
                .into_par_iter()
                .map(|c| {
                    let mut sums = [0.0f64; 2];
                    for n in 0..images {
                        let at = (n * channels + c) * plane;
                        let (grad, x) = (&grad[at..][..plane], &x[at..][..plane]);
                        let m = mean[c];
                        let [sum, centred] = vectorized(
                            #[inline(always)]
                            || plane_sums(grad, x, m),
                        );
                        sums[0] += sum as f64;
                        sums[1] += centred as f64;
                    }
                    sums
                })
                .collect();
            let per_channel = |f: &dyn Fn(usize, [f64; 2]) -> f32| {
                tensor(sums.iter().enumerate().map(|(c, &s)| f(c, s)).collect(), [channels])
            };
            if let Some(node) = mean_node {
                grads.register::<Flex>(node.id, per_channel(&|c, [sum, _]| (-sum * factor[c] as f64) as f32));
            }
            if let Some(node) = factor_node {
                grads.register::<Flex>(node.id, per_channel(&|_, [_, centred]| centred as f32));
            }
            if let Some(node) = beta_node {
                grads.register::<Flex>(node.id, per_channel(&|_, [sum, _]| sum as f32));
            }
        }
    }

    /// `Σ grad` and `Σ grad · (x - mean)` over one plane, in 16 running sums each.
    #[inline(always)]
    fn plane_sums(grad: &[f32], x: &[f32], mean: f32) -> [f32; 2] {
        const LANES: usize = crate::cpu::simd::LANES;
        let (mut sum, mut centred) = ([0.0f32; LANES], [0.0f32; LANES]);
        let (grad_blocks, x_blocks) = (grad.chunks_exact(LANES), x.chunks_exact(LANES));
        let mut tail = [0.0f32; 2];
        for (&g, &x) in grad_blocks.remainder().iter().zip(x_blocks.remainder()) {
            tail[0] += g;
            tail[1] += g * (x - mean);
        }
        for (grad, x) in grad_blocks.zip(x_blocks) {
            for lane in 0..LANES {
                sum[lane] += grad[lane];
                centred[lane] += grad[lane] * (x[lane] - mean);
            }
        }
        [sum.iter().sum::<f32>() + tail[0], centred.iter().sum::<f32>() + tail[1]]
    }

    impl<C: CheckpointStrategy> ChannelAffineOps for Autodiff<Flex, C> {
        fn channel_affine(
            x: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            factor: FloatTensor<Self>,
            beta: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            let nodes = [x.node(), mean.node(), factor.node(), beta.node()];
            match AffineBackward.prepare::<C>(nodes).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state =
                        [prep.checkpoint(&x), prep.checkpoint(&mean), prep.checkpoint(&factor), prep.checkpoint(&beta)];
                    let y = Flex::channel_affine(
                        x.into_primitive(),
                        mean.into_primitive(),
                        factor.into_primitive(),
                        beta.into_primitive(),
                    );
                    prep.finish(state, y)
                }
                OpsKind::UnTracked(prep) => prep.finish(Flex::channel_affine(
                    x.into_primitive(),
                    mean.into_primitive(),
                    factor.into_primitive(),
                    beta.into_primitive(),
                )),
            }
        }
    }
}
