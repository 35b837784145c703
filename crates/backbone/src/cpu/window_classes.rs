//! A convolution's output pixels grouped by which taps of their window fall on the input
//! rather than on the zero padding around it: computed class by class, a convolution
//! multiplies only real inputs, straight from the unpadded input. On InceptionV3's 7x7 grid
//! (150x150 images) a 1x7 or 7x1 window with 3 zeros of padding each side has 37 of its 49
//! taps per row or column on the input: a quarter of those layers' products were zeros.

use super::direct::Tap;

/// Output pixels whose windows have the same taps on the input: the output rows `rows`
/// times the output columns `cols` of every image.
#[derive(Debug, Clone)]
pub(crate) struct WindowClass {
    rows: Vec<usize>,
    cols: Vec<usize>,
    /// The kernel `[row, col]` of the first tap on the input.
    first_tap: [usize; 2],
    /// The taps on the input, offsets past the first one's input value.
    pub taps: Vec<Tap>,
}

/// How a convolution's window goes over a batch: everything a pixel's place needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    /// The input `[images, rows, cols, channels]`.
    pub input: [usize; 4],
    /// Output `[rows, cols]`.
    pub output: [usize; 2],
    /// Kernel `[rows, cols]`.
    pub kernel: [usize; 2],
    /// `[rows, cols]`.
    pub strides: [usize; 2],
    /// Zero padding `[top, left]`.
    pub padding: [usize; 2],
}

/// The kernel positions `first .. end` along one axis whose input is on the input (not
/// padding) for output position `o`.
fn taps_on_input(o: usize, stride: usize, padding: usize, kernel: usize, size: usize) -> (usize, usize) {
    let start = (o * stride) as isize - padding as isize;
    let end = (size as isize - start).clamp(0, kernel as isize) as usize;
    ((-start).clamp(0, end as isize) as usize, end)
}

/// The output positions along one axis grouped by their taps on the input, in order of first
/// appearance: `(first, end)` and the positions.
fn axis_classes(axis: usize, geometry: &Geometry) -> Vec<((usize, usize), Vec<usize>)> {
    let mut classes: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    for o in 0..geometry.output[axis] {
        let size = geometry.input[1 + axis];
        let range = taps_on_input(o, geometry.strides[axis], geometry.padding[axis], geometry.kernel[axis], size);
        match classes.iter_mut().find(|(r, _)| *r == range) {
            Some((_, positions)) => positions.push(o),
            None => classes.push((range, vec![o])),
        }
    }
    classes
}

impl WindowClass {
    /// Every class of `geometry`'s output pixels (one when nothing is padded).
    pub fn all(geometry: &Geometry) -> Vec<WindowClass> {
        let [_, _, w, c] = geometry.input;
        let kernel_cols = geometry.kernel[1];
        let (row_classes, col_classes) = (axis_classes(0, geometry), axis_classes(1, geometry));
        let mut classes = Vec::with_capacity(row_classes.len() * col_classes.len());
        for ((ky0, ky1), rows) in &row_classes {
            for ((kx0, kx1), cols) in &col_classes {
                let taps = (*ky0..*ky1)
                    .flat_map(|ky| {
                        (*kx0..*kx1).map(move |kx| Tap {
                            offset: ((ky - ky0) * w + kx - kx0) * c,
                            index: ky * kernel_cols + kx,
                        })
                    })
                    .collect();
                classes.push(WindowClass { rows: rows.clone(), cols: cols.clone(), first_tap: [*ky0, *kx0], taps });
            }
        }
        classes
    }

    /// Pixels in the class over `images` images.
    pub fn len(&self, images: usize) -> usize {
        images * self.rows.len() * self.cols.len()
    }

    /// The class's pixels `first .. first + count` (image by image, row by row): each one's
    /// output pixel (counted over the batch) and the input offset of its first tap on the
    /// input (0 when it has none). Walks the class's rows and columns: one division for the
    /// first pixel, not three a pixel (the RGB stem's convolution, 27 terms a pixel, ran 8%
    /// faster).
    pub fn pixels<'a>(
        &'a self,
        first: usize,
        count: usize,
        geometry: &'a Geometry,
    ) -> impl Iterator<Item = (usize, usize)> + 'a {
        let cols = self.cols.len();
        let per_image = self.rows.len() * cols;
        let (mut b, mut r, mut c) = (first / per_image, first % per_image / cols, first % cols);
        (0..count).map(move |_| {
            let place = self.place(b, [self.rows[r], self.cols[c]], geometry);
            c += 1;
            if c == cols {
                c = 0;
                r += 1;
                if r == self.rows.len() {
                    r = 0;
                    b += 1;
                }
            }
            place
        })
    }

    /// Output pixel `[oy, ox]` of image `b`: its index over the batch and the input offset
    /// of its first tap on the input.
    fn place(&self, b: usize, [oy, ox]: [usize; 2], geometry: &Geometry) -> (usize, usize) {
        let [_, h, w, c] = geometry.input;
        let [oh, ow] = geometry.output;
        let output = (b * oh + oy) * ow + ox;
        if self.taps.is_empty() {
            return (output, 0);
        }
        let iy = oy * geometry.strides[0] + self.first_tap[0] - geometry.padding[0];
        let ix = ox * geometry.strides[1] + self.first_tap[1] - geometry.padding[1];
        (output, ((b * h + iy) * w + ix) * c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output pixel in exactly one class, each tap on the input exactly when it is in
    /// its class's list, at the offset its place gives.
    #[test]
    fn classes_cover_every_pixel_with_its_taps_on_the_input() {
        for (input, kernel, strides, padding, output) in [
            ([2, 7, 7, 3], [1, 7], [1, 1], [0, 3], [7, 7]),
            ([1, 16, 16, 2], [5, 5], [1, 1], [2, 2], [16, 16]),
            ([2, 9, 8, 1], [3, 3], [2, 2], [1, 0], [5, 3]),
            ([1, 2, 2, 1], [5, 5], [1, 1], [4, 4], [6, 6]),
        ] {
            let geometry = Geometry { input, output, kernel, strides, padding };
            let [n, h, w, c] = input;
            let mut seen = vec![0; n * output[0] * output[1]];
            for class in WindowClass::all(&geometry) {
                // Walking from any pixel gives each pixel's own place.
                let walked: Vec<_> = class.pixels(1, class.len(n) - 1, &geometry).collect();
                let computed: Vec<_> = (1..class.len(n)).map(|i| class.pixels(i, 1, &geometry).next()).collect();
                assert_eq!(walked.into_iter().map(Some).collect::<Vec<_>>(), computed, "{geometry:?}");
                for index in 0..class.len(n) {
                    let (pixel, start) = class.pixels(index, 1, &geometry).next().expect("one pixel");
                    seen[pixel] += 1;
                    let (b, oy, ox) =
                        (pixel / (output[0] * output[1]), pixel / output[1] % output[0], pixel % output[1]);
                    for ky in 0..kernel[0] {
                        for kx in 0..kernel[1] {
                            let iy = (oy * strides[0] + ky) as isize - padding[0] as isize;
                            let ix = (ox * strides[1] + kx) as isize - padding[1] as isize;
                            let on_input = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                            let tap = class.taps.iter().find(|t| t.index == ky * kernel[1] + kx);
                            assert_eq!(tap.is_some(), on_input, "{geometry:?} pixel {pixel} tap {ky},{kx}");
                            if let Some(tap) = tap {
                                let expected = ((b * h + iy as usize) * w + ix as usize) * c;
                                assert_eq!(start + tap.offset, expected, "{geometry:?} pixel {pixel}");
                            }
                        }
                    }
                }
            }
            assert!(seen.iter().all(|&count| count == 1), "{geometry:?}");
        }
    }
}
