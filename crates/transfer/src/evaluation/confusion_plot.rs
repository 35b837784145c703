//! `confusion_matrix.png`: the matrix as scikit-learn's `ConfusionMatrixDisplay` draws it
//! (true classes down, predicted across, blues by count, the count in each cell), with the
//! class names on both axes.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Result, TransferError};
use crate::evaluation::ClassificationReport;
use crate::font::{text, text_upwards, text_width};
use crate::history::write_atomically;

const INK: Rgb<u8> = Rgb([40, 40, 40]);
const MARGIN: i32 = 20;

impl ClassificationReport {
    /// Draws the confusion matrix to a PNG at `path` (written atomically).
    pub fn plot_confusion_matrix(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        draw(&self.confusion_matrix, &self.class_names)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(|e| TransferError::Image { path: path.to_path_buf(), reason: format!("encoding PNG: {e}") })?;
        write_atomically(path, &bytes)
    }
}

/// The image: a title, the row labels left of the matrix, the column labels under it
/// (reading upwards), the axis names, and the cells.
fn draw(matrix: &[Vec<usize>], names: &[String]) -> RgbImage {
    let n = names.len().max(1) as i32;
    let largest = matrix.iter().flatten().copied().max().unwrap_or(0);
    let digits = largest.to_string().len() as i32;
    let scale = if n <= 12 { 2 } else { 1 };
    // A cell holds its count with a margin, and the matrix is at least ~400 pixels wide.
    let cell = (text_width(&"0".repeat(digits as usize), scale) + 8).max(18).max(400 / n);
    let label = names.iter().map(|name| text_width(name, scale)).max().unwrap_or(0);
    let left = MARGIN + 14 + label + 8;
    let top = MARGIN + 30;
    let side = cell * n;
    let (width, height) = (left + side + MARGIN, top + side + 8 + label + 24 + MARGIN);
    let mut img = RgbImage::from_pixel(width as u32, height as u32, Rgb([255, 255, 255]));
    let title = "Confusion matrix";
    text(&mut img, left + (side - text_width(title, 2)) / 2, MARGIN, title, 2, INK);
    for (row, counts) in matrix.iter().enumerate() {
        for (column, &count) in counts.iter().enumerate() {
            let (x, y) = (left + column as i32 * cell, top + row as i32 * cell);
            let shade = if largest == 0 { 0.0 } else { count as f64 / largest as f64 };
            fill(&mut img, x, y, cell, blue(shade));
            let value = count.to_string();
            let ink = if shade > 0.5 { Rgb([255, 255, 255]) } else { INK };
            let (tw, th) = (text_width(&value, scale), 7 * scale);
            text(&mut img, x + (cell - tw) / 2 + scale / 2, y + (cell - th) / 2, &value, scale, ink);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let middle = i as i32 * cell + cell / 2;
        let w = text_width(name, scale);
        text(&mut img, left - 8 - w, top + middle - 7 * scale / 2, name, scale, INK);
        text_upwards(&mut img, left + middle - 7 * scale / 2, top + side + 8 + w, name, scale, INK);
    }
    let across = "Predicted label";
    text(&mut img, left + (side - text_width(across, 1)) / 2, top + side + 8 + label + 10, across, 1, INK);
    let down = "True label";
    text_upwards(&mut img, MARGIN, top + (side + text_width(down, 1)) / 2, down, 1, INK);
    img
}

/// Matplotlib's `Blues` from white (0) to dark blue (1), linearly between a few of its stops.
fn blue(t: f64) -> Rgb<u8> {
    const STOPS: [[f64; 3]; 5] =
        [[247.0, 251.0, 255.0], [198.0, 219.0, 239.0], [107.0, 174.0, 214.0], [33.0, 113.0, 181.0], [8.0, 48.0, 107.0]];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let (i, f) = ((t as usize).min(STOPS.len() - 2), t - (t as usize).min(STOPS.len() - 2) as f64);
    let mix = |c: usize| (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f).round() as u8;
    Rgb([mix(0), mix(1), mix(2)])
}

/// Fills a `size` x `size` square from `(x, y)`, with a one-pixel white grid line.
fn fill(img: &mut RgbImage, x: i32, y: i32, size: i32, color: Rgb<u8>) {
    for dy in 0..size - 1 {
        for dx in 0..size - 1 {
            crate::font::put(img, x + dx, y + dy, color);
        }
    }
}
