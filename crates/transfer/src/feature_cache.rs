//! The frozen base's features of validation samples, kept across the epochs of one `fit`.
//!
//! With the base frozen and a validation source that serves each sample the same inputs
//! every time ([`RepeatableSource`]: a folder under a generator that only rescales), a
//! sample's features are the same every epoch, to the bit (the packed base gives an image
//! the same values in any batch). `fit` computes them the first time a sample comes, keeps
//! them (up to [`FitConfig::validation_cache_mib`](crate::FitConfig::validation_cache_mib)),
//! and later epochs run only the head on them: the same losses and accuracies, without the
//! base's forward pass or the decoding of those images.

use std::collections::HashMap;

use backbone::cpu::host_values;
use burn::tensor::{Tensor, TensorData};

use crate::data::{Inputs, KeyedBatch, RepeatableSource};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::inference::InferenceModel;
use crate::trainer::{StepMetrics, Trainer};

/// Features by sample key, within a memory budget.
pub(crate) struct FeatureCache {
    features: HashMap<usize, Vec<f32>>,
    /// `[channels, rows, cols]` of every sample's features.
    shape: Option<[usize; 3]>,
    budget_bytes: usize,
    used_bytes: usize,
    /// The trainer's base version the features were computed with.
    base_version: u64,
}

impl FeatureCache {
    /// An empty cache holding at most `budget_bytes` of features.
    pub(crate) fn new(budget_bytes: usize, base_version: u64) -> Self {
        Self { features: HashMap::new(), shape: None, budget_bytes, used_bytes: 0, base_version }
    }

    /// Whether the features of `key` are kept.
    pub(crate) fn contains(&self, key: usize) -> bool {
        self.features.contains_key(&key)
    }

    /// The memory it may hold, in bytes.
    pub(crate) fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// Whether nothing is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The base version the kept features were computed with.
    pub(crate) fn base_version(&self) -> u64 {
        self.base_version
    }

    /// Forgets every feature (the base changed to `base_version`).
    pub(crate) fn clear(&mut self, base_version: u64) {
        *self = Self::new(self.budget_bytes, base_version);
    }

    /// Keeps `values` as the features of `key` if the budget allows; whether it did.
    fn insert(&mut self, key: usize, values: &[f32]) -> bool {
        let bytes = std::mem::size_of_val(values);
        if self.used_bytes + bytes > self.budget_bytes {
            return false;
        }
        self.used_bytes += bytes;
        self.features.insert(key, values.to_vec());
        true
    }
}

impl<H: ClassifierHead> Trainer<H> {
    /// Loss and accuracy of a keyed validation batch: the base runs on the samples whose
    /// features `cache` does not hold (their inputs are in the batch, as
    /// [`RepeatableSource::next_keyed_batch`] was asked), their features are kept while the
    /// budget allows (and `source` told it need not decode them again), and the head runs
    /// on the whole batch in its order.
    pub(crate) fn test_keyed_batch(
        &self,
        model: &InferenceModel<H>,
        batch: KeyedBatch,
        cache: &mut FeatureCache,
        source: &mut dyn RepeatableSource,
    ) -> Result<StepMetrics> {
        let KeyedBatch { keys, inputs, targets } = batch;
        let known: Vec<bool> = keys.iter().map(|&key| cache.contains(key)).collect();
        self.check_targets(&targets, keys.len())?;
        let computed = match inputs {
            Some(inputs) => {
                self.check_inputs(&inputs)?;
                let features = match inputs {
                    Inputs::Images(images) => model.features(images.without_autodiff().to_device(self.device()))?,
                    Inputs::Features(features) => features.without_autodiff().to_device(self.device()),
                };
                let [_, c, h, w] = features.dims();
                match cache.shape {
                    Some(shape) if shape != [c, h, w] => {
                        return Err(TransferError::Batch(format!(
                            "validation features of shape {:?} after earlier ones of {shape:?}",
                            [c, h, w]
                        )));
                    }
                    _ => cache.shape = Some([c, h, w]),
                }
                host_values(features)?
            }
            None => Vec::new(),
        };
        let shape = cache.shape.ok_or_else(|| TransferError::Batch("a validation batch of no inputs".into()))?;
        let per_sample: usize = shape.iter().product();
        let mut fresh = computed.chunks_exact(per_sample.max(1));
        let mut values = Vec::with_capacity(keys.len() * per_sample);
        let mut newly_kept = Vec::new();
        for (&key, known) in keys.iter().zip(known) {
            if known {
                values.extend_from_slice(&cache.features[&key]);
                continue;
            }
            let row = fresh.next().ok_or_else(|| {
                TransferError::Batch(format!("the validation source served no inputs for sample {key}"))
            })?;
            values.extend_from_slice(row);
            if cache.insert(key, row) {
                newly_kept.push(key);
            }
        }
        source.skip_inputs(&newly_kept)?;
        let [c, h, w] = shape;
        let features = Tensor::<4>::from_data(TensorData::new(values, [keys.len(), c, h, w]), self.device());
        let logits = model.head.forward(features);
        Ok(self.score(logits, targets, keys.len()))
    }
}
