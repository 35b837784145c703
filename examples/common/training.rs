//! Keras' callbacks from the flags, and one training phase.

use anyhow::Result;
use transfer::{Callback, EarlyStopping, History, ReduceLROnPlateau, Trainer};

/// The Keras callbacks the flags ask for: `--early-stopping PATIENCE` (EarlyStopping on
/// `val_loss`, restoring the best weights) and `--reduce-lr-on-plateau`
/// (`ReduceLROnPlateau(factor=0.1, patience=2)`).
pub fn flag_callbacks(early_stopping: Option<usize>, reduce_lr_on_plateau: bool) -> Vec<Box<dyn Callback>> {
    let mut callbacks: Vec<Box<dyn Callback>> = Vec::new();
    if let Some(patience) = early_stopping {
        callbacks
            .push(Box::new(EarlyStopping::new("val_loss").patience(patience).restore_best_weights(true).verbose(1)));
    }
    if reduce_lr_on_plateau {
        callbacks.push(Box::new(ReduceLROnPlateau::new("val_loss").factor(0.1).patience(2).verbose(1)));
    }
    callbacks
}

/// The callbacks as `fit` takes them.
pub fn as_callbacks(boxed: &mut [Box<dyn Callback>]) -> Vec<&mut dyn Callback> {
    boxed.iter_mut().map(|c| &mut **c as &mut dyn Callback).collect()
}

/// One phase's `fit` on `image_dataset_from_directory` batches, with fresh
/// `--early-stopping` / `--reduce-lr-on-plateau` callbacks, as a tutorial passes its own to
/// each `fit` call.
pub fn fit_phase(
    trainer: &mut Trainer,
    train: &mut augment::ImageDataset,
    validation: &mut augment::ImageDataset,
    config: transfer::FitConfig,
    early_stopping: Option<usize>,
    reduce_lr_on_plateau: bool,
) -> Result<History> {
    let mut boxed = flag_callbacks(early_stopping, reduce_lr_on_plateau);
    Ok(trainer.fit(train, config, Some(validation), &mut as_callbacks(&mut boxed))?)
}
