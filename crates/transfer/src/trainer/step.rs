//! One training step: routing the batch through the frozen part of the base, checking it
//! against the model and the loss, the head's forward and backward pass, the update.

use std::time::{Duration, Instant};

use backbone::FrozenBase;
use backbone::cpu::{host_values, is_host_device};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use super::{StepMetrics, Trainer};
use crate::data::Inputs;
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::model::TransferModel;
use crate::optim::factored::FactoredGradient;
use crate::timing::timed;

impl<H: ClassifierHead> Trainer<H> {
    /// Base features of a batch. The frozen part of the base (all of it, or the blocks before
    /// the first trainable one) runs as plain inference (packed for the CPU on host devices,
    /// no autodiff record at all); its output joins the graph for the trainable blocks and
    /// the head.
    pub(super) fn features(&mut self, inputs: Inputs) -> Result<Tensor<4>> {
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
    pub(super) fn check_batch(&self, inputs: &Inputs, targets: &Tensor<2>) -> Result<()> {
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
    pub(super) fn head_gradients(
        &self,
        model: &mut TransferModel<H>,
        features: Tensor<4>,
        targets: Tensor<2>,
        sample_weight: Option<&[f32]>,
    ) -> Result<(StepMetrics, GradientsParams)> {
        // The features need no gradient when the whole base is frozen: only then may the
        // first kernel's product leave the graph.
        let apart = is_host_device(&self.device) && model.base_fully_frozen();
        let builtin = if apart { model.head.as_builtin_mut() } else { None };
        let (logits, kernel_apart) = match builtin {
            Some(head) => head.forward_kernel_apart(features)?,
            None => (model.head.forward(features), None),
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

    /// Loss and accuracy of a batch's logits (on the plain device) against its targets.
    pub(crate) fn score(&self, logits: Tensor<2>, targets: Tensor<2>, images: usize) -> StepMetrics {
        let targets = targets.without_autodiff().to_device(&self.device);
        let correct = self.compile.loss.correct(logits.clone(), targets.clone(), self.compile.accuracy_threshold);
        let loss = self.compile.loss.forward(logits, targets).into_scalar::<f32>() as f64;
        StepMetrics { loss, correct, images }
    }
}

/// Checks Keras' `sample_weight` of a batch of `samples`: one finite weight >= 0 each.
pub(super) fn check_sample_weights(weights: &[f32], samples: usize) -> Result<()> {
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
pub(super) fn drop_seed(device: &Device) -> u64 {
    let draws = Tensor::<1>::random([2], burn::tensor::Distribution::Uniform(0.0, 16_777_216.0), device);
    let values = draws.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    values.iter().fold(0u64, |seed, &v| (seed << 24) ^ v as u64)
}
