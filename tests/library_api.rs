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
    let path = scratch("save").join("model.safetensors");
    let classes: Vec<String> = ["ants", "bees", "wasps"].map(String::from).to_vec();
    save_model(&path, &model, &classes).unwrap();
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
    let mut folder =
        DirectoryIterator::new(&dir.join("train"), ImageDataGenerator::rescale_only(1.0 / 255.0), config).unwrap();
    let trainer = Trainer::new(tiny(HeadConfig::course(), &device), CompileConfig::course(), &device).unwrap();
    let (probabilities, targets) = trainer.predict_source(&mut folder, Some(2)).unwrap();
    assert_eq!((probabilities.dims(), targets.dims()), ([6, 1], [6, 1]), "6 images: batches of 4 and 2");
    let values = probabilities.into_data().try_into_vec::<f32>().unwrap();
    assert!(values.iter().all(|p| (0.0..=1.0).contains(p)), "{values:?}");

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
