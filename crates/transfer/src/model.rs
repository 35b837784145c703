//! The transfer model: a base network cut at a named layer, a head, and which layers of the
//! base are trainable (Keras' `layer.trainable`).

use backbone::{Architecture, LayerKind, Network, Summary};

/// Whether a layer joins branches (`Add`, `Concatenate`): where a block of the base ends.
fn is_merge(kind: &LayerKind) -> bool {
    matches!(kind, LayerKind::Add | LayerKind::Concatenate)
}
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use inception::{InceptionV3Config, LayerName};

use crate::base::{BaseConfig, LayerRef};
use crate::error::{Result, TransferError};
use crate::head::{ClassifierHead, Head, HeadConfig};
use crate::scaling::InputScaling;

/// Configuration of a [`TransferModel`].
#[derive(Config, Debug)]
pub struct TransferModelConfig {
    /// The base: which network, its flavour and where it is cut (the course: Keras
    /// InceptionV3, `mixed7`).
    pub base: BaseConfig,
    /// The head.
    pub head: HeadConfig,
    /// Input `[rows, cols]` (the course: 150x150).
    #[config(default = "[150, 150]")]
    pub input_size: [usize; 2],
    /// A scaling the model applies to its input first (the TF tutorial:
    /// [`InputScaling::preprocess_input`]; the course rescales in its data generator
    /// instead). Default: none.
    #[config(default = "None")]
    pub input_scaling: Option<InputScaling>,
}

impl TransferModelConfig {
    /// The course model: Keras InceptionV3 cut at `mixed7`, the course head, 150x150.
    pub fn course() -> Self {
        Self::new(
            InceptionV3Config::new(inception::Flavor::Keras).with_cut(LayerName::Mixed7).into(),
            HeadConfig::course(),
        )
    }

    /// Checks the configuration before any weight is allocated: the input size (at least
    /// the base's smallest, at most [`augment::max_image_pixels`] pixels) and the head
    /// ([`HeadConfig::check`]). Returns the head's number of weights.
    pub fn check(&self) -> Result<u64> {
        let [rows, cols] = self.input_size;
        if let Some(limit) = augment::max_image_pixels()
            && (rows as u64).saturating_mul(cols as u64) > limit
        {
            return Err(TransferError::Config(format!(
                "an input of {rows}x{cols} is over the pixel limit of {limit} (augment::set_max_image_pixels)"
            )));
        }
        let architecture = self.base.architecture()?;
        match architecture.output_shape(architecture.output(), self.input_size)?.as_slice() {
            &[rows, cols, channels] => self.head.check([rows, cols, channels]),
            other => Err(TransferError::Config(format!("the base ends in a vector {other:?}, not a feature map"))),
        }
    }

    /// Builds the model around `base` (already loaded, built with `self.base`), with the
    /// whole base frozen (Keras `layer.trainable = False` for every base layer).
    pub fn init_with_base(&self, base: impl Into<Network>, device: &Device) -> Result<TransferModel> {
        self.check()?;
        let base = base.into();
        let feature_map = self.feature_map(&base)?;
        self.init_with_head(base, self.head.init(feature_map, device))
    }

    /// The base's output `[rows, cols, channels]` at this configuration's input size: what
    /// a head is built for.
    pub fn feature_map(&self, base: &Network) -> Result<[usize; 3]> {
        let expected = self.base.architecture()?;
        if base.architecture().name() != expected.name() || base.architecture().len() != expected.len() {
            return Err(TransferError::Config(format!(
                "the base holds {} layers of {} but the configuration describes {} layers of {}",
                base.architecture().len(),
                base.architecture().name(),
                expected.len(),
                expected.name()
            )));
        }
        let shape = base.architecture().output_shape(base.architecture().output(), self.input_size)?;
        match shape.as_slice() {
            &[rows, cols, channels] => Ok([rows, cols, channels]),
            other => Err(TransferError::Config(format!("the base ends in a vector {other:?}, not a feature map"))),
        }
    }

    /// Builds the model around `base` (built with `self.base`) and a head of one's own (any
    /// [`ClassifierHead`]; `self.head` is not used), the whole base frozen. The head is built
    /// for [`TransferModelConfig::feature_map`].
    pub fn init_with_head<H: ClassifierHead>(&self, base: impl Into<Network>, head: H) -> Result<TransferModel<H>> {
        // `base(x, training=False)` unless the model is told otherwise.
        let base = base.into().with_batch_norm_training(false);
        self.feature_map(&base)?;
        let model = TransferModel {
            base,
            head,
            base_config: self.base.clone(),
            input_size: self.input_size,
            input_scaling: self.input_scaling,
        };
        Ok(model.freeze_base())
    }

    /// Builds the model with a randomly initialised base (load weights into `base` first
    /// for real use), the whole base frozen.
    pub fn init(&self, device: &Device) -> Result<TransferModel> {
        self.init_with_base(self.base.init(device)?, device)
    }
}

/// Base + head. The base's frozen layers get no gradient, are never updated and run their
/// batch norms on the moving statistics (Keras `trainable = False`); unfrozen ones get
/// gradients, their batch norms as [`TransferModel::with_base_training`] says (by default
/// on the moving statistics, as the Keras guide and TensorFlow's fine-tuning tutorial call
/// the base: `base(x, training=False)`). The head is the built-in [`Head`]
/// unless the model was built with [`TransferModelConfig::init_with_head`].
#[derive(Module, Debug)]
pub struct TransferModel<H: ClassifierHead = Head> {
    /// The base network, cut at its last layer.
    pub base: Network,
    /// The classifier head.
    pub head: H,
    /// Which backbone the base is, and its configuration.
    #[module(skip)]
    pub base_config: BaseConfig,
    /// Input `[rows, cols]`.
    #[module(skip)]
    pub input_size: [usize; 2],
    /// The scaling applied to the input first.
    #[module(skip)]
    pub input_scaling: Option<InputScaling>,
}

impl TransferModel {
    /// The configuration this model was built from.
    pub fn config(&self) -> TransferModelConfig {
        let head = HeadConfig::new()
            .with_pooling(self.head.pooling)
            .with_batch_norm(self.head.batch_norm.is_some())
            .with_hidden(self.head.hidden.iter().map(|l| l.units()).collect())
            .with_dropout(self.head.dropout.prob)
            .with_outputs(self.head.outputs());
        TransferModelConfig::new(self.base_config.clone(), head)
            .with_input_size(self.input_size)
            .with_input_scaling(self.input_scaling)
    }
}

impl<H: ClassifierHead> TransferModel<H> {
    /// The model's first step: its input scaling, if it has one.
    pub fn preprocess(&self, images: Tensor<4>) -> Tensor<4> {
        match self.input_scaling {
            Some(scaling) => scaling.apply(images),
            None => images,
        }
    }

    /// The base's description.
    pub fn architecture(&self) -> &Architecture {
        self.base.architecture()
    }

    /// Keras' `trainable` flag of each base layer, by Keras index.
    pub fn trainable_layers(&self) -> Vec<bool> {
        (0..self.architecture().len()).map(|i| self.base.is_trainable(i)).collect()
    }

    /// Sets the `trainable` flag of every base layer for which `trainable(index)` gives one.
    pub fn with_trainable(mut self, trainable: impl Fn(usize) -> Option<bool>) -> Self {
        self.base = self.base.with_trainable(trainable);
        self
    }

    /// Sets Keras' `training` argument of the call that runs the base, for its trainable
    /// batch norms: `false` (a new model's) is `base(x, training=False)` as the Keras
    /// transfer-learning guide and TensorFlow's fine-tuning tutorial write it (moving
    /// statistics, never updated; gamma and beta still train); `true` is Keras' default for
    /// a base called without it inside `fit` (batch statistics; moving statistics updated
    /// with each layer's momentum). Frozen batch norms always use their moving statistics.
    /// Checkpoints record it. See [`backbone::Network::with_batch_norm_training`].
    pub fn with_base_training(mut self, training: bool) -> Self {
        self.base = self.base.with_batch_norm_training(training);
        self
    }

    /// Whether the base's trainable batch norms train on batch statistics (Keras'
    /// `training=True`) rather than their moving ones (`training=False`).
    pub fn base_training(&self) -> bool {
        self.base.batch_norm_training()
    }

    /// Freezes the whole base (the course: `for layer in base.layers: layer.trainable = False`).
    pub fn freeze_base(self) -> Self {
        self.with_trainable(|_| Some(false))
    }

    /// Makes the whole base trainable (Keras `base.trainable = True`).
    pub fn unfreeze_base(self) -> Self {
        self.with_trainable(|_| Some(true))
    }

    /// Freezes the layers up to and including `layer`; the rest become trainable.
    pub fn freeze_up_to(self, layer: impl LayerRef) -> Result<Self> {
        let last = layer.index_in(self.architecture())?;
        Ok(self.with_trainable(|i| Some(i > last)))
    }

    /// Keras' `for l in base.layers[:n]: l.trainable = False` with the rest trainable: the
    /// TensorFlow tutorial's `fine_tune_at`.
    pub fn freeze_first(self, n: usize) -> Result<Self> {
        let layers = self.architecture().len();
        if n > layers {
            return Err(backbone::NetworkError::LayerIndex {
                index: n,
                network: self.architecture().name().to_string(),
                layers,
            }
            .into());
        }
        Ok(self.with_trainable(|i| Some(i >= n)))
    }

    /// Makes `layer` and every layer after it trainable, the ones before frozen (Keras'
    /// `base.layers[index:]`).
    pub fn unfreeze_from(self, layer: impl LayerRef) -> Result<Self> {
        let first = layer.index_in(self.architecture())?;
        Ok(self.with_trainable(|i| Some(i >= first)))
    }

    /// Makes the block that ends at (or contains) `layer` and every later one trainable,
    /// the blocks before frozen: fine-tuning "from mixed8" unfreezes mixed8's convolutions
    /// too, not only its concatenation ("from conv5_block2_out" all of ResNet50's
    /// `conv5_block2_*`).
    pub fn unfreeze_from_block(self, layer: impl LayerRef) -> Result<Self> {
        let first = self.block_start(layer)?;
        Ok(self.with_trainable(|i| Some(i >= first)))
    }

    /// Freezes (or unfreezes) the block that ends at (or contains) `layer`: the layers after
    /// the previous split point up to the next one.
    pub fn set_block_frozen(self, layer: impl LayerRef, frozen: bool) -> Result<Self> {
        let index = layer.index_in(self.architecture())?;
        let first = self.block_start(index)?;
        let last = self.block_end(index);
        Ok(self.with_trainable(|i| (first..=last).contains(&i).then_some(!frozen)))
    }

    /// The first layer of the block that ends at (or contains) `layer`: the layer after the
    /// last split point before it. A merge's activation (ResNet's `conv5_block2_out` after
    /// `conv5_block2_add`) belongs to the merge's block.
    fn block_start(&self, layer: impl LayerRef) -> Result<usize> {
        let index = layer.index_in(self.architecture())?;
        if index == 0 {
            return Ok(0);
        }
        let architecture = self.architecture();
        let layers = architecture.layers();
        let mut previous = architecture.split_point_at_or_before(index - 1);
        let merges_within = (previous + 1..=index).any(|i| is_merge(&layers[i].kind));
        if !merges_within && previous > 0 && is_merge(&layers[previous].kind) {
            previous = architecture.split_point_at_or_before(previous - 1);
        }
        Ok(previous + 1)
    }

    /// The last layer of the block that ends at (or contains) `layer`: the next split point,
    /// with the activation that alone follows a merge there.
    fn block_end(&self, index: usize) -> usize {
        let architecture = self.architecture();
        let layers = architecture.layers();
        let mut last = (index..=architecture.output()).find(|&i| architecture.is_split_point(i)).unwrap_or(index);
        if is_merge(&layers[last].kind)
            && let Some(next) = layers.get(last + 1)
            && next.inputs == [last]
            && matches!(next.kind, LayerKind::Activation(_) | LayerKind::ReLU(_))
        {
            last += 1;
        }
        last
    }

    /// Whether every layer of the base is frozen (then the base can run outside autodiff).
    pub fn base_fully_frozen(&self) -> bool {
        self.base.fully_frozen()
    }

    /// The last split point of the frozen layers before the first trainable one of a partly
    /// trainable base (`mixed6` when fine-tuning from the block `mixed7`): that part can run
    /// as plain inference. `None` when the base is fully frozen or no such point is past
    /// the input.
    pub fn frozen_prefix(&self) -> Option<usize> {
        let first_trainable = (0..self.architecture().len()).find(|&i| self.base.is_trainable(i))?;
        match first_trainable {
            0 => None,
            i => Some(self.architecture().split_point_at_or_before(i - 1)).filter(|&p| p > 0),
        }
    }

    /// Logits for a batch.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, outputs]`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        let output = self.architecture().output();
        let features = self.base.forward_layers(self.preprocess(images), &[output])?.remove(0);
        Ok(self.head.forward(features))
    }
}

/// Which layers a rule that unfreezes layers leaves alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNorms {
    /// Batch norms are unfrozen like the other layers.
    Unfreeze,
    /// Batch norms keep their flag (keras.io's EfficientNet example: `if not
    /// isinstance(layer, layers.BatchNormalization): layer.trainable = True`).
    KeepFrozen,
}

impl TransferModel {
    /// Keras' `for layer in model.layers[-n:]: layer.trainable = True` on the whole model
    /// (base then head, the head's layers counted as [`TransferModel::summary`] lists them:
    /// pooling, batch norm, hidden dense layers, dropout, output), leaving the other layers'
    /// flags as they are; with [`BatchNorms::KeepFrozen`], batch norms keep theirs, as
    /// keras.io's EfficientNet fine-tuning example unfreezes "the top 20 layers while
    /// leaving BatchNorm layers frozen". The head is always trainable.
    pub fn unfreeze_last(self, n: usize, batch_norms: BatchNorms) -> Self {
        let base = self.architecture().len();
        let total = base + self.head_layers();
        let first = total.saturating_sub(n);
        let layers = self.architecture().layers().to_vec();
        self.with_trainable(|i| {
            let batch_norm = matches!(layers[i].kind, LayerKind::BatchNormalization { .. });
            (i >= first && !(batch_norm && batch_norms == BatchNorms::KeepFrozen)).then_some(true)
        })
    }

    /// The Keras idiom that unfreezes from the first layer whose name contains `pattern`
    /// (`block7`) on: that layer and every later one trainable (batch norms as
    /// `batch_norms` says), the ones before frozen. Fails naming the pattern when no base
    /// layer's name contains it.
    pub fn unfreeze_from_name_containing(self, pattern: &str, batch_norms: BatchNorms) -> Result<Self> {
        let layers = self.architecture().layers().to_vec();
        let Some(first) = layers.iter().position(|l| l.name.contains(pattern)) else {
            return Err(TransferError::Config(format!(
                "no layer of {} has `{pattern}` in its name",
                self.architecture().name()
            )));
        };
        Ok(self.with_trainable(|i| {
            let batch_norm = matches!(layers[i].kind, LayerKind::BatchNormalization { .. });
            match (i >= first, batch_norm && batch_norms == BatchNorms::KeepFrozen) {
                (false, _) => Some(false),
                (true, true) => None,
                (true, false) => Some(true),
            }
        }))
    }
}

impl<H: ClassifierHead> TransferModel<H> {
    /// The head's layers as Keras lists them (see [`TransferModel::summary`]; their number
    /// does not depend on the feature map).
    fn head_layers(&self) -> usize {
        self.head.summary_rows([1, 1, 1]).len()
    }

    /// Keras' `model.summary()` of base + head, frozen layers counted as non-trainable; the
    /// head's rows as it reports them ([`ClassifierHead::summary_rows`]).
    pub fn summary(&self) -> Result<Summary> {
        let mut summary = Summary::of(self.architecture(), self.input_size, &|i| self.base.is_trainable(i))?;
        summary.model_name = "model".into();
        let feature_map = match self.architecture().output_shape(self.architecture().output(), self.input_size)?[..] {
            [rows, cols, channels] => [rows, cols, channels],
            [features] => [1, 1, features],
            _ => return Err(TransferError::Config("the base's output is neither a feature map nor a vector".into())),
        };
        summary.rows.extend(self.head.summary_rows(feature_map));
        Ok(summary)
    }
}
