//! The course's Exercise 7: the notebook's recipe (InceptionV3 cut at `mixed7` and frozen,
//! the course head and augmentation, RMSprop(1e-4), 150x150) trained on horses or humans,
//! with the exercise's callback that stops training once accuracy passes a target:
//!
//! ```python
//! class myCallback(tf.keras.callbacks.Callback):
//!     def on_epoch_end(self, epoch, logs={}):
//!         if logs.get('accuracy') > 0.97:
//!             print("\nReached 97.0% accuracy so cancelling training!")
//!             self.model.stop_training = True
//! ```
//!
//! ```text
//! cargo run --release --example horses_or_humans -- --data data/horse-or-human \
//!     --weights weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 \
//!     [--epochs 100] [--target-accuracy 0.97] [--monitor accuracy|val_accuracy]
//! ```
//! The data folder holds `train/{horses,humans}` and `validation/{horses,humans}`, as the
//! exercise unpacks its two zips; without it a stand-in is generated and the download is
//! printed. History, plots and checkpoint are written for the epochs actually run.

mod common;

use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use common::{CourseArgs, Dataset};
use transfer::{Callback, FitConfig, Logs, Trainer, Verbosity, callbacks::on_epoch_end};

const HORSES_OR_HUMANS: Dataset = Dataset {
    folder: "data/horse-or-human",
    classes: ["horses", "humans"],
    description: "1,027 training / 256 validation PNGs, about 150 MB",
    fetch: &[
        "curl -LO https://storage.googleapis.com/tensorflow-1-public/course2/week3/horse-or-human.zip",
        "curl -LO https://storage.googleapis.com/tensorflow-1-public/course2/week3/validation-horse-or-human.zip",
        "unzip -q horse-or-human.zip -d data/horse-or-human/train",
        "unzip -q validation-horse-or-human.zip -d data/horse-or-human/validation",
    ],
};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "Exercise 7: InceptionV3 transfer learning on horses or humans, stopping at a target accuracy"
)]
struct Args {
    #[command(flatten)]
    course: CourseArgs,
    /// Stop at the end of the first epoch whose monitored accuracy exceeds this.
    #[arg(long, default_value_t = 0.97, value_parser = fraction)]
    target_accuracy: f64,
    /// The figure compared with the target.
    #[arg(long, default_value = "accuracy", value_parser = ["accuracy", "val_accuracy"])]
    monitor: String,
}

/// A `--target-accuracy`: a number in [0, 1].
fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        Ok(value) => Err(format!("{value} is not an accuracy between 0 and 1")),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> Result<()> {
    common::show_warnings();
    // malloc keeps freed memory for reuse: a process-wide setting, so the program's choice.
    inception_transfer::prelude::keep_freed_memory();
    // The frozen base's job: one heap for all threads holds less memory at the same speed.
    inception_transfer::prelude::use_one_heap();
    let Args { course: args, target_accuracy, monitor } = Args::parse();
    let (output, _lock) = common::output_dir(&args, "output/horses_or_humans")?;
    let device = common::device(&args)?;

    let (data, _standin) = common::data_folder(args.data.as_deref(), &HORSES_OR_HUMANS, &output, [100, 50], args.seed)?;
    let (mut train, mut validation) = common::course_flows(&data, &args)?;
    let start = common::course_model(&args, &data, &device)?;
    println!("{}", start.model.summary()?);
    if args.summary {
        return Ok(());
    }

    let (mut trainer, epochs_trained) = common::course_trainer(start, &args, &device)?;
    // The exercise: up to 100 epochs, each one pass over the data, one line per epoch.
    let fit = FitConfig {
        epochs: epochs_trained + args.epochs.unwrap_or(100),
        initial_epoch: epochs_trained,
        steps_per_epoch: args.steps_per_epoch,
        validation_steps: args.validation_steps,
        verbose: Verbosity::OneLinePerEpoch,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };

    // The exercise's callback, as a closure.
    let mut stop_at_target = on_epoch_end(|_epoch, logs: &Logs, trainer: &mut Trainer| {
        if logs.get(&monitor).is_some_and(|accuracy| accuracy > target_accuracy) {
            println!("\nReached {:.1}% accuracy so cancelling training!", target_accuracy * 100.0);
            trainer.request_stop();
        }
        Ok(())
    });
    let mut flag_callbacks = common::flag_callbacks(args.early_stopping, args.reduce_lr_on_plateau);
    let mut callbacks: Vec<&mut dyn Callback> = vec![&mut stop_at_target];
    callbacks.extend(common::as_callbacks(&mut flag_callbacks));
    let started = Instant::now();
    let new_epochs = trainer.fit(&mut train, fit, Some(&mut validation), &mut callbacks)?;
    let seconds = started.elapsed().as_secs_f64();

    let history = common::write_outputs(&output, &trainer, new_epochs, train.class_names(), epochs_trained)?;
    common::print_final(&history, seconds);
    if args.timing {
        trainer.epoch_timings().iter().for_each(|timing| println!("{timing}"));
    }
    common::evaluate_folder(&trainer, &data, &args, args.validation_steps, &output)
}
