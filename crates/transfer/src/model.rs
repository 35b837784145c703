//! The transfer model: an InceptionV3 base cut at a named layer, a head, and which blocks
//! of the base are frozen.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use inception::summary::{Summary, SummaryRow};
use inception::{InceptionV3, InceptionV3Config, LayerName};

use crate::error::Result;
use crate::head::{Head, HeadConfig, Pooling};

/// The base's blocks, in network order, as [`InceptionV3`] names its fields.
pub const BASE_BLOCKS: [&str; 12] =
    ["stem", "mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5", "mixed6", "mixed7", "mixed8", "mixed9", "mixed10"];

/// The block that ends at (or contains) a named layer.
pub fn block_of(layer: LayerName) -> &'static str {
    match layer {
        LayerName::Mixed9_0 => "mixed9",
        LayerName::Mixed9_1 => "mixed10",
        other => BASE_BLOCKS.iter().find(|b| **b == other.keras_name()).copied().unwrap_or("mixed10"),
    }
}

fn block_index(block: &str) -> usize {
    BASE_BLOCKS.iter().position(|b| *b == block).unwrap_or(BASE_BLOCKS.len())
}

/// Configuration of a [`TransferModel`].
#[derive(Config, Debug)]
pub struct TransferModelConfig {
    /// The base: flavour and where it is cut (the course: Keras, `mixed7`).
    pub base: InceptionV3Config,
    /// The head.
    pub head: HeadConfig,
    /// Input `[rows, cols]` (the course: 150x150).
    #[config(default = "[150, 150]")]
    pub input_size: [usize; 2],
}

impl TransferModelConfig {
    /// The course model: Keras InceptionV3 cut at `mixed7`, the course head, 150x150.
    pub fn course() -> Self {
        Self::new(
            InceptionV3Config::new(inception::Flavor::Keras).with_cut(LayerName::Mixed7),
            HeadConfig::course(),
        )
    }

    /// Builds the model around `base` (already loaded, built with `self.base`), with the
    /// whole base frozen (Keras `layer.trainable = False` for every base layer).
    pub fn init_with_base(&self, base: InceptionV3, device: &Device) -> Result<TransferModel> {
        let feature_map = self.base.cut.output_shape(self.input_size)?;
        let head = self.head.init(feature_map, device);
        let model = TransferModel { base, head, frozen: [false; 12], input_size: self.input_size };
        Ok(model.freeze_base())
    }

    /// Builds the model with a randomly initialised base (load weights into `base` first
    /// for real use), the whole base frozen.
    pub fn init(&self, device: &Device) -> Result<TransferModel> {
        self.init_with_base(self.base.init(device)?, device)
    }
}

/// Base + head. The base's frozen blocks get no gradient, are never updated and run their
/// batch norms on the moving statistics (Keras `trainable = False`).
#[derive(Module, Debug)]
pub struct TransferModel {
    /// The InceptionV3 base, cut at its `cut` layer.
    pub base: InceptionV3,
    /// The classifier head.
    pub head: Head,
    /// Frozen flag of each of [`BASE_BLOCKS`].
    #[module(skip)]
    pub frozen: [bool; 12],
    /// Input `[rows, cols]`.
    #[module(skip)]
    pub input_size: [usize; 2],
}

/// Freezes or unfreezes one module: `freeze` turns gradients and training flags off;
/// unfreezing only turns gradients back on, so batch norms keep using their moving
/// statistics (the TensorFlow fine-tuning recipe: `base(x, training=False)`).
fn set_frozen<M: Module>(module: M, frozen: bool) -> M {
    match frozen {
        true => module.freeze(),
        false => module.set_require_grad(true),
    }
}

impl TransferModel {
    /// Applies `frozen(block)` to every base block (`None` leaves a block as it is).
    pub fn with_frozen_blocks(mut self, frozen: impl Fn(&str) -> Option<bool>) -> Self {
        if let Some(f) = frozen("stem") {
            self.base.stem = set_frozen(self.base.stem, f);
            self.frozen[0] = f;
        }
        macro_rules! each {
            ($($field:ident),*) => {$(
                if let Some(f) = frozen(stringify!($field)) {
                    self.base.$field = self.base.$field.map(|b| set_frozen(b, f));
                    self.frozen[block_index(stringify!($field))] = f;
                }
            )*};
        }
        each!(mixed0, mixed1, mixed2, mixed3, mixed4, mixed5, mixed6, mixed7, mixed8, mixed9, mixed10);
        self
    }

    /// Freezes the whole base (the course: `for layer in base.layers: layer.trainable = False`).
    pub fn freeze_base(self) -> Self {
        self.with_frozen_blocks(|_| Some(true))
    }

    /// Freezes the blocks up to and including the one of `layer`; the rest become trainable.
    pub fn freeze_up_to(self, layer: LayerName) -> Self {
        let last = block_index(block_of(layer));
        self.with_frozen_blocks(|b| Some(block_index(b) <= last))
    }

    /// Makes the blocks from the one of `layer` on trainable (fine-tuning: unfreeze
    /// `mixed8`..), the ones before frozen.
    pub fn unfreeze_from(self, layer: LayerName) -> Self {
        let first = block_index(block_of(layer));
        self.with_frozen_blocks(|b| Some(block_index(b) < first))
    }

    /// Freezes (or unfreezes) one block by name (`stem`, `mixed0`..`mixed10`).
    pub fn set_block_frozen(self, block: &str, frozen: bool) -> Self {
        self.with_frozen_blocks(|b| (b == block).then_some(frozen))
    }

    /// Whether every block the base holds is frozen (then the base can run outside autodiff).
    pub fn base_fully_frozen(&self) -> bool {
        let held = block_index(block_of(self.base.cut));
        self.frozen[..=held].iter().all(|f| *f)
    }

    /// The last block end of the frozen part before the first trainable block of a partly
    /// trainable base (`mixed6` when fine-tuning from `mixed7`): that part can run as plain
    /// inference. `None` when the base is fully frozen or its first trainable block is the
    /// stem or `mixed0`.
    pub fn frozen_prefix(&self) -> Option<LayerName> {
        let held = block_index(block_of(self.base.cut));
        let leading = self.frozen[..=held].iter().take_while(|frozen| **frozen).count();
        match leading {
            0 | 1 => None,
            k if k > held => None,
            k => BASE_BLOCKS[k - 1].parse().ok(),
        }
    }

    /// Logits for a batch.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, outputs]`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.forward(self.base.forward(images)?))
    }

    /// Keras' `model.summary()` of base + head, frozen layers counted as non-trainable.
    pub fn summary(&self) -> Result<Summary> {
        let mut summary = self.base.summary_with_frozen(self.input_size, &|block| self.frozen[block_index(block)])?;
        summary.model_name = "model".into();
        let feature_map = self.base.cut.output_shape(self.input_size)?;
        let mut width = match self.head.pooling {
            Pooling::Flatten => feature_map.iter().product(),
            Pooling::GlobalAverage => feature_map[2],
        };
        let (pool_name, pool_type) = match self.head.pooling {
            Pooling::Flatten => ("flatten", "Flatten"),
            Pooling::GlobalAverage => ("global_average_pooling2d", "GlobalAveragePooling2D"),
        };
        let row = |name: String, layer_type: &str, shape: usize, params: usize| SummaryRow {
            name,
            layer_type: layer_type.into(),
            output_shape: vec![shape],
            trainable: params,
            non_trainable: 0,
        };
        summary.rows.push(row(pool_name.into(), pool_type, width, 0));
        let mut dense = 0;
        let dense_name = |n: usize| if n == 0 { "dense".to_string() } else { format!("dense_{n}") };
        for layer in &self.head.hidden {
            let units = layer.weight.dims()[1];
            summary.rows.push(row(dense_name(dense), "Dense", units, width * units + units));
            width = units;
            dense += 1;
        }
        if self.head.dropout.prob > 0.0 {
            summary.rows.push(row("dropout".into(), "Dropout", width, 0));
        }
        let outputs = self.head.outputs();
        summary.rows.push(row(dense_name(dense), "Dense", outputs, width * outputs + outputs));
        Ok(summary)
    }
}
