//! PNG plots of a history, as the course draws them: "Training and validation accuracy"
//! and "Training and validation loss", training in blue, validation in red.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Result, TransferError};
use crate::font::{line, text, text_width};
use crate::history::History;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const LEFT: i32 = 70;
const RIGHT: i32 = 20;
const TOP: i32 = 50;
const BOTTOM: i32 = 50;
const TRAIN: Rgb<u8> = Rgb([31, 119, 180]);
const VALIDATION: Rgb<u8> = Rgb([214, 39, 40]);
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const MARKER: Rgb<u8> = Rgb([44, 160, 44]);

fn chart(title: &str, train: &[f64], validation: &[f64], marker: Option<usize>) -> RgbImage {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let all: Vec<f64> = train.iter().chain(validation).copied().filter(|v| v.is_finite()).collect();
    let (mut lo, mut hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let (x0, x1, y0, y1) = (LEFT as f64, (WIDTH as i32 - RIGHT) as f64, (HEIGHT as i32 - BOTTOM) as f64, TOP as f64);
    let n = train.len().max(validation.len()).max(2);
    let px = |i: usize| x0 + (x1 - x0) * i as f64 / (n - 1) as f64;
    let py = |v: f64| y0 + (y1 - y0) * (v - lo) / (hi - lo);
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let y = py(v);
        line(&mut img, (x0, y), (x1, y), GRID);
        let label = format!("{v:.2}");
        text(&mut img, LEFT - 8 - text_width(&label, 1), y as i32 - 3, &label, 1, INK);
    }
    for i in 0..n {
        let label = i.to_string();
        if n <= 20 || i % (n / 10).max(1) == 0 {
            text(&mut img, px(i) as i32 - text_width(&label, 1) / 2, y0 as i32 + 8, &label, 1, INK);
        }
    }
    line(&mut img, (x0, y0), (x1, y0), INK);
    line(&mut img, (x0, y0), (x0, y1), INK);
    text(&mut img, (WIDTH as i32 - text_width("epoch", 1)) / 2, HEIGHT as i32 - 20, "epoch", 1, INK);
    text(&mut img, (WIDTH as i32 - text_width(title, 2)) / 2, 15, title, 2, INK);
    for (values, color) in [(train, TRAIN), (validation, VALIDATION)] {
        for (i, pair) in values.windows(2).enumerate() {
            line(&mut img, (px(i), py(pair[0])), (px(i + 1), py(pair[1])), color);
        }
        if values.len() == 1 {
            line(&mut img, (px(0) - 2.0, py(values[0])), (px(0) + 2.0, py(values[0])), color);
        }
    }
    let mut legend = vec![("Training", TRAIN), ("Validation", VALIDATION)];
    if let Some(at) = marker.filter(|&at| at < n) {
        line(&mut img, (px(at), y0), (px(at), y1), MARKER);
        legend.push(("Start Fine Tuning", MARKER));
    }
    for (k, (name, color)) in legend.into_iter().enumerate() {
        let y = TOP + 10 + k as i32 * 14;
        line(&mut img, ((x1 - 110.0), y as f64 + 3.0), ((x1 - 90.0), y as f64 + 3.0), color);
        text(&mut img, x1 as i32 - 84, y, name, 1, INK);
    }
    img
}

/// Writes `accuracy.png` and `loss.png` (training vs validation per epoch) into `dir`.
pub fn plot_history(history: &History, dir: &Path) -> Result<()> {
    plot_history_marked(history, dir, None)
}

/// [`plot_history`] with a vertical line where fine-tuning starts (the TF tutorial's
/// "Start Fine Tuning" at the `fine_tune_start`-th record, counting from 0).
pub fn plot_history_marked(history: &History, dir: &Path, fine_tune_start: Option<usize>) -> Result<()> {
    let series = |f: &dyn Fn(&crate::history::EpochRecord) -> Option<f64>| -> Vec<f64> {
        history.epochs.iter().filter_map(f).collect()
    };
    let charts = [
        (
            "accuracy.png",
            "Training and validation accuracy",
            series(&|e| Some(e.accuracy)),
            series(&|e| e.val_accuracy),
        ),
        ("loss.png", "Training and validation loss", series(&|e| Some(e.loss)), series(&|e| e.val_loss)),
    ];
    for (file, title, train, validation) in charts {
        let path = dir.join(file);
        let mut bytes = Vec::new();
        chart(title, &train, &validation, fine_tune_start)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(|e| TransferError::Image { path: path.clone(), reason: format!("encoding PNG: {e}") })?;
        crate::history::write_atomically(&path, &bytes)?;
    }
    Ok(())
}
