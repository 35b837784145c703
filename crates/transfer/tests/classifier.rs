//! A trained model saved and loaded back as a `Classifier`: the checkpoint records the class
//! names and the input pipeline of `fit`'s training data, and the loaded model predicts a
//! labelled folder, a flat folder and files with exactly the pixels the training loader gave
//! (both loaders: `image_dataset_from_directory`'s TF resize and `flow_from_directory`'s
//! Pillow resize with a rescale).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use augment::{
    ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator, ImageDatasetConfig, LabelMode, STANDIN_CLASSES,
    image_dataset_from_directory, write_standin_dataset,
};
use burn::tensor::Device;
use transfer::{
    BatchSource, Classifier, CompileConfig, FitConfig, HeadConfig, InputPipeline, Loss, Predictions, Trainer,
    TransferModelConfig, Verbosity,
};

fn model(outputs: usize, device: &Device) -> transfer::TransferModel {
    let base = transfer::BaseConfig::new("efficientnet_b0")
        .unwrap()
        .with_input_size([32, 32])
        .with_cut(Some("block1a_project_bn".into()));
    TransferModelConfig::new(base, HeadConfig::global_average(outputs)).with_input_size([32, 32]).init(device).unwrap()
}

/// Probabilities by file name.
fn by_file(predictions: &Predictions) -> HashMap<PathBuf, Vec<f32>> {
    predictions.files.iter().map(|f| f.clone().unwrap()).zip(predictions.probabilities.iter().cloned()).collect()
}

/// Trains a step on `train`, saves, loads as a `Classifier`, and checks its predictions on
/// the validation folder against the trainer's on `validation` (the same loader, unshuffled).
fn round_trip(
    name: &str,
    train: &mut dyn BatchSource,
    validation: &mut dyn BatchSource,
    loss: Loss,
    outputs: usize,
    expected: InputPipeline,
    root: &Path,
) {
    let device = Device::flex();
    let compile = CompileConfig { loss, ..CompileConfig::adam(1e-3) };
    let mut trainer = Trainer::new(model(outputs, &device), compile, &device).unwrap();
    let fit = FitConfig::new().with_verbose(Verbosity::Silent).with_steps_per_epoch(Some(2));
    trainer.fit(train, fit, None, &mut []).unwrap();
    assert_eq!(trainer.class_names(), ["cats", "dogs"], "{name}: class names from the data");
    assert_eq!(trainer.input_pipeline(), Some(expected), "{name}: pipeline from the data");
    let path = root.join(format!("{name}/model.safetensors"));
    trainer.save(&path, &[], 1).unwrap();
    let classifier = Classifier::load(&path, &device).unwrap();
    assert_eq!(classifier.class_names(), ["cats", "dogs"]);
    assert_eq!(classifier.pipeline(), Some(&expected));
    let reference = trainer.predictions(validation, None).unwrap();
    let loaded = classifier.predict_folder(&root.join("validation")).unwrap();
    assert_eq!(loaded.len(), 8);
    assert_eq!(loaded.true_classes, reference.true_classes, "{name}: classes from the folders");
    let (ours, theirs) = (by_file(&loaded), by_file(&reference));
    for (file, row) in &theirs {
        let got = &ours[file];
        for (a, b) in got.iter().zip(row) {
            assert!((a - b).abs() < 1e-6, "{name} {}: {got:?} vs the trainer's {row:?}", file.display());
        }
    }
    let report = loaded.report().unwrap();
    assert_eq!(report.per_class.iter().map(|s| s.support).sum::<usize>(), 8);
}

#[test]
fn a_loaded_model_predicts_files_through_its_training_pipeline() {
    let root = std::env::temp_dir().join(format!("classifier-{}", std::process::id()));
    write_standin_dataset(&root, STANDIN_CLASSES, 6, 4, 3).unwrap();
    let dataset = |dir: &str, shuffle: bool| {
        let config = ImageDatasetConfig::new()
            .with_image_size([32, 32])
            .with_batch_size(4)
            .with_label_mode(LabelMode::Binary)
            .with_shuffle(shuffle)
            .with_seed(Some(1));
        image_dataset_from_directory(&root.join(dir), config).unwrap()
    };
    round_trip(
        "dataset",
        &mut dataset("train", true),
        &mut dataset("validation", false),
        Loss::BinaryCrossentropy,
        1,
        InputPipeline::tf([32, 32], augment::TfResize::Bilinear, false),
        &root,
    );
    let folder = |dir: &str, shuffle: bool| {
        let flow = FlowConfig::new()
            .with_target_size([32, 32])
            .with_batch_size(4)
            .with_class_mode(ClassMode::Sparse)
            .with_shuffle(shuffle);
        DirectoryIterator::new(&root.join(dir), ImageDataGenerator::rescale_only(1.0 / 255.0), flow).unwrap()
    };
    round_trip(
        "folder",
        &mut folder("train", true),
        &mut folder("validation", false),
        Loss::SparseCategoricalCrossentropy,
        2,
        InputPipeline::pillow([32, 32], augment::Interpolation::Nearest, Some(1.0 / 255.0)),
        &root,
    );
    // A flat folder (Keras' labels=None) is predicted unlabelled; so is one whose sub-folders
    // are not the model's classes.
    let classifier = Classifier::load(&root.join("folder/model.safetensors"), &Device::flex()).unwrap();
    let flat = root.join("flat/nested");
    std::fs::create_dir_all(&flat).unwrap();
    for (i, file) in ["cat.0.jpg", "cat.1.jpg"].iter().enumerate() {
        std::fs::copy(root.join("validation/cats").join(file), flat.join(format!("{i}.JPG"))).unwrap();
    }
    std::fs::write(flat.join("notes.txt"), "not an image").unwrap();
    let unlabelled = classifier.predict_folder(&root.join("flat")).unwrap();
    assert_eq!(unlabelled.len(), 2);
    assert!(unlabelled.true_classes.is_none());
    assert!(unlabelled.report().is_err());
    let files = vec![root.join("validation/cats/cat.0.jpg")];
    let one = classifier.predict_files(&files).unwrap();
    assert_eq!(one.probabilities[0], unlabelled.probabilities[0]);
    std::fs::remove_dir_all(&root).unwrap();
}
