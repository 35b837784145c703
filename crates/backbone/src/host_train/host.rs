//! Host values of Flex tensors, in and out.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use burn::backend::flex::FlexTensor;
use burn::tensor::{Shape, TensorData};
use rayon::prelude::*;

/// The tensor's `f32` values in row-major order (copied only where they are not already).
pub(super) fn values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => values.into(),
        None => tensor.to_contiguous().storage::<f32>().to_vec().into(),
    }
}

/// A tensor of `shape` holding `values`.
pub(super) fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// `len` values written chunk by chunk (`chunk` values each, the last shorter) by `fill`,
/// in parallel, without zeroing them first. (Memory the allocator kept, as
/// `keep_freed_memory` asks, would otherwise be cleared once for nothing: a tenth of a
/// fine-tuning step.)
///
/// # Safety
/// `fill(index, chunk)` writes every value of its chunk.
pub(super) unsafe fn written(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    let chunk = chunk.max(1);
    values.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk)
        .with_min_len(super::MIN_TASK.div_ceil(chunk))
        .enumerate()
        .for_each(|(i, chunk)| fill(i, chunk));
    // SAFETY: `fill` wrote every value of every chunk (the caller's contract), and the
    // chunks cover the first `len` values.
    unsafe { values.set_len(len) };
    values
}
