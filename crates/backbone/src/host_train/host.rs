//! Host values of Flex tensors, in and out.

use std::borrow::Cow;

use burn::backend::flex::FlexTensor;
use burn::tensor::{Shape, TensorData};

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
