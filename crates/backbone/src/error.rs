//! The errors of the networks: every one names the file, layer, key or shape at fault.

use std::path::PathBuf;

/// Everything that can go wrong building, running or loading a network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The input is smaller than the network needs.
    #[error("input of {height}x{width} pixels is too small: {network} needs at least {minimum}x{minimum}")]
    InputTooSmall {
        /// Input rows.
        height: usize,
        /// Input columns.
        width: usize,
        /// The network.
        network: String,
        /// Smallest rows and columns it takes.
        minimum: usize,
    },
    /// The input does not have 3 channels.
    #[error("input has {channels} channels, the network takes 3 (RGB) as [batch, 3, height, width]")]
    InputChannels {
        /// Channels found.
        channels: usize,
    },
    /// A layer name the network does not have.
    #[error("unknown layer `{name}` in {network}: expected one of {valid}")]
    UnknownLayer {
        /// The name asked for.
        name: String,
        /// The network.
        network: String,
        /// The valid names (or a summary of them).
        valid: String,
    },
    /// A layer index past the network's last layer.
    #[error("layer index {index} is out of range: {network} has {layers} layers")]
    LayerIndex {
        /// The index asked for.
        index: usize,
        /// The network.
        network: String,
        /// How many layers it has.
        layers: usize,
    },
    /// A layer that is not where a network can be continued from or cut at for this use.
    #[error("layer `{layer}`: {reason}")]
    UnusableLayer {
        /// The layer.
        layer: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A layer after the one this model was cut at.
    #[error("layer `{layer}` comes after `{cut}`, where this model was cut: build it uncut or cut later")]
    LayerCutAway {
        /// The layer asked for.
        layer: String,
        /// Where the model ends.
        cut: String,
    },
    /// An unknown flavour name.
    #[error("unknown flavour `{0}`: expected keras or torchvision")]
    UnknownFlavor(String),
    /// An unsupported configuration value.
    #[error("{0}")]
    BadConfig(String),
    /// The input size differs from the one a flattening top was built for.
    #[error(
        "input of {height}x{width} pixels gives `{layer}` {found} features, its top was built for {expected}: \
         build the model for this input size (Keras fixes the input of a model with a flattening top too)"
    )]
    FixedInput {
        /// Rows of the input.
        height: usize,
        /// Columns of the input.
        width: usize,
        /// The flattening layer.
        layer: String,
        /// Features it was built for.
        expected: usize,
        /// Features this input gives.
        found: usize,
    },
    /// A backbone name the registry does not have.
    #[error("unknown backbone `{name}`: expected one of {valid}")]
    UnknownBackbone {
        /// The name asked for.
        name: String,
        /// The registered names.
        valid: String,
    },
    /// The model has no classification top.
    #[error("this model was built without the classification top (include_top = false)")]
    NoTop,
    /// Features handed to a layer have the wrong number of channels.
    #[error("features after {layer} must have {expected} channels, got {channels}")]
    FeatureChannels {
        /// The layer the features are said to come from.
        layer: String,
        /// Its channel count.
        expected: usize,
        /// Channels found.
        channels: usize,
    },
    /// A tensor's values could not be read to the host as `f32`.
    #[error("cannot read tensor values as f32: {0}")]
    TensorData(String),
    /// A layer kind the packed CPU engine does not run.
    #[error("the packed CPU engine cannot run layer `{layer}`: {reason}")]
    Unsupported {
        /// The layer.
        layer: String,
        /// What it lacks.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a weight file this crate can read, or is damaged.
    #[error("{path}: {reason}")]
    BadWeightFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file holds weights of another architecture (a layer the network does not have,
    /// or the wrong number of layers of a kind).
    #[error("{path}: not {network} weights: {reason}")]
    OtherArchitecture {
        /// The file.
        path: PathBuf,
        /// The network the file was loaded into.
        network: String,
        /// What did not fit.
        reason: String,
    },
    /// A parameter of the model is not in the file.
    #[error("{path}: no weights for {missing} (and {more} more parameters): the file does not cover this model")]
    MissingWeights {
        /// The file.
        path: PathBuf,
        /// The first parameter left unset (layer and weight name).
        missing: String,
        /// How many more are missing.
        more: usize,
    },
    /// A tensor in the file has the wrong shape.
    #[error("{path}: layer `{layer}` ({key}) has shape {found:?} in the file, the model needs {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// Layer name in the file.
        layer: String,
        /// Parameter in the model.
        key: String,
        /// Shape the model needs (in the file's layout).
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
}

/// Result with [`NetworkError`].
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;
