//! The head's dense layer with its kernel stored in row blocks, so that no tensor of it
//! (kernel, gradient, optimizer state) exceeds 128 MiB: wgpu's default storage-binding limit
//! and what many integrated and mobile GPUs report (the course head's 37632 x 1024 kernel is
//! 154 MB). `x W = sum_i x[:, rows_i] W_i`; a kernel that fits is one block, an ordinary
//! `Dense`.
//!
//! Training on the host with the base frozen, the trainer takes the first hidden layer's
//! kernel out of the layer for the step ([`Dense::take_kernel`]), computes `x W` from its
//! buffers ([`crate::host_product`]) and gives the kernel its gradient by its factors
//! (`crate::optim::factored`).

use backbone::NetworkError;
use backbone::cpu::host_values;
use burn::module::{Module, Param, ParamId, ParamMapper};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::Result;
use crate::host_product::{Rows, add_product};

/// The largest block, in bytes of `f32`.
pub const MAX_BLOCK_BYTES: usize = 128 << 20;

/// A dense layer's kernel taken out as host values ([`Dense::take_kernel`]).
pub(crate) struct HostKernel {
    blocks: Vec<HostBlock>,
}

/// One block of a [`HostKernel`]: its values and what puts it back as it was.
struct HostBlock {
    id: ParamId,
    values: TensorData,
    mapper: ParamMapper<Tensor<2>>,
    device: Device,
    autodiff: bool,
    require_grad: bool,
    /// The kernel row it starts at.
    first_row: usize,
}

/// Keras' `Dense(units)`: `x @ kernel + bias`, the kernel `[inputs, units]` in row blocks.
#[derive(Module, Debug)]
pub struct Dense {
    /// The kernel's row blocks in order, each `[rows, units]`.
    pub kernel: Vec<Param<Tensor<2>>>,
    /// `[units]`.
    pub bias: Param<Tensor<1>>,
}

/// How many rows of a `units`-wide kernel go in each block: as even as possible, each at
/// most [`MAX_BLOCK_BYTES`].
fn block_rows(inputs: usize, units: usize) -> Vec<usize> {
    let bytes = inputs * units * std::mem::size_of::<f32>();
    let blocks = bytes.div_ceil(MAX_BLOCK_BYTES).max(1);
    let rows = inputs.div_ceil(blocks);
    (0..blocks).map(|b| rows.min(inputs - (b * rows).min(inputs))).filter(|&r| r > 0).collect()
}

impl Dense {
    /// A dense layer from its whole kernel values `[inputs, units]` (row-major) and bias.
    pub fn from_values(kernel: Vec<f32>, inputs: usize, units: usize, bias: Vec<f32>, device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut start = 0;
        for rows in block_rows(inputs, units) {
            let values = kernel[start * units..(start + rows) * units].to_vec();
            blocks.push(Param::from_tensor(Tensor::from_data(TensorData::new(values, [rows, units]), device)));
            start += rows;
        }
        let bias = Param::from_tensor(Tensor::from_data(TensorData::new(bias, [units]), device));
        Self { kernel: blocks, bias }
    }

    /// A dense layer from a whole kernel tensor and a bias (split into blocks as needed).
    pub fn from_tensors(kernel: Tensor<2>, bias: Tensor<1>) -> Self {
        let [inputs, units] = kernel.dims();
        let mut blocks = Vec::new();
        let mut start = 0;
        for rows in block_rows(inputs, units) {
            blocks.push(Param::from_tensor(kernel.clone().slice([start..start + rows, 0..units])));
            start += rows;
        }
        Self { kernel: blocks, bias: Param::from_tensor(bias) }
    }

    /// The whole kernel `[inputs, units]` (the blocks concatenated).
    pub fn kernel(&self) -> Tensor<2> {
        Tensor::cat(self.kernel.iter().map(|block| block.val()).collect(), 0)
    }

    /// Input features.
    pub fn inputs(&self) -> usize {
        self.kernel.iter().map(|block| block.dims()[0]).sum()
    }

    /// Output units.
    pub fn units(&self) -> usize {
        self.bias.dims()[0]
    }

    /// # Shapes
    /// - x: `[batch, inputs]`; output: `[batch, units]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let bias = self.bias.val().unsqueeze::<2>();
        if let [block] = self.kernel.as_slice() {
            return x.matmul(block.val()) + bias;
        }
        let [batch, _] = x.dims();
        let mut start = 0;
        let mut sum: Option<Tensor<2>> = None;
        for block in &self.kernel {
            let rows = block.dims()[0];
            let part = x.clone().slice([0..batch, start..start + rows]).matmul(block.val());
            sum = Some(match sum {
                Some(total) => total + part,
                None => part,
            });
            start += rows;
        }
        sum.expect("a dense layer has at least one block") + bias
    }

    /// Takes the kernel's blocks out of the layer as host values (without copying them
    /// when the layer alone holds them, as during training): the layer has no kernel until
    /// [`Dense::put_kernel`] puts them back. For host devices.
    pub(crate) fn take_kernel(&mut self) -> HostKernel {
        let mut first_row = 0;
        let mut blocks = Vec::with_capacity(self.kernel.len());
        for block in std::mem::take(&mut self.kernel) {
            let (id, tensor, mapper) = block.consume();
            let rows = tensor.dims()[0];
            let (device, autodiff, require_grad) = (tensor.device(), tensor.is_autodiff(), tensor.is_require_grad());
            let values = tensor.without_autodiff().into_data();
            blocks.push(HostBlock { id, values, mapper, device, autodiff, require_grad, first_row });
            first_row += rows;
        }
        HostKernel { blocks }
    }

    /// Puts back the blocks [`Dense::take_kernel`] took, as they were (without copying).
    pub(crate) fn put_kernel(&mut self, kernel: HostKernel) {
        for block in kernel.blocks {
            let mut tensor = Tensor::<2>::from_data(block.values, &block.device);
            if block.autodiff {
                tensor = tensor.autodiff();
            }
            if block.require_grad {
                tensor = tensor.require_grad();
            }
            self.kernel.push(Param::from_mapped_value(block.id, tensor, block.mapper));
        }
    }

    /// [`Dense::forward`] with the kernel taken out ([`Dense::take_kernel`]): `x W` is
    /// computed on the host ([`crate::host_product`]) and joins the autodiff graph as a
    /// leaf, so the kernel gets no gradient from the graph; the product's gradient `dz`
    /// (with `x`) gives it, `dW = xᵀ dz`. Returns the output, the product leaf and `x`'s
    /// values (row-major).
    pub(crate) fn forward_with_host_kernel(
        &self,
        x: Tensor<2>,
        kernel: &HostKernel,
    ) -> Result<(Tensor<2>, Tensor<2>, Vec<f32>)> {
        let [batch, inputs] = x.dims();
        let units = self.units();
        let device = x.device();
        let x = host_values(x.detach().without_autodiff())?;
        let mut product = vec![0.0; batch * units];
        for block in &kernel.blocks {
            let values = block.values.as_slice::<f32>().map_err(|e| NetworkError::TensorData(format!("{e:?}")))?;
            add_product(Rows { x: &x, inputs, first_row: block.first_row }, values, units, &mut product);
        }
        let product =
            Tensor::<2>::from_data(TensorData::new(product, [batch, units]), &device).autodiff().require_grad();
        Ok((product.clone() + self.bias.val().unsqueeze::<2>(), product, x))
    }

    /// The kernel's blocks: parameter id, first row and rows of each.
    pub(crate) fn kernel_blocks(&self) -> Vec<(ParamId, usize, usize)> {
        let mut start = 0;
        let mut blocks = Vec::with_capacity(self.kernel.len());
        for block in &self.kernel {
            let rows = block.dims()[0];
            blocks.push((block.id, start, rows));
            start += rows;
        }
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_kernel_splits_in_two_blocks_under_128_mib_and_small_ones_stay_whole() {
        assert_eq!(block_rows(37632, 1024), [18816, 18816]);
        const { assert!(18816 * 1024 * 4 <= MAX_BLOCK_BYTES) };
        assert_eq!(block_rows(1280, 1), [1280]);
        assert_eq!(block_rows(1024, 1), [1024]);
        assert_eq!(block_rows(40001, 1024), [20001, 20000]);
    }

    #[test]
    fn blocked_forward_equals_the_whole_matrix_product() {
        let device = Device::flex();
        let (inputs, units) = (70_000, 512); // 143 MB: two blocks
        let kernel: Vec<f32> = (0..inputs * units).map(|i| ((i % 97) as f32 - 48.0) / 400.0).collect();
        let bias: Vec<f32> = (0..units).map(|i| i as f32 / 100.0).collect();
        let dense = Dense::from_values(kernel.clone(), inputs, units, bias, &device);
        assert_eq!(dense.kernel.len(), 2);
        let x: Vec<f32> = (0..3 * inputs).map(|i| ((i % 13) as f32 - 6.0) / 10.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [3, inputs]), &device);
        let whole = x.clone().matmul(Tensor::from_data(TensorData::new(kernel, [inputs, units]), &device))
            + dense.bias.val().unsqueeze::<2>();
        let ours = dense.forward(x);
        let difference = (ours - whole).abs().max().into_scalar::<f32>();
        assert!(difference < 1e-3, "{difference}");
    }
}
