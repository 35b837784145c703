//! Apply given Keras `apply_transform` parameters to an image array: users check parity
//! with Keras with it.
//!
//! ```text
//! cargo run --release --example apply_transform -- --input x.npy \
//!     --params '{"theta":30,"tx":15,"ty":-20,"shear":12,"zx":0.8,"zy":1.2,"flip_horizontal":true}' \
//!     --output y.npy [--fill-mode nearest|constant|reflect|wrap] [--cval 0] [--order 1]
//! ```
//! `x.npy` / `y.npy`: float32 HWC, values 0..255. Parameter names are those of Keras'
//! `apply_transform` dict (`theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
//! channel_shift_intensity, brightness`); missing keys mean identity.

use std::path::PathBuf;

use anyhow::{Result, bail};
use augment::{FillMode, Geometry, Image, Interpolation, TransformParams, apply_transform};
use clap::Parser;
use inception_transfer::npy::{read_npy, write_npy};

#[derive(Parser)]
#[command(allow_negative_numbers = true, about = "Keras ImageDataGenerator.apply_transform on an .npy image")]
struct Args {
    /// float32 HWC image, 0..255.
    #[arg(long)]
    input: PathBuf,
    /// Keras parameter dict as JSON.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Where to write the float32 HWC result.
    #[arg(long)]
    output: PathBuf,
    /// nearest (Keras' default), constant, reflect or wrap.
    #[arg(long, default_value = "nearest")]
    fill_mode: String,
    /// Fill value of the constant mode.
    #[arg(long, default_value_t = 0.0)]
    cval: f32,
    /// Interpolation order: 1 (bilinear, Keras' default) or 0 (nearest).
    #[arg(long, default_value_t = 1)]
    order: u8,
    /// Use the corrected geometry (true centre, shifts along their own axes) instead of Keras'.
    #[arg(long)]
    corrected: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let array = read_npy(&args.input)?;
    let [h, w, c]: [usize; 3] = match array.shape.as_slice() {
        [h, w, c] => [*h, *w, *c],
        [h, w] => [*h, *w, 1],
        other => bail!("{}: expected an HWC image, got shape {other:?}", args.input.display()),
    };
    // An object of Keras' names (an unknown name is an error listing the valid ones); an
    // array would be read as positional values, so it is refused.
    let value: serde_json::Value = serde_json::from_str(&args.params)?;
    if !value.is_object() {
        anyhow::bail!("--params must be a JSON object such as {{\"theta\": 30}}, got {}", args.params);
    }
    let params: TransformParams = serde_json::from_value(value).map_err(|e| anyhow::anyhow!("--params: {e}"))?;
    let fill = match args.fill_mode.parse::<FillMode>()? {
        FillMode::Constant(_) => FillMode::Constant(args.cval),
        other => other,
    };
    let geometry = if args.corrected { Geometry::Corrected } else { Geometry::Keras };
    let image = Image::new(h, w, c, array.values)?;
    let out = apply_transform(&image, &params, fill, Interpolation::from_order(args.order)?, geometry);
    write_npy(&args.output, &array.shape, &out.data)?;
    println!("{}: {h}x{w}x{c} transformed with {params:?}", args.output.display());
    Ok(())
}
