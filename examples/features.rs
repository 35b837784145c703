//! Run InceptionV3 or MobileNetV2 up to a named layer on your weights and save the output:
//! what users run to check their weight file against Keras or torchvision.
//!
//! ```text
//! cargo run --release --example features -- \
//!     --weights weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 \
//!     --layer mixed7 --input x.npy --output y.npy
//! cargo run --release --example features -- --model mobilenet_v2 \
//!     --weights weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5 \
//!     --layer block_13_expand_relu --input x.npy --output y.npy
//! ```
//! `x.npy`: float32 NHWC `[N, H, W, 3]`, used as given (already preprocessed). An image file
//! (`--input cat.jpg`) is decoded, resized to `--size` (default 150) and rescaled by 1/255
//! (InceptionV3, the course) or `x / 127.5 - 1` (MobileNetV2's `preprocess_input`;
//! torchvision's ImageNet mean / std for a torchvision MobileNetV2).
//! `y.npy`: float32 NHWC output of the layer, Keras' layout. `--model` defaults to what the
//! weight file holds. Prints the shape and the time.
//!
//! Feature export: `--input DIR`, a folder of class sub-folders (`DIR/cats/*.jpg`,
//! `DIR/dogs/*.jpg`, as `flow_from_directory` reads it, sorted, not shuffled), writes the
//! features of every image to `y.npy`, their class indices to `y.labels.npy` (float32
//! `[N]`) and the class names, one per line in index order, to `y.classes.txt`: the arrays
//! to train a head on elsewhere (`np.load`), as Keras' `model.predict(generator)` does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use backbone::cpu::{ConvAlgorithm, NhwcBatch, is_host_device};
use backbone::weights::{NETWORK_KEY, WeightFormat, detect_format, safetensors_metadata};
use backbone::{CpuInference, Flavor, Network};
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use inception::{InceptionV3, InceptionV3Config};
use inception_transfer::backend::Backend;
use inception_transfer::npy::{read_npy, write_npy};
use mobilenet::{IMAGENET_MEAN, IMAGENET_STD, MobileNetV2};

#[derive(Parser)]
#[command(about = "InceptionV3 or MobileNetV2 features at a named layer, from Keras or torchvision weights")]
struct Args {
    /// Weight file: Keras .h5, torchvision .pth / .safetensors, or this project's safetensors.
    #[arg(long)]
    weights: PathBuf,
    /// inception_v3 or mobilenet_v2 (default: what the weight file holds).
    #[arg(long)]
    model: Option<String>,
    /// Any Keras layer name (mixed7, block_13_expand_relu, out_relu, ...; torchvision's
    /// Mixed_6e spelling for InceptionV3). Default: mixed7 / out_relu.
    #[arg(long)]
    layer: Option<String>,
    /// float32 NHWC .npy, an image file (JPEG, PNG, BMP, GIF), or a folder of class
    /// sub-folders of images (feature export).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the float32 NHWC output.
    #[arg(long)]
    output: PathBuf,
    /// keras or torchvision numerics (default: what the weight file is; MobileNetV2 refuses
    /// a file of the other flavour).
    #[arg(long)]
    flavor: Option<String>,
    /// flex, ndarray, wgpu or cuda (each needs its cargo feature).
    #[arg(long)]
    backend: Option<String>,
    /// Side of the square an image input is resized to.
    #[arg(long, default_value_t = 150)]
    size: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Model {
    InceptionV3,
    MobileNetV2,
}

/// Pixels 0..255 (NHWC) preprocessed as `model` expects: 1/255 for InceptionV3 (the course),
/// `x / 127.5 - 1` for MobileNetV2 (`preprocess_input`), ImageNet mean / std for a
/// torchvision MobileNetV2.
fn preprocessed(model: Model, torchvision: bool, pixels: Vec<f32>) -> Vec<f32> {
    match model {
        Model::InceptionV3 => pixels.iter().map(|v| v / 255.0).collect(),
        // Per channel (NHWC: channel = index % 3).
        Model::MobileNetV2 if torchvision => {
            pixels.iter().enumerate().map(|(i, v)| (v / 255.0 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]).collect()
        }
        Model::MobileNetV2 => pixels.iter().map(|v| v / 127.5 - 1.0).collect(),
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

/// Which network a weight file holds.
fn detect_model(path: &Path) -> Result<Model> {
    Ok(match detect_format(path)? {
        WeightFormat::KerasH5 => {
            let file = backbone::weights::KerasWeightFile::read(path)?;
            match file.layers.iter().any(|l| l.name == "Conv1" || l.name == "block_16_project") {
                true => Model::MobileNetV2,
                false => Model::InceptionV3,
            }
        }
        WeightFormat::Native => match safetensors_metadata(path)?.get(NETWORK_KEY) {
            Some(name) if name.starts_with("mobilenetv2") => Model::MobileNetV2,
            _ => Model::InceptionV3,
        },
        WeightFormat::Torchvision => match mobilenet::torchvision_file_config(path, [224, 224]) {
            Ok(_) => Model::MobileNetV2,
            Err(_) => Model::InceptionV3,
        },
    })
}

/// The network of `model` loaded from the weight file, for inputs of `[rows, cols]`, cut at `layer`.
fn load(args: &Args, model: Model, layer: &str, input: [usize; 2], device: &Device) -> Result<Network> {
    Ok(match model {
        Model::InceptionV3 => {
            let flavor: Flavor = match &args.flavor {
                Some(f) => f.parse()?,
                None => inception::weights::detect_flavor(&args.weights)?,
            };
            // A block end cuts the model there (a file of a cut model then loads too); any
            // other layer runs on the whole base.
            let config = match layer.parse::<inception::LayerName>() {
                Ok(name) => InceptionV3Config::new(flavor).with_cut(name),
                Err(_) => InceptionV3Config::new(flavor),
            };
            InceptionV3::pretrained(&config, &args.weights, device)?.network
        }
        Model::MobileNetV2 => {
            let config = mobilenet_config(&args.weights, input)?;
            // A `--flavor` other than the file's is refused by the loader, naming both.
            let config = match &args.flavor {
                Some(f) => config.with_flavor(f.parse()?),
                None => config,
            };
            MobileNetV2::pretrained(&config.with_input_size(input), &args.weights, device)?.network
        }
    })
}

/// The MobileNetV2 configuration a weight file was saved from.
fn mobilenet_config(path: &Path, input: [usize; 2]) -> Result<mobilenet::MobileNetV2Config> {
    Ok(match detect_format(path)? {
        WeightFormat::KerasH5 => mobilenet::keras_file_config(path, input)?,
        WeightFormat::Torchvision => mobilenet::torchvision_file_config(path, input)?,
        WeightFormat::Native => mobilenet::native_config(path)?.unwrap_or_else(mobilenet::MobileNetV2Config::new),
    })
}

fn main() -> Result<()> {
    // malloc keeps freed memory for reuse: a process-wide setting, so the program's choice.
    inception_transfer::prelude::keep_freed_memory();
    let args = Args::parse();
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    let model = match args.model.as_deref() {
        Some("inception_v3" | "inceptionv3" | "inception") => Model::InceptionV3,
        Some("mobilenet_v2" | "mobilenetv2" | "mobilenet") => Model::MobileNetV2,
        Some(other) => bail!("unknown --model `{other}`: expected inception_v3 or mobilenet_v2"),
        None => detect_model(&args.weights)?,
    };
    let layer =
        args.layer.clone().unwrap_or_else(|| if model == Model::MobileNetV2 { "out_relu" } else { "mixed7" }.into());

    let is_npy = args.input.extension().is_some_and(|e| e == "npy");
    let torchvision = !is_npy && mobilenet::detect_flavor(&args.weights)? == Flavor::Torchvision;
    let mut labels = None;
    let (shape, values) = if is_npy {
        let array = read_npy(&args.input)?;
        if array.shape.len() != 4 || array.shape[3] != 3 {
            bail!("{}: expected float32 NHWC [N, H, W, 3], got shape {:?}", args.input.display(), array.shape);
        }
        (array.shape, array.values)
    } else if args.input.is_dir() {
        let folder = read_folder(&args.input, args.size)?;
        labels = Some((folder.classes, folder.names));
        (folder.shape, preprocessed(model, torchvision, folder.pixels))
    } else {
        let image = augment::load_img(&args.input, Some([args.size, args.size]), augment::Interpolation::Nearest)?;
        (vec![1, image.height, image.width, 3], preprocessed(model, torchvision, image.data))
    };
    let [n, h, w, c]: [usize; 4] = shape.try_into().map_err(|s| anyhow::anyhow!("input shape {s:?}"))?;

    let started = Instant::now();
    let network = load(&args, model, &layer, [h, w], &device)?;
    let index = match model {
        Model::InceptionV3 => {
            let name =
                layer.parse::<inception::LayerName>().map(|l| l.keras_name().to_string()).unwrap_or(layer.clone());
            network.architecture().index_of(&name)?
        }
        Model::MobileNetV2 => network.architecture().index_of(&layer)?,
    };
    // On the CPU the frozen network runs packed channels-last (same values, 2-3x faster).
    let packed =
        is_host_device(&device).then(|| CpuInference::up_to(&network, index, ConvAlgorithm::Winograd)).transpose()?;
    let loaded = started.elapsed();
    let started = Instant::now();
    let (out_shape, out) = match packed {
        Some(packed) => {
            let y = packed.forward_nhwc(&NhwcBatch { data: values, shape: [n, h, w, c] }, &[index])?.remove(0);
            (y.shape.to_vec(), y.data)
        }
        None => {
            let x = Tensor::<4>::from_data(TensorData::new(values, [n, h, w, c]), &device).permute([0, 3, 1, 2]);
            let y = network.forward_layers(x, &[index])?.remove(0).permute([0, 2, 3, 1]);
            let out_shape = y.dims().to_vec();
            (out_shape, y.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?)
        }
    };
    let out_shape = match out_shape.as_slice() {
        [n, 1, 1, f] if network.architecture().output_shape(index, [h, w])?.len() == 1 => vec![*n, *f],
        _ => out_shape,
    };
    let ran = started.elapsed();
    write_npy(&args.output, &out_shape, &out)?;
    if let Some((classes, names)) = labels {
        let labels_path = args.output.with_extension("labels.npy");
        write_npy(&labels_path, &[classes.len()], &classes)?;
        let classes_path = args.output.with_extension("classes.txt");
        std::fs::write(&classes_path, names.join("\n") + "\n")?;
        println!("labels: {} ({} classes: {})", labels_path.display(), names.len(), classes_path.display());
    }
    println!(
        "{layer} ({}, {backend}): output shape {:?}, forward {:.3} s ({:.1} img/s), weights loaded in {:.2} s",
        network.architecture().name(),
        out_shape,
        ran.as_secs_f64(),
        n as f64 / ran.as_secs_f64(),
        loaded.as_secs_f64()
    );
    Ok(())
}
