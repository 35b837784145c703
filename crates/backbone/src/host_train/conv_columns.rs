//! A convolution's input patches as the columns of a matrix (`im2col`) and back, on one
//! channels-first image: row `(channel, k_row, k_col)` of the matrix holds what that window
//! tap reads for each output pixel, zeros where it falls on the padding. A convolution is
//! then one matrix product with its kernel (`[filters, channels x k_rows x k_cols]`), its
//! input gradient the product's transpose scattered back ([`add_columns`]).

use super::depthwise_kernels::PlaneWindow;

/// Writes the patch matrix of `image` (`channels` planes of `window.input`) into `columns`
/// (`channels x k_rows x k_cols` rows of `window.output` pixels).
pub fn columns(image: &[f32], window: &PlaneWindow, columns: &mut [f32]) {
    let [rows, cols] = window.output;
    let [k_rows, k_cols] = window.kernel;
    let stride = window.strides[1];
    let plane = window.input_len();
    for (c, image) in image.chunks_exact(plane).enumerate() {
        for k_row in 0..k_rows {
            for k_col in 0..k_cols {
                let row = &mut columns[((c * k_rows + k_row) * k_cols + k_col) * rows * cols..][..rows * cols];
                let (range, start) = window.columns(k_col);
                for (out_row, out) in row.chunks_exact_mut(cols).enumerate() {
                    let Some(in_row) = window.input_row(out_row, k_row).filter(|_| !range.is_empty()) else {
                        out.fill(0.0);
                        continue;
                    };
                    let input = &image[in_row * window.input[1]..][..window.input[1]];
                    out[..range.start].fill(0.0);
                    out[range.end..].fill(0.0);
                    let out = &mut out[range.clone()];
                    match stride {
                        1 => out.copy_from_slice(&input[start..][..out.len()]),
                        _ => out.iter_mut().zip(input[start..].iter().step_by(stride)).for_each(|(o, &x)| *o = x),
                    }
                }
            }
        }
    }
}

/// Adds the patch matrix `columns` back onto `image` (the transpose of [`columns`]): each
/// value onto the input pixel it was read from.
pub fn add_columns(columns: &[f32], window: &PlaneWindow, image: &mut [f32]) {
    let [rows, cols] = window.output;
    let [k_rows, k_cols] = window.kernel;
    let stride = window.strides[1];
    let plane = window.input_len();
    for (c, image) in image.chunks_exact_mut(plane).enumerate() {
        for k_row in 0..k_rows {
            for k_col in 0..k_cols {
                let row = &columns[((c * k_rows + k_row) * k_cols + k_col) * rows * cols..][..rows * cols];
                let (range, start) = window.columns(k_col);
                if range.is_empty() {
                    continue;
                }
                for (out_row, values) in row.chunks_exact(cols).enumerate() {
                    let Some(in_row) = window.input_row(out_row, k_row) else { continue };
                    let input = &mut image[in_row * window.input[1]..][..window.input[1]];
                    let values = &values[range.clone()];
                    match stride {
                        1 => input[start..].iter_mut().zip(values).for_each(|(i, &v)| *i += v),
                        _ => input[start..].iter_mut().step_by(stride).zip(values).for_each(|(i, &v)| *i += v),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `<columns(x), c> = <x, add_columns(c)>`: the two are each other's transpose, and
    /// `columns` reads what the window reads.
    #[test]
    fn columns_and_their_transpose() {
        for window in [
            PlaneWindow::new([3, 3], [2, 2], [[0, 1], [0, 1]], [6, 7]).unwrap(),
            PlaneWindow::new([1, 7], [1, 1], [[0, 0], [3, 3]], [5, 7]).unwrap(),
            PlaneWindow::new([1, 1], [2, 2], [[0, 0], [0, 0]], [7, 7]).unwrap(),
        ] {
            let channels = 2;
            let taps = window.kernel[0] * window.kernel[1];
            let x: Vec<f32> = (0..channels * window.input_len()).map(|i| (i % 13) as f32 - 6.0).collect();
            let c: Vec<f32> = (0..channels * taps * window.output_len()).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut patches = vec![f32::NAN; c.len()];
            columns(&x, &window, &mut patches);
            let mut back = vec![0.0f32; x.len()];
            add_columns(&c, &window, &mut back);
            let left: f64 = patches.iter().zip(&c).map(|(&a, &b)| a as f64 * b as f64).sum();
            let right: f64 = x.iter().zip(&back).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!((left - right).abs() < 1e-6, "{window:?}: {left} vs {right}");
            // Tap (channel 1, 0, 0) at output pixel 0 reads input (1, -top, -left) or zero.
            let value = patches[taps * window.output_len()];
            let expected = match window.pad_begin {
                [0, 0] => x[window.input_len()],
                _ => 0.0,
            };
            assert_eq!(value, expected, "{window:?}");
        }
    }
}
