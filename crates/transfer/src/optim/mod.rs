//! Keras' optimizers, exactly as Keras 2.15 updates a variable: [`KerasRmsProp`] (the
//! course) and [`KerasAdam`] (the TF tutorial), chosen by [`KerasOptimizer`].

mod adam;
pub(crate) mod factored;
mod rmsprop;
mod state_tensor;

pub use adam::{KerasAdam, KerasAdamState};
pub use rmsprop::{KerasRmsProp, KerasRmsPropState};
pub use state_tensor::StateTensor;

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

/// The optimizer of a compiled model (Keras' `optimizer=`), recorded in checkpoints so a
/// resumed run reads its state back into the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum KerasOptimizer {
    /// `tf.keras.optimizers.RMSprop`.
    RmsProp(KerasRmsProp),
    /// `tf.keras.optimizers.Adam`.
    Adam(KerasAdam),
}

impl Default for KerasOptimizer {
    /// RMSprop with Keras' defaults (the course's optimizer).
    fn default() -> Self {
        KerasOptimizer::RmsProp(KerasRmsProp::default())
    }
}

impl KerasOptimizer {
    /// A fresh module optimizer (no state yet), as compiling a Keras model makes one.
    pub fn init(self) -> ModuleOptimizer {
        match self {
            KerasOptimizer::RmsProp(rmsprop) => rmsprop.init(),
            KerasOptimizer::Adam(adam) => adam.init(),
        }
    }
}

impl From<KerasRmsProp> for KerasOptimizer {
    fn from(rmsprop: KerasRmsProp) -> Self {
        KerasOptimizer::RmsProp(rmsprop)
    }
}

impl From<KerasAdam> for KerasOptimizer {
    fn from(adam: KerasAdam) -> Self {
        KerasOptimizer::Adam(adam)
    }
}
