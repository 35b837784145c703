//! Keras' `TerminateOnNaN`: stop as soon as a batch's loss is not a number.

use crate::callbacks::{Callback, Logs};
use crate::error::Result;
use crate::head::ClassifierHead;
use crate::trainer::Trainer;

/// Keras' `TerminateOnNaN()`: when a batch ends with a NaN or infinite `loss`, prints
/// `Batch N: Invalid loss, terminating training` and stops training (the epoch still ends
/// and is recorded, as in Keras).
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNaN;

impl<H: ClassifierHead> Callback<H> for TerminateOnNaN {
    fn on_train_batch_end(&mut self, batch: usize, logs: &Logs, trainer: &mut Trainer<H>) -> Result<()> {
        if logs.get("loss").is_some_and(|loss| !loss.is_finite()) {
            println!("Batch {batch}: Invalid loss, terminating training");
            trainer.request_stop();
        }
        Ok(())
    }
}
