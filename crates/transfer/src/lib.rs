//! The Keras transfer-learning recipe on Burn: a base network (InceptionV3, ...) cut at a
//! named layer and frozen, a classifier head, Keras' RMSprop, and `fit` / `evaluate` /
//! `predict`.
//!
//! ```no_run
//! use transfer::{CompileConfig, TransferModelConfig, Trainer};
//! let device = burn::tensor::Device::flex();
//! let config = TransferModelConfig::course();
//! let model = config.init(&device)?; // load base weights first for real use
//! println!("{}", model.summary()?);
//! let trainer = Trainer::new(model, CompileConfig::course(), &device)?;
//! # Ok::<(), transfer::TransferError>(())
//! ```
#![warn(missing_docs)]

mod base;
pub mod callbacks;
mod checkpoint;
mod class_weight;
mod classifier;
mod data;
mod dense;
mod error;
mod evaluation;
mod feature_cache;
mod font;
mod head;
mod history;
mod host_product;
mod inference;
mod loss;
mod model;
mod optim;
mod output_lock;
mod param_ids;
mod pipeline;
mod plot;
mod scaling;
mod timing;
mod trainer;

pub use backbone::{FrozenBase, Preprocess};
pub use base::{BaseConfig, LayerRef};
pub use callbacks::{
    Callback, CsvLogger, EarlyStopping, LearningRateScheduler, Logs, Mode, ModelCheckpoint, ProgbarLogger,
    ReduceLROnPlateau, TerminateOnNaN, Verbosity,
};
pub use checkpoint::{CheckpointMetadata, is_checkpoint, load_checkpoint, load_model, save_checkpoint, save_model};
pub use class_weight::ClassWeight;
pub use classifier::Classifier;
pub use data::{BatchSource, InMemoryBatches, Inputs, KeyedBatch, RepeatableSource};
pub use dense::{Dense, MAX_BLOCK_BYTES};
pub use error::{Result, TransferError};
pub use evaluation::{ClassificationReport, Predictions, Scores};
pub use head::{ClassifierHead, Head, HeadConfig, Pooling};
pub use history::{EpochRecord, History};
pub use inference::InferenceModel;
pub use loss::Loss;
pub use model::{BatchNorms, TransferModel, TransferModelConfig};
pub use optim::{KerasAdam, KerasAdamState, KerasOptimizer, KerasRmsProp, KerasRmsPropState, StateTensor};
pub use output_lock::{LOCK_FILE, OutputLock};
pub use pipeline::{InputPipeline, Resize};
pub use plot::{plot_history, plot_history_marked};
pub use scaling::InputScaling;
pub use timing::EpochTiming;
pub use trainer::{CompileConfig, FitConfig, StepMetrics, Trainer, Weights, predict, predict_files};
