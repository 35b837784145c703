//! The course notebook, line for line: InceptionV3 (ImageNet weights) cut at `mixed7` and
//! frozen, Flatten -> Dense(1024, relu) -> Dropout(0.2) -> Dense(1, sigmoid), RMSprop(1e-4),
//! ImageDataGenerator augmentation, cats vs dogs at 150x150.
//!
//! ```text
//! cargo run --release --example cats_vs_dogs
//! cargo run --release --example cats_vs_dogs -- --data data/cats_and_dogs_filtered \
//!     --weights weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5
//! ```
//! Without data or weights it runs the whole recipe on a generated stand-in image set and a
//! randomly initialised base, says so, and prints how to get the real ones. It writes
//! `history.csv`, `accuracy.png`, `loss.png` and `model.safetensors` to `--output`, then
//! shows predictions for a few validation images. `--early-stopping PATIENCE` and
//! `--reduce-lr-on-plateau` add Keras' callbacks on `val_loss`.

mod common;

use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use common::{CATS_AND_DOGS, CourseArgs};
use transfer::{FitConfig, Verbosity};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "Transfer learning with InceptionV3 on cats vs dogs, as the Keras course does it"
)]
struct Args {
    #[command(flatten)]
    course: CourseArgs,
}

fn main() -> Result<()> {
    common::show_warnings();
    // malloc keeps freed memory for reuse: a process-wide setting, so the program's choice.
    inception_transfer::prelude::keep_freed_memory();
    // The frozen base's job: one heap for all threads holds less memory at the same speed.
    inception_transfer::prelude::use_one_heap();
    let args = Args::parse().course;
    let (output, _lock) = common::output_dir(&args, "output/cats_vs_dogs")?;
    let device = common::device(&args)?;

    // Data, as the course: augmentation for training, rescale only for validation.
    let (data, standin) = common::data_folder(args.data.as_deref(), &CATS_AND_DOGS, &output, [100, 50], args.seed)?;
    let (mut train, mut validation) = common::course_flows(&data, &args)?;

    // The model: pretrained base cut at mixed7, frozen, course head.
    let start = common::course_model(&args, &data, &device)?;
    println!("{}", start.model.summary()?);
    if args.summary {
        return Ok(());
    }

    // compile + fit, with the course's schedule (a short one on the stand-in set).
    let (mut trainer, epochs_trained) = common::course_trainer(start, &args, &device)?;
    let (epochs, steps, validation_steps) = match standin {
        false => (args.epochs.unwrap_or(20), args.steps_per_epoch.unwrap_or(100), args.validation_steps.unwrap_or(50)),
        true => (
            args.epochs.unwrap_or(2),
            args.steps_per_epoch.unwrap_or(train.batches_per_epoch()),
            args.validation_steps.unwrap_or(validation.batches_per_epoch()),
        ),
    };
    if standin {
        println!(
            "Stand-in data: {epochs} epochs of {steps} steps (the course's 20 x 100 needs the real data; pass --epochs etc. to override)."
        );
    }
    // A resumed run goes on from the epochs already trained (Keras `initial_epoch`).
    let fit = FitConfig {
        epochs: epochs_trained + epochs,
        initial_epoch: epochs_trained,
        steps_per_epoch: Some(steps),
        validation_steps: Some(validation_steps),
        verbose: Verbosity::Auto,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };
    let mut flag_callbacks = common::flag_callbacks(args.early_stopping, args.reduce_lr_on_plateau);
    let mut callbacks = common::as_callbacks(&mut flag_callbacks);
    let started = Instant::now();
    let new_epochs = trainer.fit(&mut train, fit, Some(&mut validation), &mut callbacks)?;
    let seconds = started.elapsed().as_secs_f64();

    let history = common::write_outputs(&output, &trainer, new_epochs, train.class_names(), epochs_trained)?;
    common::print_final(&history, seconds);
    if args.timing {
        trainer.epoch_timings().iter().for_each(|timing| println!("{timing}"));
    }
    common::evaluate_folder(&trainer, &data, &args, Some(validation_steps), &output)
}
