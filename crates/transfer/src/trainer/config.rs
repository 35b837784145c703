//! Keras' `compile` and `fit` arguments, and what a step measures.

use burn::config::Config;

use crate::callbacks::Verbosity;
use crate::class_weight::ClassWeight;
use crate::error::Result;
use crate::loss::Loss;
use crate::optim::KerasOptimizer;

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
    /// the guide's. [`Trainer::evaluate`](crate::Trainer::evaluate) with the default threshold gives the usual one.
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
    /// End `fit` with [`TransferError::NonFiniteLoss`](crate::TransferError::NonFiniteLoss) as soon as a batch's loss is NaN or
    /// infinite, and with [`TransferError::NonFiniteValidationLoss`](crate::TransferError::NonFiniteValidationLoss) when an epoch's
    /// validation loss is, before the epoch's callbacks (the default: what Keras'
    /// `TerminateOnNaN` does, as an error, so no later checkpoint is written from diverged
    /// weights). `false` trains on, as Keras without it.
    #[config(default = true)]
    pub stop_on_non_finite_loss: bool,
    /// Memory for the frozen base's features of validation samples, kept across epochs
    /// (MiB; 0: none). With the whole base frozen and a validation source that does not
    /// augment ([`BatchSource::as_repeatable`](crate::BatchSource::as_repeatable): a folder under a generator that only
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
