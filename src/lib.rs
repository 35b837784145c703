//! inception-transfer: the Keras InceptionV3 transfer-learning recipe, exactly, in Rust on Burn.
//!
//! - [`backbone`]: networks described once (layers in Keras order) and what follows from
//!   that: the Burn model, truncation, freezing by layer, summaries, weight files, the
//!   packed CPU engine.
//! - [`inception`]: InceptionV3 (Keras and torchvision flavours), named layers, weight files.
//! - [`mobilenet`]: MobileNetV2 (Keras), any width and input size, Keras weight files.
//! - [`applications`]: ResNet50, VGG16, Xception and EfficientNetB0-B7, and the registry of every backbone
//!   ([`applications::BackboneConfig`] selects one by name: `inception_v3`, `mobilenet_v2`,
//!   `resnet50`, `vgg16`, `xception`).
//! - [`augment`]: Keras-exact `ImageDataGenerator` and an image-folder pipeline.
//! - [`transfer`]: freezing, truncation, heads, Keras RMSprop, `fit` / `evaluate` / `predict`.
//!
//! [`prelude`] has what a program usually needs. The course recipe on a folder of images
//! (here a tiny generated one and a random base; load the Keras weights for real use, see
//! the README):
//!
//! ```
//! use inception_transfer::prelude::*;
//!
//! # fn main() -> anyhow::Result<()> {
//! let data = std::env::temp_dir().join(format!("prelude-doc-{}", std::process::id()));
//! write_standin_dataset(&data, ["cats", "dogs"], 4, 2, 0)?; // train/ and validation/ folders
//! let device = Device::flex();
//! let flow = |split: &str, generator| {
//!     let config = FlowConfig::new().with_target_size([150, 150]).with_batch_size(4).with_class_mode(ClassMode::Binary);
//!     DirectoryIterator::new(&data.join(split), generator, config)
//! };
//! let mut train = flow("train", ImageDataGeneratorConfig::course().build()?)?;
//! let mut validation = flow("validation", ImageDataGenerator::rescale_only(1.0 / 255.0))?;
//!
//! // InceptionV3 cut at mixed7, frozen; Flatten -> Dense(1024) -> Dropout(0.2) -> Dense(1).
//! let model = TransferModelConfig::course().init(&device)?;
//! let mut trainer = Trainer::new(model, CompileConfig::course(), &device)?;
//! let fit = FitConfig::new().with_epochs(1).with_steps_per_epoch(Some(1)).with_validation_steps(Some(1));
//! let history = trainer.fit(&mut train, fit, Some(&mut validation), &mut [])?;
//! assert_eq!(history.epochs.len(), 1);
//! save_model(&data.join("model.safetensors"), trainer.model(), train.class_names())?;
//! # std::fs::remove_dir_all(&data)?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

#[doc(inline)]
pub use applications;
#[doc(inline)]
pub use augment;
#[doc(inline)]
pub use backbone;
/// Burn, at the version these crates are built with (`Device`, `Tensor`, ...), so a
/// dependent crate need not pin it itself.
pub use burn;
#[doc(inline)]
pub use inception;
#[doc(inline)]
pub use mobilenet;
#[doc(inline)]
pub use transfer;

pub mod backend;
#[doc(inline)]
pub use backbone::npy;

/// What a program usually needs, in one `use inception_transfer::prelude::*;`: the device
/// and tensors, backend selection, the backbones and their configurations, the data
/// pipelines and Keras' preprocessing layers, the transfer model, its trainer and callbacks,
/// optimizers, checkpoints, and what comes after training (evaluation reports, a loaded
/// `Classifier`).
pub mod prelude {
    pub use applications::{BackboneConfig, REGISTRY};
    pub use augment::layers::{
        Augmentation, RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling,
    };
    pub use augment::{
        BadImages, ClassMode, DirectoryIterator, FlowConfig, ImageDataGenerator, ImageDataGeneratorConfig,
        ImageDataset, ImageDatasetConfig, Interpolation, LabelMode, Subset, image_dataset_from_directory,
        image_dataset_from_directory_both, load_img, write_standin_dataset,
    };
    pub use backbone::cpu::host_memory::{keep_freed_memory, use_one_heap};
    pub use backbone::{Backbone, CpuInference, Flavor, FrozenBase, Network, NetworkError, Preprocess};
    pub use burn::tensor::{Device, Tensor};
    pub use inception::{InceptionV3, InceptionV3Config, LayerName};
    pub use mobilenet::{MobileNetV2, MobileNetV2Config};
    pub use transfer::{
        BaseConfig, BatchSource, Callback, CheckpointMetadata, ClassWeight, ClassificationReport, Classifier,
        ClassifierHead, CompileConfig, CsvLogger, EarlyStopping, FitConfig, HeadConfig, History, InMemoryBatches,
        InputPipeline, InputScaling, Inputs, KerasAdam, KerasRmsProp, LayerRef, LearningRateScheduler, Loss,
        ModelCheckpoint, Pooling, Predictions, ReduceLROnPlateau, TerminateOnNaN, Trainer, TransferError,
        TransferModel, TransferModelConfig, Verbosity, load_checkpoint, load_model, predict, predict_files, save_model,
    };

    pub use crate::backend::Backend;
    pub use crate::npy::{read_npy, write_npy};
}
