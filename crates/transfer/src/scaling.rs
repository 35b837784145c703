//! The input preprocessing a model applies first, in training and inference alike: Keras'
//! `preprocess_input` of its backbone or a `Rescaling` layer inside the model.

/// The model's first step ([`backbone::Preprocess`]: Keras' `tf`, `torch` and `caffe`
/// modes, or `x * scale + offset`). The name `TransferModelConfig::input_scaling` has
/// always had; the backbone's own is [`crate::BaseConfig::preprocess`].
pub type InputScaling = backbone::Preprocess;
