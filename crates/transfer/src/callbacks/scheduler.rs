//! Keras' `LearningRateScheduler`: the learning rate of each epoch from a function.

use crate::callbacks::{Callback, Logs};
use crate::error::{Result, TransferError};
use crate::head::ClassifierHead;
use crate::trainer::Trainer;

/// Keras' `LearningRateScheduler(schedule, verbose=0)`: at the start of each epoch the
/// rate becomes `schedule(epoch, current_rate)`; `lr` is logged at its end.
///
/// ```
/// // Keras' documented example: keep the rate for 10 epochs, then decay it by e^-0.1.
/// let scheduler = transfer::LearningRateScheduler::new(|epoch, lr| if epoch < 10 { lr } else { lr * (-0.1f64).exp() });
/// ```
pub struct LearningRateScheduler<F> {
    schedule: F,
    verbose: u8,
}

impl<F: FnMut(usize, f64) -> f64> LearningRateScheduler<F> {
    /// Sets the rate from `schedule(epoch, lr)` before every epoch.
    pub fn new(schedule: F) -> Self {
        Self { schedule, verbose: 0 }
    }

    /// 1 prints each rate set.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
}

impl<H: ClassifierHead, F: FnMut(usize, f64) -> f64> Callback<H> for LearningRateScheduler<F> {
    fn logged(&self) -> Vec<String> {
        vec!["lr".into()]
    }

    fn on_epoch_begin(&mut self, epoch: usize, trainer: &mut Trainer<H>) -> Result<()> {
        let lr = (self.schedule)(epoch, trainer.learning_rate());
        if !lr.is_finite() || lr < 0.0 {
            return Err(TransferError::Config(format!(
                "the learning-rate schedule gave {lr} for epoch {epoch}: expected a finite rate >= 0"
            )));
        }
        trainer.set_learning_rate(lr)?;
        if self.verbose > 0 {
            println!("\nEpoch {}: LearningRateScheduler setting learning rate to {lr}.", epoch + 1);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &mut Logs, trainer: &mut Trainer<H>) -> Result<()> {
        logs.set("lr", trainer.learning_rate());
        Ok(())
    }
}
