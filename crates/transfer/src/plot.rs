//! PNG plots of a history, as the course draws them: "Training and validation accuracy"
//! and "Training and validation loss", training in blue, validation in red.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Result, TransferError};
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

/// A 5x7 bitmap glyph: one byte per row, the low 5 bits from left (bit 4) to right.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'a' => [0, 0, 14, 1, 15, 17, 15],
        'c' => [0, 0, 14, 16, 16, 17, 14],
        'd' => [1, 1, 13, 19, 17, 17, 15],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        'g' => [0, 15, 17, 17, 15, 1, 14],
        'f' => [6, 9, 8, 28, 8, 8, 8],
        'h' => [16, 16, 22, 25, 17, 17, 17],
        'i' => [4, 0, 12, 4, 4, 4, 14],
        'l' => [12, 4, 4, 4, 4, 4, 14],
        'n' => [0, 0, 22, 25, 17, 17, 17],
        'o' => [0, 0, 14, 17, 17, 17, 14],
        'p' => [0, 0, 30, 17, 30, 16, 16],
        'r' => [0, 0, 22, 25, 16, 16, 16],
        's' => [0, 0, 14, 16, 14, 1, 30],
        't' => [8, 8, 28, 8, 8, 9, 6],
        'u' => [0, 0, 17, 17, 17, 19, 13],
        'v' => [0, 0, 17, 17, 17, 10, 4],
        'y' => [0, 0, 17, 17, 15, 1, 14],
        _ => [0; 7],
    }
}

fn put(img: &mut RgbImage, x: i32, y: i32, color: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, color);
    }
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale` pixels wide.
fn text(img: &mut RgbImage, x: i32, y: i32, s: &str, scale: i32, color: Rgb<u8>) {
    for (i, c) in s.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (1 << (4 - col)) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(img, x + (i as i32 * 6 + col) * scale + dx, y + row as i32 * scale + dy, color);
                        }
                    }
                }
            }
        }
    }
}

fn text_width(s: &str, scale: i32) -> i32 {
    s.chars().count() as i32 * 6 * scale
}

/// A thick line from `a` to `b`.
fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), color: Rgb<u8>) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()) as i32).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        for d in -1..=1 {
            put(img, x.round() as i32 + d, y.round() as i32, color);
            put(img, x.round() as i32, y.round() as i32 + d, color);
        }
    }
}

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
