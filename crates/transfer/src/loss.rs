//! Keras' losses and accuracy, computed from logits.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, relu};

/// Loss of a compiled model (Keras `loss=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Loss {
    /// `binary_crossentropy` on a 1-unit sigmoid output.
    BinaryCrossentropy,
    /// `categorical_crossentropy` on a softmax output with one-hot targets.
    CategoricalCrossentropy,
}

impl Loss {
    /// Mean loss over the batch (Keras' `SUM_OVER_BATCH_SIZE`).
    ///
    /// Keras computes the binary case from the logits behind the sigmoid
    /// (`max(x, 0) - x y + log(1 + exp(-|x|))`), which is what is done here.
    ///
    /// # Shapes
    /// - logits, targets: `[batch, outputs]`; output `[1]`
    pub fn forward(self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        match self {
            Loss::BinaryCrossentropy => {
                let softplus = logits.clone().abs().neg().exp().log1p();
                let per_sample = relu(logits.clone()) - logits * targets + softplus;
                per_sample.mean()
            }
            Loss::CategoricalCrossentropy => {
                let batch = logits.dims()[0] as f64;
                (log_softmax(logits, 1) * targets).sum().neg().div_scalar(batch)
            }
        }
    }

    /// Number of correct predictions in the batch (Keras `accuracy`: a logit above
    /// `threshold` for binary, 0 being a probability of 0.5; arg-max for categorical).
    pub fn correct(self, logits: Tensor<2>, targets: Tensor<2>, threshold: f32) -> usize {
        let hits = match self {
            Loss::BinaryCrossentropy => logits.greater_elem(threshold).float().equal(targets).float().sum(),
            Loss::CategoricalCrossentropy => logits.argmax(1).equal(targets.argmax(1)).float().sum(),
        };
        hits.into_scalar::<f32>() as usize
    }
}
