//! Layers whose Burn path is slow on the CPU in a training step, as backend operations of
//! their own on the Flex backend with a hand-written backward pass: [`depthwise_conv2d`]
//! (Burn's grouped convolution computes a depthwise layer's gradients one channel at a
//! time), [`relu_clamp`] (Burn's clamp is four masked passes each way) and
//! [`channel_affine`] (a batch norm in inference mode, three broadcast passes in Burn), and
//! [`pointwise_conv2d`] and [`conv2d`] (convolutions, whose gradients Burn computes as a
//! transposed convolution and a convolution with the output as its window). Elsewhere (other backends, other float types) the layers keep Burn's
//! operations.

mod affine_op;
mod clamp_op;
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
mod conv_columns;
mod conv_op;
// Without the Flex backend nothing calls the kernels but their tests.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
mod depthwise_kernels;
mod depthwise_op;
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
mod depthwise_runs;
#[cfg(feature = "flex")]
mod host;
mod pointwise_op;
#[cfg(feature = "flex")]
mod products;

/// Values a parallel task handles at least (a map's planes are as small as 25 values).
const MIN_TASK: usize = 1 << 14;

use burn::backend::Dispatch;
use burn::tensor::{DType, Tensor};

use affine_op::ChannelAffineOps;
use clamp_op::ClampOps;
use conv_op::ConvOps;
pub use depthwise_kernels::PlaneWindow;
use depthwise_op::DepthwiseOps;
use pointwise_op::PointwiseOps;

/// Whether the Flex backend's own operations take `x`: on Flex (with or without
/// autodiff), in `f32`. Elsewhere the layers keep Burn's operations.
pub(crate) fn applies(x: &Tensor<4>) -> bool {
    cfg!(feature = "flex") && x.dtype() == DType::F32 && format!("{:?}", x.device().inner()).starts_with("Device<Flex")
}

/// Where a depthwise convolution's window sits on each plane, if [`depthwise_conv2d`]
/// takes it: `x` `[batch, channels, rows, cols]` on which [`applies`] holds, `kernel`
/// `[channels, 1, k_rows, k_cols]` (`depth_multiplier=1`) in `f32`, padded by `[[top,
/// bottom], [left, right]]`.
pub(crate) fn depthwise_window(
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    strides: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Option<PlaneWindow> {
    let [_, channels, rows, cols] = x.dims();
    let [kernel_channels, multiplier, k_rows, k_cols] = kernel.dims();
    let takes = applies(x) && kernel.dtype() == DType::F32 && kernel_channels == channels && multiplier == 1;
    takes.then(|| PlaneWindow::new([k_rows, k_cols], strides, pad, [rows, cols])).flatten()
}

/// A depthwise convolution (no bias) of `x` with `kernel` at `window` (from
/// [`depthwise_window`]) on the Flex backend's own operation.
pub(crate) fn depthwise_conv2d(x: Tensor<4>, kernel: Tensor<4>, window: PlaneWindow) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as DepthwiseOps>::depthwise_conv2d(
        x.into_dispatch(),
        kernel.into_dispatch(),
        window,
    ))
}

/// Where a convolution's window sits on each plane, if [`conv2d`] takes it: `x` `[batch,
/// channels, rows, cols]` on which [`applies`] holds, `kernel` `[filters, channels, k_rows,
/// k_cols]` in `f32` (groups 1), padded by `[[top, bottom], [left, right]]`.
pub(crate) fn conv_window(
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    strides: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Option<PlaneWindow> {
    let [_, channels, rows, cols] = x.dims();
    let [_, kernel_channels, k_rows, k_cols] = kernel.dims();
    let takes = applies(x) && kernel.dtype() == DType::F32 && kernel_channels == channels;
    takes.then(|| PlaneWindow::new([k_rows, k_cols], strides, pad, [rows, cols])).flatten()
}

/// A convolution (groups 1, no bias) of `x` by `kernel` at `window` (from
/// [`conv_window`]) on the Flex backend's own operation: a matrix product of each image's
/// patches each way.
pub(crate) fn conv2d(x: Tensor<4>, kernel: Tensor<4>, window: PlaneWindow) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvOps>::conv2d_columns(x.into_dispatch(), kernel.into_dispatch(), window))
}

/// `x` (on which [`applies`] holds) clamped to `[0, ceiling]` (ReLU with an infinite
/// ceiling, ReLU6 with 6) on the Flex backend's own operation; its gradient passes where
/// `0 < x < ceiling`, as TensorFlow's `relu_grad` / `relu6_grad`.
pub(crate) fn relu_clamp(x: Tensor<4>, ceiling: f32) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ClampOps>::relu_clamp(x.into_dispatch(), ceiling))
}

/// A batch norm in inference mode on `x` (on which [`applies`] holds): `(x - mean) *
/// factor + beta` with `[channels]` vectors, in TensorFlow's order of operations, on the
/// Flex backend's own operation (gradients for `x`, `mean`, `factor` and `beta`).
pub(crate) fn channel_affine(x: Tensor<4>, mean: Tensor<1>, factor: Tensor<1>, beta: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ChannelAffineOps>::channel_affine(
        x.into_dispatch(),
        mean.into_dispatch(),
        factor.into_dispatch(),
        beta.into_dispatch(),
    ))
}

/// A 1x1 convolution at stride 1 without padding (no bias) of `x` `[batch, in, rows,
/// cols]` (on which [`applies`] holds) by `kernel` `[out, in, 1, 1]`, on the Flex backend's
/// own operation: a matrix product per image each way.
pub(crate) fn pointwise_conv2d(x: Tensor<4>, kernel: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PointwiseOps>::pointwise_conv2d(x.into_dispatch(), kernel.into_dispatch()))
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::{ConvOptions, PadMode};
    use burn::tensor::{Device, Distribution, Tensor};

    use super::{depthwise_conv2d, pointwise_conv2d, relu_clamp};

    /// Burn's grouped convolution, the path the operation replaces.
    fn burn_depthwise(x: Tensor<4>, kernel: Tensor<4>, strides: [usize; 2], pad: [[usize; 2]; 2]) -> Tensor<4> {
        let channels = x.dims()[1];
        let x = x.pad((pad[1][0], pad[1][1], pad[0][0], pad[0][1]), PadMode::Constant(0.0));
        conv2d(x, kernel, None, ConvOptions::new(strides, [0, 0], [1, 1], channels))
    }

    /// Output, input gradient and kernel gradient of `(conv(x, kernel) * weights).sum()`.
    fn run(
        conv: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
        x: &Tensor<4>,
        kernel: &Tensor<4>,
        weights: &Tensor<4>,
    ) -> [Vec<f32>; 3] {
        let (x, kernel) = (x.clone().require_grad(), kernel.clone().require_grad());
        let y = conv(x.clone(), kernel.clone());
        let grads = (y.clone() * weights.clone()).sum().backward();
        let values = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().expect("f32");
        [
            values(y.without_autodiff()),
            values(x.grad(&grads).expect("input gradient")),
            values(kernel.grad(&grads).expect("kernel gradient")),
        ]
    }

    #[test]
    fn trains_as_burns_grouped_convolution() {
        let device = Device::flex().autodiff();
        // (window, strides, padding, input)
        type Case = ([usize; 2], [usize; 2], [[usize; 2]; 2], [usize; 2]);
        let cases: [Case; 4] = [
            ([3, 3], [1, 1], [[1, 1], [1, 1]], [9, 12]),
            ([3, 3], [2, 2], [[0, 1], [0, 1]], [10, 10]),
            ([5, 5], [2, 2], [[1, 2], [1, 2]], [14, 13]),
            ([3, 3], [2, 2], [[0, 0], [0, 0]], [9, 9]),
        ];
        for (window, strides, pad, [rows, cols]) in cases {
            let x = Tensor::<4>::random([2, 6, rows, cols], Distribution::Normal(0.0, 1.0), &device);
            let kernel = Tensor::<4>::random([6, 1, window[0], window[1]], Distribution::Normal(0.0, 1.0), &device);
            let out_shape = burn_depthwise(x.clone(), kernel.clone(), strides, pad).dims();
            let weights = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &device);
            let ours = run(
                |x, k| {
                    let window = super::depthwise_window(&x, &k, strides, pad).expect("applies on Flex");
                    depthwise_conv2d(x, k, window)
                },
                &x,
                &kernel,
                &weights,
            );
            let burn = run(|x, k| burn_depthwise(x, k, strides, pad), &x, &kernel, &weights);
            for (what, (ours, burn)) in
                ["output", "input gradient", "kernel gradient"].iter().zip(ours.iter().zip(&burn))
            {
                assert_eq!(ours.len(), burn.len(), "{what} at {window:?}/{strides:?}");
                for (a, b) in ours.iter().zip(burn) {
                    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what} at {window:?}/{strides:?}: {a} vs {b}");
                }
            }
        }
    }

    /// Values and gradients of `(f(x) * weights).sum()` for the operation and Burn's.
    fn values_and_gradient(f: impl Fn(Tensor<4>) -> Tensor<4>, x: &Tensor<4>, weights: &Tensor<4>) -> [Vec<f32>; 2] {
        let x = x.clone().require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * weights.clone()).sum().backward();
        let values = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().expect("f32");
        [values(y.without_autodiff()), values(x.grad(&grads).expect("input gradient"))]
    }

    #[test]
    fn relu_and_relu6_train_as_tensorflow() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 5, 7], Distribution::Uniform(-3.0, 9.0), &device);
        let weights = Tensor::<4>::random([2, 3, 5, 7], Distribution::Normal(0.0, 1.0), &device);
        let x_values = x.clone().into_data().try_into_vec::<f32>().expect("f32");
        let weight_values = weights.clone().into_data().try_into_vec::<f32>().expect("f32");
        for ceiling in [6.0f32, f32::INFINITY] {
            let [y, dx] = values_and_gradient(|x| relu_clamp(x, ceiling), &x, &weights);
            for i in 0..x_values.len() {
                let (x, w) = (x_values[i], weight_values[i]);
                assert_eq!(y[i], x.max(0.0).min(ceiling));
                // TensorFlow's relu_grad / relu6_grad: the gradient passes strictly inside.
                assert_eq!(dx[i], if x > 0.0 && x < ceiling { w } else { 0.0 });
            }
        }
    }

    #[test]
    fn pointwise_trains_as_burns_convolution() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([3, 8, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let kernel = Tensor::<4>::random([4, 8, 1, 1], Distribution::Normal(0.0, 1.0), &device);
        let weights = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let ours = run(pointwise_conv2d, &x, &kernel, &weights);
        let burn = run(|x, k| conv2d(x, k, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1)), &x, &kernel, &weights);
        for (what, (ours, burn)) in ["output", "input gradient", "kernel gradient"].iter().zip(ours.iter().zip(&burn)) {
            for (a, b) in ours.iter().zip(burn) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn batch_norm_in_inference_mode_trains_as_burns_operations() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 2.0), &device);
        let weights = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let vector = || Tensor::<1>::random([4], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let (mean, factor, beta) = (vector(), vector(), vector());
        let gradients = |own: bool| {
            let x = x.clone().require_grad();
            let y = match own {
                true => super::channel_affine(x.clone(), mean.clone(), factor.clone(), beta.clone()),
                false => {
                    let per_channel = |t: &Tensor<1>| t.clone().reshape([1, 4, 1, 1]);
                    x.clone().sub(per_channel(&mean)).mul(per_channel(&factor)).add(per_channel(&beta))
                }
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            let values = |t: burn::tensor::TensorData| t.try_into_vec::<f32>().expect("f32");
            [
                values(y.without_autodiff().into_data()),
                values(x.grad(&grads).expect("x").into_data()),
                values(mean.grad(&grads).expect("mean").into_data()),
                values(factor.grad(&grads).expect("factor").into_data()),
                values(beta.grad(&grads).expect("beta").into_data()),
            ]
        };
        let (ours, burn) = (gradients(true), gradients(false));
        for (what, (ours, burn)) in ["output", "x", "mean", "factor", "beta"].iter().zip(ours.iter().zip(&burn)) {
            for (a, b) in ours.iter().zip(burn) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn convolution_trains_as_burns() {
        let device = Device::flex().autodiff();
        // (window, strides, padding, input): Xception's stem, InceptionV3's 1x7 "same", a
        // 1x1 shortcut at stride 2.
        type Case = ([usize; 2], [usize; 2], [[usize; 2]; 2], [usize; 2]);
        let cases: [Case; 3] = [
            ([3, 3], [2, 2], [[0, 0], [0, 0]], [11, 12]),
            ([1, 7], [1, 1], [[0, 0], [3, 3]], [7, 9]),
            ([1, 1], [2, 2], [[0, 0], [0, 0]], [9, 9]),
        ];
        for (window, strides, pad, [rows, cols]) in cases {
            let x = Tensor::<4>::random([2, 5, rows, cols], Distribution::Normal(0.0, 1.0), &device);
            let kernel = Tensor::<4>::random([4, 5, window[0], window[1]], Distribution::Normal(0.0, 1.0), &device);
            let reference = |x: Tensor<4>, k: Tensor<4>| {
                let x = x.pad((pad[1][0], pad[1][1], pad[0][0], pad[0][1]), PadMode::Constant(0.0));
                conv2d(x, k, None, ConvOptions::new(strides, [0, 0], [1, 1], 1))
            };
            let weights = Tensor::<4>::random(
                reference(x.clone(), kernel.clone()).dims(),
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let ours = run(
                |x, k| {
                    let window = super::conv_window(&x, &k, strides, pad).expect("applies on Flex");
                    super::conv2d(x, k, window)
                },
                &x,
                &kernel,
                &weights,
            );
            let burn = run(reference, &x, &kernel, &weights);
            for (what, (ours, burn)) in
                ["output", "input gradient", "kernel gradient"].iter().zip(ours.iter().zip(&burn))
            {
                assert_eq!(ours.len(), burn.len(), "{what} at {window:?}/{strides:?}");
                for (a, b) in ours.iter().zip(burn) {
                    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what} at {window:?}/{strides:?}: {a} vs {b}");
                }
            }
        }
    }
}
