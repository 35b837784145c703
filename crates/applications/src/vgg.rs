//! VGG16, written down once as `keras.applications.vgg16` (Keras 2.15) builds it: five
//! blocks of 3x3 `same` convolutions with bias and ReLU inside the layer (64, 128, 256, 512,
//! 512 filters; two convolutions in blocks 1-2, three after), each ending in a 2x2 stride-2
//! max pooling; the top flattens (so its input size is fixed) into `fc1`, `fc2` (4096, ReLU)
//! and `predictions`. `preprocess_input` is Keras' `caffe` mode.

use backbone::weights::KerasWeightFile;
use backbone::{
    Activation, Architecture, Backbone, BackboneOptions, Flavor, LayerKind, NetworkBuilder, OfficialWeights, Padding,
    Preprocess, Result,
};

/// Keras' `obtain_input_shape(min_size=32)`.
pub const MIN_INPUT: usize = 32;

/// The blocks: (filters, convolutions).
const BLOCKS: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)];

/// Keras' `VGG16` as a backbone plug-in (`vgg16`).
#[derive(Debug, Clone, Copy)]
pub struct Vgg16;

/// VGG16 for inputs of `input_size` (which only the top's flattening depends on), with the
/// top (`flatten`, `fc1`, `fc2`, `predictions` softmax over `classes`) or without (ends at
/// `block5_pool`).
pub fn vgg16(include_top: bool, classes: usize, input_size: [usize; 2]) -> Architecture {
    let (mut builder, mut x) = NetworkBuilder::new("vgg16", 3, MIN_INPUT);
    for (block, (filters, convolutions)) in BLOCKS.into_iter().enumerate() {
        for conv in 1..=convolutions {
            let kind = LayerKind::Conv2D {
                filters,
                kernel: [3, 3],
                strides: [1, 1],
                padding: Padding::Same,
                use_bias: true,
                activation: Activation::Relu,
            };
            x = builder.named(&format!("block{}_conv{conv}", block + 1), kind, &[x]);
        }
        let pool = LayerKind::MaxPooling2D { pool: [2, 2], strides: [2, 2], padding: Padding::Valid };
        x = builder.named(&format!("block{}_pool", block + 1), pool, &[x]);
    }
    if include_top {
        // Five 2x2 stride-2 poolings: each halves, rounding down.
        let [rows, cols] = input_size.map(|side| side >> BLOCKS.len());
        x = builder.named("flatten", LayerKind::Flatten { features: rows * cols * 512 }, &[x]);
        let relu = |units| LayerKind::Dense { units, activation: Activation::Relu };
        x = builder.named("fc1", relu(4096), &[x]);
        x = builder.named("fc2", relu(4096), &[x]);
        let predictions = LayerKind::Dense { units: classes, activation: Activation::Softmax };
        x = builder.named("predictions", predictions, &[x]);
    }
    builder.finish(x)
}

impl Backbone for Vgg16 {
    fn name(&self) -> &'static str {
        "vgg16"
    }

    fn title(&self) -> &'static str {
        "VGG16"
    }

    fn transfer_cut(&self) -> &'static str {
        "block5_pool"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        Ok(vgg16(options.include_top, options.classes, options.input_size))
    }

    fn preprocess(&self, _flavor: Flavor) -> Option<Preprocess> {
        Some(Preprocess::Caffe)
    }

    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        // VGG19 has a fourth convolution in blocks 3-5.
        let has = |name: &str| file.layers.iter().any(|l| l.name == name);
        has("block1_conv1") && has("block2_conv2") && !has("block3_conv4") && !has("block1_conv1_bn")
    }

    fn notop_weights(&self) -> OfficialWeights {
        OfficialWeights {
            file: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            url: "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        }
    }
}
