//! TensorFlow's "Transfer learning and fine-tuning" tutorial, line for line: MobileNetV2
//! (ImageNet weights, 160x160) frozen under GlobalAveragePooling2D -> Dropout(0.2) ->
//! Dense(1) logits, `image_dataset_from_directory` batches of 32 with RandomFlip("horizontal")
//! and RandomRotation(0.2), `preprocess_input` in the model, Adam(1e-4) with
//! BinaryCrossentropy(from_logits=True); then fine-tuning: the base trainable from layer
//! `fine_tune_at = 100`, RMSprop(1e-5), `fit(initial_epoch=history.epoch[-1])`.
//!
//! ```text
//! cargo run --release --example mobilenet_v2_transfer -- --data data/cats_and_dogs_filtered \
//!     --weights weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5
//! cargo run --release --example mobilenet_v2_transfer -- --summary
//! ```
//! Writes `history.csv` (both phases), `accuracy.png` and `loss.png` (with the "Start Fine
//! Tuning" line), `model.safetensors`, then the test-split accuracy and a batch of
//! predictions. Without data or weights it says so and runs on a stand-in set and a random
//! base whose batch norms are calibrated on a batch.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use augment::layers::{Augmentation, RandomFlip, RandomRotation};
use augment::{ImageDataset, ImageDatasetConfig};
use clap::Parser;
use inception_transfer::backend::Backend;
use mobilenet::MobileNetV2Config;
use transfer::{
    BaseConfig, CompileConfig, FitConfig, HeadConfig, InputScaling, KerasRmsProp, Trainer, TransferModel,
    TransferModelConfig, Verbosity, plot_history_marked, save_checkpoint,
};

const REAL_WEIGHTS: &str = "weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5";
const IMG_SIZE: [usize; 2] = [160, 160];

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "The TF transfer-learning tutorial: MobileNetV2 on cats vs dogs, then fine-tuning"
)]
struct Args {
    /// Folder with train/{cats,dogs} and validation/{cats,dogs} (default: data/cats_and_dogs_filtered).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Keras MobileNetV2 notop .h5 (default: weights/mobilenet_v2_..._1.0_160_no_top.h5).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Epochs with the base frozen.
    #[arg(long, default_value_t = 10)]
    initial_epochs: usize,
    /// Epochs of fine-tuning after them.
    #[arg(long, default_value_t = 10)]
    fine_tune_epochs: usize,
    /// Base layers (Keras indices) that stay frozen while fine-tuning.
    #[arg(long, default_value_t = 100)]
    fine_tune_at: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate (fine-tuning uses a tenth of it with RMSprop).
    #[arg(long, default_value_t = 1e-4, value_parser = common::positive_finite)]
    learning_rate: f64,
    /// Seed of the file order, shuffles, augmentation, dropout and the head.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long, default_value = "output/mobilenet_v2_transfer")]
    output: PathBuf,
    /// flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long)]
    backend: Option<String>,
    /// Print the model summary and parameter counts of both phases, then exit.
    #[arg(long)]
    summary: bool,
    /// EarlyStopping on val_loss with this patience, restoring the best weights (each phase).
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    /// ReduceLROnPlateau(factor=0.1, patience=2) on val_loss (each phase).
    #[arg(long)]
    reduce_lr_on_plateau: bool,
    /// Keras' class_weight in both phases: `balanced` (scikit-learn's compute_class_weight)
    /// or `NAME=W,...` with a weight for every class folder.
    #[arg(long, value_parser = common::class_weight)]
    class_weight: Option<transfer::ClassWeight>,
}

fn dataset(dir: &Path, args: &Args) -> Result<ImageDataset> {
    let config = ImageDatasetConfig {
        batch_size: args.batch_size,
        image_size: IMG_SIZE,
        seed: Some(args.seed),
        ..ImageDatasetConfig::default()
    };
    augment::image_dataset_from_directory(dir, config).with_context(|| format!("reading {}", dir.display()))
}

/// The tutorial's model around a base (pretrained or calibrated), base frozen.
fn tutorial_model(args: &Args, train: &mut ImageDataset, device: &burn::tensor::Device) -> Result<TransferModel> {
    let base_config = MobileNetV2Config::new().with_input_size(IMG_SIZE);
    let config = TransferModelConfig::new(
        BaseConfig::from(base_config.clone()),
        HeadConfig::global_average(1).with_dropout(0.2).with_seed(args.seed as u64),
    )
    .with_input_size(IMG_SIZE)
    .with_input_scaling(Some(InputScaling::preprocess_input()));
    let weights = args.weights.clone().unwrap_or_else(|| PathBuf::from(REAL_WEIGHTS));
    let base = if weights.is_file() {
        println!("Base: MobileNetV2 1.00 (Keras weights from {}), frozen.", weights.display());
        config.base.pretrained(&weights, device)?
    } else {
        if args.weights.is_some() {
            return Err(common::not_a_weight_file(&weights));
        }
        println!(
            "No weights at {REAL_WEIGHTS}: using a RANDOMLY INITIALISED base (batch norms calibrated on a batch)."
        );
        println!("  To get the official Keras weights (9 MB):");
        println!("    mkdir -p weights && curl -L -o {REAL_WEIGHTS} \\");
        println!(
            "      https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"
        );
        let batch = train.next_batch(device)?;
        let images = InputScaling::preprocess_input().apply(batch.images);
        mobilenet::MobileNetV2Config::init(&base_config, device)?.calibrate_batch_norm(images)?.network
    };
    Ok(config.init_with_base(base, device)?)
}

fn main() -> Result<()> {
    common::show_warnings();
    // malloc keeps freed memory for reuse: a process-wide setting, so the program's choice.
    inception_transfer::prelude::keep_freed_memory();
    let args = Args::parse();
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    device.seed(args.seed as u64);
    let _lock = common::writable_folder(&args.output)?;
    println!("Backend: {backend}");

    // Data: train and validation folders, the test split carved from validation.
    let (data, _standin) =
        common::data_folder(args.data.as_deref(), &common::CATS_AND_DOGS, &args.output, [120, 120], args.seed as u64)?;
    let augmentation = Augmentation::new().then(RandomFlip::new("horizontal")?).then(RandomRotation::new(0.2)?);
    let mut train = dataset(&data.join("train"), &args)?.with_augmentation(augmentation);
    let validation_all = dataset(&data.join("validation"), &args)?;
    common::same_classes(train.class_names(), validation_all.class_names(), &data)?;
    common::two_classes(train.class_names(), &data.join("train"))?;
    let val_batches = validation_all.len();
    println!("Number of validation batches: {}", val_batches - val_batches / 5);
    println!("Number of test batches: {}", val_batches / 5);
    let mut test = (val_batches / 5 > 0).then(|| validation_all.take(val_batches / 5));
    let mut validation = if test.is_some() { validation_all.skip(val_batches / 5) } else { validation_all.skip(0) };
    if test.is_none() {
        println!("The validation set has {val_batches} batches: too few to carve a test split (needs 5).");
    }

    // The model, frozen, and its counts; then the fine-tuning counts.
    let model = tutorial_model(&args, &mut train, &device)?;
    println!("{}", model.summary()?);
    common::print_counts("Frozen base", &model)?;
    let fine_tune_at = args.fine_tune_at;
    println!("Number of layers in the base model: {}", model.architecture().len());
    if args.summary {
        let fine_tuned = model.unfreeze_base().freeze_first(fine_tune_at)?;
        common::print_counts(&format!("Fine-tuning from layer {fine_tune_at}"), &fine_tuned)?;
        return Ok(());
    }

    // Phase 1: Adam on the head.
    let mut trainer = Trainer::new(model, CompileConfig::adam(args.learning_rate), &device)?;
    let (loss0, accuracy0) = trainer.evaluate(&mut validation, None)?;
    println!("initial loss: {loss0:.2}\ninitial accuracy: {accuracy0:.2}");
    let started = Instant::now();
    let phase = FitConfig {
        epochs: args.initial_epochs,
        verbose: Verbosity::Auto,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };
    let mut history = common::fit_phase(
        &mut trainer,
        &mut train,
        &mut validation,
        phase,
        args.early_stopping,
        args.reduce_lr_on_plateau,
    )?;

    // Phase 2: the top of the base trainable, RMSprop at a tenth of the rate, the history
    // going on from the last epoch (`initial_epoch=history.epoch[-1]`, as the tutorial).
    trainer.update_model(|model| model.unfreeze_base().freeze_first(fine_tune_at))?;
    let fine_tune = CompileConfig {
        learning_rate: args.learning_rate / 10.0,
        optimizer: KerasRmsProp::default().into(),
        ..CompileConfig::adam(args.learning_rate)
    };
    trainer.recompile(fine_tune)?;
    common::print_counts(&format!("Fine-tuning from layer {fine_tune_at}"), trainer.model())?;
    let fine_tune_start = history.epochs.len();
    let last_epoch = history.epochs.last().map_or(0, |e| e.epoch);
    let phase = FitConfig {
        epochs: args.initial_epochs + args.fine_tune_epochs,
        initial_epoch: last_epoch,
        verbose: Verbosity::Auto,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };
    let fine = common::fit_phase(
        &mut trainer,
        &mut train,
        &mut validation,
        phase,
        args.early_stopping,
        args.reduce_lr_on_plateau,
    )?;
    history.epochs.extend(fine.epochs);
    let seconds = started.elapsed().as_secs_f64();

    // The checkpoint first: a failed save leaves no new history beside the old checkpoint.
    let metadata = trainer.checkpoint_metadata(train.class_names(), history.epochs.len());
    save_checkpoint(&args.output.join("model.safetensors"), trainer.model(), &metadata, Some(trainer.optimizer()))?;
    history.write_csv(&args.output.join("history.csv"))?;
    plot_history_marked(&history, &args.output, Some(fine_tune_start.saturating_sub(1)))?;
    println!(
        "Trained {} epochs in {seconds:.0} s; wrote history.csv, accuracy.png, loss.png and model.safetensors to {}.",
        history.epochs.len(),
        args.output.display()
    );

    // Test accuracy and a batch of predictions (sigmoid of the logits, 0.5 as the tutorial).
    if let Some(test) = test.as_mut() {
        let (loss, accuracy) = trainer.evaluate(test, None)?;
        println!("Test accuracy : {accuracy:.4} (loss {loss:.4})");
    }
    // The report on the test split (the validation batches where there is none).
    match test.as_mut() {
        Some(test) => common::evaluate(&trainer, test, &args.output)?,
        None => common::evaluate(&trainer, &mut validation, &args.output)?,
    }
    Ok(())
}
