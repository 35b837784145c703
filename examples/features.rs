//! Run any backbone (InceptionV3, MobileNetV2, ResNet50, VGG16, Xception, EfficientNetB0-B7)
//! up to a named layer on your
//! weights and save the output: what users run to check their weight file against Keras or
//! torchvision. `--summary` prints Keras' `base.summary()` instead.
//!
//! ```text
//! cargo run --release --example features -- \
//!     --weights weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 \
//!     --layer mixed7 --input x.npy --output y.npy
//! cargo run --release --example features -- --model resnet50 \
//!     --weights weights/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 \
//!     --layer conv4_block6_out --input cat.jpg --size 224 --output y.npy
//! cargo run --release --example features -- --model vgg16 --summary --size 224
//! ```
//! `x.npy`: float32 NHWC `[N, H, W, 3]`, used as given (already preprocessed). An image file
//! (`--input cat.jpg`) is decoded, resized to `--size` (default 150) and preprocessed as the
//! backbone's Keras `preprocess_input` does (`caffe` for ResNet50 and VGG16, `tf` for
//! MobileNetV2 and Xception, torchvision's mean / std for a torchvision MobileNetV2; none for
//! EfficientNet, which takes raw 0..255 pixels and preprocesses inside), except InceptionV3,
//! which gets the course's 1/255; `--preprocess tf|torch|caffe|rescale` overrides it.
//! `y.npy`: float32 NHWC output of the layer, Keras' layout. `--model` defaults to what the
//! weight file holds; `--layer` to the backbone's transfer-learning cut (`mixed7`,
//! `out_relu`, `conv5_block3_out`, `block5_pool`). Prints the shape and the time.
//!
//! Feature export: `--input DIR`, a folder of class sub-folders (`DIR/cats/*.jpg`,
//! `DIR/dogs/*.jpg`, as `flow_from_directory` reads it, sorted, not shuffled), writes the
//! features of every image to `y.npy`, their class indices to `y.labels.npy` (float32
//! `[N]`) and the class names, one per line in index order, to `y.classes.txt`: the arrays
//! to train a head on elsewhere (`np.load`), as Keras' `model.predict(generator)` does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use applications::{BackboneConfig, REGISTRY};
use backbone::cpu::NhwcBatch;
use backbone::weights::{WeightFormat, detect_format};
use backbone::{Backbone, Flavor, FrozenBase, Preprocess};
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use inception_transfer::backend::Backend;
use inception_transfer::npy::{read_npy, write_npy};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "Any backbone's features at a named layer, from Keras or torchvision weights, or its summary"
)]
struct Args {
    /// Weight file: Keras .h5, torchvision .pth / .safetensors, or this project's safetensors.
    #[arg(long, required_unless_present = "summary")]
    weights: Option<PathBuf>,
    /// inception_v3, mobilenet_v2, resnet50, vgg16 or xception (default: what the weight file holds).
    #[arg(long)]
    model: Option<String>,
    /// Any Keras layer name (mixed7, block_13_expand_relu, conv4_block6_out, block5_pool, ...;
    /// torchvision's Mixed_6e spelling for InceptionV3). Default: the backbone's
    /// transfer-learning cut.
    #[arg(long)]
    layer: Option<String>,
    /// float32 NHWC .npy, an image file (JPEG, PNG, BMP, GIF), or a folder of class
    /// sub-folders of images (feature export).
    #[arg(long, required_unless_present = "summary")]
    input: Option<PathBuf>,
    /// Where to write the float32 NHWC output.
    #[arg(long, required_unless_present = "summary")]
    output: Option<PathBuf>,
    /// keras or torchvision numerics (default: what the weight file is).
    #[arg(long)]
    flavor: Option<String>,
    /// tf, torch, caffe or rescale (1/255) for image inputs (default: the backbone's).
    #[arg(long)]
    preprocess: Option<String>,
    /// flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long)]
    backend: Option<String>,
    /// Side of the square an image input is resized to (and the summary's input).
    #[arg(long, default_value_t = 150)]
    size: usize,
    /// Print Keras' `base.summary()` of the network at `--size` (cut at `--layer` when
    /// given) and exit.
    #[arg(long)]
    summary: bool,
}

/// The preprocessing of image inputs: `--preprocess`, else the backbone's Keras
/// `preprocess_input` (InceptionV3: the course's 1/255).
fn preprocessing(args: &Args, backbone: &dyn Backbone, flavor: Flavor) -> Result<Option<Preprocess>> {
    Ok(match (&args.preprocess, backbone.name()) {
        (Some(mode), _) => Some(mode.parse()?),
        (None, "inception_v3") => Some(Preprocess::scale(1.0 / 255.0, 0.0)),
        (None, _) => backbone.preprocess(flavor),
    })
}

/// The flavour of a weight file: torchvision for its state dicts, else what this
/// project's file records (InceptionV3's and MobileNetV2's own), else Keras.
fn file_flavor(backbone: &dyn Backbone, path: &Path) -> Result<Flavor> {
    Ok(match (detect_format(path)?, backbone.name()) {
        (WeightFormat::Torchvision, _) => Flavor::Torchvision,
        (WeightFormat::Native, "inception_v3") => inception::weights::detect_flavor(path)?,
        (WeightFormat::Native, "mobilenet_v2") => mobilenet::detect_flavor(path)?,
        _ => Flavor::Keras,
    })
}

/// The Keras name of `layer` (InceptionV3 also takes torchvision's block names).
fn keras_layer(backbone: &dyn Backbone, layer: &str) -> String {
    match backbone.name() {
        "inception_v3" => layer.parse::<inception::LayerName>().map_or(layer.to_string(), |l| l.keras_name().into()),
        _ => layer.to_string(),
    }
}

/// The images of a folder of class sub-folders.
struct FolderImages {
    /// NHWC shape.
    shape: Vec<usize>,
    /// Pixels 0..255, NHWC.
    pixels: Vec<f32>,
    /// Each image's class index.
    classes: Vec<f32>,
    /// Class names in index order.
    names: Vec<String>,
}

/// Every image of a folder of class sub-folders, in `flow_from_directory`'s order (not
/// shuffled), resized to `size` x `size`.
fn read_folder(folder: &Path, size: usize) -> Result<FolderImages> {
    let config = augment::FlowConfig::new()
        .with_target_size([size, size])
        .with_batch_size(32)
        .with_class_mode(augment::ClassMode::Sparse)
        .with_shuffle(false);
    let mut flow = augment::DirectoryIterator::new(folder, augment::ImageDataGenerator::rescale_only(1.0), config)?;
    let host = Device::flex();
    let (mut pixels, mut classes) = (Vec::new(), Vec::new());
    for _ in 0..flow.batches_per_epoch() {
        let batch = flow.next_batch(&host)?;
        pixels.extend(backbone::cpu::host_values(batch.images.permute([0, 2, 3, 1]))?);
        classes.extend(batch.classes.iter().map(|&c| c as f32));
    }
    Ok(FolderImages { shape: vec![classes.len(), size, size, 3], pixels, classes, names: flow.class_names().to_vec() })
}

/// An input of `[rows, cols]` from `source` (a flag, a file), checked before a network is
/// built for it: at least one pixel, at most augment's pixel limit (what images may have).
fn check_input_size(source: &str, [rows, cols]: [usize; 2]) -> Result<()> {
    let pixels = (rows as u64).saturating_mul(cols as u64);
    if pixels == 0 {
        bail!("{source}: an input of {rows}x{cols} has no pixels");
    }
    if let Some(limit) = augment::max_image_pixels().filter(|&limit| pixels > limit) {
        bail!("{source}: an input of {rows}x{cols} is over the pixel limit of {limit} (as images are)");
    }
    Ok(())
}

fn main() -> Result<()> {
    // malloc keeps freed memory for reuse: a process-wide setting, so the program's choice.
    inception_transfer::prelude::keep_freed_memory();
    let args = Args::parse();
    let backbone = match (&args.model, &args.weights) {
        (Some(name), _) => REGISTRY.get(name)?,
        (None, Some(weights)) => REGISTRY.detect(weights)?,
        (None, None) => bail!("--summary needs --model (one of {}) or --weights", REGISTRY.names()),
    };
    let flavor: Flavor = match (&args.flavor, &args.weights) {
        (Some(f), _) => f.parse()?,
        (None, Some(weights)) => file_flavor(backbone, weights)?,
        (None, None) => Flavor::Keras,
    };
    let layer = keras_layer(backbone, args.layer.as_deref().unwrap_or(backbone.transfer_cut()));
    let config = BackboneConfig::of(backbone).with_flavor(flavor);
    check_input_size("--size", [args.size, args.size])?;
    if args.summary {
        let config = config.with_input_size([args.size, args.size]);
        let config = match &args.layer {
            Some(_) => config.with_cut(Some(layer)),
            None => config,
        };
        print!("{}", config.summary([args.size, args.size])?);
        return Ok(());
    }
    let (Some(weights), Some(input), Some(output)) = (&args.weights, &args.input, &args.output) else {
        bail!("--weights, --input and --output are needed without --summary");
    };
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;

    let is_npy = input.extension().is_some_and(|e| e == "npy");
    let preprocess = preprocessing(&args, backbone, flavor)?;
    let preprocessed = |mut pixels: Vec<f32>| {
        if let Some(mode) = preprocess {
            mode.apply_nhwc(&mut pixels);
        }
        pixels
    };
    let mut labels = None;
    let (shape, values) = if is_npy {
        let array = read_npy(input)?;
        if array.shape.len() != 4 || array.shape[3] != 3 || array.shape[0] == 0 {
            bail!("{}: expected float32 NHWC [N, H, W, 3] with N >= 1, got shape {:?}", input.display(), array.shape);
        }
        check_input_size(&input.display().to_string(), [array.shape[1], array.shape[2]])?;
        (array.shape, array.values)
    } else if input.is_dir() {
        let folder = read_folder(input, args.size)?;
        labels = Some((folder.classes, folder.names));
        (folder.shape, preprocessed(folder.pixels))
    } else {
        let image = augment::load_img(input, Some([args.size, args.size]), augment::Interpolation::Nearest)?;
        (vec![1, image.height, image.width, 3], preprocessed(image.data))
    };
    let [n, h, w, c]: [usize; 4] = shape.try_into().map_err(|s| anyhow::anyhow!("input shape {s:?}"))?;

    let started = Instant::now();
    // Cut at the layer: a file of the whole network loads, and so does one of a model cut there.
    let config = config.with_input_size([h, w]).with_cut(Some(layer.clone()));
    let network = config.pretrained(weights, &device).with_context(|| format!("loading {}", weights.display()))?;
    let index = network.architecture().index_of(&layer)?;
    // On the CPU the frozen network runs packed channels-last (same values, 2-5x faster).
    let frozen = FrozenBase::up_to(&network, index, &device)?;
    let loaded = started.elapsed();
    let started = Instant::now();
    let (out_shape, out) = match frozen.packed() {
        Some(packed) => {
            let y = packed.forward_nhwc(&NhwcBatch { data: values, shape: [n, h, w, c] }, &[index])?.remove(0);
            (y.shape.to_vec(), y.data)
        }
        None => {
            let x = Tensor::<4>::from_data(TensorData::new(values, [n, h, w, c]), &device).permute([0, 3, 1, 2]);
            let y = frozen.forward(x)?.permute([0, 2, 3, 1]);
            let out_shape = y.dims().to_vec();
            (out_shape, y.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?)
        }
    };
    let out_shape = match out_shape.as_slice() {
        [n, 1, 1, f] if network.architecture().output_shape(index, [h, w])?.len() == 1 => vec![*n, *f],
        _ => out_shape,
    };
    let ran = started.elapsed();
    write_npy(output, &out_shape, &out)?;
    if let Some((classes, names)) = labels {
        let labels_path = output.with_extension("labels.npy");
        write_npy(&labels_path, &[classes.len()], &classes)?;
        let classes_path = output.with_extension("classes.txt");
        std::fs::write(&classes_path, names.join("\n") + "\n")?;
        println!("labels: {} ({} classes: {})", labels_path.display(), names.len(), classes_path.display());
    }
    let backend_name = backend.name();
    println!(
        "{layer} ({}, {backend_name}): output shape {:?}, forward {:.3} s ({:.1} img/s), weights loaded in {:.2} s",
        network.architecture().name(),
        out_shape,
        ran.as_secs_f64(),
        n as f64 / ran.as_secs_f64(),
        loaded.as_secs_f64()
    );
    Ok(())
}
