//! EfficientNetB0 to B7, written down once as `keras.applications.efficientnet` (Keras 2.15)
//! builds them **with `weights="imagenet"`** (the architecture of the official files): a
//! stem that preprocesses inside the model (`Rescaling(1/255)`, `Normalization` whose
//! statistics are weights of the file, and the extra `Rescaling(1/sqrt(stddev))` that only
//! the ImageNet build adds, TensorFlow issue 49930), a 3x3/2 convolution, seven stages of
//! inverted residual blocks (1x1 expansion, 3x3 or 5x5 depthwise convolution, squeeze and
//! excitation, 1x1 projection, drop-connect and a shortcut where the shapes allow), and a
//! 1x1 convolution to `round_filters(1280)` channels. Swish everywhere; batch norms with
//! gamma, epsilon 1e-3. The width, depth and default resolution of each member come from
//! its coefficients through Keras' `round_filters` / `round_repeats`. The input is raw
//! 0..255 pixels.

use backbone::weights::KerasWeightFile;
use backbone::{
    Activation, Architecture, Backbone, BackboneOptions, Flavor, LayerKind, NetworkBuilder, Node, OfficialWeights,
    Padding, Preprocess, Result, ZeroPadding,
};

/// Keras' `obtain_input_shape(min_size=32)`.
pub const MIN_INPUT: usize = 32;

/// ImageNet's per-channel standard deviations (RGB), as Keras' `IMAGENET_STDDEV_RGB`.
const IMAGENET_STDDEV_RGB: [f64; 3] = [0.229, 0.224, 0.225];

/// Keras' `drop_connect_rate` default.
const DROP_CONNECT_RATE: f64 = 0.2;

/// Keras' `depth_divisor` default.
const DEPTH_DIVISOR: f64 = 8.0;

/// One stage of Keras' `DEFAULT_BLOCKS_ARGS`.
struct Stage {
    kernel: usize,
    repeats: usize,
    filters_in: usize,
    filters_out: usize,
    expand_ratio: usize,
    strides: usize,
}

/// Keras' `DEFAULT_BLOCKS_ARGS` (every stage has `id_skip=True` and `se_ratio=0.25`).
const DEFAULT_BLOCKS_ARGS: [Stage; 7] = [
    Stage { kernel: 3, repeats: 1, filters_in: 32, filters_out: 16, expand_ratio: 1, strides: 1 },
    Stage { kernel: 3, repeats: 2, filters_in: 16, filters_out: 24, expand_ratio: 6, strides: 2 },
    Stage { kernel: 5, repeats: 2, filters_in: 24, filters_out: 40, expand_ratio: 6, strides: 2 },
    Stage { kernel: 3, repeats: 3, filters_in: 40, filters_out: 80, expand_ratio: 6, strides: 2 },
    Stage { kernel: 5, repeats: 3, filters_in: 80, filters_out: 112, expand_ratio: 6, strides: 1 },
    Stage { kernel: 5, repeats: 4, filters_in: 112, filters_out: 192, expand_ratio: 6, strides: 2 },
    Stage { kernel: 3, repeats: 1, filters_in: 192, filters_out: 320, expand_ratio: 6, strides: 1 },
];

/// The squeeze-and-excitation ratio of every block.
const SE_RATIO: f64 = 0.25;

/// One member of the family: Keras' `EfficientNetB0` .. `EfficientNetB7` as a backbone
/// plug-in (`efficientnet_b0` .. `efficientnet_b7`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EfficientNet {
    name: &'static str,
    title: &'static str,
    /// Keras' `model_name` (`efficientnetb0`), the name of its weight files.
    model_name: &'static str,
    /// Keras' `width_coefficient`.
    pub width: f64,
    /// Keras' `depth_coefficient`.
    pub depth: f64,
    /// Keras' `default_size`.
    pub resolution: usize,
    /// Keras' `dropout_rate` of the top.
    pub dropout: f64,
}

macro_rules! member {
    ($n:literal, $width:expr, $depth:expr, $resolution:expr, $dropout:expr) => {
        EfficientNet {
            name: concat!("efficientnet_b", $n),
            title: concat!("EfficientNetB", $n),
            model_name: concat!("efficientnetb", $n),
            width: $width,
            depth: $depth,
            resolution: $resolution,
            dropout: $dropout,
        }
    };
}

impl EfficientNet {
    /// EfficientNetB0: width 1.0, depth 1.0, 224x224.
    pub const B0: EfficientNet = member!("0", 1.0, 1.0, 224, 0.2);
    /// EfficientNetB1: width 1.0, depth 1.1, 240x240.
    pub const B1: EfficientNet = member!("1", 1.0, 1.1, 240, 0.2);
    /// EfficientNetB2: width 1.1, depth 1.2, 260x260.
    pub const B2: EfficientNet = member!("2", 1.1, 1.2, 260, 0.3);
    /// EfficientNetB3: width 1.2, depth 1.4, 300x300.
    pub const B3: EfficientNet = member!("3", 1.2, 1.4, 300, 0.3);
    /// EfficientNetB4: width 1.4, depth 1.8, 380x380.
    pub const B4: EfficientNet = member!("4", 1.4, 1.8, 380, 0.4);
    /// EfficientNetB5: width 1.6, depth 2.2, 456x456.
    pub const B5: EfficientNet = member!("5", 1.6, 2.2, 456, 0.4);
    /// EfficientNetB6: width 1.8, depth 2.6, 528x528.
    pub const B6: EfficientNet = member!("6", 1.8, 2.6, 528, 0.5);
    /// EfficientNetB7: width 2.0, depth 3.1, 600x600.
    pub const B7: EfficientNet = member!("7", 2.0, 3.1, 600, 0.5);

    /// The whole family, B0 to B7.
    pub const FAMILY: [EfficientNet; 8] =
        [Self::B0, Self::B1, Self::B2, Self::B3, Self::B4, Self::B5, Self::B6, Self::B7];

    /// Keras' `round_filters`: `filters` times the width, rounded to a multiple of 8 (never
    /// more than 10% down).
    pub fn round_filters(&self, filters: usize) -> usize {
        let filters = filters as f64 * self.width;
        let divisor = DEPTH_DIVISOR as usize;
        let mut rounded = DEPTH_DIVISOR.max(((filters + DEPTH_DIVISOR / 2.0) as usize / divisor * divisor) as f64);
        if rounded < 0.9 * filters {
            rounded += DEPTH_DIVISOR;
        }
        rounded as usize
    }

    /// Keras' `round_repeats`: `repeats` times the depth, rounded up.
    pub fn round_repeats(&self, repeats: usize) -> usize {
        (self.depth * repeats as f64).ceil() as usize
    }

    /// The number of blocks (`block1a` ... the last).
    pub fn blocks(&self) -> usize {
        DEFAULT_BLOCKS_ARGS.iter().map(|stage| self.round_repeats(stage.repeats)).sum()
    }

    /// A short description for messages: `EfficientNetB3 (width 1.2, depth 1.4: 26 blocks)`.
    fn describe_member(&self) -> String {
        format!("{} (width {}, depth {}: {} blocks)", self.title, self.width, self.depth, self.blocks())
    }
}

const BATCH_NORM: LayerKind =
    LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.99, scale: true, tensorflow_order: true };

struct Writer {
    builder: NetworkBuilder,
}

/// What one `block()` call of the Keras source gets.
struct BlockArgs {
    kernel: usize,
    strides: usize,
    filters_in: usize,
    filters_out: usize,
    expand_ratio: usize,
    drop_rate: f64,
}

fn conv1x1(filters: usize, use_bias: bool, activation: Activation) -> LayerKind {
    LayerKind::Conv2D { filters, kernel: [1, 1], strides: [1, 1], padding: Padding::Same, use_bias, activation }
}

impl Writer {
    fn swish(&mut self, x: Node, name: &str) -> Node {
        self.builder.named(name, LayerKind::Activation(Activation::Swish), &[x])
    }

    fn batch_norm(&mut self, x: Node, name: &str) -> Node {
        self.builder.named(name, BATCH_NORM, &[x])
    }

    /// Keras' `block()`: an inverted residual block named `{name}...`.
    fn block(&mut self, inputs: Node, name: &str, args: &BlockArgs) -> Node {
        let filters = args.filters_in * args.expand_ratio;
        let mut x = inputs;
        if args.expand_ratio != 1 {
            x = self.builder.named(&format!("{name}expand_conv"), conv1x1(filters, false, Activation::Linear), &[x]);
            x = self.batch_norm(x, &format!("{name}expand_bn"));
            x = self.swish(x, &format!("{name}expand_activation"));
        }
        let padding = match args.strides {
            2 => {
                let pad = LayerKind::ZeroPadding2D { padding: ZeroPadding::Correct { kernel: [args.kernel; 2] } };
                x = self.builder.named(&format!("{name}dwconv_pad"), pad, &[x]);
                Padding::Valid
            }
            _ => Padding::Same,
        };
        let depthwise = LayerKind::DepthwiseConv2D {
            kernel: [args.kernel; 2],
            strides: [args.strides; 2],
            padding,
            use_bias: false,
        };
        x = self.builder.named(&format!("{name}dwconv"), depthwise, &[x]);
        x = self.batch_norm(x, &format!("{name}bn"));
        x = self.swish(x, &format!("{name}activation"));

        // Squeeze and excitation.
        let filters_se = ((args.filters_in as f64 * SE_RATIO) as usize).max(1);
        let se = self.builder.named(&format!("{name}se_squeeze"), LayerKind::GlobalAveragePooling2D, &[x]);
        let se = self.builder.named(&format!("{name}se_reshape"), LayerKind::Reshape { shape: [1, 1, filters] }, &[se]);
        let se = self.builder.named(&format!("{name}se_reduce"), conv1x1(filters_se, true, Activation::Swish), &[se]);
        let se = self.builder.named(&format!("{name}se_expand"), conv1x1(filters, true, Activation::Sigmoid), &[se]);
        x = self.builder.named(&format!("{name}se_excite"), LayerKind::Multiply, &[x, se]);

        // Output phase.
        x = self.builder.named(
            &format!("{name}project_conv"),
            conv1x1(args.filters_out, false, Activation::Linear),
            &[x],
        );
        x = self.batch_norm(x, &format!("{name}project_bn"));
        if args.strides == 1 && args.filters_in == args.filters_out {
            if args.drop_rate > 0.0 {
                let drop = LayerKind::Dropout { rate: args.drop_rate, per_image: true };
                x = self.builder.named(&format!("{name}drop"), drop, &[x]);
            }
            x = self.builder.named(&format!("{name}add"), LayerKind::Add, &[x, inputs]);
        }
        x
    }
}

/// `member` as Keras builds it with `weights="imagenet"`, with the top (`avg_pool`,
/// `top_dropout`, `predictions` softmax over `classes`) or without (ends at
/// `top_activation`).
pub fn efficientnet(member: &EfficientNet, include_top: bool, classes: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new(member.model_name, 3, MIN_INPUT);
    let mut w = Writer { builder };
    let rescale = LayerKind::Rescaling { scale: vec![1.0 / 255.0], offset: 0.0 };
    let x = w.builder.layer(rescale, &[input]);
    let x = w.builder.layer(LayerKind::Normalization, &[x]);
    let stddev =
        LayerKind::Rescaling { scale: IMAGENET_STDDEV_RGB.iter().map(|s| 1.0 / s.sqrt()).collect(), offset: 0.0 };
    let x = w.builder.layer(stddev, &[x]);
    let pad = LayerKind::ZeroPadding2D { padding: ZeroPadding::Correct { kernel: [3, 3] } };
    let x = w.builder.named("stem_conv_pad", pad, &[x]);
    let stem = LayerKind::Conv2D {
        filters: member.round_filters(32),
        kernel: [3, 3],
        strides: [2, 2],
        padding: Padding::Valid,
        use_bias: false,
        activation: Activation::Linear,
    };
    let x = w.builder.named("stem_conv", stem, &[x]);
    let x = w.batch_norm(x, "stem_bn");
    let mut x = w.swish(x, "stem_activation");

    let blocks = member.blocks() as f64;
    let mut b = 0;
    for (i, stage) in DEFAULT_BLOCKS_ARGS.iter().enumerate() {
        let (filters_in, filters_out) =
            (member.round_filters(stage.filters_in), member.round_filters(stage.filters_out));
        for j in 0..member.round_repeats(stage.repeats) {
            let args = BlockArgs {
                kernel: stage.kernel,
                strides: if j == 0 { stage.strides } else { 1 },
                filters_in: if j == 0 { filters_in } else { filters_out },
                filters_out,
                expand_ratio: stage.expand_ratio,
                drop_rate: DROP_CONNECT_RATE * b as f64 / blocks,
            };
            let name = format!("block{}{}_", i + 1, char::from(b'a' + j as u8));
            x = w.block(x, &name, &args);
            b += 1;
        }
    }

    let x = w.builder.named("top_conv", conv1x1(member.round_filters(1280), false, Activation::Linear), &[x]);
    let x = w.batch_norm(x, "top_bn");
    let mut x = w.swish(x, "top_activation");
    if include_top {
        x = w.builder.named("avg_pool", LayerKind::GlobalAveragePooling2D, &[x]);
        if member.dropout > 0.0 {
            let drop = LayerKind::Dropout { rate: member.dropout, per_image: false };
            x = w.builder.named("top_dropout", drop, &[x]);
        }
        let dense = LayerKind::Dense { units: classes, activation: Activation::Softmax };
        x = w.builder.named("predictions", dense, &[x]);
    }
    w.builder.finish(x)
}

/// The output channels of every `*_project_conv` and `top_conv` in a Keras file, by name.
fn file_widths(file: &KerasWeightFile) -> Vec<(&str, usize)> {
    file.layers
        .iter()
        .filter(|l| l.name == "top_conv" || (l.name.starts_with("block") && l.name.ends_with("_project_conv")))
        .filter_map(|l| {
            let kernel = l.weights.iter().find(|w| w.name == "kernel")?;
            Some((l.name.as_str(), *kernel.shape.last()?))
        })
        .collect()
}

impl EfficientNet {
    /// Whether a Keras file holds this member: an EfficientNet stem, and every projection
    /// (and `top_conv`) of the file one of this member's, of its width; all of them when the
    /// file has `top_conv` (a file of the whole network).
    fn holds(&self, file: &KerasWeightFile) -> bool {
        if !file.layers.iter().any(|l| l.name == "stem_conv") {
            return false;
        }
        let ours = efficientnet(self, false, 1000);
        let widths = file_widths(file);
        let matches = widths.iter().all(|(name, width)| ours.index_of(name).is_ok_and(|i| ours.channels(i) == *width));
        let ours_count =
            ours.layers().iter().filter(|l| l.name.ends_with("project_conv") || l.name == "top_conv").count();
        let whole = widths.iter().any(|(name, _)| *name == "top_conv");
        matches && (!whole || widths.len() == ours_count)
    }
}

impl Backbone for EfficientNet {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        self.title
    }

    fn default_input(&self) -> [usize; 2] {
        [self.resolution, self.resolution]
    }

    fn transfer_cut(&self) -> &'static str {
        "top_activation"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        Ok(efficientnet(self, options.include_top, options.classes))
    }

    fn preprocess(&self, _flavor: Flavor) -> Option<Preprocess> {
        // Raw 0..255 pixels: the model rescales and normalises inside.
        None
    }

    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        self.holds(file)
    }

    fn keras_file_holds(&self, file: &KerasWeightFile) -> Option<String> {
        EfficientNet::FAMILY.iter().find(|member| member.holds(file)).map(EfficientNet::describe_member)
    }

    fn notop_weights(&self) -> OfficialWeights {
        let index = EfficientNet::FAMILY.iter().position(|m| m.name == self.name).unwrap_or(0);
        OFFICIAL_NOTOP[index]
    }
}

macro_rules! notop {
    ($n:literal) => {
        OfficialWeights {
            file: concat!("efficientnetb", $n, "_notop.h5"),
            url: concat!("https://storage.googleapis.com/keras-applications/efficientnetb", $n, "_notop.h5"),
        }
    };
}

/// Keras' official notop files, B0 to B7.
const OFFICIAL_NOTOP: [OfficialWeights; 8] =
    [notop!("0"), notop!("1"), notop!("2"), notop!("3"), notop!("4"), notop!("5"), notop!("6"), notop!("7")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_depths_round_as_keras_rounds_them() {
        // round_filters(32), round_filters(1280) and the number of blocks of each member,
        // as Keras 2.15 builds them.
        let expected = [
            (32, 1280, 16),
            (32, 1280, 23),
            (32, 1408, 23),
            (40, 1536, 26),
            (48, 1792, 32),
            (48, 2048, 39),
            (56, 2304, 45),
            (64, 2560, 55),
        ];
        for (member, (stem, top, blocks)) in EfficientNet::FAMILY.iter().zip(expected) {
            assert_eq!(member.round_filters(32), stem, "{}", member.title);
            assert_eq!(member.round_filters(1280), top, "{}", member.title);
            assert_eq!(member.blocks(), blocks, "{}", member.title);
        }
    }

    #[test]
    fn b0_has_keras_layers_and_parameters() {
        let b0 = efficientnet(&EfficientNet::B0, false, 1000);
        assert_eq!(b0.len(), 238);
        let summary = backbone::Summary::of(&b0, [224, 224], &|_| true).unwrap();
        assert_eq!(summary.total_params(), 4_049_571);
        let top = efficientnet(&EfficientNet::B0, true, 1000);
        assert_eq!(backbone::Summary::of(&top, [224, 224], &|_| true).unwrap().total_params(), 5_330_571);
    }
}
