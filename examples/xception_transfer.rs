//! The Keras developer guide "Transfer learning & fine-tuning" (keras.io/guides/transfer_learning)
//! line for line: `image_dataset_from_directory` at 150x150, batches of 32, shuffled;
//! RandomFlip("horizontal") + RandomRotation(0.1); `Rescaling(1/127.5, offset=-1)`; Xception
//! (ImageNet weights) frozen and called as `base(x, training=False)`; GlobalAveragePooling2D ->
//! Dropout(0.2) -> Dense(1) logits; `Adam()` with `BinaryCrossentropy(from_logits=True)` and
//! `BinaryAccuracy()`; then `base.trainable = True` with the batch norms still in inference
//! mode, `Adam(1e-5)`, and the test split's evaluation.
//!
//! ```text
//! cargo run --release --example xception_transfer -- --data data/PetImages \
//!     --weights weights/xception_weights_tf_dim_ordering_tf_kernels_notop.h5
//! cargo run --release --example xception_transfer -- --summary
//! ```
//! `--data` is a folder of class folders (the guide's cats_vs_dogs is Microsoft's PetImages:
//! `Cat/` and `Dog/`), split by Keras' `validation_split=0.2` (half of that validation, half
//! test), or a folder with `train/` and `validation/` (the test batches carved from
//! validation). PetImages holds files that are not valid images (tfds skips them): they are
//! skipped here too (`BadImages::Skip`), and counted.
//!
//! Accuracy: the guide compiles `BinaryAccuracy()`, whose threshold of 0.5 is applied to what
//! the model outputs, here logits: a sample counts as a dog when its logit exceeds 0.5 (a
//! probability of 0.62). The history reproduces that (`accuracy` columns); the test
//! evaluation prints it beside the usual accuracy (logit above 0, probability above 0.5).
//!
//! Writes `history.csv` (both phases), `accuracy.png` and `loss.png` (with the "Start Fine
//! Tuning" line) and `model.safetensors`. Without data or weights it says how to get them
//! and runs on a stand-in set and a random base whose batch norms are calibrated on a batch.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use augment::layers::{Augmentation, RandomFlip, RandomRotation};
use augment::{BadImages, ImageDataset, ImageDatasetConfig, Subset};
use backbone::cpu::host_values;
use clap::Parser;
use inception_transfer::backend::Backend;
use transfer::{
    BaseConfig, CompileConfig, FitConfig, HeadConfig, InputScaling, Trainer, TransferModel, TransferModelConfig,
    Verbosity, plot_history_marked, save_checkpoint,
};

const REAL_WEIGHTS: &str = "weights/xception_weights_tf_dim_ordering_tf_kernels_notop.h5";
const IMG_SIZE: [usize; 2] = [150, 150];

/// Microsoft's PetImages: what tfds' `cats_vs_dogs` reads.
const PET_IMAGES: common::Dataset = common::Dataset {
    folder: "data/PetImages",
    classes: ["Cat", "Dog"],
    description: "Microsoft's PetImages, 25,000 JPEGs in Cat/ and Dog/, 787 MB; a few are not valid images",
    fetch: &[
        "mkdir -p data && curl -L -o kagglecatsanddogs_5340.zip \\",
        "  https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip",
        "unzip -q kagglecatsanddogs_5340.zip -d data/   # makes data/PetImages/{Cat,Dog}",
    ],
};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "The Keras transfer-learning guide: Xception on cats vs dogs, then fine-tuning the whole base"
)]
struct Args {
    /// A folder of class folders (split 80/20 as Keras' validation_split), or one with
    /// train/ and validation/ (default: data/PetImages).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Keras Xception notop .h5 (default: weights/xception_weights_tf_dim_ordering_tf_kernels_notop.h5).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Epochs with the base frozen.
    #[arg(long, default_value_t = 20)]
    initial_epochs: usize,
    /// Epochs of fine-tuning the whole base after them.
    #[arg(long, default_value_t = 10)]
    fine_tune_epochs: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate (Keras' default; fine-tuning uses a hundredth of it, the guide's 1e-5).
    #[arg(long, default_value_t = 1e-3, value_parser = common::positive_finite)]
    learning_rate: f64,
    /// Seed of the split, shuffles, augmentation, dropout and the head.
    #[arg(long, default_value_t = 1337)]
    seed: u32,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long, default_value = "output/xception_transfer")]
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

fn dataset(dir: &Path, subset: Option<Subset>, args: &Args) -> Result<ImageDataset> {
    let config = ImageDatasetConfig {
        batch_size: args.batch_size,
        image_size: IMG_SIZE,
        seed: Some(args.seed),
        validation_split: subset.map(|_| 0.2),
        subset,
        bad_images: BadImages::Skip,
        ..ImageDatasetConfig::default()
    };
    augment::image_dataset_from_directory(dir, config).with_context(|| format!("reading {}", dir.display()))
}

/// Training and validation datasets from `--data` (or the stand-in), as the module doc says.
fn datasets(args: &Args) -> Result<(ImageDataset, ImageDataset)> {
    let folder = args.data.clone().unwrap_or_else(|| PathBuf::from(PET_IMAGES.folder));
    if folder.join("train").is_dir() && folder.join("validation").is_dir() {
        return Ok((dataset(&folder.join("train"), None, args)?, dataset(&folder.join("validation"), None, args)?));
    }
    if folder.is_dir() {
        println!("Splitting {} with validation_split=0.2 (seed {}).", folder.display(), args.seed);
        let train = dataset(&folder, Some(Subset::Training), args)?;
        return Ok((train, dataset(&folder, Some(Subset::Validation), args)?));
    }
    if args.data.is_some() {
        anyhow::bail!(
            "{}: no such folder (a folder of class folders, or one with train/ and validation/)",
            folder.display()
        );
    }
    let (standin, _) = common::data_folder(None, &PET_IMAGES, &args.output, [160, 64], args.seed as u64)?;
    Ok((dataset(&standin.join("train"), None, args)?, dataset(&standin.join("validation"), None, args)?))
}

/// The guide's `Rescaling(scale=1 / 127.5, offset=-1)`.
fn rescaling() -> InputScaling {
    InputScaling::Scale { scale: 1.0 / 127.5, offset: -1.0 }
}

/// The guide's model around a base (pretrained or calibrated), base frozen and called with
/// `training=False`.
fn guide_model(args: &Args, train: &mut ImageDataset, device: &burn::tensor::Device) -> Result<TransferModel> {
    let base = BaseConfig::for_transfer("xception")?.with_input_size(IMG_SIZE);
    let head = HeadConfig::global_average(1).with_dropout(0.2).with_seed(args.seed as u64);
    let config =
        TransferModelConfig::new(base.clone(), head).with_input_size(IMG_SIZE).with_input_scaling(Some(rescaling()));
    let weights = args.weights.clone().unwrap_or_else(|| PathBuf::from(REAL_WEIGHTS));
    let network = if weights.is_file() {
        println!("Base: Xception (Keras weights from {}), frozen.", weights.display());
        base.pretrained(&weights, device)?
    } else {
        if args.weights.is_some() {
            return Err(common::not_a_weight_file(&weights));
        }
        println!(
            "No weights at {REAL_WEIGHTS}: using a RANDOMLY INITIALISED base (batch norms calibrated on a batch)."
        );
        println!("  To get the official Keras weights (84 MB):");
        println!("    mkdir -p weights && curl -L -o {REAL_WEIGHTS} \\");
        println!("      {}", base.backbone()?.notop_weights().url);
        let batch = train.next_batch(device)?;
        base.init(device)?.calibrate_batch_norm(rescaling().apply(batch.images))?
    };
    Ok(config.init_with_base(network, device)?.with_base_training(false))
}

/// The guide's compile: `Adam(learning_rate)`, `BinaryCrossentropy(from_logits=True)`,
/// `BinaryAccuracy()` (on logits: see the module doc).
fn compile(learning_rate: f64) -> CompileConfig {
    CompileConfig::adam(learning_rate).with_keras_binary_accuracy_on_logits()
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

    // Data: the test batches carved from the validation side (the guide: 10% / 10%).
    let (train, validation_all) = datasets(&args)?;
    common::same_classes(train.class_names(), validation_all.class_names(), Path::new("the data folder"))?;
    common::two_classes(train.class_names(), args.data.as_deref().unwrap_or(Path::new("the stand-in data")))?;
    let augmentation = Augmentation::new().then(RandomFlip::new("horizontal")?).then(RandomRotation::new(0.1)?);
    let mut train = train.with_augmentation(augmentation);
    let val_batches = validation_all.len();
    let test_batches = val_batches / 2;
    println!("Number of training batches: {}", train.len());
    println!("Number of validation batches: {}", val_batches - test_batches);
    println!("Number of test batches: {test_batches}");
    let mut test = (test_batches > 0).then(|| validation_all.take(test_batches));
    let mut validation = validation_all.skip(test_batches);

    // The model, frozen, and its counts; then the fine-tuning counts.
    let model = guide_model(&args, &mut train, &device)?;
    println!("{}", model.summary()?);
    common::print_counts("Frozen base", &model)?;
    if args.summary {
        common::print_counts("base.trainable = True (batch norms in inference mode)", &model.unfreeze_base())?;
        return Ok(());
    }

    // Phase 1: Adam on the head.
    let mut trainer = Trainer::new(model, compile(args.learning_rate), &device)?;
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

    // Phase 2: `base.trainable = True`, still `base(x, training=False)`; Adam(1e-5).
    trainer.update_model(|model| Ok(model.unfreeze_base()))?;
    trainer.recompile(compile(args.learning_rate / 100.0))?;
    common::print_counts("base.trainable = True (batch norms in inference mode)", trainer.model())?;
    let fine_tune_start = history.epochs.len();
    let phase = FitConfig {
        epochs: fine_tune_start + args.fine_tune_epochs,
        initial_epoch: fine_tune_start,
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

    // Test: the guide's `model.evaluate(test_ds)`, and the accuracy at a probability of 0.5.
    if let Some(test) = test.as_mut() {
        let (loss, keras_accuracy) = trainer.evaluate(test, None)?;
        let (probabilities, targets) = trainer.predict_source(test, None)?;
        let (probabilities, targets) = (host_values(probabilities)?, host_values(targets)?);
        let hits = probabilities.iter().zip(&targets).filter(|(p, t)| (**p > 0.5) == (**t > 0.5)).count();
        println!(
            "Test loss {loss:.4}; binary_accuracy {keras_accuracy:.4} (Keras' BinaryAccuracy() on logits: logit > 0.5); \
             accuracy {:.4} (probability > 0.5)",
            hits as f64 / probabilities.len().max(1) as f64
        );
    }
    // The report on the test split (the validation batches where there is none).
    match test.as_mut() {
        Some(test) => common::evaluate(&trainer, test, &args.output)?,
        None => common::evaluate(&trainer, &mut validation, &args.output)?,
    }
    Ok(())
}
