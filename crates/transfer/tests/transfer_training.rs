//! Freezing, fine-tuning, checkpoints, the course summary and a short real training run.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/inception_fixtures.rs"]
mod inception_fixtures;

use std::path::PathBuf;

use augment::{ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator};
use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor, TensorData};
use inception::{Flavor, InceptionV3Config, LayerName};
use transfer::{
    CheckpointMetadata, CompileConfig, FitConfig, HeadConfig, Inputs, Loss, Trainer, TransferError, TransferModel,
    TransferModelConfig, Verbosity, is_checkpoint, load_checkpoint, save_checkpoint,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("transfer-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The course model at 75x75 (small and fast) with the fixture base weights.
fn small_course_model(device: &Device) -> TransferModel {
    let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    let base = inception_fixtures::keras_model(&base_config, device);
    TransferModelConfig::new(base_config.into(), HeadConfig::course())
        .with_input_size([75, 75])
        .init_with_base(base, device)
        .unwrap()
}

fn snapshot(model: &TransferModel, prefix: &str) -> Vec<(String, Vec<f32>)> {
    model
        .collect(None, None, false)
        .into_iter()
        .filter(|t| t.name.starts_with(prefix))
        .map(|t| {
            let data = burn::store::bridge::to_data(&t).unwrap();
            (t.name.clone(), data.convert::<f32>().try_to_vec::<f32>().unwrap())
        })
        .collect()
}

fn batch(device: &Device) -> (Inputs, Tensor<2>) {
    let images = Tensor::<4>::from_data(TensorData::new(common::detrand::image(75, 75, 4, 9), [4, 75, 75, 3]), device)
        .permute([0, 3, 1, 2]);
    (Inputs::Images(images), Tensor::from_data(TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [4, 1]), device))
}

#[test]
fn the_course_summary_has_the_course_totals() {
    let model = TransferModelConfig::course().init(&Device::flex()).unwrap();
    let summary = model.summary().unwrap();
    assert_eq!(summary.total_params(), 47_512_481);
    assert_eq!(summary.trainable_params(), 38_537_217);
    assert_eq!(summary.non_trainable_params(), 8_975_264);
    let text = summary.to_string();
    assert!(
        text.contains("Total params: 47,512,481\nTrainable params: 38,537,217\nNon-trainable params: 8,975,264"),
        "{text}"
    );
}

#[test]
fn a_frozen_base_is_bit_identical_after_training() {
    let device = Device::flex();
    let model = small_course_model(&device);
    let base_before = snapshot(&model, "base.");
    let head_before = snapshot(&model, "head.");
    let mut trainer = Trainer::new(model, CompileConfig::course(), &device).unwrap();
    for _ in 0..3 {
        let (x, y) = batch(&device);
        trainer.train_step(x, y).unwrap();
    }
    let model = trainer.into_model();
    assert_eq!(snapshot(&model, "base."), base_before, "weights and batch-norm statistics of the frozen base");
    assert_ne!(snapshot(&model, "head."), head_before, "the head trained");
}

#[test]
fn fine_tuning_trains_only_the_unfrozen_blocks_and_keeps_batch_norm_statistics() {
    let device = Device::flex();
    let frozen = small_course_model(&device);
    let head_only = frozen.summary().unwrap().trainable_params();
    let model = frozen.unfreeze_from_block(LayerName::Mixed7).unwrap();
    let trainable = model.trainable_layers();
    let first = trainable.iter().position(|t| *t).unwrap();
    assert_eq!(model.architecture().layers()[first - 1].name, "mixed6", "the block after mixed6 is trainable");
    assert!(trainable[first..].iter().all(|t| *t));
    let summary = model.summary().unwrap();
    // mixed7's convolutions and batch-norm betas become trainable (2,138,112 + 1,920).
    assert_eq!(summary.trainable_params() - head_only, 2_140_032);
    let trainable_paths: Vec<String> = (0..model.architecture().len())
        .filter(|&i| model.base.is_trainable(i))
        .flat_map(|i| model.base.weights(i).into_iter().map(move |w| (i, w)))
        .filter_map(|(i, w)| model.base.param_path(i, w).map(|p| format!("base.{p}")))
        .collect();
    let before = snapshot(&model, "base.");
    let mut trainer =
        Trainer::new(model, CompileConfig { learning_rate: 1e-5, ..CompileConfig::course() }, &device).unwrap();
    let (x, y) = batch(&device);
    trainer.train_step(x, y).unwrap();
    let after = snapshot(trainer.model(), "base.");
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        let changed = a != b;
        let trainable = trainable_paths.contains(name) && !name.contains("moving_");
        assert_eq!(changed, trainable, "{name}: changed {changed}, expected {trainable}");
    }
}

/// Fine-tuning from mixed7: the frozen blocks before it run as plain (packed) inference, the
/// rest in the autodiff graph, and the step's loss is the one the whole model gives.
#[test]
fn fine_tuning_runs_the_frozen_blocks_as_inference_with_the_same_loss() {
    let device = Device::flex();
    let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    let base = inception_fixtures::keras_model(&base_config, &device);
    let model = TransferModelConfig::new(base_config.into(), HeadConfig::course().with_dropout(0.0))
        .with_input_size([75, 75])
        .init_with_base(base, &device)
        .unwrap()
        .unfreeze_from_block(LayerName::Mixed7)
        .unwrap();
    assert_eq!(model.frozen_prefix(), Some(model.architecture().index_of("mixed6").unwrap()));
    assert_eq!(model.clone().freeze_base().frozen_prefix(), None, "a fully frozen base has no prefix");
    let (x, y) = batch(&device);
    let Inputs::Images(images) = x.clone() else { unreachable!() };
    let logits = model.valid().forward(images).unwrap();
    let reference = Loss::BinaryCrossentropy.forward(logits, y.clone()).into_scalar::<f32>() as f64;
    let mut trainer = Trainer::new(model, CompileConfig::course(), &device).unwrap();
    let step = trainer.train_step(x, y).unwrap();
    println!("fine-tuning step loss {} vs whole-model loss {reference}", step.loss);
    assert!((step.loss - reference).abs() <= 1e-5 * reference.abs().max(1.0), "{} vs {reference}", step.loss);
}

#[test]
fn checkpoints_round_trip_with_frozen_blocks_and_optimizer_state() {
    let device = Device::flex();
    let mut trainer = Trainer::new(small_course_model(&device), CompileConfig::course(), &device).unwrap();
    let (x, y) = batch(&device);
    trainer.train_step(x.clone(), y).unwrap();
    let dir = scratch("checkpoint");
    let path = dir.join("model.safetensors");
    let metadata = trainer.checkpoint_metadata(&["cats".into(), "dogs".into()], 1);
    save_checkpoint(&path, trainer.model(), &metadata, Some(trainer.optimizer())).unwrap();
    assert!(!dir.join("model.safetensors.tmp").exists(), "no temporary file left behind");
    let (loaded, meta, optimizer) = load_checkpoint(&path, &device).unwrap();
    assert!(optimizer.is_some());
    assert_eq!(meta.class_names, vec!["cats", "dogs"]);
    assert_eq!(loaded.trainable_layers(), trainer.model().trainable_layers());
    let Inputs::Images(images) = x else { unreachable!() };
    let ours = trainer.predict(images.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let theirs = transfer::predict(&loaded, images).unwrap().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(ours, theirs);
    let err = load_checkpoint(&inception_fixtures::fixture("mixed0_official_names.h5"), &device).err().unwrap();
    assert!(err.to_string().contains("mixed0_official_names.h5"), "{err}");
    assert!(!is_checkpoint(&inception_fixtures::fixture("mixed0_official_names.h5")).unwrap(), "a Keras weight file");
    assert!(is_checkpoint(&path).unwrap());

    // The optimizer state is the one the checkpoint names and was saved with.
    let state = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".optim-"))
        .expect("the state file the checkpoint names");
    let mut bytes = std::fs::read(&state).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&state, &bytes).unwrap();
    let err = load_checkpoint(&path, &device).err().unwrap().to_string();
    assert!(err.contains("is not the optimizer state it was saved with"), "{err}");
    std::fs::remove_file(&state).unwrap();
    let err = load_checkpoint(&path, &device).err().unwrap().to_string();
    assert!(err.contains("cannot be read"), "{err}");

    // A truncated checkpoint is reported as one, not retried as a base weight file.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..100]).unwrap();
    let err = is_checkpoint(&path).err().unwrap();
    assert!(matches!(err, TransferError::Checkpoint { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors") && err.to_string().contains("corrupt"), "{err}");
}

/// Training, saving a checkpoint, and resuming from it in a new trainer gives exactly the
/// weights of training on without stopping: the RMSprop velocities come back and apply to
/// the right parameters.
#[test]
fn resuming_from_a_checkpoint_continues_training_exactly() {
    let device = Device::flex();
    let config = TransferModelConfig::new(
        InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed0).into(),
        HeadConfig::course().with_dropout(0.0),
    )
    .with_input_size([75, 75]);
    let features = |salt: u64| {
        let values = common::detrand::uniform(salt, 4 * 256 * 7 * 7);
        Inputs::Features(Tensor::from_data(TensorData::new(values, [4, 256, 7, 7]), &device))
    };
    let targets = || Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [4, 1]), &device);
    let mut trainer = Trainer::new(config.init(&device).unwrap(), CompileConfig::course(), &device).unwrap();
    trainer.train_step(features(1), targets()).unwrap();
    let path = scratch("resume").join("model.safetensors");
    let metadata = CheckpointMetadata { config, ..trainer.checkpoint_metadata(&[], 1) };
    save_checkpoint(&path, trainer.model(), &metadata, Some(trainer.optimizer())).unwrap();
    trainer.train_step(features(2), targets()).unwrap();
    let continued = snapshot(trainer.model(), "head.");

    let resume = |with_state: bool| {
        let (model, _, optimizer) = load_checkpoint(&path, &device).unwrap();
        let mut trainer = Trainer::new(model, CompileConfig::course(), &device).unwrap();
        if with_state {
            trainer.set_optimizer(optimizer.expect("optimizer state saved"));
        }
        trainer.train_step(features(2), targets()).unwrap();
        snapshot(trainer.model(), "head.")
    };
    let differs = |a: &[(String, Vec<f32>)]| {
        a.iter()
            .zip(&continued)
            .filter(|((_, x), (_, y))| x != y)
            .map(|((name, _), _)| name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(differs(&resume(true)), Vec::<String>::new(), "resumed training must continue exactly");
    assert!(!differs(&resume(false)).is_empty(), "the optimizer state must matter (test sensitivity)");
}

/// The recipe on a small generated two-class folder, randomly initialised base with
/// calibrated batch norms, cached features: it must learn the task.
#[test]
fn a_short_training_run_learns_a_two_class_folder() {
    let device = Device::flex();
    device.seed(1);
    let dir = scratch("standin");
    augment::write_standin_dataset(&dir, augment::STANDIN_CLASSES, 40, 20, 3).unwrap();
    let flow = |split: &str, batch_size| {
        let config = FlowConfig {
            target_size: [75, 75],
            batch_size,
            class_mode: ClassMode::Binary,
            seed: 1,
            ..FlowConfig::default()
        };
        DirectoryIterator::new(&dir.join(split), ImageDataGenerator::rescale_only(1.0 / 255.0), config).unwrap()
    };
    let (mut train, mut validation) = (flow("train", 16), flow("validation", 20));
    let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    let calibration = flow("train", 16).next_batch(&device).unwrap().images;
    let base = base_config.init(&device).unwrap().calibrate_batch_norm(calibration).unwrap();
    let config = TransferModelConfig::new(base_config.into(), HeadConfig::course()).with_input_size([75, 75]);
    let mut trainer =
        Trainer::new(config.init_with_base(base, &device).unwrap(), CompileConfig::course(), &device).unwrap();
    let batches = train.batches_per_epoch();
    let mut cached = trainer.cache_features(&mut train, batches, 5).unwrap();
    let fit = FitConfig { epochs: 6, verbose: Verbosity::Silent, ..FitConfig::default() };
    let history = trainer.fit(&mut cached, fit, Some(&mut validation), &mut []).unwrap();
    let last = history.epochs.last().unwrap();
    println!("{history:?}");
    assert!(last.val_accuracy.unwrap() >= 0.9, "validation accuracy {:?}", last.val_accuracy);
    let csv = history.to_csv();
    assert!(csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy\n0,"), "{csv}");
    transfer::plot_history(&history, &dir).unwrap();
    for png in ["accuracy.png", "loss.png"] {
        let image = image::open(dir.join(png)).unwrap().to_rgb8();
        assert_eq!((image.width(), image.height()), (640, 480));
        // Both curves are drawn across the plot: training in blue, validation in red (the
        // Matplotlib colours of the course's plots), each spanning the epochs' width.
        for (curve, colour) in [("training", [31u8, 119, 180]), ("validation", [214, 39, 40])] {
            let xs: Vec<u32> = image.enumerate_pixels().filter(|(_, _, p)| p.0 == colour).map(|(x, _, _)| x).collect();
            let (first, last) = (xs.iter().min().copied().unwrap_or(0), xs.iter().max().copied().unwrap_or(0));
            assert!(
                xs.len() > 100 && last - first > 450,
                "{png}: {curve} curve: {} pixels over x {first}..{last}",
                xs.len()
            );
        }
    }
    // The accuracy plot's validation curve ends high (>= 0.9): its last point is in the top
    // quarter of the plot area (50..430 rows).
    let accuracy = image::open(dir.join("accuracy.png")).unwrap().to_rgb8();
    let end = accuracy.enumerate_pixels().filter(|(_, _, p)| p.0 == [214, 39, 40]).max_by_key(|(x, _, _)| *x).unwrap();
    assert!(end.1 < 50 + 380 / 4 + 10, "validation accuracy ends at row {}", end.1);
}

/// The TensorFlow tutorial's model: MobileNetV2 at 160, GlobalAveragePooling2D ->
/// Dropout(0.2) -> Dense(1); its counts as Keras prints them, frozen and after
/// `base.trainable = True` with the first `fine_tune_at = 100` layers frozen again.
#[test]
fn the_tutorial_model_counts_as_keras_in_both_phases() {
    let device = Device::flex();
    let base = mobilenet::MobileNetV2Config::new().with_input_size([160, 160]);
    let head = HeadConfig::new().with_pooling(transfer::Pooling::GlobalAverage).with_hidden(vec![]).with_outputs(1);
    let model = TransferModelConfig::new(base.into(), head).with_input_size([160, 160]).init(&device).unwrap();
    assert_eq!(model.architecture().len(), 154, "Number of layers in the base model");
    let summary = model.summary().unwrap();
    assert_eq!(
        (summary.total_params(), summary.trainable_params(), summary.non_trainable_params()),
        (2_259_265, 1_281, 2_257_984)
    );
    let model = model.unfreeze_base().freeze_first(100).unwrap();
    let summary = model.summary().unwrap();
    assert_eq!((summary.trainable_params(), summary.non_trainable_params()), (1_862_721, 396_544));
    let err = model.freeze_first(155).unwrap_err();
    assert!(
        matches!(err, TransferError::Network(backbone::NetworkError::LayerIndex { index: 155, layers: 154, .. })),
        "{err:?}"
    );
}

/// Names that are not layers of the base, or layers past its cut, are errors, not no-ops.
#[test]
fn freezing_by_an_unknown_or_cut_away_name_is_an_error() {
    let model = TransferModelConfig::course().init(&Device::flex()).unwrap();
    let unknown = model.clone().set_block_frozen("mixd5", true).unwrap_err().to_string();
    assert!(unknown.contains("mixd5") && unknown.contains("mixed5"), "{unknown}");
    let past = model.clone().unfreeze_from_block(LayerName::Mixed8).unwrap_err().to_string();
    assert!(past.contains("mixed8") && past.contains("mixed7"), "{past}");
    let model = model.set_block_frozen("mixed5", false).unwrap();
    let trainable = model.trainable_layers();
    let mixed5 = model.architecture().index_of("mixed5").unwrap();
    let mixed4 = model.architecture().index_of("mixed4").unwrap();
    assert!(trainable[mixed4 + 1..=mixed5].iter().all(|t| *t) && !trainable[mixed4] && !trainable[mixed5 + 1]);
}

/// With the base frozen and a validation folder that only rescales (or a dataset of
/// `image_dataset_from_directory` without augmentation), `fit` keeps each validation
/// image's features after its first pass: the history is the same, to the bit, as with
/// every image through the base every epoch, also when an epoch validates on part of the
/// folder (batches mixing kept and new images) and when a callback changes the weights
/// between epochs.
#[test]
fn kept_validation_features_give_the_same_history() {
    let device = Device::flex();
    let dir = scratch("validation-cache");
    augment::write_standin_dataset(&dir, augment::STANDIN_CLASSES, 12, 20, 3).unwrap();
    let flow = |split: &str, generator: ImageDataGenerator, batch_size| {
        let config = FlowConfig {
            target_size: [75, 75],
            batch_size,
            class_mode: ClassMode::Binary,
            seed: 3,
            ..FlowConfig::default()
        };
        DirectoryIterator::new(&dir.join(split), generator, config).unwrap()
    };
    // Other base weights (randomly initialised), put in by a callback after epoch 1: kept
    // features of the earlier base must not be reused.
    let other = {
        let config = TransferModelConfig::new(
            InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7).into(),
            HeadConfig::course(),
        )
        .with_input_size([75, 75]);
        Trainer::new(config.init(&device).unwrap(), CompileConfig::course(), &device).unwrap().get_weights().unwrap()
    };
    let run = |cache_mib: usize, swap_weights: bool, dataset: bool| {
        let augmenting = augment::ImageDataGeneratorConfig::course().build().unwrap();
        let mut train = flow("train", augmenting, 8);
        let mut folder = flow("validation", ImageDataGenerator::rescale_only(1.0 / 255.0), 6);
        let config = augment::ImageDatasetConfig {
            seed: Some(2),
            batch_size: 6,
            image_size: [75, 75],
            label_mode: augment::LabelMode::Binary,
            ..augment::ImageDatasetConfig::default()
        };
        let mut images = augment::image_dataset_from_directory(&dir.join("validation"), config).unwrap();
        let validation: &mut dyn transfer::BatchSource = match dataset {
            true => &mut images,
            false => &mut folder,
        };
        // No dropout: the device's random stream is shared with the tests running beside.
        let base_config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
        let model = TransferModelConfig::new(base_config.clone().into(), HeadConfig::course().with_dropout(0.0))
            .with_input_size([75, 75])
            .init_with_base(inception_fixtures::keras_model(&base_config, &device), &device)
            .unwrap();
        let mut trainer = Trainer::new(model, CompileConfig::course(), &device).unwrap();
        let other = other.clone();
        let mut swap = transfer::callbacks::on_epoch_end(move |epoch, _logs, trainer: &mut Trainer| {
            if swap_weights && epoch == 1 {
                trainer.set_weights(&other)?;
            }
            Ok(())
        });
        let fit = FitConfig {
            epochs: 4,
            steps_per_epoch: Some(2),
            validation_steps: Some(2), // 12 of the 20 images each epoch: the cache fills over epochs
            verbose: Verbosity::Silent,
            validation_cache_mib: cache_mib,
            ..FitConfig::default()
        };
        trainer.fit(&mut train, fit, Some(validation), &mut [&mut swap]).unwrap().to_csv()
    };
    for (swap_weights, dataset) in [(false, false), (true, false), (false, true)] {
        let kept = run(512, swap_weights, dataset);
        assert_eq!(kept, run(0, swap_weights, dataset), "swap_weights: {swap_weights}, dataset: {dataset}");
        assert_eq!(kept.lines().count(), 5, "{kept}");
    }
}

/// Any registered backbone trains under the course's trainer: ResNet50 selected by name,
/// cut at its Keras default, fine-tuned from `conv5_block1_out` (the frozen part runs as
/// inference), its `caffe` preprocessing inside the model, and a checkpoint that rebuilds
/// it by name.
#[test]
fn a_backbone_chosen_by_name_trains_and_checkpoints() {
    let device = Device::flex();
    let base = transfer::BaseConfig::for_transfer("resnet50").unwrap();
    assert_eq!(base.preprocess(), Some(backbone::Preprocess::Caffe));
    let config = TransferModelConfig::new(base.clone(), HeadConfig::global_average(1))
        .with_input_size([64, 64])
        .with_input_scaling(base.preprocess());
    let model = config.init(&device).unwrap().unfreeze_from_block("conv5_block2_out").unwrap();
    assert_eq!(
        model.frozen_prefix().map(|i| model.architecture().layers()[i].name.clone()).as_deref(),
        Some("conv5_block1_out")
    );
    let mut trainer = Trainer::new(model, CompileConfig::course(), &device).unwrap();
    let images: Vec<f32> = common::detrand::image(64, 64, 2, 5).into_iter().map(|v| v * 255.0).collect();
    let images = Tensor::<4>::from_data(TensorData::new(images, [2, 64, 64, 3]), &device).permute([0, 3, 1, 2]);
    let labels = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [2, 1]), &device);
    let metrics = trainer.train_step(Inputs::Images(images.clone()), labels).unwrap();
    assert!(metrics.loss.is_finite(), "{metrics:?}");
    let dir = scratch("resnet50");
    let path = dir.join("model.safetensors");
    let metadata = trainer.checkpoint_metadata(&["cats".into(), "dogs".into()], 1);
    save_checkpoint(&path, trainer.model(), &metadata, Some(trainer.optimizer())).unwrap();
    let (loaded, meta, _) = load_checkpoint(&path, &device).unwrap();
    assert_eq!(meta.config.base.model, "resnet50");
    assert_eq!(loaded.config().input_scaling, Some(backbone::Preprocess::Caffe));
    let ours = trainer.predict(images.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let theirs = transfer::predict(&loaded, images).unwrap().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(ours, theirs);
}
