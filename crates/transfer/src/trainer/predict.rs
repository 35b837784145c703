//! Prediction and inference: the frozen base prepared for it, `predict`, per-file
//! predictions, and the feature cache of a source.

use std::path::Path;

use augment::{Interpolation, load_img};
use backbone::FrozenBase;
use backbone::cpu::host_values;
use burn::tensor::{Device, Tensor, TensorData};

use super::Trainer;
use crate::data::{BatchSource, InMemoryBatches, Inputs};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::inference::InferenceModel;
use crate::model::TransferModel;

impl<H: ClassifierHead> Trainer<H> {
    /// The base prepared for inference on the plain device: the one the training steps use
    /// when the whole base is frozen, else a new one.
    pub(super) fn inference_base(&self) -> Result<FrozenBase> {
        let base = &self.model().base;
        match &self.frozen_part {
            Some(part) if part.end() == base.architecture().output() => Ok(part.clone()),
            _ => Ok(FrozenBase::new(base, &self.device)?),
        }
    }

    /// The model prepared for inference on the plain device (reusing the packed base when
    /// it is fully frozen).
    pub fn inference_model(&self) -> Result<InferenceModel<H>> {
        Ok(InferenceModel {
            base: self.inference_base()?,
            head: self.model().head.valid().to_device(&self.device),
            input_scaling: self.model().input_scaling,
        })
    }

    /// Feature caching: runs the frozen base once over `batches` batches of `source` (which
    /// should not augment) and returns the features with their targets, to train the head on
    /// with `fit` at a fraction of the cost. Reshuffled every epoch from `seed`.
    pub fn cache_features(&self, source: &mut dyn BatchSource, batches: usize, seed: u64) -> Result<InMemoryBatches> {
        if batches == 0 {
            return Err(TransferError::Config("cache_features: zero batches asked for".into()));
        }
        let base = self.inference_base()?;
        let (mut features, mut targets) = (Vec::new(), Vec::new());
        let (mut shape, mut outputs, mut batch_size) = ([0; 3], 1, 1);
        for _ in 0..batches {
            let (inputs, batch_targets) = source.next_batch(&self.device)?;
            let batch_features = match inputs {
                Inputs::Images(images) => {
                    base.forward(self.model().preprocess(images.without_autodiff().to_device(&self.device)))?
                }
                Inputs::Features(f) => f,
            };
            let [n, c, h, w] = batch_features.dims();
            (shape, outputs, batch_size) = ([c, h, w], batch_targets.dims()[1], batch_size.max(n));
            features.extend(host_values(batch_features)?);
            targets.extend(host_values(batch_targets)?);
        }
        Ok(InMemoryBatches::features(features, shape, targets, outputs, batch_size)?.shuffled(seed))
    }

    /// Predictions on `steps` batches of `source` (default: one pass), each sample's
    /// probabilities with its file and true class (in file order for a source that does not
    /// augment); [`Predictions::report`](crate::Predictions::report) gives scikit-learn's
    /// metrics and [`Predictions::write_to`](crate::Predictions::write_to) the evaluation
    /// files.
    pub fn predictions(&self, source: &mut dyn BatchSource, steps: Option<usize>) -> Result<crate::Predictions> {
        let names = (!self.class_names.is_empty()).then_some(self.class_names.as_slice());
        let check = |inputs: &Inputs, targets: &Tensor<2>| self.check_batch(inputs, targets);
        crate::evaluation::collect(&self.inference_model()?, source, steps, names, &self.device, &check)
    }

    /// Probabilities for a batch (sigmoid for one output, softmax otherwise).
    pub fn predict(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        self.inference_model()?.probabilities(images.without_autodiff().to_device(&self.device))
    }

    /// Keras `model.predict(source, steps=...)`: probabilities for `steps` batches of
    /// `source` (default: one pass), `[samples, outputs]` in the order served, with the
    /// source's targets `[samples, outputs]` beside them. Use a source that does not
    /// shuffle (`FlowConfig { shuffle: false, .. }`) to match rows to files.
    pub fn predict_source(&self, source: &mut dyn BatchSource, steps: Option<usize>) -> Result<(Tensor<2>, Tensor<2>)> {
        let steps = steps.unwrap_or_else(|| source.batches_per_epoch());
        let model = self.inference_model()?;
        let (mut probabilities, mut targets) = (Vec::new(), Vec::new());
        for _ in 0..steps {
            let (inputs, batch_targets) = source.next_batch(&self.device)?;
            self.check_batch(&inputs, &batch_targets)?;
            let batch = match inputs {
                Inputs::Images(images) => model.probabilities(images.without_autodiff().to_device(&self.device))?,
                Inputs::Features(features) => {
                    let logits = model.head.forward(features.without_autodiff().to_device(&self.device));
                    model.head.probabilities(logits)
                }
            };
            probabilities.push(batch);
            targets.push(batch_targets.without_autodiff().to_device(&self.device));
        }
        if probabilities.is_empty() {
            return Err(TransferError::Config("predict_source: zero steps".into()));
        }
        Ok((Tensor::cat(probabilities, 0), Tensor::cat(targets, 0)))
    }
}

/// Probabilities for a batch (on a plain device) from a model in inference mode.
pub fn predict<H: ClassifierHead>(model: &TransferModel<H>, images: Tensor<4>) -> Result<Tensor<2>> {
    InferenceModel::new(model, &images.device())?.probabilities(images)
}

/// Keras-style `predict` on image files: each is loaded as `load_img(path, target_size)`
/// (Pillow's resize), multiplied by `rescale` (an `f64`, as every `rescale` of these crates:
/// Keras' `ImageDataGenerator(rescale=...)`) and classified. Returns one probability row per
/// file. A model trained through `image_dataset_from_directory` (TF's resize) or saved with
/// its pipeline is better served by [`Classifier`](crate::Classifier), which loads files as
/// its training data was loaded.
pub fn predict_files<H: ClassifierHead>(
    model: &TransferModel<H>,
    paths: &[&Path],
    rescale: f64,
    interpolation: Interpolation,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let [h, w] = model.input_size;
    let rescale = rescale as f32;
    let mut pixels = Vec::with_capacity(paths.len() * h * w * 3);
    for path in paths {
        let image = load_img(path, Some([h, w]), interpolation)?;
        pixels.extend(image.data.iter().map(|v| v * rescale));
    }
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [paths.len(), h, w, 3]), device).permute([0, 3, 1, 2]);
    let probabilities = predict(model, images)?;
    let outputs = probabilities.dims()[1];
    let values = host_values(probabilities)?;
    Ok(values.chunks(outputs).map(<[f32]>::to_vec).collect())
}
