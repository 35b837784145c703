//! The one-call model API a Keras user expects: `save_model` / `load_model` (Keras'
//! `model.save` / `load_model`), `load_weights` into a model one built, `Trainer::save`.

use burn::tensor::{Device, Tensor};
use inception_transfer::prelude::*;

fn tiny(head: HeadConfig, device: &Device) -> TransferModel {
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    TransferModelConfig::new(base.into(), head).with_input_size([32, 32]).init(device).unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("library-api-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn save_model_and_load_model_round_trip_with_the_class_names() {
    let device = Device::flex();
    let model = tiny(HeadConfig::global_average(3), &device);
    // A folder that does not exist yet is made (Keras users pass `models/run1/model...`).
    let path = scratch("save").join("models/run1/model.safetensors");
    let classes: Vec<String> = ["ants", "bees", "wasps"].map(String::from).to_vec();
    save_model(&path, &model, &classes).unwrap();
    #[cfg(unix)]
    {
        // The file gets the mode new files get here, not a private 0o600.
        use std::os::unix::fs::PermissionsExt;
        let plain = path.with_file_name("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
    }
    let (loaded, names) = load_model(&path, &device).unwrap();
    assert_eq!(names, classes);
    assert_eq!(loaded.config().to_string(), model.config().to_string());
    let x = Tensor::<4>::ones([2, 3, 32, 32], &device);
    let expected = predict(&model, x.clone()).unwrap().into_data();
    assert_eq!(predict(&loaded, x.clone()).unwrap().into_data(), expected);

    // Keras' load_weights into a model built the same way (other initial weights).
    let kernel = |m: &TransferModel| m.head.output.kernel[0].val().into_data();
    let other = tiny(HeadConfig::global_average(3).with_seed(7), &device);
    assert_ne!(kernel(&other), kernel(&model));
    let other = other.load_weights(&path).unwrap();
    assert_eq!(kernel(&other), kernel(&model));
    assert_eq!(predict(&other, x).unwrap().into_data(), expected);

    // Another architecture is an error naming both.
    let err = tiny(HeadConfig::global_average(2), &device).load_weights(&path).unwrap_err().to_string();
    assert!(err.contains("-> 3") && err.contains("-> 2"), "{err}");
    // A base weight file is not a model checkpoint.
    let h5 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/tiny.h5");
    let err = tiny(HeadConfig::global_average(3), &device).load_weights(&h5).unwrap_err().to_string();
    assert!(err.contains("tiny.h5"), "{err}");
}

#[test]
fn trainer_save_keeps_what_resuming_needs() {
    let device = Device::flex();
    let trainer = Trainer::new(tiny(HeadConfig::course(), &device), CompileConfig::course(), &device).unwrap();
    let path = scratch("trainer").join("checkpoint.safetensors");
    trainer.save(&path, &["cats".into(), "dogs".into()], 3).unwrap();
    let (_, metadata, optimizer) = load_checkpoint(&path, &device).unwrap();
    assert_eq!((metadata.epochs_trained, metadata.class_names.len()), (3, 2));
    assert!(optimizer.is_some(), "the optimizer state is saved beside it");
}

/// Keras' `model.predict(generator)` on a folder, and the features `cache_features`
/// extracted, readable with their labels.
#[test]
fn predict_a_folder_and_read_cached_features() {
    let device = Device::flex();
    let dir = scratch("predict");
    write_standin_dataset(&dir, ["cats", "dogs"], 3, 1, 0).unwrap();
    let config = FlowConfig {
        target_size: [32, 32],
        batch_size: 4,
        class_mode: ClassMode::Binary,
        shuffle: false,
        ..FlowConfig::default()
    };
    let flow = || {
        DirectoryIterator::new(&dir.join("train"), ImageDataGenerator::rescale_only(1.0 / 255.0), config.clone())
            .unwrap()
    };
    let mut folder = flow();
    let trainer = Trainer::new(tiny(HeadConfig::course(), &device), CompileConfig::course(), &device).unwrap();
    let (probabilities, targets) = trainer.predict_source(&mut folder, Some(2)).unwrap();
    assert_eq!((probabilities.dims(), targets.dims()), ([6, 1], [6, 1]), "6 images: batches of 4 and 2");
    let values = probabilities.into_data().try_into_vec::<f32>().unwrap();
    // The same as `predict` on the folder's batches, with the folder's labels in order.
    let (mut expected, mut labels) = (Vec::new(), Vec::new());
    let mut again = flow();
    for _ in 0..2 {
        let batch = again.next_batch(&device).unwrap();
        expected.extend(trainer.predict(batch.images).unwrap().into_data().try_into_vec::<f32>().unwrap());
        labels.extend(batch.classes.iter().map(|&c| c as f32));
    }
    for (got, want) in values.iter().zip(&expected) {
        assert!((got - want).abs() <= 1e-6, "{values:?} vs predict's {expected:?}");
    }
    assert_eq!(targets.into_data().try_into_vec::<f32>().unwrap(), labels);
    assert_eq!(labels, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0], "unshuffled: the folders in order");

    let cached = trainer.cache_features(&mut folder, 2, 0).unwrap();
    assert_eq!((cached.len(), cached.outputs()), (6, 1));
    let [c, h, w] = cached.sample_shape();
    assert_eq!(cached.samples().len(), 6 * c * h * w);
    assert!(cached.targets().iter().all(|t| *t == 0.0 || *t == 1.0));
}

/// A checkpoint saved over an existing one keeps that file's permissions (a plain rename
/// of the new file would reset them).
#[test]
fn saving_over_a_checkpoint_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let device = Device::flex();
    let model = tiny(HeadConfig::global_average(2), &device);
    let path = scratch("permissions").join("model.safetensors");
    save_model(&path, &model, &[]).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    save_model(&path, &model, &[]).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

/// A head of one's own: any Burn module implementing `ClassifierHead` (here global max
/// pooling -> Dense(1)) trains, evaluates and predicts through the same `Trainer` and
/// callbacks as the built-in head.
#[derive(burn::module::Module, Debug)]
struct MaxPoolHead {
    dense: transfer::Dense,
}

impl ClassifierHead for MaxPoolHead {
    fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        self.dense.forward(features.max_dim(3).max_dim(2).flatten(1, 3))
    }

    fn outputs(&self) -> usize {
        self.dense.units()
    }
}

#[test]
fn a_head_of_ones_own_trains_through_the_trainer_and_callbacks() {
    use burn::tensor::TensorData;
    let device = Device::flex();
    let base = MobileNetV2Config::new().with_alpha(0.35).with_input_size([32, 32]);
    let config = TransferModelConfig::new(base.into(), HeadConfig::course()).with_input_size([32, 32]);
    let base = config.base.init(&device).unwrap();
    let [_, _, channels] = config.feature_map(&base).unwrap();
    assert_eq!(channels, 1280);
    let head =
        MaxPoolHead { dense: transfer::Dense::from_values(vec![0.0; channels], channels, 1, vec![0.0], &device) };
    let model = config.init_with_head(base, head).unwrap();
    assert!(model.base_fully_frozen());
    // Its summary: the base's rows, then the head's own default row.
    let summary = model.summary().unwrap();
    let last = summary.rows.last().unwrap();
    assert_eq!((last.name.as_str(), last.layer_type.as_str()), ("head", "MaxPoolHead"));
    assert_eq!((last.output_shape.as_slice(), last.trainable), (&[1][..], channels + 1));

    // Features whose channel 0 peaks above 1 exactly for the positive samples.
    let n = 16;
    let mut features = vec![0.1f32; n * channels];
    let targets: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
    for (i, &t) in targets.iter().enumerate() {
        features[i * channels] = if t > 0.5 { 3.0 } else { -3.0 };
    }
    let mut data = InMemoryBatches::features(features, [channels, 1, 1], targets, 1, 8).unwrap();
    let compile = CompileConfig::new(Loss::BinaryCrossentropy).with_learning_rate(0.05);
    let mut trainer = Trainer::new(model, compile, &device).unwrap();
    let mut early = EarlyStopping::new("loss").patience(5);
    let mut epochs_seen = 0;
    let mut count = transfer::callbacks::on_epoch_end(|_, _, _: &mut Trainer<MaxPoolHead>| {
        epochs_seen += 1;
        Ok(())
    });
    let fit = FitConfig::new().with_epochs(5).with_verbose(Verbosity::Silent);
    let history = trainer.fit(&mut data, fit, None, &mut [&mut early, &mut count]).unwrap();
    assert_eq!((history.epochs.len(), epochs_seen), (5, 5));
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]) && losses[4] < 0.3 * losses[0], "{losses:?}");

    // Predictions through the packed base on images, and on the features directly.
    let images = Tensor::<4>::from_data(TensorData::new(vec![0.5f32; 2 * 3 * 32 * 32], [2, 3, 32, 32]), &device);
    let probabilities = trainer.predict(images).unwrap().into_data().try_to_vec::<f32>().unwrap();
    assert!(probabilities.len() == 2 && probabilities.iter().all(|p| (0.0..=1.0).contains(p)), "{probabilities:?}");
    let positive = Tensor::<4>::from_data(TensorData::new(vec![3.0f32; channels], [1, channels, 1, 1]), &device);
    let logit = trainer.model().head.forward(positive.clone()).into_scalar::<f32>();
    assert!(logit > 0.0, "a positive sample scores positive: {logit}");
}
