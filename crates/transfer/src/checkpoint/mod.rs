//! Checkpoints: the whole transfer model (weights, configuration with the backbone, the
//! base's trainable layers, class names) in one safetensors file, written atomically, and
//! the optimizer state beside it in a file the checkpoint names.

use std::collections::BTreeMap;
use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TransferError};
use crate::model::{TransferModel, TransferModelConfig};
use crate::optim::KerasOptimizer;
use crate::param_ids::{param_ids, restore_param_ids};
use crate::pipeline::InputPipeline;

const METADATA_KEY: &str = "transfer.checkpoint";
/// Header key of the parameter identities (path -> id) the optimizer state is keyed by.
const PARAM_IDS_KEY: &str = "transfer.param_ids";
/// Header key of the optimizer state file the checkpoint was saved with (name, digest, size).
const OPTIMIZER_STATE_KEY: &str = "transfer.optimizer_state";

mod optimizer_state;

/// What a checkpoint records besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// The model configuration (backbone, its flavour and cut, head, input size).
    pub config: TransferModelConfig,
    /// Keras' `trainable` flag of each base layer, by Keras index.
    pub trainable: Vec<bool>,
    /// Keras' `training` argument of the base's call for its trainable batch norms
    /// ([`TransferModel::with_base_training`]; `false` in checkpoints written before it was
    /// recorded, which is what they did).
    #[serde(default)]
    pub base_training: bool,
    /// Class names in index order (e.g. `["cats", "dogs"]`).
    pub class_names: Vec<String>,
    /// Epochs trained so far.
    pub epochs_trained: usize,
    /// The optimizer the state beside the checkpoint belongs to (RMSprop in checkpoints
    /// written before it was recorded).
    #[serde(default)]
    pub optimizer: KerasOptimizer,
    /// How files became the training pixels (size, resize, rescale), where the training data
    /// said ([`Classifier`](crate::Classifier) predicts files through it).
    #[serde(default)]
    pub input_pipeline: Option<InputPipeline>,
}

/// Saves `model` with `metadata` and, when given, the optimizer state (making the folder
/// if it is missing), as one unit that a crash cannot tear: the optimizer state goes to a
/// file of its own named after its content (`<path>.optim-<digest>`), then the weights to a
/// temporary file of this process renamed over `path` last, recording the state's name and
/// digest. After that the state the replaced checkpoint named is removed (and, where this
/// process holds the folder's [`OutputLock`](crate::OutputLock), every other state of
/// `path`: leftovers of killed saves; without the lock another run's may be in the making).
/// Without an optimizer the checkpoint names none. A symbolic link at `path` stays a link
/// (its target is written); a path that is not a regular file (FIFO, device, folder) is an
/// error. A new file gets the process's usual mode for new files; a replaced one keeps its
/// own.
pub fn save_checkpoint(
    path: &Path,
    model: &TransferModel,
    metadata: &CheckpointMetadata,
    optimizer: Option<&ModuleOptimizer>,
) -> Result<()> {
    let failed = |reason: String| TransferError::Checkpoint { path: path.to_path_buf(), reason };
    // Missing folders are made, as the examples' `--output` folders are.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
        std::fs::create_dir_all(folder).map_err(|source| TransferError::Io { path: folder.to_path_buf(), source })?;
    }
    // A link's target is the checkpoint (its states go beside it); a FIFO or device is refused.
    let path = &backbone::atomic::destination(path)
        .map_err(|source| TransferError::Io { path: path.to_path_buf(), source })?;
    let json = serde_json::to_string(metadata).map_err(|e| failed(e.to_string()))?;
    let ids = serde_json::to_string(&param_ids(model)).map_err(|e| failed(e.to_string()))?;
    // The state the checkpoint there now names: a failed save leaves it and nothing new.
    let named_before = backbone::weights::safetensors_metadata(path)
        .ok()
        .and_then(|header| header.get(OPTIMIZER_STATE_KEY).cloned())
        .and_then(|json| serde_json::from_str::<optimizer_state::OptimizerStateFile>(&json).ok())
        .map(|state| state.file);
    let state = optimizer.map(|optimizer| optimizer_state::write(path, optimizer)).transpose()?;
    let saved = write_weights(path, model, json, ids, state.as_ref());
    if let (Err(_), Some(state)) = (&saved, &state) {
        optimizer_state::remove_unsaved(path, state, named_before.as_deref());
    }
    saved?;
    optimizer_state::remove_replaced(path, state.as_ref(), named_before.as_deref())
}

/// The weights with the metadata `json`, the parameter ids and the state's record, to a
/// temporary file renamed over `path`.
fn write_weights(
    path: &Path,
    model: &TransferModel,
    json: String,
    ids: String,
    state: Option<&optimizer_state::OptimizerStateFile>,
) -> Result<()> {
    let failed = |reason: String| TransferError::Checkpoint { path: path.to_path_buf(), reason };
    let tmp = backbone::atomic::temporary_path(path);
    let _ = std::fs::remove_file(&tmp); // a leftover of this process id is never a live write
    let mut store =
        SafetensorsStore::from_file(&tmp).overwrite(true).metadata(METADATA_KEY, json).metadata(PARAM_IDS_KEY, ids);
    if let Some(state) = state {
        store = store.metadata(OPTIMIZER_STATE_KEY, serde_json::to_string(state).map_err(|e| failed(e.to_string()))?);
    }
    if let Err(e) = model.save_into(&mut store) {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(format!("writing weights: {e}")));
    }
    backbone::atomic::persist(&tmp, path).map_err(|source| TransferError::Io { path: path.to_path_buf(), source })
}

/// Keras' `model.save(path)` in one call: the weights, the configuration the model holds
/// (backbone, flavour, cut, head, input size, trainable flags) and the class names, as a
/// checkpoint without optimizer state (an older one's state beside it is removed).
/// [`load_model`] reads it back; [`Trainer::save`](crate::Trainer::save) also keeps the
/// optimizer state and the epochs trained, to resume.
pub fn save_model(path: &Path, model: &TransferModel, class_names: &[String]) -> Result<()> {
    let metadata = CheckpointMetadata {
        config: model.config(),
        trainable: model.trainable_layers(),
        base_training: model.base_training(),
        class_names: class_names.to_vec(),
        epochs_trained: 0,
        optimizer: KerasOptimizer::default(),
        input_pipeline: None,
    };
    save_checkpoint(path, model, &metadata, None)
}

/// Keras' `keras.models.load_model(path)`: the model a [`save_model`] (or a training
/// checkpoint) holds, with its class names.
pub fn load_model(path: &Path, device: &Device) -> Result<(TransferModel, Vec<String>)> {
    let (model, metadata, _) = load_checkpoint(path, device)?;
    Ok((model, metadata.class_names))
}

impl TransferModel {
    /// Keras' `model.load_weights(path)` into a model one built: every weight from a
    /// checkpoint ([`save_model`], [`Trainer::save`](crate::Trainer::save)) of the same
    /// architecture (backbone, cut, head, input size); the trainable flags stay this
    /// model's, as in Keras. Another architecture is an error naming both.
    pub fn load_weights(mut self, path: &Path) -> Result<TransferModel> {
        let failed = |reason: String| TransferError::Checkpoint { path: path.to_path_buf(), reason };
        // Read whole into memory: a file changed during the load is an error, not a SIGBUS.
        let file = backbone::weights::read_safetensors(path)?;
        let json = file.metadata.get(METADATA_KEY).ok_or_else(|| {
            failed(
                "not a transfer checkpoint: base weight files (Keras .h5, torchvision .pth) load with \
                 BaseConfig::pretrained"
                    .into(),
            )
        })?;
        let metadata: CheckpointMetadata =
            serde_json::from_str(json).map_err(|e| failed(format!("bad metadata: {e}")))?;
        let (ours, theirs) = (architecture_of(&self.config()), architecture_of(&metadata.config));
        if ours != theirs {
            return Err(failed(format!("the checkpoint holds {theirs}, this model is {ours}")));
        }
        let mut store = SafetensorsStore::from_bytes(Some(file.bytes));
        let result = self.load_from(&mut store).map_err(|e| failed(format!("reading weights: {e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(failed(format!("weights do not fit the model: {result}")));
        }
        Ok(self)
    }
}

/// What decides whether weights fit: the backbone with its cut and width, the head's
/// layers, the input size (not dropout, the seed or the input scaling).
fn architecture_of(config: &TransferModelConfig) -> String {
    let head = &config.head;
    format!(
        "{} at {}x{} with a head {:?}{} {:?} -> {}",
        serde_json::to_string(&config.base).unwrap_or_default(),
        config.input_size[0],
        config.input_size[1],
        head.pooling,
        if head.batch_norm { " + batch norm" } else { "" },
        head.hidden,
        head.outputs
    )
}

/// Whether `path` is a checkpoint of this crate (a safetensors file with its metadata), as
/// opposed to a base weight file: what decides between resuming and starting afresh.
/// `Ok(false)` for a missing file or one of another format (Keras `.h5`, torchvision
/// `.pth`, base weights in safetensors); a file that starts as a safetensors file (or is
/// named `.safetensors`) whose header cannot be read is an error, not a weight file to try.
pub fn is_checkpoint(path: &Path) -> Result<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    match backbone::weights::safetensors_metadata(path) {
        Ok(header) => Ok(header.contains_key(METADATA_KEY)),
        Err(e) if looks_like_safetensors(path) => Err(TransferError::Checkpoint {
            path: path.to_path_buf(),
            reason: format!("a safetensors file that cannot be read (corrupt or truncated?): {e}"),
        }),
        Err(_) => Ok(false),
    }
}

/// A `.safetensors` name, or the format's start: an 8-byte header length, then `{`.
fn looks_like_safetensors(path: &Path) -> bool {
    let named = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let mut start = [0u8; 9];
    let starts = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start)).is_ok()
        && start[8] == b'{';
    named || starts
}

/// Loads a checkpoint onto `device`: the model with its trainable layers and parameter
/// identities, the metadata, and the optimizer state when the checkpoint was saved with one
/// (to resume training with `Trainer::set_optimizer`: the state applies to the same
/// parameters). A state that is missing, or is not the one the checkpoint was saved with,
/// is an error.
pub fn load_checkpoint(
    path: &Path,
    device: &Device,
) -> Result<(TransferModel, CheckpointMetadata, Option<ModuleOptimizer>)> {
    let failed = |reason: String| TransferError::Checkpoint { path: path.to_path_buf(), reason };
    // Read whole into memory: a file changed during the load is an error, not a SIGBUS.
    let file = backbone::weights::read_safetensors(path)?;
    let path = &backbone::atomic::destination(path).unwrap_or_else(|_| path.to_path_buf());
    let header = &file.metadata;
    let json = header
        .get(METADATA_KEY)
        .ok_or_else(|| failed("not a transfer checkpoint (no transfer.checkpoint metadata)".into()))?;
    let metadata: CheckpointMetadata = serde_json::from_str(json).map_err(|e| failed(format!("bad metadata: {e}")))?;
    // The recorded configuration against the tensors listed, before anything is allocated.
    let head_values = metadata.config.check().map_err(|e| failed(format!("its recorded configuration: {e}")))?;
    if head_values > file.values {
        return Err(failed(format!(
            "its recorded configuration has a head of {head_values} weights, but the file holds {} in all",
            file.values
        )));
    }
    let mut model = metadata.config.init(device)?;
    let mut store = SafetensorsStore::from_bytes(Some(file.bytes));
    let result = model.load_from(&mut store).map_err(|e| failed(format!("reading weights: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(failed(format!("weights do not fit the recorded configuration: {result}")));
    }
    if let Some(ids) = header.get(PARAM_IDS_KEY) {
        let ids: BTreeMap<String, u64> =
            serde_json::from_str(ids).map_err(|e| failed(format!("bad parameter ids: {e}")))?;
        model = restore_param_ids(model, &ids);
    }
    if metadata.trainable.len() != model.architecture().len() {
        return Err(failed(format!(
            "{} trainable flags recorded for a base of {} layers",
            metadata.trainable.len(),
            model.architecture().len()
        )));
    }
    let trainable = metadata.trainable.clone();
    model = model.with_trainable(|i| Some(trainable[i])).with_base_training(metadata.base_training);
    let optimizer = match header.get(OPTIMIZER_STATE_KEY) {
        Some(state) => {
            let state: optimizer_state::OptimizerStateFile =
                serde_json::from_str(state).map_err(|e| failed(format!("bad optimizer state record: {e}")))?;
            Some(optimizer_state::read(path, &state, metadata.optimizer.init())?)
        }
        // Checkpoints written before they named their state kept it at `<path>.optim`.
        None => match optimizer_state::legacy_path(path) {
            legacy if legacy.is_file() => Some(
                metadata
                    .optimizer
                    .init()
                    .load(&legacy)
                    .map_err(|e| failed(format!("reading optimizer state {}: {e:?}", legacy.display())))?,
            ),
            _ => None,
        },
    };
    Ok((model, metadata, optimizer))
}
