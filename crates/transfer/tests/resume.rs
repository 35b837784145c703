//! Going on from a checkpoint (`Trainer::resume`): the model, its optimizer state, classes
//! and input pipeline come back, so that the next step is the one the saved trainer would
//! have taken, and training data of other classes is refused before any step.

use augment::{ImageDatasetConfig, LabelMode, STANDIN_CLASSES, image_dataset_from_directory, write_standin_dataset};
use burn::tensor::{Device, Tensor, TensorData};
use transfer::{CompileConfig, FitConfig, HeadConfig, Inputs, Trainer, TransferError, TransferModelConfig, Verbosity};

fn model(device: &Device) -> transfer::TransferModel {
    let base = transfer::BaseConfig::new("efficientnet_b0")
        .unwrap()
        .with_input_size([32, 32])
        .with_cut(Some("block1a_project_bn".into()));
    TransferModelConfig::new(base, HeadConfig::global_average(1)).with_input_size([32, 32]).init(device).unwrap()
}

#[test]
fn a_resumed_trainer_goes_on_as_the_saved_one_and_keeps_its_classes() {
    let root = std::env::temp_dir().join(format!("resume-{}", std::process::id()));
    write_standin_dataset(&root, STANDIN_CLASSES, 6, 4, 3).unwrap();
    let config = ImageDatasetConfig::new()
        .with_image_size([32, 32])
        .with_batch_size(4)
        .with_label_mode(LabelMode::Binary)
        .with_seed(Some(1));
    let device = Device::flex();
    let compile = CompileConfig::adam(1e-3);
    let mut trainer = Trainer::new(model(&device), compile, &device).unwrap();
    let fit = FitConfig::new().with_verbose(Verbosity::Silent).with_steps_per_epoch(Some(2));
    let mut train = image_dataset_from_directory(&root.join("train"), config.clone()).unwrap();
    trainer.fit(&mut train, fit.clone(), None, &mut []).unwrap();
    let path = root.join("out/model.safetensors");
    trainer.save(&path, &[], 1).unwrap();

    let (mut resumed, metadata) = Trainer::resume(&path, compile, &device).unwrap();
    assert_eq!(metadata.epochs_trained, 1);
    assert_eq!(resumed.class_names(), ["cats", "dogs"]);
    assert_eq!(resumed.input_pipeline(), trainer.input_pipeline());
    // The same next step (Adam's moments and step count restored): the same weights.
    let images: Vec<f32> = (0..4 * 3 * 32 * 32).map(|i| (i % 251) as f32).collect();
    let images = || Inputs::Images(Tensor::<4>::from_data(TensorData::new(images.clone(), [4, 3, 32, 32]), &device));
    let targets = || Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [4, 1]), &device);
    let ours = trainer.train_step(images(), targets()).unwrap();
    let theirs = resumed.train_step(images(), targets()).unwrap();
    assert_eq!(ours.loss, theirs.loss);
    assert!(trainer.get_weights().unwrap() == resumed.get_weights().unwrap(), "the resumed step differs");

    // Data of other classes: refused at the start of fit, naming both lists.
    let other = root.join("other");
    for (from, to) in [("cats", "birds"), ("dogs", "fish")] {
        std::fs::create_dir_all(&other).unwrap();
        std::fs::rename(root.join("train").join(from), other.join(to)).unwrap();
    }
    let mut birds = image_dataset_from_directory(&other, config).unwrap();
    let err = resumed.fit(&mut birds, fit, None, &mut []).err().unwrap();
    assert!(matches!(err, TransferError::Config(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("\"cats\", \"dogs\"") && text.contains("\"birds\", \"fish\""), "{text}");
    std::fs::remove_dir_all(&root).unwrap();
}
