//! The Flex operations against Burn's own operations on the autodiff Flex device: values
//! and gradients within float32 rounding.

use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::{channel_affine, conv_window, depthwise_conv2d, depthwise_window, pointwise_conv2d, relu_clamp};

/// A convolution's window, strides, padding `[[top, bottom], [left, right]]` and input size.
type Case = ([usize; 2], [usize; 2], [[usize; 2]; 2], [usize; 2]);

fn values(data: TensorData) -> Vec<f32> {
    data.try_into_vec::<f32>().expect("f32")
}

fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// Asserts that each of `ours` equals the `reference` of the same name within 1e-4 relative.
fn assert_close(names: &[&str], ours: &[Vec<f32>], reference: &[Vec<f32>], context: &str) {
    for ((name, ours), reference) in names.iter().zip(ours).zip(reference) {
        assert_eq!(ours.len(), reference.len(), "{name} {context}");
        for (a, b) in ours.iter().zip(reference) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{name} {context}: {a} vs {b}");
        }
    }
}

/// Burn's convolution of `x` padded explicitly by `pad`, in `groups`.
fn burn_conv(x: Tensor<4>, kernel: Tensor<4>, strides: [usize; 2], pad: [[usize; 2]; 2], groups: usize) -> Tensor<4> {
    let x = x.pad((pad[1][0], pad[1][1], pad[0][0], pad[0][1]), PadMode::Constant(0.0));
    conv2d(x, kernel, None, ConvOptions::new(strides, [0, 0], [1, 1], groups))
}

/// Output, input gradient and kernel gradient of `(conv(x, kernel) * weights).sum()`.
fn gradients(
    conv: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    weights: &Tensor<4>,
) -> [Vec<f32>; 3] {
    let (x, kernel) = (x.clone().require_grad(), kernel.clone().require_grad());
    let y = conv(x.clone(), kernel.clone());
    let grads = (y.clone() * weights.clone()).sum().backward();
    [
        values(y.without_autodiff().into_data()),
        values(x.grad(&grads).expect("input gradient").into_data()),
        values(kernel.grad(&grads).expect("kernel gradient").into_data()),
    ]
}

/// Checks `own(x, kernel, strides, padding)` against Burn's convolution on each case, with
/// `[channels, filters]` (a depthwise kernel where `depthwise`).
fn check_convolution(
    cases: &[Case],
    [channels, filters]: [usize; 2],
    depthwise: bool,
    own: impl Fn(Tensor<4>, Tensor<4>, [usize; 2], [[usize; 2]; 2]) -> Tensor<4>,
) {
    let device = Device::flex().autodiff();
    let (kernel_channels, groups) = match depthwise {
        true => (1, channels),
        false => (channels, 1),
    };
    for &(window, strides, pad, [rows, cols]) in cases {
        let x = random([2, channels, rows, cols], &device);
        let kernel = random([filters, kernel_channels, window[0], window[1]], &device);
        let weights = random(burn_conv(x.clone(), kernel.clone(), strides, pad, groups).dims(), &device);
        let ours = gradients(|x, k| own(x, k, strides, pad), &x, &kernel, &weights);
        let burn = gradients(|x, k| burn_conv(x, k, strides, pad, groups), &x, &kernel, &weights);
        let context = format!("at {window:?} / {strides:?} / {pad:?}");
        assert_close(&["output", "input gradient", "kernel gradient"], &ours, &burn, &context);
    }
}

#[test]
fn depthwise_convolution_trains_as_burns_grouped_one() {
    let cases: [Case; 4] = [
        ([3, 3], [1, 1], [[1, 1], [1, 1]], [9, 12]),
        ([3, 3], [2, 2], [[0, 1], [0, 1]], [10, 10]),
        ([5, 5], [2, 2], [[1, 2], [1, 2]], [14, 13]),
        ([3, 3], [2, 2], [[0, 0], [0, 0]], [9, 9]),
    ];
    check_convolution(&cases, [6, 6], true, |x, k, strides, pad| {
        let window = depthwise_window(&x, &k, strides, pad).expect("applies on Flex");
        depthwise_conv2d(x, k, window)
    });
}

#[test]
fn convolution_trains_as_burns() {
    // Xception's stem, InceptionV3's 1x7 "same", a 1x1 shortcut at stride 2.
    let cases: [Case; 3] = [
        ([3, 3], [2, 2], [[0, 0], [0, 0]], [11, 12]),
        ([1, 7], [1, 1], [[0, 0], [3, 3]], [7, 9]),
        ([1, 1], [2, 2], [[0, 0], [0, 0]], [9, 9]),
    ];
    check_convolution(&cases, [5, 4], false, |x, k, strides, pad| {
        let window = conv_window(&x, &k, strides, pad).expect("applies on Flex");
        super::conv2d(x, k, window)
    });
}

#[test]
fn pointwise_convolution_trains_as_burns() {
    let cases: [Case; 1] = [([1, 1], [1, 1], [[0, 0], [0, 0]], [5, 6])];
    check_convolution(&cases, [8, 4], false, |x, k, _, _| pointwise_conv2d(x, k));
}

#[test]
fn relu_and_relu6_train_as_tensorflow() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([2, 3, 5, 7], Distribution::Uniform(-3.0, 9.0), &device);
    let weights = random([2, 3, 5, 7], &device);
    let (x_values, weight_values) = (values(x.clone().into_data()), values(weights.clone().into_data()));
    for ceiling in [6.0f32, f32::INFINITY] {
        let x = x.clone().require_grad();
        let y = relu_clamp(x.clone(), ceiling);
        let grads = (y.clone() * weights.clone()).sum().backward();
        let (y, dx) = (values(y.without_autodiff().into_data()), values(x.grad(&grads).expect("x").into_data()));
        for i in 0..x_values.len() {
            let (x, w) = (x_values[i], weight_values[i]);
            assert_eq!(y[i], x.max(0.0).min(ceiling));
            // TensorFlow's relu_grad / relu6_grad: the gradient passes strictly inside.
            assert_eq!(dx[i], if x > 0.0 && x < ceiling { w } else { 0.0 });
        }
    }
}

#[test]
fn batch_norm_in_inference_mode_trains_as_burns_operations() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 2.0), &device);
    let weights = random([3, 4, 5, 6], &device);
    let vector = || Tensor::<1>::random([4], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let (mean, factor, beta) = (vector(), vector(), vector());
    let run = |own: bool| {
        let x = x.clone().require_grad();
        let y = match own {
            true => channel_affine(x.clone(), mean.clone(), factor.clone(), beta.clone()),
            false => {
                let per_channel = |t: &Tensor<1>| t.clone().reshape([1, 4, 1, 1]);
                x.clone().sub(per_channel(&mean)).mul(per_channel(&factor)).add(per_channel(&beta))
            }
        };
        let grads = (y.clone() * weights.clone()).sum().backward();
        [
            values(y.without_autodiff().into_data()),
            values(x.grad(&grads).expect("x").into_data()),
            values(mean.grad(&grads).expect("mean").into_data()),
            values(factor.grad(&grads).expect("factor").into_data()),
            values(beta.grad(&grads).expect("beta").into_data()),
        ]
    };
    assert_close(&["output", "x", "mean", "factor", "beta"], &run(true), &run(false), "");
}
