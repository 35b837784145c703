//! Where an epoch of `fit` spends its time: what a user waits for, split into its parts.

use std::fmt;
use std::time::{Duration, Instant};

/// The wall time of one epoch of [`Trainer::fit`](crate::Trainer::fit) and its parts.
/// The parts are measured on the calling thread: on an asynchronous device (a GPU) work
/// queued in one part may finish in the next.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EpochTiming {
    /// The epoch (from 0).
    pub epoch: usize,
    /// Training steps run.
    pub steps: usize,
    /// Waiting for the next training batch (decoding and augmentation not done ahead).
    pub data_wait: Duration,
    /// The base's forward pass of the training steps (frozen part and trainable part).
    pub base_forward: Duration,
    /// The head's forward pass, the loss, the backward pass and the optimizer update.
    pub head_step: Duration,
    /// The validation pass, its data included.
    pub validation: Duration,
    /// The whole epoch, callbacks included.
    pub total: Duration,
}

impl EpochTiming {
    /// What the parts above do not cover (callbacks, metrics, progress bar).
    pub fn other(&self) -> Duration {
        self.total.saturating_sub(self.data_wait + self.base_forward + self.head_step + self.validation)
    }
}

impl fmt::Display for EpochTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |d: Duration| 100.0 * d.as_secs_f64() / self.total.as_secs_f64().max(1e-9);
        write!(
            f,
            "epoch {}: {:.2} s for {} steps = waiting for data {:.2} s ({:.0}%) + base forward {:.2} s ({:.0}%) \
             + head step {:.2} s ({:.0}%) + validation {:.2} s ({:.0}%) + other {:.2} s",
            self.epoch + 1,
            self.total.as_secs_f64(),
            self.steps,
            self.data_wait.as_secs_f64(),
            share(self.data_wait),
            self.base_forward.as_secs_f64(),
            share(self.base_forward),
            self.head_step.as_secs_f64(),
            share(self.head_step),
            self.validation.as_secs_f64(),
            share(self.validation),
            self.other().as_secs_f64()
        )
    }
}

/// Adds the time `work` takes to `total`.
pub(crate) fn timed<R>(total: &mut Duration, work: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let result = work();
    *total += start.elapsed();
    result
}
