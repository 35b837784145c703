//! What the course's two jobs share (`cats_vs_dogs`, the notebook, and `horses_or_humans`,
//! Exercise 7; the TF tutorial's `mobilenet_v2_transfer` takes a few): the command line, the
//! data folders (or a generated stand-in), the model (a pretrained base of `--model`, InceptionV3
//! by default, cut at `mixed7`; a resumed checkpoint; or a random base with calibrated batch
//! norms), the Keras callbacks, and the outputs of a run.

#![allow(dead_code)] // each example uses its own part

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use applications::REGISTRY;
use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator, ImageDataGeneratorConfig};
use backbone::{Backbone, Flavor};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use inception::{InceptionV3Backbone, InceptionV3Config, LayerName};
use inception_transfer::backend::Backend;
use transfer::{
    BaseConfig, Callback, ClassWeight, ClassifierHead, CompileConfig, EarlyStopping, History, Loss, OutputLock,
    ReduceLROnPlateau, Trainer, TransferModel, TransferModelConfig, is_checkpoint, load_checkpoint, plot_history,
    save_checkpoint,
};

/// The backbone `--model` names.
pub fn backbone(args: &CourseArgs) -> Result<&'static dyn Backbone> {
    Ok(REGISTRY.get(&args.model)?)
}

/// What the data generators scale pixels by: the course's 1/255 for InceptionV3; elsewhere
/// the raw 0..255 pixels, which the model preprocesses first as its backbone's Keras
/// `preprocess_input` does (`caffe` for ResNet50 and VGG16, `tf` for MobileNetV2).
pub fn pixel_rescale(args: &CourseArgs) -> f64 {
    match args.model == InceptionV3Backbone.name() {
        true => 1.0 / 255.0,
        false => 1.0,
    }
}

/// The flags both jobs take.
#[derive(clap::Args)]
pub struct CourseArgs {
    /// Folder with train/<class>/ and validation/<class>/ (default: the dataset's usual folder).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The backbone: inception_v3 (the course), mobilenet_v2, resnet50, vgg16 or xception, cut
    /// at its Keras default for transfer learning (mixed7; out_relu, conv5_block3_out,
    /// block5_pool, block14_sepconv2_act).
    #[arg(long, default_value = "inception_v3")]
    pub model: String,
    /// Base weights: Keras notop .h5, torchvision .pth/.safetensors, this crate's safetensors,
    /// or a checkpoint of this example to resume (default: the backbone's official Keras
    /// notop file in weights/, e.g. weights/inception_v3_..._notop.h5).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long)]
    pub backend: Option<String>,
    /// Epochs to run (a resumed run adds them to the epochs already trained).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training steps per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Validation steps per epoch.
    #[arg(long)]
    pub validation_steps: Option<usize>,
    /// Images per batch (the course: 20).
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    /// Seed of shuffling, augmentation, dropout and the head's initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where history.csv, the plots and the checkpoint go.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Learning rate of RMSprop (the course: 1e-4).
    #[arg(long, default_value_t = 1e-4, value_parser = positive_finite)]
    pub learning_rate: f64,
    /// Stop when val_loss has not improved for PATIENCE epochs, restoring the best weights
    /// (Keras' EarlyStopping(patience=PATIENCE, restore_best_weights=True)).
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Divide the learning rate by 10 when val_loss stalls for 2 epochs
    /// (Keras' ReduceLROnPlateau(factor=0.1, patience=2)).
    #[arg(long)]
    pub reduce_lr_on_plateau: bool,
    /// Print the model summary and exit.
    #[arg(long)]
    pub summary: bool,
    /// Resuming a checkpoint without its optimizer state is an error (by default a warning:
    /// the optimizer's velocities restart from zero).
    #[arg(long)]
    pub exact_resume: bool,
    /// Print where each epoch's time went (waiting for data, base forward, head step,
    /// validation).
    #[arg(long)]
    pub timing: bool,
    /// Keras' class_weight: `balanced` (scikit-learn's compute_class_weight) or
    /// `NAME=W,NAME=W,...` with a weight for every class folder.
    #[arg(long, value_parser = class_weight)]
    pub class_weight: Option<ClassWeight>,
}

/// The error for a `--weights` path that is not a file: a folder is named as one (the file
/// inside is wanted), anything else as missing.
pub fn not_a_weight_file(path: &Path) -> anyhow::Error {
    match path.is_dir() {
        true => anyhow::anyhow!("{}: a folder, not a weight file (--weights takes the file itself)", path.display()),
        false => anyhow::anyhow!("{}: no such weight file", path.display()),
    }
}

/// A `--class-weight` flag: `balanced` or `NAME=W,...`.
pub fn class_weight(text: &str) -> Result<ClassWeight, String> {
    text.parse().map_err(|e: transfer::TransferError| e.to_string())
}

/// A `--learning-rate`-style flag: a finite number above zero.
pub fn positive_finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        Ok(value) => Err(format!("{value} is not a finite number above zero")),
        Err(e) => Err(e.to_string()),
    }
}

/// A dataset of two classes in `train/` and `validation/` folders, and how to get it.
pub struct Dataset {
    /// Where it is looked for by default.
    pub folder: &'static str,
    /// The class folders, in sorted order.
    pub classes: [&'static str; 2],
    /// What it is, for messages.
    pub description: &'static str,
    /// Shell lines that fetch and unpack it into `folder`.
    pub fetch: &'static [&'static str],
}

/// The device of `--backend`, seeded (dropout masks).
pub fn device(args: &CourseArgs) -> Result<Device> {
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    device.seed(args.seed);
    println!("Backend: {backend}");
    Ok(device)
}

/// The data folder to use (`--data`, else the dataset's usual folder), or a freshly
/// generated stand-in of `standin_images` training and validation images per class
/// (`true`) when the usual folder is absent; a `--data` folder that lacks the layout is an
/// error.
pub fn data_folder(
    data: Option<&Path>,
    dataset: &Dataset,
    output: &Path,
    standin_images: [usize; 2],
    seed: u64,
) -> Result<(PathBuf, bool)> {
    let chosen = data.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(dataset.folder));
    if chosen.join("train").is_dir() && chosen.join("validation").is_dir() {
        return Ok((chosen, false));
    }
    if data.is_some() {
        anyhow::bail!(
            "{}: expected train/ and validation/ sub-folders, each with {}/ and {}/",
            chosen.display(),
            dataset.classes[0],
            dataset.classes[1]
        );
    }
    let standin = output.join("standin_data");
    println!(
        "No dataset at {}: generating a stand-in image set in {} (not {}!).",
        dataset.folder,
        standin.display(),
        dataset.classes.join(" and ")
    );
    println!("  To get the real one ({}):", dataset.description);
    for line in dataset.fetch {
        println!("    {line}");
    }
    augment::write_standin_dataset(&standin, dataset.classes, standin_images[0], standin_images[1], seed)?;
    Ok((standin, true))
}

/// `flow_from_directory(dir, target_size=(150, 150), batch_size, class_mode=...)`: the
/// course's `'binary'` for two class folders, `'categorical'` for more (the course's
/// multi-class exercises, with a softmax head).
pub fn flow(dir: &Path, generator: ImageDataGenerator, batch_size: usize, seed: u64) -> Result<DirectoryIterator> {
    let class_mode = match class_folders(dir)? {
        0..=2 => ClassMode::Binary,
        _ => ClassMode::Categorical,
    };
    let config = FlowConfig { target_size: [150, 150], batch_size, class_mode, seed, ..FlowConfig::default() };
    let it = DirectoryIterator::new(dir, generator, config)?;
    println!("{}", it.found_message());
    Ok(it)
}

/// The class folders in `dir` (hidden ones left out, as Keras does).
pub fn class_folders(dir: &Path) -> Result<usize> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut count = 0;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        count += (path.is_dir() && !hidden) as usize;
    }
    Ok(count)
}

/// After training: the model's predictions on the validation images (an unshuffled pass of
/// `data/validation` under the course's validation generator (rescale only); with `steps` fewer than a pass, that many batches
/// of a seeded shuffle, as `fit` validated), written as `predictions.csv`, `metrics.json`
/// and `confusion_matrix.png` into `output`, and scikit-learn's report printed.
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

/// The course's two generators: augmentation for training, rescale only for validation.
pub fn course_flows(data: &Path, args: &CourseArgs) -> Result<(DirectoryIterator, DirectoryIterator)> {
    let mut augmentation = ImageDataGeneratorConfig::course();
    augmentation.rescale = Some(pixel_rescale(args));
    let train = flow(&data.join("train"), augmentation.build()?, args.batch_size, args.seed)?;
    let rescale = ImageDataGenerator::rescale_only(pixel_rescale(args));
    let validation = flow(&data.join("validation"), rescale, args.batch_size, args.seed + 1)?;
    same_classes(train.class_names(), validation.class_names(), data)?;
    Ok((train, validation))
}

/// Training and validation must have the same class folders, or labels would mean
/// different things in the two.
pub fn same_classes(train: &[String], validation: &[String], data: &Path) -> Result<()> {
    if train != validation {
        anyhow::bail!(
            "{}: train/ has the classes {train:?} but validation/ has {validation:?}; they must be the same folders",
            data.display()
        );
    }
    Ok(())
}

/// The class folders of a binary recipe (one logit, as the TF tutorial and the Keras guide
/// build their heads): exactly two, or an error naming the folder and the classes found.
pub fn two_classes(classes: &[String], folder: &Path) -> Result<()> {
    if classes.len() != 2 {
        anyhow::bail!(
            "{}: this recipe's head is one logit for two classes, but the folder has {} class folders {classes:?}; \
             for more classes use efficientnet_fine_tuning (a softmax over every class) or cats_vs_dogs",
            folder.display(),
            classes.len()
        );
    }
    Ok(())
}

/// The model to train and where it starts.
pub struct Start {
    /// The model: base cut at `mixed7`, frozen, course head.
    pub model: TransferModel,
    /// Epochs already trained (a resumed checkpoint's).
    pub epochs_trained: usize,
    /// The resumed optimizer state.
    pub optimizer: Option<ModuleOptimizer>,
    /// The classes a resumed checkpoint was trained on (its outputs mean those).
    pub resumed_classes: Option<Vec<String>>,
}

impl Start {
    /// Refuses to resume a checkpoint on data of other classes.
    pub fn check_classes(&self, data_classes: &[String]) -> Result<()> {
        match &self.resumed_classes {
            Some(trained) if !trained.is_empty() && trained != data_classes => anyhow::bail!(
                "the checkpoint was trained on the classes {trained:?}, the data has {data_classes:?}: \
                 its outputs would mean other classes"
            ),
            _ => Ok(()),
        }
    }
}

/// The course model: the backbone of `--model` (InceptionV3) cut at its transfer-learning
/// layer (`mixed7`) and frozen with the course head, from `--weights` (a base weight file, or
/// a checkpoint to resume), or with a random base whose batch norms are calibrated on a
/// training batch when no weights are there.
pub fn course_model(args: &CourseArgs, data: &Path, device: &Device) -> Result<Start> {
    let backbone = backbone(args)?;
    let official = backbone.notop_weights();
    let default_weights = Path::new("weights").join(official.file);
    let mut config = TransferModelConfig::course();
    config.head.seed = args.seed;
    // Two classes: one sigmoid output, as the course; more: one softmax output per class.
    config.head.outputs = match class_folders(&data.join("train"))? {
        0..=2 => 1,
        classes => classes,
    };
    if backbone.name() != InceptionV3Backbone.name() {
        config.base = BaseConfig::for_transfer(backbone.name())?.with_input_size(config.input_size);
        config.input_scaling = backbone.preprocess(Flavor::Keras);
    }
    let weights = args.weights.clone().unwrap_or_else(|| default_weights.clone());
    let start = if is_checkpoint(&weights)? {
        let (model, metadata, optimizer) =
            load_checkpoint(&weights, device).with_context(|| format!("resuming from {}", weights.display()))?;
        println!("Resuming from checkpoint {} ({} epochs trained).", weights.display(), metadata.epochs_trained);
        if optimizer.is_none() {
            if args.exact_resume {
                anyhow::bail!("{}: saved without optimizer state, and --exact-resume asks for one", weights.display());
            }
            log::warn!("the checkpoint was saved without optimizer state: RMSprop's velocities restart from zero");
        }
        Start { model, epochs_trained: metadata.epochs_trained, optimizer, resumed_classes: Some(metadata.class_names) }
    } else if weights.is_file() {
        if backbone.name() == InceptionV3Backbone.name() {
            // Either flavour: the file says which.
            let flavor = inception::weights::detect_flavor(&weights)?;
            config.base = InceptionV3Config::new(flavor).with_cut(LayerName::Mixed7).into();
        }
        let base = config.base.pretrained(&weights, device)?;
        println!(
            "Base: {} (weights from {}), cut at {}, frozen.",
            config.base.describe(),
            weights.display(),
            backbone.transfer_cut()
        );
        Start { model: config.init_with_base(base, device)?, epochs_trained: 0, optimizer: None, resumed_classes: None }
    } else {
        if args.weights.is_some() {
            return Err(not_a_weight_file(&weights));
        }
        println!(
            "No weights at {}: using a RANDOMLY INITIALISED base (batch norms calibrated on a batch).",
            default_weights.display()
        );
        println!("  Accuracy will be far below the course's. To get the official Keras weights:");
        println!("    mkdir -p weights && curl -L -o {} \\", default_weights.display());
        println!("      {}", official.url);
        let rescale = ImageDataGenerator::rescale_only(pixel_rescale(args));
        let mut calibration = flow(&data.join("train"), rescale, args.batch_size, args.seed + 2)?;
        let batch = calibration.next_batch(device)?;
        let images = match config.input_scaling {
            Some(preprocess) => preprocess.apply(batch.images),
            None => batch.images,
        };
        let base = config.base.init(device)?.calibrate_batch_norm(images)?;
        Start { model: config.init_with_base(base, device)?, epochs_trained: 0, optimizer: None, resumed_classes: None }
    };
    let cut = &start.model.architecture().layers()[start.model.architecture().output()].name;
    if cut != backbone.transfer_cut() {
        anyhow::bail!(
            "{}: the model ends at {cut}, the course cuts {} at {}",
            weights.display(),
            backbone.title(),
            backbone.transfer_cut()
        );
    }
    Ok(start)
}

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

/// The course's `compile` (RMSprop at `--learning-rate`, binary cross-entropy; categorical
/// for a head of one output per class) around the start's model, with a resumed
/// checkpoint's optimizer state; also the epochs trained.
pub fn course_trainer(start: Start, args: &CourseArgs, device: &Device) -> Result<(Trainer, usize)> {
    let loss = match start.model.head.outputs() {
        1 => Loss::BinaryCrossentropy,
        _ => Loss::CategoricalCrossentropy,
    };
    let compile = CompileConfig { learning_rate: args.learning_rate, loss, ..CompileConfig::course() };
    let mut trainer = Trainer::new(start.model, compile, device)?;
    if let Some(state) = start.optimizer {
        trainer.set_optimizer(state); // RMSprop velocities of the previous run
    }
    Ok((trainer, start.epochs_trained))
}

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

/// The cats-vs-dogs folder of the course and of the TF tutorial.
pub const CATS_AND_DOGS: Dataset = Dataset {
    folder: "data/cats_and_dogs_filtered",
    classes: ["cats", "dogs"],
    description: "2000 training / 1000 validation JPEGs, 68 MB",
    fetch: &[
        "mkdir -p data && curl -LO https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "unzip -q cats_and_dogs_filtered.zip -d data/",
    ],
};

/// Prints Keras' three parameter counts of `model` after `label` (`Total params: ... /
/// Trainable params: ... / Non-trainable params: ...`).
pub fn print_counts(label: &str, model: &TransferModel) -> Result<()> {
    let summary = model.summary()?;
    println!(
        "{label}: Total params: {} / Trainable params: {} / Non-trainable params: {}",
        backbone::thousands(summary.total_params()),
        backbone::thousands(summary.trainable_params()),
        backbone::thousands(summary.non_trainable_params())
    );
    Ok(())
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

/// Prints the library's warnings (the `log` crate's, warning level and above) on stderr, as
/// Keras prints its own: the library only emits them, a program chooses where they go.
pub fn show_warnings() {
    /// A logger writing `WARNING: message` lines to stderr.
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, metadata: &log::Metadata) -> bool {
            metadata.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record) {
            if self.enabled(record.metadata()) {
                let level = match record.level() {
                    log::Level::Warn => "WARNING",
                    level => level.as_str(),
                };
                eprintln!("{level}: {}", record.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}
