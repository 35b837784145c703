//! The outputs of a run: the locked output folder, the evaluation report, history, plots and
//! checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator};
use transfer::{ClassifierHead, History, OutputLock, Trainer, plot_history, save_checkpoint};

use super::{CourseArgs, pixel_rescale};

/// `--output`, or `default`, created and locked for this run ([`writable_folder`]).
pub fn output_dir(args: &CourseArgs, default: &str) -> Result<(PathBuf, OutputLock)> {
    let output = args.output.clone().unwrap_or_else(|| PathBuf::from(default));
    let lock = writable_folder(&output)?;
    Ok((output, lock))
}

/// Makes `folder` if missing, checks that files can be written in it and takes its lock
/// ([`OutputLock`]: a second run on the same folder fails at once, naming the holder),
/// before any training: a run that could not save its results fails at once, naming the
/// folder. Keep the lock until the run ends.
pub fn writable_folder(folder: &Path) -> Result<OutputLock> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating the output folder {}", folder.display()))?;
    let probe = folder.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| format!("the output folder {} is not writable", folder.display()))?;
    std::fs::remove_file(&probe).with_context(|| format!("cleaning {}", probe.display()))?;
    Ok(OutputLock::acquire(folder)?)
}

/// After training: the model's predictions on the validation images (an unshuffled pass of
/// `data/validation` under the course's validation generator, rescale only; with `steps`
/// fewer than a pass, that many batches of a seeded shuffle, as `fit` validated), written as
/// `predictions.csv`, `metrics.json` and `confusion_matrix.png` into `output`, and
/// scikit-learn's report printed.
pub fn evaluate_folder(
    trainer: &Trainer,
    data: &Path,
    args: &CourseArgs,
    steps: Option<usize>,
    output: &Path,
) -> Result<()> {
    let class_mode = match trainer.model().head.outputs() {
        1 => ClassMode::Binary,
        _ => ClassMode::Categorical,
    };
    let (dir, batch_size) = (data.join("validation"), args.batch_size);
    let generator = ImageDataGenerator::rescale_only(pixel_rescale(args));
    let config =
        FlowConfig { target_size: trainer.model().input_size, batch_size, class_mode, ..FlowConfig::default() };
    let mut whole = DirectoryIterator::new(&dir, generator.clone(), FlowConfig { shuffle: false, ..config.clone() })?;
    match steps.filter(|&steps| steps < whole.batches_per_epoch()) {
        None => evaluate(trainer, &mut whole, output),
        Some(steps) => {
            println!(
                "The report covers {} of the {} validation images (--validation-steps).",
                (steps * batch_size).min(whole.samples()),
                whole.samples()
            );
            let mut sample = DirectoryIterator::new(&dir, generator, FlowConfig { shuffle: true, seed: 1, ..config })?;
            let predictions = trainer.predictions(&mut sample, Some(steps))?;
            write_evaluation(&predictions, output)
        }
    }
}

/// [`evaluate_folder`] on any source that serves each image once a pass, unaugmented.
pub fn evaluate(trainer: &Trainer, source: &mut dyn transfer::BatchSource, output: &Path) -> Result<()> {
    write_evaluation(&trainer.predictions(source, None)?, output)
}

/// Writes the evaluation files of `predictions` and prints the report.
fn write_evaluation(predictions: &transfer::Predictions, output: &Path) -> Result<()> {
    if let Some(report) = predictions.write_to(output)? {
        println!("\nClassification report on {} images:\n{report}", predictions.len());
    }
    println!("Wrote predictions.csv, metrics.json and confusion_matrix.png to {}.", output.display());
    Ok(())
}

/// Writes `history.csv` (a resumed run's epochs after the earlier ones, as
/// `CSVLogger(append=True)`), `accuracy.png`, `loss.png` and `model.safetensors` (with the
/// optimizer state) to `output`; returns the whole history.
pub fn write_outputs(
    output: &Path,
    trainer: &Trainer,
    new_epochs: History,
    class_names: &[String],
    epochs_trained_before: usize,
) -> Result<History> {
    let history_path = output.join("history.csv");
    let mut history = match epochs_trained_before > 0 && history_path.is_file() {
        true => History::read_csv(&history_path)?.up_to(epochs_trained_before),
        false => History::default(),
    };
    let epochs_run = new_epochs.epochs.len();
    history.epochs.extend(new_epochs.epochs);
    // The checkpoint first: a failed save leaves the old history beside the old checkpoint.
    let metadata = trainer.checkpoint_metadata(class_names, epochs_trained_before + epochs_run);
    save_checkpoint(&output.join("model.safetensors"), trainer.model(), &metadata, Some(trainer.optimizer()))?;
    history.write_csv(&history_path)?;
    plot_history(&history, output)?;
    println!("Wrote history.csv, accuracy.png, loss.png and model.safetensors to {}.", output.display());
    Ok(history)
}

/// The last epoch's figures.
pub fn print_final(history: &History, seconds: f64) {
    if let Some(last) = history.epochs.last() {
        println!(
            "Final: accuracy {:.4}, val_accuracy {:.4} (loss {:.4}, val_loss {:.4}) after epoch {} in {seconds:.0} s.",
            last.accuracy,
            last.val_accuracy.unwrap_or(f64::NAN),
            last.loss,
            last.val_loss.unwrap_or(f64::NAN),
            last.epoch + 1
        );
    }
}
