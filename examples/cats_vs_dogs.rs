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
//! shows predictions for a few validation images.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator, ImageDataGeneratorConfig};
use clap::Parser;
use inception::{InceptionV3, InceptionV3Config, LayerName};
use inception_transfer::backend::Backend;
use transfer::{
    CheckpointMetadata, CompileConfig, FitConfig, History, Trainer, TransferModelConfig, load_checkpoint, plot_history,
    predict_files, save_checkpoint,
};

const REAL_DATA: &str = "data/cats_and_dogs_filtered";
const REAL_WEIGHTS: &str = "weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5";

#[derive(Parser)]
#[command(about = "Transfer learning with InceptionV3 on cats vs dogs, as the Keras course does it")]
struct Args {
    /// Folder with train/{cats,dogs} and validation/{cats,dogs} (default: data/cats_and_dogs_filtered).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Base weights: Keras notop .h5, torchvision .pth/.safetensors, this crate's safetensors,
    /// or a checkpoint of this example to resume (default: weights/inception_v3_..._notop.h5).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// flex, ndarray or wgpu (each needs its cargo feature).
    #[arg(long)]
    backend: Option<String>,
    /// Epochs (course: 20).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training steps per epoch (course: 100).
    #[arg(long)]
    steps_per_epoch: Option<usize>,
    /// Validation steps per epoch (course: 50).
    #[arg(long)]
    validation_steps: Option<usize>,
    /// Images per batch (course: 20).
    #[arg(long, default_value_t = 20)]
    batch_size: usize,
    /// Seed of shuffling, augmentation and the head's initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long, default_value = "output/cats_vs_dogs")]
    output: PathBuf,
    /// Print the model summary and exit.
    #[arg(long)]
    summary: bool,
    /// Learning rate of RMSprop (course: 1e-4).
    #[arg(long, default_value_t = 1e-4)]
    learning_rate: f64,
}

/// The data folder to use, or a freshly generated stand-in.
fn data_folder(args: &Args) -> Result<(PathBuf, bool)> {
    let chosen = args.data.clone().unwrap_or_else(|| PathBuf::from(REAL_DATA));
    if chosen.join("train").is_dir() && chosen.join("validation").is_dir() {
        return Ok((chosen, false));
    }
    if args.data.is_some() {
        anyhow::bail!(
            "{}: expected train/ and validation/ sub-folders (cats_and_dogs_filtered layout)",
            chosen.display()
        );
    }
    let standin = args.output.join("standin_data");
    println!(
        "No dataset at {REAL_DATA}: generating a stand-in image set in {} (not cats and dogs!).",
        standin.display()
    );
    println!("  To get the real one (2000 training / 1000 validation JPEGs, 68 MB):");
    println!("    mkdir -p data && curl -LO https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip");
    println!("    unzip -q cats_and_dogs_filtered.zip -d data/");
    augment::write_standin_dataset(&standin, 100, 50, args.seed)?;
    Ok((standin, true))
}

fn flow(dir: &Path, generator: ImageDataGenerator, args: &Args, seed: u64) -> Result<DirectoryIterator> {
    let config = FlowConfig {
        target_size: [150, 150],
        batch_size: args.batch_size,
        class_mode: ClassMode::Binary,
        seed,
        ..FlowConfig::default()
    };
    let it = DirectoryIterator::new(dir, generator, config)?;
    println!("{}", it.found_message());
    Ok(it)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    device.seed(args.seed); // dropout masks
    std::fs::create_dir_all(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    println!("Backend: {backend}");

    // Data, as the course: augmentation for training, rescale only for validation.
    let (data, standin) = data_folder(&args)?;
    let course_augmentation = ImageDataGeneratorConfig::course().build()?;
    let mut train = flow(&data.join("train"), course_augmentation, &args, args.seed)?;
    let mut validation =
        flow(&data.join("validation"), ImageDataGenerator::rescale_only(1.0 / 255.0), &args, args.seed + 1)?;

    // The model: pretrained base cut at mixed7, frozen, course head.
    let mut config = TransferModelConfig::course();
    config.head.seed = args.seed;
    let weights = args.weights.clone().unwrap_or_else(|| PathBuf::from(REAL_WEIGHTS));
    let mut optimizer_state = None;
    let (model, resumed) = if weights.is_file() {
        if let Ok((model, metadata, optimizer)) = load_checkpoint(&weights, &device) {
            println!("Resuming from checkpoint {} ({} epochs trained).", weights.display(), metadata.epochs_trained);
            optimizer_state = optimizer;
            (model, metadata.epochs_trained)
        } else {
            let flavor = inception::weights::detect_flavor(&weights)?;
            let base_config = InceptionV3Config::new(flavor).with_cut(LayerName::Mixed7);
            let base = InceptionV3::pretrained(&base_config, &weights, &device)?;
            println!(
                "Base: InceptionV3 ({} weights from {}), cut at mixed7, frozen.",
                flavor.name(),
                weights.display()
            );
            config.base = base_config.into();
            (config.init_with_base(base, &device)?, 0)
        }
    } else {
        if args.weights.is_some() {
            anyhow::bail!("{}: no such weight file", weights.display());
        }
        println!(
            "No weights at {REAL_WEIGHTS}: using a RANDOMLY INITIALISED base (batch norms calibrated on a batch)."
        );
        println!("  Accuracy will be far below the course's. To get the official Keras weights (88 MB):");
        println!("    mkdir -p weights && curl -L -o {REAL_WEIGHTS} \\");
        println!(
            "      https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
        );
        let mut calibration =
            flow(&data.join("train"), ImageDataGenerator::rescale_only(1.0 / 255.0), &args, args.seed + 2)?;
        let batch = calibration.next_batch(&device)?;
        let base = config.base.init(&device)?.calibrate_batch_norm(batch.images)?;
        (config.init_with_base(base, &device)?, 0)
    };
    let cut = &model.architecture().layers()[model.architecture().output()].name;
    anyhow::ensure!(cut == "mixed7", "{}: the model ends at {cut}, the course cuts at mixed7", weights.display());
    println!("{}", model.summary()?);
    if args.summary {
        return Ok(());
    }

    // compile + fit, with the course's schedule (a short one on the stand-in set).
    let mut trainer =
        Trainer::new(model, CompileConfig { learning_rate: args.learning_rate, ..CompileConfig::course() }, &device)?;
    if let Some(state) = optimizer_state {
        trainer.set_optimizer(state); // RMSprop velocities of the previous run
    }
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
    let started = Instant::now();
    // A resumed run goes on from the epochs already trained (Keras `initial_epoch`).
    let fit = FitConfig {
        epochs: resumed + epochs,
        initial_epoch: resumed,
        steps_per_epoch: Some(steps),
        validation_steps: Some(validation_steps),
        verbose: true,
    };
    let new_epochs = trainer.fit(&mut train, fit, Some(&mut validation))?;
    let seconds = started.elapsed().as_secs_f64();

    // Outputs: history (a resumed run appends to the earlier epochs, as `CSVLogger(append=True)`),
    // plots, checkpoint.
    let history_path = args.output.join("history.csv");
    let mut history = match resumed > 0 && history_path.is_file() {
        true => History::read_csv(&history_path)?.up_to(resumed),
        false => History::default(),
    };
    history.epochs.extend(new_epochs.epochs);
    history.write_csv(&history_path)?;
    plot_history(&history, &args.output)?;
    let metadata = CheckpointMetadata {
        config: trainer.model().config(),
        trainable: trainer.model().trainable_layers(),
        class_names: train.class_names().to_vec(),
        epochs_trained: resumed + epochs,
    };
    let checkpoint = args.output.join("model.safetensors");
    save_checkpoint(&checkpoint, trainer.model(), &metadata, Some(trainer.optimizer()))?;
    if let Some(last) = history.epochs.last() {
        println!(
            "Final: accuracy {:.4}, val_accuracy {:.4} (loss {:.4}, val_loss {:.4}) after {epochs} epochs in {seconds:.0} s.",
            last.accuracy,
            last.val_accuracy.unwrap_or(f64::NAN),
            last.loss,
            last.val_loss.unwrap_or(f64::NAN)
        );
    }
    println!("Wrote history.csv, accuracy.png, loss.png and model.safetensors to {}.", args.output.display());

    // A few predictions, as the course's "predict on an image" cell.
    let model = trainer.into_model();
    let samples: Vec<(PathBuf, usize)> = validation
        .files()
        .iter()
        .filter(|(_, class)| *class == 0)
        .take(3)
        .chain(validation.files().iter().filter(|(_, class)| *class == 1).take(3))
        .cloned()
        .collect();
    let paths: Vec<&Path> = samples.iter().map(|(p, _)| p.as_path()).collect();
    let probabilities = predict_files(&model, &paths, 1.0 / 255.0, augment::Interpolation::Nearest, &device)?;
    let names = validation.class_names();
    for ((path, class), p) in samples.iter().zip(probabilities) {
        let predicted = if p[0] > 0.5 { &names[1] } else { &names[0] };
        println!("  {} is a {predicted} (p(dogs) = {:.3}; truly {})", path.display(), p[0], names[*class]);
    }
    Ok(())
}
