//! A dense layer on the host: one matrix product for the batch, then bias and activation.

use burn::nn::Linear;
use gemm::Parallelism;

use super::nhwc::{NhwcBatch, host_values};
use crate::error::Result;
use crate::layer::Activation;

/// A `Dense` layer's weights `[in, out]` and bias.
#[derive(Debug, Clone)]
pub(crate) struct PackedDense {
    weights: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    activation: Activation,
}

impl PackedDense {
    /// Packs `dense` (read from any device) with the activation after it.
    pub fn pack(dense: &Linear, activation: Activation) -> Result<Self> {
        let [inputs, outputs] = dense.weight.dims();
        let weights = host_values(dense.weight.val())?;
        let bias = match &dense.bias {
            Some(bias) => host_values(bias.val())?,
            None => vec![0.0; outputs],
        };
        Ok(Self { weights, bias, inputs, outputs, activation })
    }

    /// Runs it on a batch of vectors `[batch, 1, 1, inputs]`.
    pub fn forward(&self, input: &NhwcBatch) -> NhwcBatch {
        let batch = input.shape[0];
        let mut output = NhwcBatch::zeros([batch, 1, 1, self.outputs]);
        // SAFETY: `input` holds `batch` rows of `inputs` values, the weights `inputs` rows of
        // `outputs`, and `output` `batch` rows of `outputs`: all in bounds.
        unsafe {
            gemm::gemm(
                batch,
                self.outputs,
                self.inputs,
                output.data.as_mut_ptr(),
                1,
                self.outputs as isize,
                false,
                input.data.as_ptr(),
                1,
                self.inputs as isize,
                self.weights.as_ptr(),
                1,
                self.outputs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::Rayon(0),
            )
        }
        for row in output.data.chunks_exact_mut(self.outputs) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
            match self.activation {
                Activation::Linear => {}
                Activation::Relu => row.iter_mut().for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v }),
                Activation::Relu6 => row.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
                Activation::Swish => row.iter_mut().for_each(|v| *v = super::conv::swish(*v)),
                Activation::Sigmoid => row.iter_mut().for_each(|v| *v = super::conv::sigmoid(*v)),
                Activation::Softmax => {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    row.iter_mut().for_each(|v| *v = (*v - max).exp());
                    let sum: f32 = row.iter().sum();
                    row.iter_mut().for_each(|v| *v /= sum);
                }
            }
        }
        output
    }
}
