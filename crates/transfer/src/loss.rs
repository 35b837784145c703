//! Keras' losses and accuracy, computed from logits, with Keras' per-sample weights.

use backbone::cpu::host_values;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Tensor, TensorData};

use crate::error::{Result, TransferError};

/// Loss of a compiled model (Keras `loss=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Loss {
    /// `binary_crossentropy` on a 1-unit sigmoid output; targets `[batch, 1]` of 0 / 1
    /// (Keras' `class_mode="binary"`, `label_mode="binary"`).
    BinaryCrossentropy,
    /// `categorical_crossentropy` on a softmax output with one-hot targets `[batch, classes]`
    /// (`class_mode="categorical"`, `label_mode="categorical"`).
    CategoricalCrossentropy,
    /// `sparse_categorical_crossentropy` on a softmax output with class indices `[batch, 1]`
    /// (`label_mode="int"`, the default of `image_dataset_from_directory`;
    /// `class_mode="sparse"`).
    SparseCategoricalCrossentropy,
}

impl Loss {
    /// Mean loss over the batch (Keras' `SUM_OVER_BATCH_SIZE`).
    ///
    /// Keras computes the binary case from the logits behind the sigmoid
    /// (`max(x, 0) - x y + log(1 + exp(-|x|))`), which is what is done here.
    ///
    /// # Shapes
    /// - logits, targets: `[batch, outputs]` (`[batch, 1]` of class indices for the sparse
    ///   loss); output `[1]`
    pub fn forward(self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        match self {
            Loss::BinaryCrossentropy => Self::binary_per_sample(logits, targets).mean(),
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy => {
                let batch = logits.dims()[0] as f64;
                let targets = self.one_hot(targets, logits.dims()[1]);
                (log_softmax(logits, 1) * targets).sum().neg().div_scalar(batch)
            }
        }
    }

    /// Keras' weighted loss: each sample's loss times its weight, summed, over the batch
    /// size (not over the sum of the weights: Keras 2.15's `compute_weighted_loss` with
    /// `SUM_OVER_BATCH_SIZE`). `None` is [`Loss::forward`].
    ///
    /// # Shapes
    /// - logits, targets as [`Loss::forward`]; weights `[batch]`; output `[1]`
    pub fn forward_weighted(self, logits: Tensor<2>, targets: Tensor<2>, weights: Option<Tensor<1>>) -> Tensor<1> {
        let Some(weights) = weights else {
            return self.forward(logits, targets);
        };
        let batch = logits.dims()[0];
        let per_sample = match self {
            Loss::BinaryCrossentropy => Self::binary_per_sample(logits, targets),
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy => {
                let targets = self.one_hot(targets, logits.dims()[1]);
                (log_softmax(logits, 1) * targets).sum_dim(1).neg()
            }
        };
        (per_sample.reshape([batch]) * weights).sum().div_scalar(batch as f64)
    }

    /// `[batch, 1]` binary cross-entropy of each sample, from logits.
    fn binary_per_sample(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
        let softplus = logits.clone().abs().neg().exp().log1p();
        relu(logits.clone()) - logits * targets + softplus
    }

    /// The targets as one-hot rows of `classes` (class indices for the sparse loss; others as
    /// they are). Indices outside `0..classes` give a zero row (checked before training).
    fn one_hot(self, targets: Tensor<2>, classes: usize) -> Tensor<2> {
        if self != Loss::SparseCategoricalCrossentropy {
            return targets;
        }
        let device = targets.device();
        let indices = host_values(targets.without_autodiff()).unwrap_or_default();
        let mut rows = vec![0.0f32; indices.len() * classes];
        for (row, &index) in indices.iter().enumerate() {
            if index >= 0.0 && (index as usize) < classes {
                rows[row * classes + index as usize] = 1.0;
            }
        }
        Tensor::from_data(TensorData::new(rows, [indices.len(), classes]), &device)
    }

    /// Whether a correct prediction, per sample (1 or 0): Keras `accuracy` (a logit above
    /// `threshold` for binary, 0 being a probability of 0.5; the arg-max otherwise).
    ///
    /// # Shapes
    /// - logits, targets as [`Loss::forward`]; output `[batch]`
    pub fn hits(self, logits: Tensor<2>, targets: Tensor<2>, threshold: f32) -> Tensor<1> {
        let batch = logits.dims()[0];
        match self {
            Loss::BinaryCrossentropy => logits.greater_elem(threshold).float().equal(targets).float().reshape([batch]),
            Loss::CategoricalCrossentropy => logits.argmax(1).equal(targets.argmax(1)).float().reshape([batch]),
            Loss::SparseCategoricalCrossentropy => logits.argmax(1).float().equal(targets).float().reshape([batch]),
        }
    }

    /// Number of correct predictions in the batch ([`Loss::hits`] summed).
    pub fn correct(self, logits: Tensor<2>, targets: Tensor<2>, threshold: f32) -> usize {
        self.hits(logits, targets, threshold).sum().into_scalar::<f32>() as usize
    }

    /// Whether this loss takes a head of `outputs` outputs (binary: one; the others: two or
    /// more).
    pub fn fits_outputs(self, outputs: usize) -> bool {
        match self {
            Loss::BinaryCrossentropy => outputs == 1,
            Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy => outputs > 1,
        }
    }

    /// The columns a target row has for a head of `outputs` outputs.
    pub fn target_columns(self, outputs: usize) -> usize {
        match self {
            Loss::SparseCategoricalCrossentropy => 1,
            _ => outputs,
        }
    }

    /// The class index of each target row (host values `[batch, columns]` flattened), as
    /// Keras reads classes for `class_weight`: the value of a binary or sparse target
    /// rounded (half to even, as `tf.round`), the arg-max of a one-hot row.
    pub fn classes(self, targets: &[f32], columns: usize) -> Vec<usize> {
        target_classes(targets, columns)
    }

    /// Checks a batch's targets (host values `[samples, columns]`) against this loss and a
    /// head of `outputs` outputs; the error names the fix (a `class_mode` / `label_mode` or
    /// another loss).
    pub fn check_targets(
        self,
        values: &[f32],
        [rows, columns]: [usize; 2],
        samples: usize,
        outputs: usize,
    ) -> Result<()> {
        let bad = |reason: String| Err(TransferError::Batch(reason));
        if rows != samples {
            return bad(format!("{rows} target rows for {samples} samples"));
        }
        let expected = self.target_columns(outputs);
        if columns != expected {
            return bad(match (self, columns) {
                (Loss::BinaryCrossentropy, _) => format!(
                    "one-hot targets of {columns} columns into a head of 1 output (binary cross-entropy): use \
                     class_mode=\"binary\" / label_mode=\"binary\" for two classes, or a head of one output per \
                     class with categorical cross-entropy"
                ),
                (Loss::CategoricalCrossentropy, 1) => format!(
                    "targets of 1 column (class indices?) into a head of {outputs} outputs with categorical \
                     cross-entropy: use Loss::SparseCategoricalCrossentropy for int labels (label_mode=\"int\", \
                     class_mode=\"sparse\"), or one-hot labels (label_mode / class_mode \"categorical\")"
                ),
                (Loss::SparseCategoricalCrossentropy, _) => format!(
                    "targets of {columns} columns (one-hot?) with sparse categorical cross-entropy, which takes one \
                     class index per sample: use Loss::CategoricalCrossentropy for one-hot labels, or \
                     label_mode=\"int\" / class_mode=\"sparse\""
                ),
                _ => format!(
                    "targets of {columns} columns for a head of {outputs} outputs: the data has {columns} classes, \
                     the head {outputs}"
                ),
            });
        }
        match self {
            Loss::BinaryCrossentropy => {
                if let Some(v) = values.iter().find(|&&v| !(0.0..=1.0).contains(&v)) {
                    return bad(format!(
                        "binary cross-entropy targets must lie in [0, 1], got {v} (class indices of more than \
                         two classes? use label_mode=\"int\" with a head of one output per class and \
                         Loss::SparseCategoricalCrossentropy)"
                    ));
                }
            }
            Loss::CategoricalCrossentropy => {
                for row in values.chunks(columns.max(1)) {
                    let sum: f32 = row.iter().sum();
                    if row.iter().any(|v| v.is_nan() || *v < 0.0) || (sum - 1.0).abs() > 1e-3 {
                        return bad(format!(
                            "categorical targets must be rows of probabilities (one-hot), got {row:?}"
                        ));
                    }
                }
            }
            Loss::SparseCategoricalCrossentropy => {
                if let Some(v) = values.iter().find(|&&v| v.fract() != 0.0 || !(0.0..outputs as f32).contains(&v)) {
                    return bad(format!(
                        "sparse categorical targets must be class indices 0..{}, got {v}",
                        outputs.saturating_sub(1)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The class of each target row (`[rows, columns]` flattened), as Keras reads it: a one-column
/// target's value (binary or a class index) rounded half to even as `tf.round`, the arg-max
/// of a wider row.
pub(crate) fn target_classes(targets: &[f32], columns: usize) -> Vec<usize> {
    match columns {
        0 | 1 => targets.iter().map(|&v| v.round_ties_even().max(0.0) as usize).collect(),
        _ => targets.chunks(columns).map(arg_max).collect(),
    }
}

/// The index of the largest value (the first of equal ones, as NumPy's `argmax`).
pub(crate) fn arg_max(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
}
