//! Layers whose Burn path is slow on the CPU in a training step, as backend operations of
//! their own on the Flex backend with a hand-written backward pass: [`depthwise_conv2d`]
//! (Burn's grouped convolution computes a depthwise layer's gradients one channel at a
//! time), [`relu_clamp`] (Burn's clamp is four masked passes each way) and
//! [`channel_affine`] (a batch norm in inference mode, three broadcast passes in Burn), and
//! [`pointwise_conv2d`] and [`conv2d`] (convolutions, whose gradients Burn computes as a
//! transposed convolution and a convolution with the output as its window). Elsewhere
//! (other backends, other float types, inference without autodiff) the layers keep
//! Burn's operations.

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

/// Whether the Flex backend's own operations take `x`: on Flex's autodiff device (a
/// training step), in `f32`. Elsewhere the layers keep Burn's operations, and so does
/// inference on Flex without autodiff: its results stay those of Burn's convolutions to the
/// last bit or so, which the packed engine's parity tests compare with (the operations here
/// sum in another order).
pub(crate) fn applies(x: &Tensor<4>) -> bool {
    let device = x.device();
    cfg!(feature = "flex")
        && x.dtype() == DType::F32
        && device.is_autodiff()
        && format!("{:?}", device.inner()).starts_with("Device<Flex")
}

/// The window of `kernel` on `x`'s planes at `strides` and `pad` (`[[top, bottom], [left,
/// right]]`), where the Flex operations take them: [`applies`] holds for `x`, `kernel` is
/// `f32`, and their shapes fit (`fits`).
fn window_on(
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    strides: [usize; 2],
    pad: [[usize; 2]; 2],
    fits: bool,
) -> Option<PlaneWindow> {
    let [_, _, rows, cols] = x.dims();
    let [_, _, k_rows, k_cols] = kernel.dims();
    let takes = fits && applies(x) && kernel.dtype() == DType::F32;
    takes.then(|| PlaneWindow::new([k_rows, k_cols], strides, pad, [rows, cols])).flatten()
}

/// Where a depthwise convolution's window sits on each plane, if [`depthwise_conv2d`]
/// takes it: `x` `[batch, channels, rows, cols]`, `kernel` `[channels, 1, k_rows, k_cols]`
/// (`depth_multiplier=1`), as [`window_on`] says.
pub(crate) fn depthwise_window(
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    strides: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Option<PlaneWindow> {
    let [kernel_channels, multiplier, ..] = kernel.dims();
    window_on(x, kernel, strides, pad, kernel_channels == x.dims()[1] && multiplier == 1)
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
/// channels, rows, cols]`, `kernel` `[filters, channels, k_rows, k_cols]` (groups 1), as
/// [`window_on`] says.
pub(crate) fn conv_window(
    x: &Tensor<4>,
    kernel: &Tensor<4>,
    strides: [usize; 2],
    pad: [[usize; 2]; 2],
) -> Option<PlaneWindow> {
    window_on(x, kernel, strides, pad, kernel.dims()[1] == x.dims()[1])
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
mod tests;
