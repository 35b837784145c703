//! A saved model put to work: loaded with its class names and input pipeline, it predicts
//! files, folders (class sub-folders or flat) and batch sources, and reports on labelled ones.

use std::path::{Path, PathBuf};

use augment::dataset::keras_image_files;
use backbone::cpu::host_values;
use burn::tensor::{Device, Tensor, TensorData};

use crate::checkpoint::load_checkpoint;
use crate::data::BatchSource;
use crate::error::{Result, TransferError};
use crate::evaluation::Predictions;
use crate::head::ClassifierHead;
use crate::inference::InferenceModel;
use crate::pipeline::InputPipeline;

/// Images per forward pass when predicting files.
const BATCH: usize = 32;

/// A trained model for inference with what it was trained on: its class names and the
/// pipeline that turned files into its training pixels ([`Classifier::load`] reads both from
/// a checkpoint written by [`Trainer::save`](crate::Trainer::save) or `ModelCheckpoint`).
#[derive(Debug)]
pub struct Classifier {
    model: InferenceModel,
    class_names: Vec<String>,
    pipeline: Option<InputPipeline>,
    device: Device,
}

impl Classifier {
    /// Loads a checkpoint onto `device` (a plain device) for inference.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (model, metadata, _) = load_checkpoint(path, device)?;
        let classes = model.head.outputs().max(2);
        let class_names = match metadata.class_names.len() == classes {
            true => metadata.class_names,
            false => (0..classes).map(|c| c.to_string()).collect(),
        };
        Ok(Self {
            model: InferenceModel::new(&model, device)?,
            class_names,
            pipeline: metadata.input_pipeline,
            device: device.clone(),
        })
    }

    /// Sets the input pipeline (for a checkpoint that does not record one: saved by
    /// [`save_model`](crate::save_model), or before pipelines were recorded).
    pub fn with_pipeline(mut self, pipeline: InputPipeline) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// The class names, in index order (`0`, `1`, ... where the checkpoint has none).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The input pipeline the checkpoint recorded (or [`Classifier::with_pipeline`] set).
    pub fn pipeline(&self) -> Option<&InputPipeline> {
        self.pipeline.as_ref()
    }

    /// The model.
    pub fn model(&self) -> &InferenceModel {
        &self.model
    }

    /// Probabilities of image files through the training pipeline, in batches, one row per
    /// file in the order given (no true classes).
    pub fn predict_files(&self, paths: &[PathBuf]) -> Result<Predictions> {
        let pipeline = self.pipeline.ok_or_else(|| {
            TransferError::Config(
                "the checkpoint does not record its input pipeline (saved with save_model, or before pipelines were \
                 recorded): give it with Classifier::with_pipeline (image size, resize, rescale)"
                    .into(),
            )
        })?;
        let [rows, cols] = pipeline.image_size;
        let outputs = self.model.head.outputs();
        let mut probabilities = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(BATCH) {
            let mut pixels = Vec::with_capacity(chunk.len() * rows * cols * 3);
            for path in chunk {
                pixels.extend(pipeline.load(path)?);
            }
            let images = Tensor::<4>::from_data(TensorData::new(pixels, [chunk.len(), rows, cols, 3]), &self.device)
                .permute([0, 3, 1, 2]);
            let values = host_values(self.model.probabilities(images)?)?;
            probabilities.extend(values.chunks(outputs).map(|p| match outputs {
                1 => vec![1.0 - p[0], p[0]],
                _ => p.to_vec(),
            }));
        }
        Ok(Predictions {
            class_names: self.class_names.clone(),
            files: paths.iter().cloned().map(Some).collect(),
            true_classes: None,
            probabilities,
        })
    }

    /// Predictions on every image under `dir`, in Keras' file order. A folder whose
    /// sub-folders are all named after the model's classes is labelled data (as
    /// `image_dataset_from_directory`'s inferred labels; [`Predictions::report`] then
    /// works); any other folder is read as Keras' `labels=None`: every image under it,
    /// unlabelled.
    pub fn predict_folder(&self, dir: &Path) -> Result<Predictions> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TransferError::Io { path, source }
        };
        // Hidden folders (`.ipynb_checkpoints`) are not classes, as Keras lists them.
        let hidden = |p: &PathBuf| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let subfolders: Vec<PathBuf> =
            sorted_entries(dir).map_err(io(dir))?.into_iter().filter(|p| p.is_dir() && !hidden(p)).collect();
        let class_of = |folder: &PathBuf| {
            let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            self.class_names.iter().position(|c| *c == name)
        };
        let labelled = !subfolders.is_empty() && subfolders.iter().all(|f| class_of(f).is_some());
        let mut files = Vec::new();
        let mut classes = Vec::new();
        match labelled {
            true => {
                for folder in &subfolders {
                    let found = keras_image_files(folder)?;
                    classes.extend(std::iter::repeat_n(class_of(folder).unwrap_or(0), found.len()));
                    files.extend(found);
                }
            }
            false => files = keras_image_files(dir)?,
        }
        if files.is_empty() {
            return Err(TransferError::Config(format!(
                "no image files (bmp, gif, jpeg, jpg, png) under {}",
                dir.display()
            )));
        }
        let predictions = self.predict_files(&files)?;
        Ok(Predictions { true_classes: labelled.then_some(classes), ..predictions })
    }

    /// Predictions on `steps` batches of `source` (default: one pass), which gives the
    /// images already loaded: it must load them as the training pipeline did.
    pub fn predictions(&self, source: &mut dyn BatchSource, steps: Option<usize>) -> Result<Predictions> {
        self.model.predictions(source, steps, Some(&self.class_names), &self.device)
    }
}

/// A folder's entries sorted by name.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}
