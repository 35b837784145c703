//! Keras' `fit` and `evaluate`: the epoch loop, validation, class weights and callbacks.

use std::time::{Duration, Instant};

use backbone::cpu::host_values;
use burn::tensor::Tensor;

use super::{FitConfig, StepMetrics, Trainer};
use crate::callbacks::{Callback, CallbackList, FitParams, Logs, ProgbarLogger, Verbosity};
use crate::data::{BatchSource, Inputs};
use crate::error::{Result, TransferError};
use crate::feature_cache::FeatureCache;
use crate::head::ClassifierHead;
use crate::history::History;
use crate::inference::InferenceModel;
use crate::timing::{EpochTiming, timed};

/// Running sums of Keras' epoch metrics (weighted by batch size).
#[derive(Default)]
struct Running {
    loss_sum: f64,
    correct: usize,
    images: usize,
}

impl Running {
    fn add(&mut self, step: StepMetrics) {
        self.loss_sum += step.loss * step.images as f64;
        self.correct += step.correct;
        self.images += step.images;
    }

    fn loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }

    /// Keras' batch and epoch logs: `loss`, `accuracy`.
    fn logs(&self) -> Logs {
        Logs::from_pairs([("loss", self.loss()), ("accuracy", self.accuracy())])
    }
}

impl<H: ClassifierHead> Trainer<H> {
    /// Loss and accuracy on a batch in inference mode (dropout off).
    pub fn test_step(&self, inputs: Inputs, targets: Tensor<2>) -> Result<StepMetrics> {
        self.test_batch(&self.inference_model()?, inputs, targets)
    }

    /// [`Trainer::test_step`] with the inference copy of the model already made.
    pub(super) fn test_batch(
        &self,
        model: &InferenceModel<H>,
        inputs: Inputs,
        targets: Tensor<2>,
    ) -> Result<StepMetrics> {
        self.check_batch(&inputs, &targets)?;
        let images_count = inputs.len();
        let logits = match inputs {
            Inputs::Images(images) => model.forward(images.without_autodiff().to_device(&self.device))?,
            Inputs::Features(features) => model.head.forward(features.without_autodiff().to_device(&self.device)),
        };
        Ok(self.score(logits, targets, images_count))
    }

    /// Each sample's weight: its class's weight (Keras' `class_weight`), times its own
    /// (`sample_weight`) when the source gives one.
    pub(super) fn class_weighted(
        &self,
        class_weights: &[f32],
        targets: &Tensor<2>,
        sample_weight: Option<Vec<f32>>,
    ) -> Result<Vec<f32>> {
        let [rows, columns] = targets.dims();
        let values = host_values(targets.clone().without_autodiff())?;
        let classes = self.compile.loss.classes(&values, columns);
        let mut weights = Vec::with_capacity(rows);
        for (sample, class) in classes.into_iter().enumerate() {
            let class_weight = class_weights.get(class).ok_or_else(|| {
                TransferError::Batch(format!(
                    "class_weight: a target of class {class}, the weights cover {} classes",
                    class_weights.len()
                ))
            })?;
            let own = sample_weight.as_ref().and_then(|w| w.get(sample)).copied().unwrap_or(1.0);
            weights.push(class_weight * own);
        }
        Ok(weights)
    }

    /// The validation pass of `fit`: [`Trainer::evaluate`], with the frozen base's features
    /// of a repeatable source's samples kept in `cache` across epochs.
    pub(super) fn validate(
        &self,
        source: &mut dyn BatchSource,
        steps: Option<usize>,
        cache: &mut FeatureCache,
    ) -> Result<(f64, f64)> {
        let steps = steps.unwrap_or_else(|| source.batches_per_epoch());
        let reusable = self.model().base_fully_frozen() && cache.budget_bytes() > 0;
        if !reusable && !cache.is_empty() {
            // The base became trainable during `fit`: every image goes through it again.
            cache.clear(self.base_version);
            if let Some(repeatable) = source.as_repeatable() {
                repeatable.need_all_inputs();
            }
        }
        let Some(repeatable) = source.as_repeatable().filter(|_| reusable) else {
            return self.evaluate(source, Some(steps));
        };
        if cache.base_version() != self.base_version {
            cache.clear(self.base_version);
            repeatable.need_all_inputs();
        }
        let model = self.inference_model()?;
        let mut running = Running::default();
        for _ in 0..steps {
            let batch = repeatable.next_keyed_batch(&self.device, &|key| cache.contains(key))?;
            running.add(self.test_keyed_batch(&model, batch, cache, repeatable)?);
        }
        Ok((running.loss(), running.accuracy()))
    }

    /// Keras `evaluate(source, steps=...)`: mean loss and accuracy over `steps` batches.
    pub fn evaluate(&self, source: &mut dyn BatchSource, steps: Option<usize>) -> Result<(f64, f64)> {
        let steps = steps.unwrap_or_else(|| source.batches_per_epoch());
        let model = self.inference_model()?;
        let mut running = Running::default();
        for _ in 0..steps {
            let (inputs, targets) = source.next_batch(&self.device)?;
            running.add(self.test_batch(&model, inputs, targets)?);
        }
        Ok((running.loss(), running.accuracy()))
    }

    /// Keras `fit(..., callbacks=...)`: epochs `initial_epoch..epochs` of `steps_per_epoch`
    /// training steps, each followed by validation, with Keras' callback hooks; returns the
    /// history of the epochs actually run (a callback may stop training early).
    pub fn fit(
        &mut self,
        train: &mut dyn BatchSource,
        config: FitConfig,
        mut validation: Option<&mut dyn BatchSource>,
        callbacks: &mut [&mut dyn Callback<H>],
    ) -> Result<History> {
        let steps = config.steps_per_epoch.unwrap_or_else(|| train.batches_per_epoch());
        if steps == 0 {
            return Err(TransferError::Config("fit: zero training steps per epoch (an empty source?)".into()));
        }
        if validation.is_some() && config.validation_steps == Some(0) {
            return Err(TransferError::Config(
                "fit: zero validation steps (validation_steps = 0) would record a validation loss and accuracy \
                 of no batch: give at least one, or no validation data"
                    .into(),
            ));
        }
        if config.initial_epoch > config.epochs {
            return Err(TransferError::Config(format!(
                "fit: initial_epoch {} is past epochs {} (epochs is the epoch to end at, as in Keras)",
                config.initial_epoch, config.epochs
            )));
        }
        if let (Some(train), Some(validation)) =
            (train.class_names(), validation.as_ref().and_then(|v| v.class_names()))
            && train != validation
        {
            return Err(TransferError::Config(format!(
                "fit: the training data has the classes {train:?} but the validation data {validation:?}: \
                 target indices would mean different classes"
            )));
        }
        let outputs = self.model().head.outputs();
        let class_weights = match &config.class_weight {
            Some(class_weight) => {
                let counts = train.class_counts();
                Some(class_weight.resolve(train.class_names(), counts.as_deref(), outputs.max(2))?)
            }
            None => None,
        };
        if let Some(names) = train.class_names() {
            if !self.class_names.is_empty() && self.class_names != names {
                return Err(TransferError::Config(format!(
                    "fit: the model was trained on the classes {:?} (a resumed checkpoint or an earlier fit), the \
                     training data has {names:?}: its outputs would mean other classes \
                     (Trainer::set_class_names(vec![]) first to train it on these anew)",
                    self.class_names
                )));
            }
            self.class_names = names.to_vec();
        }
        if let Some(pipeline) = train.input_pipeline() {
            self.input_pipeline = Some(pipeline);
        }
        let progbar = (config.verbose != Verbosity::Silent).then(|| ProgbarLogger::new(config.verbose));
        let mut callbacks = CallbackList::new(callbacks, progbar);
        callbacks.check_monitors(validation.is_some())?;
        callbacks.set_params(FitParams { epochs: config.epochs, steps });
        self.stop_training = false;
        callbacks.on_train_begin(self)?;
        let mut training_logs = Logs::default();
        let mut validation_cache = FeatureCache::new(config.validation_cache_mib << 20, self.base_version);
        for epoch in config.initial_epoch..config.epochs {
            let epoch_started = Instant::now();
            self.current = EpochTiming { epoch, ..EpochTiming::default() };
            callbacks.on_epoch_begin(epoch, self)?;
            let mut running = Running::default();
            for step in 0..steps {
                callbacks.on_train_batch_begin(step, self)?;
                let mut wait = Duration::ZERO;
                let (inputs, targets, sample_weight) = timed(&mut wait, || train.next_weighted_batch(&self.device))?;
                self.current.data_wait += wait;
                self.current.steps += 1;
                let sample_weight = match &class_weights {
                    Some(class_weights) => Some(self.class_weighted(class_weights, &targets, sample_weight)?),
                    None => sample_weight,
                };
                let step_metrics = self.train_step_weighted(inputs, targets, sample_weight.as_deref())?;
                if config.stop_on_non_finite_loss && !step_metrics.loss.is_finite() {
                    return Err(TransferError::NonFiniteLoss { epoch, batch: step, loss: step_metrics.loss });
                }
                running.add(step_metrics);
                callbacks.on_train_batch_end(step, &running.logs(), self)?;
                if self.stop_training {
                    break;
                }
            }
            let mut logs = running.logs();
            if let Some(source) = validation.as_deref_mut() {
                callbacks.on_test_begin(self)?;
                let mut validation_time = Duration::ZERO;
                let (loss, accuracy) = timed(&mut validation_time, || {
                    self.validate(source, config.validation_steps, &mut validation_cache)
                })?;
                self.current.validation += validation_time;
                if config.stop_on_non_finite_loss && !loss.is_finite() {
                    return Err(TransferError::NonFiniteValidationLoss { epoch, loss });
                }
                let test_logs = Logs::from_pairs([("loss", loss), ("accuracy", accuracy)]);
                callbacks.on_test_end(&test_logs, self)?;
                logs.extend(&test_logs.prefixed_val());
            }
            callbacks.on_epoch_end(epoch, &mut logs, self)?;
            self.current.total = epoch_started.elapsed();
            self.timings.push(self.current);
            training_logs = logs;
            if self.stop_training {
                break;
            }
        }
        if !validation_cache.is_empty()
            && let Some(repeatable) = validation.and_then(|source| source.as_repeatable())
        {
            // The kept features go with this call: the source decodes every image again.
            repeatable.need_all_inputs();
        }
        callbacks.on_train_end(&training_logs, self)?;
        Ok(callbacks.into_history())
    }
}
