//! Keras' `compile` + `fit` / `evaluate` / `predict` for a [`TransferModel`].

use std::any::Any;
use std::path::Path;
use std::time::{Duration, Instant};

use augment::{Interpolation, load_img};
use backbone::cpu::{host_values, is_host_device};
use burn::config::Config;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::ModuleSnapshot;
use burn::store::bridge::{from_data, to_data};
use burn::tensor::{Device, Tensor, TensorData};

use crate::callbacks::{Callback, CallbackList, FitParams, Logs, ProgbarLogger, Verbosity};
use crate::checkpoint::CheckpointMetadata;
use crate::class_weight::ClassWeight;
use crate::data::{BatchSource, InMemoryBatches, Inputs};
use crate::error::{Result, TransferError};
use crate::feature_cache::FeatureCache;
use crate::head::{ClassifierHead, Head};
use crate::history::History;
use crate::inference::InferenceModel;
use crate::loss::Loss;
use crate::model::TransferModel;
use crate::optim::KerasOptimizer;
use crate::optim::factored::FactoredGradient;
use crate::pipeline::InputPipeline;
use crate::timing::{EpochTiming, timed};
use backbone::FrozenBase;

/// Keras `compile` arguments: `CompileConfig::new(loss)` is Keras' `compile(loss=...)` with
/// its default optimizer (`"rmsprop"`: RMSprop at Keras' learning rate 1e-3).
#[derive(Config, Debug, Copy, PartialEq)]
pub struct CompileConfig {
    /// The loss (binary for a 1-unit head).
    pub loss: Loss,
    /// Learning rate (Keras' RMSprop default 1e-3; the course: 1e-4).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// The optimizer (the course: RMSprop; the TF tutorial: Adam).
    #[config(default = "KerasOptimizer::default()")]
    pub optimizer: KerasOptimizer,
    /// The binary accuracy's threshold on the head's logits: 0 (default) counts a probability
    /// above 0.5 as class 1 (Keras' `accuracy` on a sigmoid output, `BinaryAccuracy(threshold=0)`
    /// on logits as TensorFlow's tutorial writes it). Keras' `BinaryAccuracy()` on a model
    /// that outputs logits (the Keras transfer-learning guide) compares the logits with 0.5:
    /// [`CompileConfig::with_keras_binary_accuracy_on_logits`]. Categorical accuracy ignores it.
    #[config(default = 0.0)]
    pub accuracy_threshold: f32,
}

impl CompileConfig {
    /// The course: `RMSprop(learning_rate=1e-4)`, `binary_crossentropy`, `accuracy`.
    pub fn course() -> Self {
        Self {
            learning_rate: 1e-4,
            optimizer: KerasOptimizer::default(),
            loss: Loss::BinaryCrossentropy,
            accuracy_threshold: 0.0,
        }
    }

    /// The TF transfer-learning tutorial: `Adam(learning_rate)`,
    /// `BinaryCrossentropy(from_logits=True)`, `BinaryAccuracy(threshold=0)` (the head
    /// gives logits, which is what [`Loss::BinaryCrossentropy`] takes).
    pub fn adam(learning_rate: f64) -> Self {
        Self {
            learning_rate,
            optimizer: crate::optim::KerasAdam::default().into(),
            loss: Loss::BinaryCrossentropy,
            accuracy_threshold: 0.0,
        }
    }

    /// Keras' `BinaryAccuracy()` (threshold 0.5) as the Keras transfer-learning guide uses it
    /// on a head that outputs logits: a sample counts as class 1 when its logit exceeds 0.5
    /// (a probability of 0.62), not 0 — Keras' quirk, reproduced so that the accuracies match
    /// the guide's. [`Trainer::evaluate`] with the default threshold gives the usual one.
    pub fn with_keras_binary_accuracy_on_logits(self) -> Self {
        Self { accuracy_threshold: 0.5, ..self }
    }
}

/// Keras `fit` arguments (`Default`: Keras' `epochs=1`, one pass per epoch, progress bar
/// on a terminal, stop on a non-finite loss).
#[derive(Config, Debug, PartialEq)]
pub struct FitConfig {
    /// The epoch to end at (Keras: with `initial_epoch`, `epochs` is the final epoch, not a
    /// count).
    #[config(default = 1)]
    pub epochs: usize,
    /// The epoch to start from, for resuming a run (Keras `initial_epoch`; default 0): the
    /// history and progress bar number epochs from here.
    #[config(default = 0)]
    pub initial_epoch: usize,
    /// Training steps per epoch (`None`: one pass over the source).
    pub steps_per_epoch: Option<usize>,
    /// Validation steps after each epoch (`None`: one pass over the validation source).
    pub validation_steps: Option<usize>,
    /// What to print (Keras' `verbose`).
    #[config(default = "Verbosity::Auto")]
    pub verbose: Verbosity,
    /// End `fit` with [`TransferError::NonFiniteLoss`] as soon as a batch's loss is NaN or
    /// infinite, and with [`TransferError::NonFiniteValidationLoss`] when an epoch's
    /// validation loss is, before the epoch's callbacks (the default: what Keras'
    /// `TerminateOnNaN` does, as an error, so no later checkpoint is written from diverged
    /// weights). `false` trains on, as Keras without it.
    #[config(default = true)]
    pub stop_on_non_finite_loss: bool,
    /// Memory for the frozen base's features of validation samples, kept across epochs
    /// (MiB; 0: none). With the whole base frozen and a validation source that does not
    /// augment ([`BatchSource::as_repeatable`]: a folder under a generator that only
    /// rescales, a dataset without augmentation), each validation image goes through the base
    /// once, in the epoch it first comes; later epochs run only the head on its kept
    /// features: the same `val_loss` and `val_accuracy`, to the bit on CPU devices. The
    /// course's 1000 validation images take 147 MiB. Default: 512.
    #[config(default = 512)]
    pub validation_cache_mib: usize,
    /// Keras' `class_weight`: each training sample's loss weighted by its class's weight
    /// (times its own `sample_weight` where the source has one); the accuracy and the
    /// validation are not weighted, as in Keras. Default: none.
    pub class_weight: Option<ClassWeight>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepMetrics {
    /// Mean loss of the batch (with sample weights, as Keras weighs it: the sum of each
    /// sample's loss times its weight, over the batch size).
    pub loss: f64,
    /// Correct predictions in the batch (never weighted: Keras weighs only its
    /// `weighted_metrics`, not `metrics=["accuracy"]`).
    pub correct: usize,
    /// Images in the batch.
    pub images: usize,
}

/// A compiled model: the model on an autodiff device, its optimizer state and loss. The head
/// is the built-in [`Head`] unless the model has one of its own ([`ClassifierHead`]).
pub struct Trainer<H: ClassifierHead = Head> {
    /// Always `Some` between calls; taken during an optimizer step so that the update can
    /// reuse the parameters' buffers instead of copying 150 MB of head weights.
    model: Option<TransferModel<H>>,
    optimizer: ModuleOptimizer,
    compile: CompileConfig,
    device: Device,
    train_device: Device,
    /// The frozen part of the base prepared for inference (ending at the cut when the whole
    /// base is frozen).
    frozen_part: Option<FrozenBase>,
    /// Set by a callback to end `fit` (Keras' `model.stop_training`).
    stop_training: bool,
    /// Images trained on since the trainer was made.
    images_trained: usize,
    /// Where the epochs of `fit` spent their time, one entry per epoch run.
    timings: Vec<EpochTiming>,
    /// The current epoch's timing, filled by the steps.
    current: EpochTiming,
    /// Counts the changes of the base's weights or trainable layers from outside the
    /// training steps (`set_weights`, `update_model`, `recompile`): features kept for
    /// validation are only reused while it stays the same.
    base_version: u64,
    /// The class of each target index, from the training data of the last `fit` (or
    /// [`Trainer::set_class_names`]): what checkpoints record.
    class_names: Vec<String>,
    /// How the training data's files became pixels (from the last `fit`'s source, or
    /// [`Trainer::set_input_pipeline`]): what checkpoints record.
    input_pipeline: Option<InputPipeline>,
}

/// A copy of a model's weights taken by [`Trainer::get_weights`] (Keras' `get_weights`),
/// to put back with [`Trainer::set_weights`]. Two copies compare equal when every weight
/// is bit for bit the same.
#[derive(Clone, PartialEq)]
pub struct Weights {
    /// Every parameter and buffer by path, sorted.
    tensors: Vec<(String, TensorData)>,
}

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
    /// Keras `model.compile(...)`: moves `model` to `device` with autodiff and sets up the
    /// optimizer. `device` is the plain device (flex, ndarray, wgpu). On a host device, a
    /// program that trains calls [`backbone::cpu::host_memory::keep_freed_memory`] once at
    /// its start (the examples do): the step then reuses its large buffers instead of
    /// page-faulting them in again.
    pub fn new(model: TransferModel<H>, compile: CompileConfig, device: &Device) -> Result<Self> {
        let outputs = model.head.outputs();
        if !compile.loss.fits_outputs(outputs) {
            let fix = match outputs {
                1 => {
                    "a 1-output (sigmoid) head takes Loss::BinaryCrossentropy with binary labels \
                      (class_mode / label_mode \"binary\")"
                }
                _ => {
                    "a head of one output per class takes Loss::CategoricalCrossentropy (one-hot labels) or \
                      Loss::SparseCategoricalCrossentropy (int labels, label_mode=\"int\")"
                }
            };
            return Err(TransferError::Config(format!(
                "{:?} does not fit a head with {outputs} outputs: {fix}",
                compile.loss
            )));
        }
        if !compile.learning_rate.is_finite() || compile.learning_rate < 0.0 {
            return Err(TransferError::Config(format!(
                "learning rate {}: expected a finite rate >= 0",
                compile.learning_rate
            )));
        }
        // Held in f32, as Keras' learning-rate variable (the update computes in f32 anyway).
        let compile = CompileConfig { learning_rate: compile.learning_rate as f32 as f64, ..compile };
        let train_device = device.clone().autodiff();
        let model = model.fork(&train_device).train();
        Ok(Self {
            model: Some(model),
            optimizer: compile.optimizer.init(),
            compile,
            device: device.clone(),
            train_device,
            frozen_part: None,
            stop_training: false,
            images_trained: 0,
            timings: Vec::new(),
            current: EpochTiming::default(),
            base_version: 0,
            class_names: Vec::new(),
            input_pipeline: None,
        })
    }

    /// Where each epoch of `fit` run by this trainer spent its time (waiting for data, base
    /// forward, head step, validation), in the order run.
    pub fn epoch_timings(&self) -> &[EpochTiming] {
        &self.timings
    }

    /// The learning rate of the next step (Keras' `optimizer.learning_rate`).
    pub fn learning_rate(&self) -> f64 {
        self.compile.learning_rate
    }

    /// Sets the learning rate of the next steps. Like Keras' variable it is held in `f32`
    /// (the precision the update uses); it must be finite and not negative.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        if !learning_rate.is_finite() || learning_rate < 0.0 {
            return Err(TransferError::Config(format!("learning rate {learning_rate}: expected a finite rate >= 0")));
        }
        self.compile.learning_rate = learning_rate as f32 as f64;
        Ok(())
    }

    /// Asks `fit` to stop: after the current batch when called from a batch hook (the
    /// epoch is still validated and recorded), after the current epoch from an epoch hook
    /// (Keras' `model.stop_training = True`).
    pub fn request_stop(&mut self) {
        self.stop_training = true;
    }

    /// Whether a stop was requested during the current `fit`.
    pub fn stop_requested(&self) -> bool {
        self.stop_training
    }

    /// The class of each target index: the training data's classes from the last `fit`
    /// (folder names), or what [`Trainer::set_class_names`] set; empty when neither told.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Sets the class names checkpoints record (`fit` sets them from its training data).
    pub fn set_class_names(&mut self, class_names: Vec<String>) {
        self.class_names = class_names;
    }

    /// How the training data's files became pixels: from the last `fit`'s training source
    /// (a folder reader), or what [`Trainer::set_input_pipeline`] set.
    pub fn input_pipeline(&self) -> Option<InputPipeline> {
        self.input_pipeline
    }

    /// Sets the input pipeline checkpoints record (`fit` sets it from a folder reader).
    pub fn set_input_pipeline(&mut self, pipeline: Option<InputPipeline>) {
        self.input_pipeline = pipeline;
    }

    /// Images trained on since the trainer was made.
    pub fn images_trained(&self) -> usize {
        self.images_trained
    }

    /// A copy of every weight of the model (Keras' `get_weights`).
    pub fn get_weights(&self) -> Result<Weights> {
        let mut tensors = Vec::new();
        for tensor in self.model().collect(None, None, false) {
            let data = to_data(&tensor)
                .map_err(|e| TransferError::Config(format!("copying the weight {}: {e}", tensor.name)))?;
            tensors.push((tensor.name.clone(), data));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Weights { tensors })
    }

    /// Puts back weights taken by [`Trainer::get_weights`] (Keras' `set_weights`); the
    /// optimizer state is kept, as in Keras.
    pub fn set_weights(&mut self, weights: &Weights) -> Result<()> {
        let tensors = weights.tensors.iter().map(|(name, data)| from_data(data.clone(), name.clone(), None)).collect();
        let mut model = self.model.take().expect("the trainer holds its model between steps");
        let result = model.apply(tensors, None, None, false);
        self.model = Some(model);
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(TransferError::Config(format!("restoring the model's weights: they do not fit: {result}")));
        }
        self.frozen_part = None;
        self.base_version += 1;
        Ok(())
    }

    /// Keras' second `model.compile(...)` (the tutorial's fine-tuning phase): the same model
    /// and weights with a new optimizer, its state starting afresh, a new learning rate and
    /// loss. Call it after changing which layers are trainable ([`Trainer::update_model`]).
    pub fn recompile(&mut self, compile: CompileConfig) -> Result<()> {
        let fresh = Trainer::new(self.model().clone().valid(), compile, &self.device.clone())?;
        let (images_trained, base_version) = (self.images_trained, self.base_version);
        let (class_names, input_pipeline) = (std::mem::take(&mut self.class_names), self.input_pipeline);
        *self = fresh;
        (self.class_names, self.input_pipeline) = (class_names, input_pipeline);
        self.images_trained = images_trained;
        self.base_version = base_version + 1;
        Ok(())
    }

    /// Changes the model in place (e.g. which base layers are trainable, as Keras'
    /// `base_model.trainable = True` between two `compile` calls).
    pub fn update_model(&mut self, change: impl FnOnce(TransferModel<H>) -> Result<TransferModel<H>>) -> Result<()> {
        // A failing change leaves the trainer as it was (the clone shares the tensors).
        let changed = change(self.model().clone().valid())?;
        self.model = Some(changed.fork(&self.train_device).train());
        self.frozen_part = None;
        self.base_version += 1;
        Ok(())
    }

    /// The model being trained.
    pub fn model(&self) -> &TransferModel<H> {
        self.model.as_ref().expect("the trainer holds its model between steps")
    }

    /// The trained model, for saving or prediction.
    pub fn into_model(self) -> TransferModel<H> {
        self.model.expect("the trainer holds its model between steps")
    }

    /// The compiled optimizer's kind and hyper-parameters.
    pub fn optimizer_config(&self) -> KerasOptimizer {
        self.compile.optimizer
    }

    /// The optimizer state (Keras' RMSprop velocities, Adam's moments), for checkpoints.
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optimizer
    }

    /// Replaces the optimizer state (resuming from a checkpoint).
    pub fn set_optimizer(&mut self, optimizer: ModuleOptimizer) {
        self.optimizer = optimizer;
    }

    /// The plain (non-autodiff) device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Base features of a batch. The frozen part of the base (all of it, or the blocks before
    /// the first trainable one) runs as plain inference (packed for the CPU on host devices,
    /// no autodiff record at all); its output joins the graph for the trainable blocks and
    /// the head.
    fn features(&mut self, inputs: Inputs) -> Result<Tensor<4>> {
        let images = match inputs {
            // On the autodiff device as the base would give them (a head's batch norm trains
            // on batch statistics only there).
            Inputs::Features(features) => return Ok(features.without_autodiff().to_device(&self.device).autodiff()),
            Inputs::Images(images) => images,
        };
        let model = self.model.as_ref().expect("the trainer holds its model between steps");
        let images = model.preprocess(images);
        let cut = model.architecture().output();
        let end = match model.base_fully_frozen() {
            true => cut,
            false => match model.frozen_prefix() {
                Some(end) => end,
                None => return Ok(model.base.forward_layers(images.autodiff(), &[cut])?.remove(0)),
            },
        };
        let part = match self.frozen_part.take() {
            Some(part) if part.end() == end => part,
            _ => FrozenBase::up_to(&model.base, end, &self.device)?,
        };
        let images = images.without_autodiff().to_device(&self.device);
        // Keras runs a frozen layer's dropout in training mode inside `fit` (EfficientNet's
        // drop-connect): its draws from the device's generator, as the head's dropout.
        let features = match part.has_dropouts() {
            true => part.forward_dropping(images, drop_seed(&self.device)),
            false => part.forward(images),
        };
        self.frozen_part = Some(part);
        let features = features?.autodiff();
        match end == cut {
            true => Ok(features),
            false => Ok(model.base.forward_from(features, end, &[cut])?.remove(0)),
        }
    }

    /// Checks a batch against the model and the loss before it reaches them: images of 3
    /// channels and, under a `Flatten` head, of the size the model was built for; one
    /// target row per sample and one column per output; binary targets 0 or 1, categorical
    /// ones non-negative rows that sum to 1. (Burn's layers would panic on the shapes, and
    /// the loss silently train on wrong targets.)
    fn check_batch(&self, inputs: &Inputs, targets: &Tensor<2>) -> Result<()> {
        self.check_inputs(inputs)?;
        self.check_targets(targets, inputs.len())
    }

    /// The inputs' part of [`Trainer::check_batch`].
    pub(crate) fn check_inputs(&self, inputs: &Inputs) -> Result<()> {
        let model = self.model();
        if let Inputs::Images(images) = inputs {
            let [_, channels, rows, cols] = images.dims();
            if channels != 3 {
                return Err(TransferError::Batch(format!("images of {channels} channels, the model reads 3 (RGB)")));
            }
            if model.head.needs_input_size() && [rows, cols] != model.input_size {
                return Err(TransferError::Batch(format!(
                    "images of {rows}x{cols}, the model was built for {}x{} (its Flatten head reads the base's \
                     output at that size): resize them (target_size) or build the model for this size",
                    model.input_size[0], model.input_size[1]
                )));
            }
        }
        Ok(())
    }

    /// The targets' part of [`Trainer::check_batch`], for a batch of `samples`.
    pub(crate) fn check_targets(&self, targets: &Tensor<2>, samples: usize) -> Result<()> {
        let values = host_values(targets.clone().without_autodiff())?;
        self.compile.loss.check_targets(&values, targets.dims(), samples, self.model().head.outputs())
    }

    /// One training step on a batch: forward, loss, backward, optimizer update.
    pub fn train_step(&mut self, inputs: Inputs, targets: Tensor<2>) -> Result<StepMetrics> {
        self.train_step_weighted(inputs, targets, None)
    }

    /// [`Trainer::train_step`] with Keras' per-sample weights (`sample_weight`, or the
    /// class weights of each sample's class): the loss is the sum of each sample's loss times
    /// its weight over the batch size (the accuracy is not weighted, as Keras' `metrics`). A
    /// weight per sample, finite and not negative.
    pub fn train_step_weighted(
        &mut self,
        inputs: Inputs,
        targets: Tensor<2>,
        sample_weight: Option<&[f32]>,
    ) -> Result<StepMetrics> {
        self.check_batch(&inputs, &targets)?;
        if let Some(weights) = sample_weight {
            check_sample_weights(weights, inputs.len())?;
        }
        let started = Instant::now();
        let images_count = inputs.len();
        let mut base_time = Duration::ZERO;
        let features = timed(&mut base_time, || self.features(inputs))?;
        self.current.base_forward += base_time;
        let mut model = self.model.take().expect("the trainer holds its model between steps");
        let (metrics, grads) = match self.head_gradients(&mut model, features, targets, sample_weight) {
            Ok(step) => step,
            Err(e) => {
                self.model = Some(model);
                return Err(e);
            }
        };
        let model = self.optimizer.step(self.compile.learning_rate, model, grads);
        self.model = Some(model);
        self.images_trained += images_count;
        self.current.head_step += started.elapsed().saturating_sub(base_time);
        Ok(metrics)
    }

    /// The head's forward and backward pass on a batch's features: its loss, correct
    /// predictions and the gradients of the trainable parameters. On a host device, with
    /// the base frozen, the built-in head's first kernel gets its gradient by its factors
    /// (the optimizer then computes it a few rows at a time as it updates them; see
    /// `optim::factored`).
    fn head_gradients(
        &self,
        model: &mut TransferModel<H>,
        features: Tensor<4>,
        targets: Tensor<2>,
        sample_weight: Option<&[f32]>,
    ) -> Result<(StepMetrics, GradientsParams)> {
        // The features need no gradient when the whole base is frozen: only then may the
        // first kernel's product leave the graph.
        let apart = is_host_device(&self.device) && model.base_fully_frozen();
        let (logits, kernel_apart) = match (&mut model.head as &mut dyn Any).downcast_mut::<Head>() {
            Some(head) if apart => head.forward_kernel_apart(features)?,
            _ => (model.head.forward(features), None),
        };
        let targets = targets.to_device(&self.train_device);
        let images = targets.dims()[0];
        let correct = self.compile.loss.correct(
            logits.clone().without_autodiff(),
            targets.clone().without_autodiff(),
            self.compile.accuracy_threshold,
        );
        let weights =
            sample_weight.map(|w| Tensor::<1>::from_data(TensorData::new(w.to_vec(), [w.len()]), &self.train_device));
        let loss = self.compile.loss.forward_weighted(logits, targets, weights);
        let loss_value = loss.clone().without_autodiff().into_scalar::<f32>() as f64;
        let metrics = StepMetrics { loss: loss_value, correct, images };
        let mut gradients = loss.backward();
        let kernel_apart = kernel_apart.map(|apart| (apart.product.grad_remove(&mut gradients), apart));
        let mut grads = GradientsParams::from_grads(gradients, model);
        if let Some((product_gradient, apart)) = kernel_apart {
            let dz = product_gradient
                .ok_or_else(|| TransferError::Config("the head's first kernel product got no gradient".into()))?;
            let ([_, units], device) = (dz.dims(), dz.device());
            let dz = host_values(dz)?;
            for (id, first_row, rows) in apart.blocks {
                let factors =
                    FactoredGradient::tensor(&apart.input, apart.inputs, &dz, units, (first_row, rows), &device);
                grads.register(id, factors);
            }
        }
        // The graph (dropped here) holds the head's weights: the update can then reuse
        // their buffers.
        Ok((metrics, grads))
    }

    /// The base prepared for inference on the plain device: the one the training steps use
    /// when the whole base is frozen, else a new one.
    fn inference_base(&self) -> Result<FrozenBase> {
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

    /// Loss and accuracy on a batch in inference mode (dropout off).
    pub fn test_step(&self, inputs: Inputs, targets: Tensor<2>) -> Result<StepMetrics> {
        self.test_batch(&self.inference_model()?, inputs, targets)
    }

    /// [`Trainer::test_step`] with the inference copy of the model already made.
    fn test_batch(&self, model: &InferenceModel<H>, inputs: Inputs, targets: Tensor<2>) -> Result<StepMetrics> {
        self.check_batch(&inputs, &targets)?;
        let images_count = inputs.len();
        let logits = match inputs {
            Inputs::Images(images) => model.forward(images.without_autodiff().to_device(&self.device))?,
            Inputs::Features(features) => model.head.forward(features.without_autodiff().to_device(&self.device)),
        };
        Ok(self.score(logits, targets, images_count))
    }

    /// Loss and accuracy of a batch's logits (on the plain device) against its targets.
    pub(crate) fn score(&self, logits: Tensor<2>, targets: Tensor<2>, images: usize) -> StepMetrics {
        let targets = targets.without_autodiff().to_device(&self.device);
        let correct = self.compile.loss.correct(logits.clone(), targets.clone(), self.compile.accuracy_threshold);
        let loss = self.compile.loss.forward(logits, targets).into_scalar::<f32>() as f64;
        StepMetrics { loss, correct, images }
    }

    /// Each sample's weight: its class's weight (Keras' `class_weight`), times its own
    /// (`sample_weight`) when the source gives one.
    fn class_weighted(
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
    fn validate(
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

/// What needs the built-in head's configuration: checkpoints.
impl Trainer {
    /// What a checkpoint of the model being trained records: its configuration, trainable
    /// layers, optimizer and input pipeline, with `class_names` (empty: the trainer's
    /// [`Trainer::class_names`]) and the epochs trained so far.
    pub fn checkpoint_metadata(&self, class_names: &[String], epochs_trained: usize) -> CheckpointMetadata {
        let model = self.model();
        let class_names = match class_names.is_empty() {
            true => &self.class_names,
            false => class_names,
        };
        CheckpointMetadata {
            config: model.config(),
            trainable: model.trainable_layers(),
            base_training: model.base_training(),
            class_names: class_names.to_vec(),
            epochs_trained,
            optimizer: self.compile.optimizer,
            input_pipeline: self.input_pipeline,
        }
    }

    /// Saves the model, its metadata (class names — empty: the training data's —, the input
    /// pipeline, the epochs trained) and the optimizer state, atomically: a checkpoint to resume from ([`load_checkpoint`](crate::load_checkpoint)
    /// and [`Trainer::set_optimizer`]) or to load as a model ([`load_model`](crate::load_model)).
    pub fn save(&self, path: &Path, class_names: &[String], epochs_trained: usize) -> Result<()> {
        let metadata = self.checkpoint_metadata(class_names, epochs_trained);
        crate::save_checkpoint(path, self.model(), &metadata, Some(&self.optimizer))
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

/// Checks Keras' `sample_weight` of a batch of `samples`: one finite weight >= 0 each.
fn check_sample_weights(weights: &[f32], samples: usize) -> Result<()> {
    if weights.len() != samples {
        return Err(TransferError::Batch(format!("{} sample weights for a batch of {samples}", weights.len())));
    }
    match weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        Some(w) => Err(TransferError::Batch(format!("sample weight {w}: expected a finite weight >= 0"))),
        None => Ok(()),
    }
}

/// A seed for a training step's dropouts in a frozen base, drawn from `device`'s generator
/// (so `device.seed(..)` fixes it, as it fixes the head's dropout masks).
fn drop_seed(device: &Device) -> u64 {
    let draws = Tensor::<1>::random([2], burn::tensor::Distribution::Uniform(0.0, 16_777_216.0), device);
    let values = draws.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    values.iter().fold(0u64, |seed, &v| (seed << 24) ^ v as u64)
}
