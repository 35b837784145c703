//! InceptionV3, written down once, as `keras.applications.inception_v3` builds it: the same
//! calls in the same order (so Keras' automatic names come out the same), the branch order
//! of each block, and where torchvision keeps each unit's weights.
//!
//! The flavours share topology, kernels and the batch-norm epsilon (1e-3); torchvision's
//! batch norms have `gamma` (Keras: `scale=False`) and its branch-pool average pooling
//! counts the padded zeros (Keras divides by the real pixels only).

use backbone::{Activation, Architecture, LayerKind, NetworkBuilder, Node, Padding};

use backbone::Flavor;

/// Keras' `obtain_input_shape(min_size=75)`.
pub const MIN_INPUT: usize = 75;

/// Writes layers into a builder, inside a torchvision module (`Mixed_5b`, or none).
struct Writer {
    builder: NetworkBuilder,
    flavor: Flavor,
    module: &'static str,
}

impl Writer {
    /// Keras' `conv2d_bn`: `Conv2D(use_bias=False)`, `BatchNormalization(scale=False)`,
    /// `Activation('relu')`; torchvision's `BasicConv2d` `torch` in the current module.
    fn conv2d_bn(
        &mut self,
        x: Node,
        filters: usize,
        [rows, cols]: [usize; 2],
        strides: usize,
        padding: Padding,
        torch: &str,
    ) -> Node {
        let torch = match self.module {
            "" => torch.to_string(),
            module => format!("{module}.{torch}"),
        };
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [rows, cols],
            strides: [strides, strides],
            padding,
            use_bias: false,
            activation: Activation::Linear,
        };
        let conv = self.builder.layer(kind, &[x]);
        self.builder.torch_path(conv, format!("{torch}.conv"));
        let norm = LayerKind::BatchNormalization {
            epsilon: 1e-3,
            // Keras' 0.99; PyTorch's `momentum=0.1` weighs the batch by 0.1 (Keras' 0.9).
            momentum: if self.flavor == Flavor::Torchvision { 0.9 } else { 0.99 },
            scale: self.flavor == Flavor::Torchvision,
            tensorflow_order: self.flavor == Flavor::Keras,
        };
        let bn = self.builder.layer(norm, &[conv]);
        self.builder.torch_path(bn, format!("{torch}.bn"));
        self.builder.layer(LayerKind::Activation(Activation::Relu), &[bn])
    }

    /// A stride-1 `same` unit (most of them).
    fn unit(&mut self, x: Node, filters: usize, kernel: [usize; 2], torch: &str) -> Node {
        self.conv2d_bn(x, filters, kernel, 1, Padding::Same, torch)
    }

    /// The 3x3 stride-1 `same` average pooling of the pool branches.
    fn avg_pool(&mut self, x: Node) -> Node {
        let kind = LayerKind::AveragePooling2D {
            pool: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            count_include_pad: self.flavor == Flavor::Torchvision,
        };
        self.builder.layer(kind, &[x])
    }

    /// The 3x3 stride-2 `valid` max pooling.
    fn max_pool(&mut self, x: Node) -> Node {
        let kind = LayerKind::MaxPooling2D { pool: [3, 3], strides: [2, 2], padding: Padding::Valid };
        self.builder.layer(kind, &[x])
    }

    fn concatenate(&mut self, inputs: &[Node], name: Option<&str>) -> Node {
        match name {
            Some(name) => self.builder.named(name, LayerKind::Concatenate, inputs),
            None => self.builder.layer(LayerKind::Concatenate, inputs),
        }
    }

    /// mixed0, 1, 2: 35 x 35 (torchvision `InceptionA`).
    fn block_35(&mut self, x: Node, pool_features: usize, name: &str) -> Node {
        let branch1x1 = self.unit(x, 64, [1, 1], "branch1x1");
        let branch5x5 = self.unit(x, 48, [1, 1], "branch5x5_1");
        let branch5x5 = self.unit(branch5x5, 64, [5, 5], "branch5x5_2");
        let branch3x3dbl = self.unit(x, 64, [1, 1], "branch3x3dbl_1");
        let branch3x3dbl = self.unit(branch3x3dbl, 96, [3, 3], "branch3x3dbl_2");
        let branch3x3dbl = self.unit(branch3x3dbl, 96, [3, 3], "branch3x3dbl_3");
        let branch_pool = self.avg_pool(x);
        let branch_pool = self.unit(branch_pool, pool_features, [1, 1], "branch_pool");
        self.concatenate(&[branch1x1, branch5x5, branch3x3dbl, branch_pool], Some(name))
    }

    /// mixed3: reduction to 17 x 17 (`InceptionB`).
    fn reduction_17(&mut self, x: Node) -> Node {
        let branch3x3 = self.conv2d_bn(x, 384, [3, 3], 2, Padding::Valid, "branch3x3");
        let branch3x3dbl = self.unit(x, 64, [1, 1], "branch3x3dbl_1");
        let branch3x3dbl = self.unit(branch3x3dbl, 96, [3, 3], "branch3x3dbl_2");
        let branch3x3dbl = self.conv2d_bn(branch3x3dbl, 96, [3, 3], 2, Padding::Valid, "branch3x3dbl_3");
        let branch_pool = self.max_pool(x);
        self.concatenate(&[branch3x3, branch3x3dbl, branch_pool], Some("mixed3"))
    }

    /// mixed4 .. 7: 17 x 17 with factorised 7x7 convolutions of `c7` channels (`InceptionC`).
    fn block_17(&mut self, x: Node, c7: usize, name: &str) -> Node {
        let branch1x1 = self.unit(x, 192, [1, 1], "branch1x1");
        let branch7x7 = self.unit(x, c7, [1, 1], "branch7x7_1");
        let branch7x7 = self.unit(branch7x7, c7, [1, 7], "branch7x7_2");
        let branch7x7 = self.unit(branch7x7, 192, [7, 1], "branch7x7_3");
        let branch7x7dbl = self.unit(x, c7, [1, 1], "branch7x7dbl_1");
        let branch7x7dbl = self.unit(branch7x7dbl, c7, [7, 1], "branch7x7dbl_2");
        let branch7x7dbl = self.unit(branch7x7dbl, c7, [1, 7], "branch7x7dbl_3");
        let branch7x7dbl = self.unit(branch7x7dbl, c7, [7, 1], "branch7x7dbl_4");
        let branch7x7dbl = self.unit(branch7x7dbl, 192, [1, 7], "branch7x7dbl_5");
        let branch_pool = self.avg_pool(x);
        let branch_pool = self.unit(branch_pool, 192, [1, 1], "branch_pool");
        self.concatenate(&[branch1x1, branch7x7, branch7x7dbl, branch_pool], Some(name))
    }

    /// mixed8: reduction to 8 x 8 (`InceptionD`).
    fn reduction_8(&mut self, x: Node) -> Node {
        let branch3x3 = self.unit(x, 192, [1, 1], "branch3x3_1");
        let branch3x3 = self.conv2d_bn(branch3x3, 320, [3, 3], 2, Padding::Valid, "branch3x3_2");
        let branch7x7x3 = self.unit(x, 192, [1, 1], "branch7x7x3_1");
        let branch7x7x3 = self.unit(branch7x7x3, 192, [1, 7], "branch7x7x3_2");
        let branch7x7x3 = self.unit(branch7x7x3, 192, [7, 1], "branch7x7x3_3");
        let branch7x7x3 = self.conv2d_bn(branch7x7x3, 192, [3, 3], 2, Padding::Valid, "branch7x7x3_4");
        let branch_pool = self.max_pool(x);
        self.concatenate(&[branch3x3, branch7x7x3, branch_pool], Some("mixed8"))
    }

    /// mixed9, 10: 8 x 8 with expanded 1x3 / 3x1 branches (`InceptionE`); `i` is 0 or 1.
    fn block_8(&mut self, x: Node, i: usize) -> Node {
        let branch1x1 = self.unit(x, 320, [1, 1], "branch1x1");
        let branch3x3 = self.unit(x, 384, [1, 1], "branch3x3_1");
        let branch3x3_1 = self.unit(branch3x3, 384, [1, 3], "branch3x3_2a");
        let branch3x3_2 = self.unit(branch3x3, 384, [3, 1], "branch3x3_2b");
        let branch3x3 = self.concatenate(&[branch3x3_1, branch3x3_2], Some(&format!("mixed9_{i}")));
        let branch3x3dbl = self.unit(x, 448, [1, 1], "branch3x3dbl_1");
        let branch3x3dbl = self.unit(branch3x3dbl, 384, [3, 3], "branch3x3dbl_2");
        let branch3x3dbl_1 = self.unit(branch3x3dbl, 384, [1, 3], "branch3x3dbl_3a");
        let branch3x3dbl_2 = self.unit(branch3x3dbl, 384, [3, 1], "branch3x3dbl_3b");
        let branch3x3dbl = self.concatenate(&[branch3x3dbl_1, branch3x3dbl_2], None);
        let branch_pool = self.avg_pool(x);
        let branch_pool = self.unit(branch_pool, 192, [1, 1], "branch_pool");
        self.concatenate(&[branch1x1, branch3x3, branch3x3dbl, branch_pool], Some(&format!("mixed{}", 9 + i)))
    }
}

/// The whole InceptionV3 of `flavor`, with its classification top of `classes` (Keras
/// `include_top=True`; cut it at `mixed10` for the base), in Keras' `model.layers` order.
pub fn inception_v3(flavor: Flavor, classes: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new("inception_v3", 3, MIN_INPUT);
    let mut w = Writer { builder, flavor, module: "" };
    let x = w.conv2d_bn(input, 32, [3, 3], 2, Padding::Valid, "Conv2d_1a_3x3");
    let x = w.conv2d_bn(x, 32, [3, 3], 1, Padding::Valid, "Conv2d_2a_3x3");
    let x = w.unit(x, 64, [3, 3], "Conv2d_2b_3x3");
    let x = w.max_pool(x);
    let x = w.conv2d_bn(x, 80, [1, 1], 1, Padding::Valid, "Conv2d_3b_1x1");
    let x = w.conv2d_bn(x, 192, [3, 3], 1, Padding::Valid, "Conv2d_4a_3x3");
    let mut x = w.max_pool(x);
    for (i, (module, pool_features)) in [("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)].into_iter().enumerate() {
        w.module = module;
        x = w.block_35(x, pool_features, &format!("mixed{i}"));
    }
    w.module = "Mixed_6a";
    x = w.reduction_17(x);
    for (i, (module, c7)) in
        [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)].into_iter().enumerate()
    {
        w.module = module;
        x = w.block_17(x, c7, &format!("mixed{}", 4 + i));
    }
    w.module = "Mixed_7a";
    x = w.reduction_8(x);
    for (i, module) in ["Mixed_7b", "Mixed_7c"].into_iter().enumerate() {
        w.module = module;
        x = w.block_8(x, i);
    }
    let pooled = w.builder.named("avg_pool", LayerKind::GlobalAveragePooling2D, &[x]);
    let activation = match flavor {
        Flavor::Keras => Activation::Softmax,
        Flavor::Torchvision => Activation::Linear,
    };
    let predictions = w.builder.named("predictions", LayerKind::Dense { units: classes, activation }, &[pooled]);
    w.builder.torch_path(predictions, "fc");
    w.builder.finish(predictions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_what_the_layer_depends_on() {
        let whole = inception_v3(Flavor::Keras, 1000);
        assert_eq!(whole.len(), 313);
        assert_eq!(whole.cut_at("mixed7").unwrap().len(), 229);
        let inner = whole.cut_at("mixed9_0").unwrap();
        assert_eq!(inner.layers().last().unwrap().name, "mixed9_0");
        assert!(inner.layers().iter().all(|l| l.name != "mixed9"));
        assert!(whole.is_split_point(whole.index_of("mixed7").unwrap()));
        assert!(!whole.is_split_point(whole.index_of("mixed9_0").unwrap()));
        let err = whole.index_of("mixd5").unwrap_err().to_string();
        assert!(err.contains("mixed5") && err.contains("conv2d .. conv2d_93 (94 layers)"), "{err}");
    }
}
