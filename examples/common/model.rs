//! The course model: a pretrained base of `--model` cut at its transfer layer, a resumed
//! checkpoint, or a random base with calibrated batch norms; and its trainer.

use std::path::Path;

use anyhow::{Context, Result};
use applications::REGISTRY;
use augment::ImageDataGenerator;
use backbone::{Backbone, Flavor};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use inception::{InceptionV3Backbone, InceptionV3Config, LayerName};
use transfer::{
    BaseConfig, CheckpointMetadata, ClassifierHead, CompileConfig, Loss, Trainer, TransferModel, TransferModelConfig,
    is_checkpoint, load_checkpoint,
};

use super::{CourseArgs, class_folders, flow, not_a_weight_file};

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

/// The model to train and where it starts.
pub struct Start {
    /// The model: base cut at `mixed7`, frozen, course head.
    pub model: TransferModel,
    /// A resumed checkpoint's metadata (epochs trained, classes) and optimizer state.
    pub resumed: Option<(CheckpointMetadata, Option<ModuleOptimizer>)>,
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
        Start { model, resumed: Some((metadata, optimizer)) }
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
        Start { model: config.init_with_base(base, device)?, resumed: None }
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
        Start { model: config.init_with_base(base, device)?, resumed: None }
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

/// The course's `compile` (RMSprop at `--learning-rate`, binary cross-entropy; categorical
/// for a head of one output per class) around the start's model; a resumed checkpoint goes
/// on through [`Trainer::resume_from`] (its RMSprop velocities, and its classes: `fit`
/// refuses data of others). Also the epochs trained.
pub fn course_trainer(start: Start, args: &CourseArgs, device: &Device) -> Result<(Trainer, usize)> {
    let loss = match start.model.head.outputs() {
        1 => Loss::BinaryCrossentropy,
        _ => Loss::CategoricalCrossentropy,
    };
    let compile = CompileConfig { learning_rate: args.learning_rate, loss, ..CompileConfig::course() };
    Ok(match start.resumed {
        Some((metadata, optimizer)) => {
            let (trainer, metadata) = Trainer::resume_from((start.model, metadata, optimizer), compile, device)?;
            (trainer, metadata.epochs_trained)
        }
        None => (Trainer::new(start.model, compile, device)?, 0),
    })
}

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
