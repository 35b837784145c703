//! keras.io's "Image classification via fine-tuning with EfficientNet" line for line, on a
//! folder of class folders (Stanford Dogs' layout; any number of classes): images resized to
//! 224x224 (TF's bilinear resize), batches of 64, one-hot labels; `RandomRotation(0.15)`,
//! `RandomTranslation(0.1, 0.1)`, `RandomFlip()`, `RandomContrast(0.1)`; EfficientNetB0 with
//! ImageNet weights (raw 0..255 pixels: the model rescales and normalises inside), frozen;
//! a head of GlobalAveragePooling2D -> a trainable BatchNormalization -> Dropout(0.2) ->
//! Dense(classes, softmax); `Adam(1e-2)` with categorical cross-entropy for `--epochs`; then
//! "the top 20 layers while leaving BatchNorm layers frozen" trainable, `Adam(1e-5)` for
//! `--fine-tune-epochs`.
//!
//! ```text
//! cargo run --release --example efficientnet_fine_tuning -- --data data/StanfordDogs/Images \
//!     --weights weights/efficientnetb0_notop.h5
//! cargo run --release --example efficientnet_fine_tuning -- --summary
//! cargo run --release --example efficientnet_fine_tuning -- --model efficientnet_b3 --data DIR --weights W
//! ```
//! `--data` is a folder of class folders, split by Keras' `validation_split=0.2`, or a folder
//! with `train/` and `test/` (or `validation/`) holding the class folders. `--model` picks
//! another member (`efficientnet_b0` .. `efficientnet_b7`), each at its own resolution unless
//! `--image-size` says otherwise.
//!
//! Writes `history.csv` (both phases), `accuracy.png` and `loss.png` (with the "Start Fine
//! Tuning" line) and `model.safetensors`. Without data or weights it says how to get them
//! and runs on a two-class stand-in set and a random base whose batch norms are calibrated
//! on a batch.
//!
//! As in Keras, the base's drop-connect layers (`*_drop`) drop in every training step, frozen
//! or not (Keras' `trainable = False` does not turn a `Dropout` off inside `fit`); validation
//! and prediction run without them.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use augment::layers::{Augmentation, RandomContrast, RandomFlip, RandomRotation, RandomTranslation};
use augment::{BadImages, ImageDataset, ImageDatasetConfig, LabelMode, Subset};
use clap::Parser;
use inception_transfer::backend::Backend;
use transfer::{
    BaseConfig, BatchNorms, CompileConfig, FitConfig, HeadConfig, Loss, Trainer, TransferModel, TransferModelConfig,
    Verbosity, plot_history_marked, save_checkpoint,
};

/// Stanford Dogs, as keras.io's example reads it through tfds.
const STANFORD_DOGS: common::Dataset = common::Dataset {
    folder: "data/StanfordDogs/Images",
    classes: ["n02085620-Chihuahua", "n02085782-Japanese_spaniel"],
    description: "Stanford Dogs, 20,580 JPEGs of 120 breeds in class folders, 757 MB",
    fetch: &[
        "mkdir -p data/StanfordDogs && curl -L http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar \\",
        "  | tar -x -C data/StanfordDogs   # makes data/StanfordDogs/Images/<breed>/*.jpg",
    ],
};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "keras.io's EfficientNet fine-tuning: EfficientNetB0 frozen under a new head, then its top 20 layers"
)]
struct Args {
    /// A folder of class folders (split 80/20 as Keras' validation_split), or one with
    /// train/ and test/ (or validation/) (default: data/StanfordDogs/Images).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Keras notop .h5 of the member (default: weights/efficientnetb0_notop.h5, or the
    /// `--model`'s).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// efficientnet_b0 .. efficientnet_b7.
    #[arg(long, default_value = "efficientnet_b0")]
    model: String,
    /// Square input size (default: the member's resolution, 224 for B0).
    #[arg(long)]
    image_size: Option<usize>,
    /// Epochs with the base frozen (keras.io: 25).
    #[arg(long, default_value_t = 25)]
    epochs: usize,
    /// Epochs after unfreezing the top 20 layers but the batch norms (keras.io: 4).
    #[arg(long, default_value_t = 4)]
    fine_tune_epochs: usize,
    /// Layers counted from the end of the model that fine-tuning unfreezes, batch norms kept frozen.
    #[arg(long, default_value_t = 20)]
    unfreeze_last: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate of the first phase (keras.io: 1e-2; fine-tuning uses 1e-5).
    #[arg(long, default_value_t = 1e-2, value_parser = common::positive_finite)]
    learning_rate: f64,
    /// Adam's learning rate of fine-tuning.
    #[arg(long, default_value_t = 1e-5, value_parser = common::positive_finite)]
    fine_tune_learning_rate: f64,
    /// Seed of the split, shuffles, augmentation, dropout and the head.
    #[arg(long, default_value_t = 1337)]
    seed: u32,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long, default_value = "output/efficientnet_fine_tuning")]
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

fn dataset(dir: &Path, subset: Option<Subset>, size: usize, args: &Args) -> Result<ImageDataset> {
    let config = ImageDatasetConfig {
        batch_size: args.batch_size,
        image_size: [size, size],
        label_mode: LabelMode::Categorical,
        seed: Some(args.seed),
        validation_split: subset.map(|_| 0.2),
        subset,
        bad_images: BadImages::Skip,
        ..ImageDatasetConfig::default()
    };
    augment::image_dataset_from_directory(dir, config).with_context(|| format!("reading {}", dir.display()))
}

/// Training and validation datasets from `--data` (or the stand-in), as the module doc says.
fn datasets(args: &Args, size: usize) -> Result<(ImageDataset, ImageDataset)> {
    let folder = args.data.clone().unwrap_or_else(|| PathBuf::from(STANFORD_DOGS.folder));
    let held_out = ["test", "validation"].into_iter().map(|name| folder.join(name)).find(|dir| dir.is_dir());
    if let (true, Some(held_out)) = (folder.join("train").is_dir(), held_out) {
        return Ok((dataset(&folder.join("train"), None, size, args)?, dataset(&held_out, None, size, args)?));
    }
    if folder.is_dir() {
        println!("Splitting {} with validation_split=0.2 (seed {}).", folder.display(), args.seed);
        let train = dataset(&folder, Some(Subset::Training), size, args)?;
        return Ok((train, dataset(&folder, Some(Subset::Validation), size, args)?));
    }
    if args.data.is_some() {
        anyhow::bail!("{}: no such folder (a folder of class folders, or one with train/ and test/)", folder.display());
    }
    let (standin, _) = common::data_folder(None, &STANFORD_DOGS, &args.output, [96, 32], args.seed as u64)?;
    Ok((dataset(&standin.join("train"), None, size, args)?, dataset(&standin.join("validation"), None, size, args)?))
}

/// keras.io's `build_model`: the member frozen under GlobalAveragePooling2D -> a trainable
/// BatchNormalization -> Dropout(0.2) -> Dense(classes, softmax).
fn build_model(
    args: &Args,
    classes: usize,
    size: usize,
    train: &mut ImageDataset,
    device: &burn::tensor::Device,
) -> Result<TransferModel> {
    let base = BaseConfig::for_transfer(&args.model)?.with_input_size([size, size]);
    let backbone = base.backbone()?;
    let head = HeadConfig::global_average(classes).with_batch_norm(true).with_dropout(0.2).with_seed(args.seed as u64);
    let config = TransferModelConfig::new(base.clone(), head).with_input_size([size, size]);
    let official = backbone.notop_weights();
    let default_weights = PathBuf::from("weights").join(official.file);
    let weights = args.weights.clone().unwrap_or_else(|| default_weights.clone());
    let network = if weights.is_file() {
        println!("Base: {} (Keras weights from {}), frozen.", backbone.title(), weights.display());
        base.pretrained(&weights, device)?
    } else {
        if args.weights.is_some() {
            return Err(common::not_a_weight_file(&weights));
        }
        println!(
            "No weights at {}: using a RANDOMLY INITIALISED base (batch norms calibrated on a batch).",
            default_weights.display()
        );
        println!("  To get the official Keras weights:");
        println!("    mkdir -p weights && curl -L -o {} \\", default_weights.display());
        println!("      {}", official.url);
        let batch = train.next_batch(device)?;
        base.init(device)?.calibrate_batch_norm(batch.images)?
    };
    Ok(config.init_with_base(network, device)?)
}

/// keras.io's compile: `Adam(learning_rate)` with categorical cross-entropy and accuracy.
fn compile(learning_rate: f64) -> CompileConfig {
    CompileConfig { loss: Loss::CategoricalCrossentropy, ..CompileConfig::adam(learning_rate) }
}

fn main() -> Result<()> {
    common::show_warnings();
    inception_transfer::prelude::keep_freed_memory();
    let args = Args::parse();
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    device.seed(args.seed as u64);
    let _lock = common::writable_folder(&args.output)?;
    println!("Backend: {backend}");
    let base = BaseConfig::for_transfer(&args.model)?;
    let size = args.image_size.unwrap_or(base.backbone()?.default_input()[0]);

    // Data: one-hot labels, keras.io's four augmentation layers on the training batches.
    let (train, mut validation) = datasets(&args, size)?;
    common::same_classes(train.class_names(), validation.class_names(), Path::new("the data folder"))?;
    let classes = train.class_names().len();
    let augmentation = Augmentation::new()
        .then(RandomRotation::new(0.15)?)
        .then(RandomTranslation::new(0.1, 0.1)?)
        .then(RandomFlip::new("horizontal_and_vertical")?)
        .then(RandomContrast::new(0.1)?);
    let mut train = train.with_augmentation(augmentation);
    println!("{} classes; {} training and {} validation batches.", classes, train.len(), validation.len());

    // The model, frozen, and its counts; then the fine-tuning counts.
    let model = build_model(&args, classes, size, &mut train, &device)?;
    println!("{}", model.summary()?);
    common::print_counts("Frozen base", &model)?;
    let fine_tune_label = format!("Top {} layers but batch norms trainable", args.unfreeze_last);
    if args.summary {
        common::print_counts(&fine_tune_label, &model.unfreeze_last(args.unfreeze_last, BatchNorms::KeepFrozen))?;
        return Ok(());
    }

    // Phase 1: Adam(1e-2) on the head.
    let mut trainer = Trainer::new(model, compile(args.learning_rate), &device)?;
    let started = Instant::now();
    let phase = FitConfig {
        epochs: args.epochs,
        verbose: Verbosity::Auto,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };
    let (early_stopping, reduce_lr) = (args.early_stopping, args.reduce_lr_on_plateau);
    let mut history = common::fit_phase(&mut trainer, &mut train, &mut validation, phase, early_stopping, reduce_lr)?;

    // Phase 2: `unfreeze_model`: the top 20 layers but the batch norms; Adam(1e-5).
    trainer.update_model(|model| Ok(model.unfreeze_last(args.unfreeze_last, BatchNorms::KeepFrozen)))?;
    trainer.recompile(compile(args.fine_tune_learning_rate))?;
    common::print_counts(&fine_tune_label, trainer.model())?;
    let fine_tune_start = history.epochs.len();
    let phase = FitConfig {
        epochs: fine_tune_start + args.fine_tune_epochs,
        initial_epoch: fine_tune_start,
        verbose: Verbosity::Auto,
        class_weight: args.class_weight.clone(),
        ..FitConfig::default()
    };
    let fine = common::fit_phase(&mut trainer, &mut train, &mut validation, phase, early_stopping, reduce_lr)?;
    history.epochs.extend(fine.epochs);
    let seconds = started.elapsed().as_secs_f64();

    // The checkpoint first: a failed save leaves no new history beside the old checkpoint.
    let metadata = trainer.checkpoint_metadata(train.class_names(), history.epochs.len());
    save_checkpoint(&args.output.join("model.safetensors"), trainer.model(), &metadata, Some(trainer.optimizer()))?;
    history.write_csv(&args.output.join("history.csv"))?;
    plot_history_marked(&history, &args.output, Some(fine_tune_start.saturating_sub(1)))?;
    common::print_final(&history, seconds);
    println!("Wrote history.csv, accuracy.png, loss.png and model.safetensors to {}.", args.output.display());
    common::evaluate(&trainer, &mut validation, &args.output)
}
