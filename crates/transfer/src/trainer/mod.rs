//! Keras' `compile` + `fit` / `evaluate` / `predict` for a [`TransferModel`]: the trainer's
//! state and accessors here; its configuration, step, epoch loop and prediction each in a
//! file of its own.

use std::path::Path;

use backbone::FrozenBase;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleSnapshot;
use burn::store::bridge::{from_data, to_data};
use burn::tensor::{Device, TensorData};

use crate::checkpoint::{CheckpointMetadata, load_checkpoint};
use crate::error::{Result, TransferError};
use crate::head::{ClassifierHead, Head};
use crate::model::TransferModel;
use crate::optim::KerasOptimizer;
use crate::pipeline::InputPipeline;
use crate::timing::EpochTiming;

mod config;
mod fit_loop;
mod predict;
mod step;

pub use config::{CompileConfig, FitConfig, StepMetrics};
pub use predict::{predict, predict_files};

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

    /// Sets the class names checkpoints record (`fit` sets them from its training data, and
    /// refuses training data of other classes once they are set; empty: any).
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
}

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

    /// Keras' `load_model` to go on training, from a checkpoint ([`Trainer::save`],
    /// `ModelCheckpoint`): [`Trainer::resume_from`] on what [`load_checkpoint`] reads.
    pub fn resume(path: &Path, compile: CompileConfig, device: &Device) -> Result<(Trainer, CheckpointMetadata)> {
        Trainer::resume_from(load_checkpoint(path, device)?, compile, device)
    }

    /// A trainer going on from a loaded checkpoint (`load_checkpoint`'s model, metadata and
    /// optimizer state): the model compiled with `compile`; the checkpoint's class names and
    /// input pipeline, so that a `fit` on data of other classes is refused (its outputs mean
    /// the checkpoint's classes); its optimizer state when `compile` uses the optimizer it
    /// was saved with (another one starts afresh, as a recompile does in Keras). Returns the
    /// metadata too: its `epochs_trained` is the next `fit`'s `initial_epoch`.
    pub fn resume_from(
        (model, metadata, optimizer): (TransferModel, CheckpointMetadata, Option<ModuleOptimizer>),
        compile: CompileConfig,
        device: &Device,
    ) -> Result<(Trainer, CheckpointMetadata)> {
        let same_optimizer = std::mem::discriminant(&compile.optimizer) == std::mem::discriminant(&metadata.optimizer);
        let mut trainer = Trainer::new(model, compile, device)?;
        match optimizer {
            Some(state) if same_optimizer => trainer.set_optimizer(state),
            Some(_) => log::warn!(
                "the checkpoint's optimizer state is {:?}'s, the trainer compiles {:?}: it starts afresh",
                metadata.optimizer,
                trainer.compile.optimizer
            ),
            None => {}
        }
        trainer.set_class_names(metadata.class_names.clone());
        trainer.set_input_pipeline(metadata.input_pipeline);
        Ok((trainer, metadata))
    }

    /// Saves the model, its metadata (class names — empty: the training data's —, the input
    /// pipeline, the epochs trained) and the optimizer state, atomically: a checkpoint to
    /// resume from ([`Trainer::resume`]) or to load as a model ([`load_model`](crate::load_model)).
    pub fn save(&self, path: &Path, class_names: &[String], epochs_trained: usize) -> Result<()> {
        let metadata = self.checkpoint_metadata(class_names, epochs_trained);
        crate::save_checkpoint(path, self.model(), &metadata, Some(&self.optimizer))
    }
}
