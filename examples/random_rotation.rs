//! Keras' `RandomRotation` for a given angle, to check parity with TensorFlow: the layer
//! draws `angle` from `factor x 2 pi` and then transforms the image as this does.
//!
//! ```text
//! cargo run --release --example random_rotation -- --input x.npy --angle 0.5 --output y.npy \
//!     [--fill-mode reflect|wrap|constant|nearest] [--fill-value 0] [--interpolation bilinear|nearest]
//! ```
//! `x.npy` and `y.npy` are float32 `(rows, cols, channels)` arrays, values 0..255. The
//! TensorFlow side of the same call:
//! `keras.src.layers.preprocessing.image_preprocessing.transform(x[None],
//! get_rotation_matrix([angle], rows, cols), fill_mode, fill_value, interpolation)`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use augment::Image;
use augment::layers::{RandomRotation, TransformFillMode, TransformInterpolation};
use clap::Parser;
use inception_transfer::npy::{read_npy, write_npy};

#[derive(Parser)]
#[command(
    allow_negative_numbers = true,
    about = "Rotate an image as Keras' RandomRotation does once it has drawn the angle"
)]
struct Args {
    /// Input: float32 (rows, cols, channels) .npy, values 0..255.
    #[arg(long)]
    input: PathBuf,
    /// The angle in radians (counter-clockwise for positive angles).
    #[arg(long, allow_hyphen_values = true)]
    angle: f32,
    /// Where the rotated image goes (.npy, same shape).
    #[arg(long)]
    output: PathBuf,
    /// reflect, wrap, constant or nearest.
    #[arg(long, default_value = "reflect")]
    fill_mode: TransformFillMode,
    /// The value outside the image for `constant`.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    fill_value: f32,
    /// bilinear or nearest.
    #[arg(long, default_value = "bilinear")]
    interpolation: TransformInterpolation,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.angle.is_finite() || !args.fill_value.is_finite() {
        bail!("--angle and --fill-value must be finite numbers");
    }
    let array = read_npy(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let &[rows, cols, channels] = array.shape.as_slice() else {
        bail!("{}: expected a (rows, cols, channels) array, got shape {:?}", args.input.display(), array.shape);
    };
    let image = Image::new(rows, cols, channels, array.values)?;
    let layer = RandomRotation::new(0.0)?
        .fill_mode(args.fill_mode)
        .fill_value(args.fill_value)
        .interpolation(args.interpolation);
    let rotated = layer.rotate(&image, args.angle);
    write_npy(&args.output, &[rows, cols, channels], &rotated.data)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "Rotated {} ({rows}x{cols}x{channels}) by {} rad into {}.",
        args.input.display(),
        args.angle,
        args.output.display()
    );
    Ok(())
}
