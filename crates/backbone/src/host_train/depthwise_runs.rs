//! The stride-1 depthwise convolution and its gradients as long contiguous runs: a plane is
//! copied into a zero border once, and each window tap is then one multiply-add over the
//! whole padded plane (its rows laid end to end, the border columns computed and dropped).
//! On the small planes of a network's top (10x10, 5x5) a row of outputs is shorter than a
//! vector register, and row-by-row loops spend their time on loop bounds; here a 3x3 tap on
//! a 10x10 plane is one run of 118 values.

use super::depthwise_kernels::PlaneWindow;

/// The padding a stride-1 `window` has after its input (`[rows, cols]`), implied by its
/// output size.
fn pad_end(window: &PlaneWindow) -> [usize; 2] {
    [0, 1].map(|axis| window.output[axis] + window.kernel[axis] - 1 - window.input[axis] - window.pad_begin[axis])
}

/// Whether [`forward`], [`input_gradient`] and [`weight_gradient`] apply: stride 1, and no
/// border wider than the window less one (Keras' `"same"` and `"valid"` never are).
pub(super) fn applies(window: &PlaneWindow) -> bool {
    window.strides == [1, 1]
        && (0..2).all(|axis| {
            let end = (window.output[axis] + window.kernel[axis] - 1)
                .checked_sub(window.input[axis] + window.pad_begin[axis]);
            window.pad_begin[axis] < window.kernel[axis] && end.is_some_and(|end| end < window.kernel[axis])
        })
}

/// Copies the `size` plane `plane` into `padded` inside a zero border of `[[top, bottom],
/// [left, right]]`; returns the padded width.
#[inline(always)]
fn pad_into(
    plane: &[f32],
    size: [usize; 2],
    [[top, bottom], [left, right]]: [[usize; 2]; 2],
    padded: &mut Vec<f32>,
) -> usize {
    let width = size[1] + left + right;
    padded.clear();
    padded.resize((size[0] + top + bottom) * width, 0.0);
    for (row, values) in plane.chunks_exact(size[1]).enumerate() {
        padded[(top + row) * width + left..][..size[1]].copy_from_slice(values);
    }
    width
}

/// `out` (`output` rows x cols) `= Σ taps[k] · padded[shifted by k]`: the correlation of a
/// padded plane `width` wide with a `kernel` window, accumulated as one run per tap in
/// `run` (scratch), then its valid columns copied out.
#[inline(always)]
fn correlate(
    padded: &[f32],
    width: usize,
    taps: &[f32],
    kernel: [usize; 2],
    output: [usize; 2],
    run: &mut Vec<f32>,
    out: &mut [f32],
) {
    let length = (output[0] - 1) * width + output[1];
    run.clear();
    run.resize(length, 0.0);
    for (k_row, taps) in taps.chunks_exact(kernel[1]).enumerate() {
        for (k_col, &w) in taps.iter().enumerate() {
            let shifted = &padded[k_row * width + k_col..][..length];
            run.iter_mut().zip(shifted).for_each(|(acc, &x)| *acc += w * x);
        }
    }
    for (row, out) in out.chunks_exact_mut(output[1]).enumerate() {
        out.copy_from_slice(&run[row * width..][..output[1]]);
    }
}

/// Per-thread scratch: a padded plane and a run.
#[derive(Default)]
pub(super) struct Scratch {
    padded: Vec<f32>,
    run: Vec<f32>,
}

/// One plane of the forward pass.
#[inline(always)]
pub(super) fn forward_plane(x: &[f32], taps: &[f32], out: &mut [f32], window: &PlaneWindow, scratch: &mut Scratch) {
    let [end_rows, end_cols] = pad_end(window);
    let pad = [[window.pad_begin[0], end_rows], [window.pad_begin[1], end_cols]];
    let width = pad_into(x, window.input, pad, &mut scratch.padded);
    correlate(&scratch.padded, width, taps, window.kernel, window.output, &mut scratch.run, out);
}

/// One plane of the input gradient: the output gradient padded by the window less the
/// forward's padding, correlated with the window turned half a turn.
#[inline(always)]
pub(super) fn input_gradient_plane(
    grad: &[f32],
    taps: &[f32],
    dx: &mut [f32],
    window: &PlaneWindow,
    scratch: &mut Scratch,
) {
    let [k_rows, k_cols] = window.kernel;
    let [end_rows, end_cols] = pad_end(window);
    let pad = [
        [k_rows - 1 - window.pad_begin[0], k_rows - 1 - end_rows],
        [k_cols - 1 - window.pad_begin[1], k_cols - 1 - end_cols],
    ];
    let width = pad_into(grad, window.output, pad, &mut scratch.padded);
    let mut turned = [0.0f32; 64];
    let turned = match taps.len() <= turned.len() {
        true => {
            turned[..taps.len()].iter_mut().zip(taps.iter().rev()).for_each(|(t, &w)| *t = w);
            &turned[..taps.len()]
        }
        false => &taps.iter().rev().copied().collect::<Vec<f32>>()[..],
    };
    correlate(&scratch.padded, width, turned, window.kernel, window.input, &mut scratch.run, dx);
}

/// One plane's contribution to the weight gradient: for each tap, the output gradient
/// (laid out at the padded width, zeros in the border columns) dotted with the padded input
/// shifted by the tap.
#[inline(always)]
pub(super) fn weight_gradient_plane(
    x: &[f32],
    grad: &[f32],
    dw: &mut [f32],
    window: &PlaneWindow,
    scratch: &mut Scratch,
) {
    let [end_rows, end_cols] = pad_end(window);
    let pad = [[window.pad_begin[0], end_rows], [window.pad_begin[1], end_cols]];
    let width = pad_into(x, window.input, pad, &mut scratch.padded);
    let length = (window.output[0] - 1) * width + window.output[1];
    scratch.run.clear();
    scratch.run.resize(length, 0.0);
    for (row, grad) in grad.chunks_exact(window.output[1]).enumerate() {
        scratch.run[row * width..][..window.output[1]].copy_from_slice(grad);
    }
    for (k_row, dw) in dw.chunks_exact_mut(window.kernel[1]).enumerate() {
        for (k_col, dw) in dw.iter_mut().enumerate() {
            *dw += super::depthwise_kernels::dot(&scratch.run, &scratch.padded[k_row * width + k_col..][..length]);
        }
    }
}
