//! A PNG grid of one image under N random augmentations (the course shows such a grid), so
//! you see what your settings do.
//!
//! ```text
//! cargo run --release --example augment_preview -- --input cat.jpg --output preview.png
//! ```
//! Defaults are the course's settings (rotation 40, shifts 0.2, shear 0.2, zoom 0.2,
//! horizontal flip), image resized to 150x150.

use std::path::PathBuf;

use anyhow::Result;
use augment::{FillMode, ImageDataGeneratorConfig, Interpolation, image_rng, load_img};
use clap::Parser;
use image::{Rgb, RgbImage};

#[derive(Parser)]
#[command(allow_negative_numbers = true, about = "Preview random ImageDataGenerator augmentations of one image")]
struct Args {
    /// Image file (JPEG, PNG, BMP, GIF).
    #[arg(long)]
    input: PathBuf,
    /// PNG to write.
    #[arg(long, default_value = "augment_preview.png")]
    output: PathBuf,
    /// Number of augmented copies (the first tile is the original).
    #[arg(long, default_value_t = 15)]
    count: usize,
    /// Tiles per row.
    #[arg(long, default_value_t = 4)]
    columns: usize,
    /// Side of the square the image is resized to.
    #[arg(long, default_value_t = 150)]
    size: usize,
    /// rotation_range in degrees.
    #[arg(long, default_value_t = 40.0)]
    rotation_range: f64,
    /// width_shift_range.
    #[arg(long, default_value_t = 0.2)]
    width_shift_range: f64,
    /// height_shift_range.
    #[arg(long, default_value_t = 0.2)]
    height_shift_range: f64,
    /// shear_range in degrees.
    #[arg(long, default_value_t = 0.2)]
    shear_range: f64,
    /// zoom_range.
    #[arg(long, default_value_t = 0.2)]
    zoom_range: f64,
    /// Disable horizontal flips.
    #[arg(long)]
    no_horizontal_flip: bool,
    /// nearest, reflect, wrap or constant (black).
    #[arg(long, default_value = "nearest")]
    fill_mode: String,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let fill: FillMode = args.fill_mode.parse()?;
    let generator = ImageDataGeneratorConfig::new()
        .with_rotation_range(args.rotation_range)
        .with_width_shift_range(args.width_shift_range.into())
        .with_height_shift_range(args.height_shift_range.into())
        .with_shear_range(args.shear_range)
        .with_zoom(args.zoom_range)
        .with_horizontal_flip(!args.no_horizontal_flip)
        .with_fill_mode(fill)
        .build()?;
    let image = load_img(&args.input, Some([args.size, args.size]), Interpolation::Nearest)?;
    let tiles = args.count + 1;
    let rows = tiles.div_ceil(args.columns);
    let gap = 4;
    let side = args.size as u32;
    let mut grid = RgbImage::from_pixel(
        args.columns as u32 * (side + gap) + gap,
        rows as u32 * (side + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for tile in 0..tiles {
        let shown = match tile {
            0 => image.clone(),
            i => generator.augment(&image, &mut image_rng(args.seed, 0, i as u64)),
        };
        let (x0, y0) =
            ((tile % args.columns) as u32 * (side + gap) + gap, (tile / args.columns) as u32 * (side + gap) + gap);
        for r in 0..shown.height {
            for c in 0..shown.width {
                let p = shown.pixel(r, c);
                let px = |k: usize| p[k].clamp(0.0, 255.0) as u8;
                grid.put_pixel(x0 + c as u32, y0 + r as u32, Rgb([px(0), px(1), px(2)]));
            }
        }
    }
    grid.save(&args.output)?;
    println!("{}: the original and {} augmentations", args.output.display(), args.count);
    Ok(())
}
