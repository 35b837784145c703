//! Run InceptionV3 up to a named layer on your weights and save the output: what users run
//! to check their weight file against Keras or torchvision.
//!
//! ```text
//! cargo run --release --example features -- \
//!     --weights weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 \
//!     --layer mixed7 --input x.npy --output y.npy
//! ```
//! `x.npy`: float32 NHWC `[N, H, W, 3]`, used as given (no rescaling). An image file
//! (`--input cat.jpg`) is decoded, resized to `--size` (default 150) and rescaled by 1/255.
//! `y.npy`: float32 NHWC output of the layer, Keras' layout. Prints the shape and the time.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use backbone::cpu::{NhwcBatch, is_host_device};
use inception::{CpuInference, Flavor, InceptionV3, InceptionV3Config, LayerName};
use inception_transfer::backend::Backend;
use inception_transfer::npy::{read_npy, write_npy};

#[derive(Parser)]
#[command(about = "InceptionV3 features at a named layer, from Keras or torchvision weights")]
struct Args {
    /// Weight file: Keras .h5, torchvision .pth / .safetensors, or this crate's safetensors.
    #[arg(long)]
    weights: PathBuf,
    /// Layer: mixed0..mixed10, mixed9_0, mixed9_1 (or torchvision's Mixed_5b..Mixed_7c).
    #[arg(long, default_value = "mixed7")]
    layer: String,
    /// float32 NHWC .npy, or an image file (JPEG, PNG, BMP, GIF).
    #[arg(long)]
    input: PathBuf,
    /// Where to write the float32 NHWC output.
    #[arg(long)]
    output: PathBuf,
    /// keras or torchvision numerics (default: what the weight file is).
    #[arg(long)]
    flavor: Option<String>,
    /// flex, ndarray or wgpu (each needs its cargo feature).
    #[arg(long)]
    backend: Option<String>,
    /// Side of the square an image input is resized to.
    #[arg(long, default_value_t = 150)]
    size: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let backend = Backend::from_flag(args.backend.as_deref())?;
    let device = backend.device()?;
    let layer: LayerName = args.layer.parse()?;
    let flavor: Flavor = match &args.flavor {
        Some(f) => f.parse()?,
        None => inception::weights::detect_flavor(&args.weights)?,
    };

    let is_npy = args.input.extension().is_some_and(|e| e == "npy");
    let (shape, values) = if is_npy {
        let array = read_npy(&args.input)?;
        if array.shape.len() != 4 || array.shape[3] != 3 {
            bail!("{}: expected float32 NHWC [N, H, W, 3], got shape {:?}", args.input.display(), array.shape);
        }
        (array.shape, array.values)
    } else {
        let image = augment::load_img(&args.input, Some([args.size, args.size]), augment::Interpolation::Nearest)?;
        let values = image.data.iter().map(|v| v / 255.0).collect();
        (vec![1, image.height, image.width, 3], values)
    };
    let [n, h, w, c]: [usize; 4] = shape.try_into().expect("rank checked above");

    let config = InceptionV3Config::new(flavor).with_cut(layer);
    let started = Instant::now();
    let model = InceptionV3::pretrained(&config, &args.weights, &device)?;
    // On the CPU the frozen network runs packed channels-last (same values, 2x faster).
    let packed = is_host_device(&device).then(|| CpuInference::new(&model)).transpose()?;
    let loaded = started.elapsed();
    let started = Instant::now();
    let (out_shape, out) = match packed {
        Some(packed) => {
            let y = packed.forward_nhwc(&NhwcBatch { data: values, shape: [n, h, w, c] }, layer)?;
            (y.shape, y.data)
        }
        None => {
            let x = Tensor::<4>::from_data(TensorData::new(values, [n, h, w, c]), &device).permute([0, 3, 1, 2]);
            let y = model.forward_to(x, layer)?.permute([0, 2, 3, 1]);
            let out_shape = y.dims();
            (out_shape, y.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?)
        }
    };
    let ran = started.elapsed();
    write_npy(&args.output, &out_shape, &out)?;
    println!(
        "{layer} ({} flavour, {backend}): output shape {:?}, forward {:.3} s ({:.1} img/s), weights loaded in {:.2} s",
        flavor.name(),
        out_shape,
        ran.as_secs_f64(),
        n as f64 / ran.as_secs_f64(),
        loaded.as_secs_f64()
    );
    Ok(())
}
