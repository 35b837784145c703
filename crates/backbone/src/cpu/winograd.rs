//! Stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray, 2016): each
//! `m x m` block of outputs of an `r x r` kernel comes from an `(m + r - 1)²` input patch,
//! the transformed patches of a group of blocks and the transformed kernels meeting in
//! `(m + r - 1)²` matrix products. Three tiles ([`Tile`]): F(2x2, 3x3), 16 multiplications
//! per channel pair for 4 outputs instead of 36 (its transforms only add, subtract and
//! halve); F(4x4, 3x3), 36 for 16 outputs instead of 144 (its transforms scale by up to
//! 5/2 on the input side and 8 on the output side, so its float32 rounding is several
//! times larger; see [`super::ConvAlgorithm`]); and F(2x2, 5x5), 36 for 4 outputs instead
//! of 100, on the points of F(4x4, 3x3) (the same input transform; its output transform
//! scales by 2 at most).
//!
//! The three tiles share one driver (the grouping of blocks, the transforms of a group and
//! its products), so they stay in one file of ~580 lines; the tests are in `winograd_tests.rs`.

use std::array;
use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;

/// The output block and kernel of a Winograd transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tile {
    /// F(2x2, 3x3): 2x2 outputs of a 3x3 kernel from 4x4 inputs.
    F2x2,
    /// F(4x4, 3x3): 4x4 outputs of a 3x3 kernel from 6x6 inputs.
    F4x4,
    /// F(2x2, 5x5): 2x2 outputs of a 5x5 kernel from 6x6 inputs.
    F2x2Of5x5,
}

/// `G` of F(2x2, 3x3) (interpolation points 0, 1, -1, infinity).
const G2: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// `G` of F(4x4, 3x3) (points 0, 1, -1, 1/2, -2, infinity): row `j` is `(1, p, p²) / N`
/// with `N` the product of `p - q` over the other finite points `q` (1/2 rather than the
/// usual 2: about half the float32 rounding, Barabasz et al., 2020).
const G4: [[f64; 3]; 6] = [
    [1.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0],
    [0.0, 0.0, 1.0],
];

/// `G` of F(2x2, 5x5) on the points of F(4x4, 3x3): row `j` is `(1, p, p², p³, p⁴) / N`.
const G2_OF_5: [[f64; 5]; 6] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
    [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0, -2.0 / 15.0, -1.0 / 15.0],
    [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0, -8.0 / 15.0, 16.0 / 15.0],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

impl Tile {
    /// Outputs per side of a block.
    fn outputs(self) -> usize {
        match self {
            Tile::F2x2 | Tile::F2x2Of5x5 => 2,
            Tile::F4x4 => 4,
        }
    }

    /// Kernel taps per side.
    pub fn kernel(self) -> usize {
        match self {
            Tile::F2x2 | Tile::F4x4 => 3,
            Tile::F2x2Of5x5 => 5,
        }
    }

    /// Inputs per side of a patch (`outputs + kernel - 1`).
    fn inputs(self) -> usize {
        self.outputs() + self.kernel() - 1
    }

    /// The kernel transform `G`, one row of `kernel` values per input of a patch side.
    fn kernel_transform(self) -> Vec<&'static [f64]> {
        match self {
            Tile::F2x2 => G2.iter().map(|row| &row[..]).collect(),
            Tile::F4x4 => G4.iter().map(|row| &row[..]).collect(),
            Tile::F2x2Of5x5 => G2_OF_5.iter().map(|row| &row[..]).collect(),
        }
    }

    /// Output blocks per group: the rows of the matrix products, enough for the products
    /// to run at speed, few enough that a group's patches stay in cache.
    fn blocks_per_group(self) -> usize {
        match self {
            Tile::F2x2 => 96,
            Tile::F4x4 => 48,
            Tile::F2x2Of5x5 => 32,
        }
    }

    /// Its name in a profile: `F2x2`, `F4x4` (the kernel is named beside it).
    pub fn name(self) -> &'static str {
        match self {
            Tile::F2x2 | Tile::F2x2Of5x5 => "F2x2",
            Tile::F4x4 => "F4x4",
        }
    }
}

/// A stride-1 convolution's kernels, transformed: `(m + r - 1)²` matrices `[in, out]`, one
/// per element of the Winograd domain.
#[derive(Debug, Clone)]
pub(crate) struct WinogradConv {
    tile: Tile,
    kernels: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
    padding: [usize; 2],
}

/// Kernels of at least this many channel pairs (`in * out`) get bigger groups.
const WIDE_KERNELS: usize = 256 * 256;

/// How many times the tile's group the groups of wide kernels hold.
const WIDE_GROUP_FACTOR: usize = 4;

thread_local! {
    /// Each thread's transformed patches, products and transform scratch, reused.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// The 1-D transforms of a tile of `A` inputs and `M` outputs per side, channel by channel.
/// Static functions, not function pointers, so that they are compiled inside
/// [`vectorized`] (a function pointer would stay a call to baseline SSE2 code).
trait Transforms<const A: usize, const M: usize> {
    /// `Bᵀ`: `A` channel vectors of a patch column (or row) into `A`.
    fn input(d: [&[f32]; A], out: [&mut [f32]; A]);
    /// `Aᵀ`: `A` channel vectors of products into `M` outputs.
    fn output(m: [&[f32]; A], out: [&mut [f32]; M]);
}

/// The transforms of F(2x2, 3x3).
struct F2;

/// The transforms of F(4x4, 3x3).
struct F4;

/// The transforms of F(2x2, 5x5).
struct F2Of5;

impl Transforms<4, 2> for F2 {
    #[inline(always)]
    fn input(d: [&[f32]; 4], out: [&mut [f32]; 4]) {
        input_transform_2(d, out)
    }
    #[inline(always)]
    fn output(m: [&[f32]; 4], out: [&mut [f32]; 2]) {
        output_transform_2(m, out)
    }
}

impl Transforms<6, 4> for F4 {
    #[inline(always)]
    fn input(d: [&[f32]; 6], out: [&mut [f32]; 6]) {
        input_transform_4(d, out)
    }
    #[inline(always)]
    fn output(m: [&[f32]; 6], out: [&mut [f32]; 4]) {
        output_transform_4(m, out)
    }
}

impl Transforms<6, 2> for F2Of5 {
    /// F(4x4, 3x3)'s: the same points, the same patch size.
    #[inline(always)]
    fn input(d: [&[f32]; 6], out: [&mut [f32]; 6]) {
        <F4 as Transforms<6, 4>>::input(d, out)
    }
    #[inline(always)]
    fn output(m: [&[f32]; 6], out: [&mut [f32]; 2]) {
        output_transform_2_of_6(m, out)
    }
}

impl WinogradConv {
    /// Transforms the kernels `[out, in, r, r]` of `tile`'s kernel size (`U = G g Gᵀ`,
    /// computed in f64).
    pub fn new(tile: Tile, planar: &[f32], in_channels: usize, out_channels: usize, padding: [usize; 2]) -> Self {
        let g_matrix = tile.kernel_transform();
        let (alpha, r) = (tile.inputs(), tile.kernel());
        let mut kernels = vec![0.0; alpha * alpha * in_channels * out_channels];
        for o in 0..out_channels {
            for c in 0..in_channels {
                let g = |ky: usize, kx: usize| planar[((o * in_channels + c) * r + ky) * r + kx] as f64;
                for (i, gi) in g_matrix.iter().enumerate() {
                    for (j, gj) in g_matrix.iter().enumerate() {
                        let u: f64 = (0..r * r).map(|k| gi[k / r] * g(k / r, k % r) * gj[k % r]).sum();
                        kernels[((i * alpha + j) * in_channels + c) * out_channels + o] = u as f32;
                    }
                }
            }
        }
        Self { tile, kernels, in_channels, out_channels, padding }
    }

    /// The output block it computes.
    pub fn tile(&self) -> Tile {
        self.tile
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        let reach = self.tile.kernel() - 1;
        [h + 2 * self.padding[0] - reach, w + 2 * self.padding[1] - reach]
    }

    /// Output blocks per image for an input of `[rows, cols]`.
    pub fn blocks_per_image(&self, size: [usize; 2]) -> usize {
        let [oh, ow] = self.output_size(size);
        oh.div_ceil(self.tile.outputs()) * ow.div_ceil(self.tile.outputs())
    }

    /// Convolves `input` into `target`, then applies `finish` to each output pixel's channels.
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        match self.tile {
            Tile::F2x2 => self.run::<4, 2, F2>(input, target, finish),
            Tile::F4x4 => self.run::<6, 4, F4>(input, target, finish),
            Tile::F2x2Of5x5 => self.run::<6, 2, F2Of5>(input, target, finish),
        }
    }

    /// [`WinogradConv::forward_into`] for patches of `A` and blocks of `M` per side.
    fn run<const A: usize, const M: usize, T: Transforms<A, M>>(
        &self,
        input: &NhwcBatch,
        target: &mut ChannelSlice<'_>,
        finish: &Finish,
    ) {
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        let blocks_per_row = ow.div_ceil(M);
        let blocks_per_image = oh.div_ceil(M) * blocks_per_row;
        let rows_wanted = self.blocks_per_group();
        let image_len = oh * ow * stride;
        let (ci, co) = (self.in_channels, self.out_channels);
        if blocks_per_image < rows_wanted && n > 1 {
            // Small grids: a group holds whole images, so that the matrix products have
            // enough rows to pay for packing the kernels (VGG16's 512 channels at 14x14).
            // ... but at least as many groups as threads where the batch allows.
            let per_thread = n.div_ceil(rayon::current_num_threads());
            let images_per_group = (rows_wanted / blocks_per_image).clamp(1, per_thread);
            target.data[..n * image_len].par_chunks_mut(images_per_group * image_len).enumerate().for_each(
                |(group, images)| {
                    let count = images.len() / image_len;
                    let blocks = count * blocks_per_image;
                    SCRATCH.with_borrow_mut(|(patches, products, scratch)| {
                        patches.resize(A * A * blocks * ci, 0.0);
                        products.resize(A * A * blocks * co, 0.0);
                        let scratch_len = ((A + 1) * Self::span::<A, M>(blocks_per_row) * ci).max((M * A + M) * co);
                        scratch.resize(scratch_len, 0.0);
                        let geometry = Geometry { first_block_row: 0, block_rows: oh.div_ceil(M), blocks_per_row };
                        for k in 0..count {
                            let rows = Rows { first: k * blocks_per_image, plane: blocks };
                            let b = group * images_per_group + k;
                            vectorized(
                                #[inline(always)]
                                || self.transform_patches::<A, M, T>(input, b, geometry, rows, patches, scratch),
                            );
                        }
                        self.multiply(A * A, blocks, patches, products);
                        for (k, image) in images.chunks_exact_mut(image_len).enumerate() {
                            let rows = Rows { first: k * blocks_per_image, plane: blocks };
                            vectorized(
                                #[inline(always)]
                                || {
                                    let out = Output { ow, blocks_per_row, stride, offset };
                                    self.transform_outputs::<A, M, T>(image, out, rows, products, scratch);
                                    for pixel in image.chunks_exact_mut(stride) {
                                        finish.apply(&mut pixel[offset..offset + co]);
                                    }
                                },
                            );
                        }
                    });
                },
            );
            return;
        }
        let block_rows_per_group = (rows_wanted / blocks_per_row).max(1);
        let group_len = M * block_rows_per_group * ow * stride;
        target.data[..n * image_len].par_chunks_mut(image_len).enumerate().for_each(|(b, image)| {
            image.par_chunks_mut(group_len).enumerate().for_each(|(group, rows)| {
                let first_block_row = group * block_rows_per_group;
                let block_rows = (rows.len() / (ow * stride)).div_ceil(M);
                SCRATCH.with_borrow_mut(|(patches, products, scratch)| {
                    let blocks = block_rows * blocks_per_row;
                    patches.resize(A * A * blocks * ci, 0.0);
                    products.resize(A * A * blocks * co, 0.0);
                    scratch.resize(((A + 1) * Self::span::<A, M>(blocks_per_row) * ci).max((M * A + M) * co), 0.0);
                    let geometry = Geometry { first_block_row, block_rows, blocks_per_row };
                    let plane = Rows { first: 0, plane: blocks };
                    vectorized(
                        #[inline(always)]
                        || self.transform_patches::<A, M, T>(input, b, geometry, plane, patches, scratch),
                    );
                    self.multiply(A * A, blocks, patches, products);
                    vectorized(
                        #[inline(always)]
                        || {
                            let out = Output { ow, blocks_per_row, stride, offset };
                            self.transform_outputs::<A, M, T>(rows, out, plane, products, scratch);
                            for pixel in rows.chunks_exact_mut(stride) {
                                finish.apply(&mut pixel[offset..offset + co]);
                            }
                        },
                    );
                });
            });
        });
    }

    /// Output blocks per group (the rows of the matrix products): the tile's, four times as
    /// many for kernels of 256 x 256 channels or more, whose packing a few rows do not pay for.
    fn blocks_per_group(&self) -> usize {
        let base = self.tile.blocks_per_group();
        match self.in_channels * self.out_channels >= WIDE_KERNELS {
            true => base * WIDE_GROUP_FACTOR,
            false => base,
        }
    }

    /// `V = Bᵀ d B` for every `A x A` input patch of the group, into
    /// `patches[A * A][blocks][in]`: block row by block row, `Bᵀ` down the columns of the
    /// row's `A` input rows at once (long loops over whole rows, each column transformed
    /// once for the blocks that share it), then `B` along each block's `A` columns.
    #[inline(always)]
    fn transform_patches<const A: usize, const M: usize, T: Transforms<A, M>>(
        &self,
        input: &NhwcBatch,
        b: usize,
        Geometry { first_block_row, block_rows, blocks_per_row }: Geometry,
        Rows { first, plane: plane_blocks }: Rows,
        patches: &mut [f32],
        scratch: &mut [f32],
    ) {
        let [_, h, w, c] = input.shape;
        let [top, left] = self.padding;
        // The input columns a block row reads, from `-left`, and those of them in the image.
        let span = Self::span::<A, M>(blocks_per_row);
        let inside = left.min(span)..(left + w).min(span);
        let (columns, zeros) = scratch[..(A + 1) * span * c].split_at_mut(A * span * c);
        // The padding's columns (and rows) transform to zeros: written once, never overwritten.
        columns.fill(0.0);
        zeros.fill(0.0);
        let zeros: &[f32] = zeros;
        for block_row in 0..block_rows {
            let y0 = (M * (first_block_row + block_row)) as isize - top as isize;
            // Bᵀ down every column: columns[i][x] = (Bᵀ d)[i] at input column x - left.
            let row = |i: usize| -> &[f32] {
                let y = y0 + i as isize;
                match (0..h as isize).contains(&y) {
                    true => {
                        let at = (b * h + y as usize) * w * c;
                        &input.data[at + (inside.start - left) * c..at + (inside.end - left) * c]
                    }
                    false => &zeros[..inside.len() * c],
                }
            };
            let mut rows = columns.chunks_exact_mut(span * c).map(|r| &mut r[inside.start * c..inside.end * c]);
            T::input(array::from_fn(row), array::from_fn(|_| rows.next().expect("A rows")));
            // Then B along each block's A columns: V[i][0..A] from (Bᵀ d)[i][x0..x0 + A].
            let columns: &[f32] = columns;
            for block_col in 0..blocks_per_row {
                let block = first + block_row * blocks_per_row + block_col;
                let x0 = M * block_col;
                for i in 0..A {
                    let plane = plane_blocks * c;
                    let row = &columns[i * span * c..(i + 1) * span * c];
                    let mut out = patches[i * A * plane..(i + 1) * A * plane]
                        .chunks_exact_mut(plane)
                        .map(|p| &mut p[block * c..(block + 1) * c]);
                    T::input(
                        array::from_fn(|j| &row[(x0 + j) * c..(x0 + j + 1) * c]),
                        array::from_fn(|_| out.next().expect("A planes")),
                    );
                }
            }
        }
    }

    /// Input columns a row of `blocks_per_row` blocks reads.
    fn span<const A: usize, const M: usize>(blocks_per_row: usize) -> usize {
        M * (blocks_per_row - 1) + A
    }

    /// The `elements` products `M[e] = V[e] U[e]`, `[blocks, out]` each.
    fn multiply(&self, elements: usize, blocks: usize, patches: &[f32], products: &mut [f32]) {
        let (ci, co) = (self.in_channels, self.out_channels);
        for e in 0..elements {
            // SAFETY: patches[e] is `blocks x ci`, kernels[e] `ci x co`, products[e]
            // `blocks x co`, all row-major and in bounds.
            unsafe {
                gemm::gemm(
                    blocks,
                    co,
                    ci,
                    products.as_mut_ptr().add(e * blocks * co),
                    1,
                    co as isize,
                    false,
                    patches.as_ptr().add(e * blocks * ci),
                    1,
                    ci as isize,
                    self.kernels.as_ptr().add(e * ci * co),
                    1,
                    co as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                )
            }
        }
    }

    /// `Y = Aᵀ M A` for every block of the group, written into the output rows (the parts
    /// of border blocks past the output's edge into scratch).
    #[inline(always)]
    fn transform_outputs<const A: usize, const M: usize, T: Transforms<A, M>>(
        &self,
        rows: &mut [f32],
        Output { ow, blocks_per_row, stride, offset }: Output,
        Rows { first, plane }: Rows,
        products: &[f32],
        scratch: &mut [f32],
    ) {
        let co = self.out_channels;
        let row_count = rows.len() / (ow * stride);
        let blocks = row_count.div_ceil(M) * blocks_per_row;
        let (sums, spare) = scratch[..(M * A + M) * co].split_at_mut(M * A * co);
        for block in 0..blocks {
            let (block_row, block_col) = (block / blocks_per_row, block % blocks_per_row);
            let at = |e: usize| (e * plane + first + block) * co;
            let m = |e: usize| &products[at(e)..at(e) + co];
            // Aᵀ on each column j: sums[(i * A + j) * co..] = (Aᵀ M)[i][j].
            for j in 0..A {
                let mut out = sums.chunks_exact_mut(A * co).map(|row| &mut row[j * co..(j + 1) * co]);
                T::output(array::from_fn(|i| m(i * A + j)), array::from_fn(|_| out.next().expect("M rows")));
            }
            // Then A on each row: the row's M pixels (those past the right edge into spare).
            for dy in 0..M {
                let y = M * block_row + dy;
                if y >= row_count {
                    break;
                }
                let x0 = M * block_col;
                let inside = (ow - x0).min(M);
                let first = (y * ow + x0) * stride;
                let mut out = rows[first..first + inside * stride]
                    .chunks_mut(stride)
                    .map(|pixel| &mut pixel[offset..offset + co])
                    .chain(spare.chunks_exact_mut(co));
                let row = &sums[dy * A * co..(dy + 1) * A * co];
                T::output(
                    array::from_fn(|j| &row[j * co..(j + 1) * co]),
                    array::from_fn(|_| out.next().expect("M pixels")),
                );
            }
        }
    }
}

/// Where a group's blocks lie in its transformed planes: the first row of these blocks,
/// and the rows of each plane (the group's blocks over all its images).
#[derive(Debug, Clone, Copy)]
struct Rows {
    first: usize,
    plane: usize,
}

/// Where a group's output rows go: columns, blocks per row, and the pixel stride and
/// channel offset of the target.
#[derive(Debug, Clone, Copy)]
struct Output {
    ow: usize,
    blocks_per_row: usize,
    stride: usize,
    offset: usize,
}

/// Where a group of output blocks lies in its image: its first block row, its block rows,
/// and blocks per row.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    first_block_row: usize,
    block_rows: usize,
    blocks_per_row: usize,
}

/// `Bᵀ` of F(2x2, 3x3): `(d0 - d2, d1 + d2, d2 - d1, d1 - d3)`.
#[inline(always)]
fn input_transform_2([d0, d1, d2, d3]: [&[f32]; 4], [o0, o1, o2, o3]: [&mut [f32]; 4]) {
    for k in 0..d0.len() {
        o0[k] = d0[k] - d2[k];
        o1[k] = d1[k] + d2[k];
        o2[k] = d2[k] - d1[k];
        o3[k] = d1[k] - d3[k];
    }
}

/// `Aᵀ` of F(2x2, 3x3): `(m0 + m1 + m2, m1 - m2 - m3)`.
#[inline(always)]
fn output_transform_2([m0, m1, m2, m3]: [&[f32]; 4], [y0, y1]: [&mut [f32]; 2]) {
    for k in 0..m0.len() {
        y0[k] = m0[k] + m1[k] + m2[k];
        y1[k] = m1[k] - m2[k] - m3[k];
    }
}

/// `Bᵀ` of F(4x4, 3x3) and F(2x2, 5x5) on the points 0, 1, -1, 1/2, -2 (and infinity),
/// whose float32 rounding is about half that of the usual 0, 1, -1, 2, -2 (Barabasz et
/// al., 2020):
/// ```text
/// [1 -3/2  -2  3/2   1  0]   o0 = (d0 - d2) + (d4 - d2) + 3/2 (d3 - d1)
/// [0  -1  1/2  5/2   1  0]   o1 = (d4 - d1) + (d2 / 2 + 5/2 d3)
/// [0   1 -5/2  1/2   1  0]   o2 = (d4 + d1) - (5/2 d2 - d3 / 2)
/// [0  -2   -1    2   1  0]   o3 = (d4 - d2) + 2 (d3 - d1)
/// [0 1/2   -1 -1/2   1  0]   o4 = (d4 - d2) - (d3 - d1) / 2
/// [0   1 -3/2   -2 3/2  1]   o5 = (d1 - d3) + (d5 - d3) + 3/2 (d4 - d2)
/// ```
#[inline(always)]
fn input_transform_4([d0, d1, d2, d3, d4, d5]: [&[f32]; 6], [o0, o1, o2, o3, o4, o5]: [&mut [f32]; 6]) {
    for k in 0..d0.len() {
        let (d31, d42) = (d3[k] - d1[k], d4[k] - d2[k]);
        o0[k] = (d0[k] - d2[k]) + d42 + 1.5 * d31;
        o1[k] = (d4[k] - d1[k]) + (0.5 * d2[k] + 2.5 * d3[k]);
        o2[k] = (d4[k] + d1[k]) - (2.5 * d2[k] - 0.5 * d3[k]);
        o3[k] = d42 + 2.0 * d31;
        o4[k] = d42 - 0.5 * d31;
        o5[k] = (d5[k] - d3[k]) - d31 + 1.5 * d42;
    }
}

/// `Aᵀ` of F(4x4, 3x3) on the points 0, 1, -1, 1/2, -2:
/// ```text
/// [1  1  1   1   1  0]   y0 = m0 + (m1 + m2) + (m3 + m4)
/// [0  1 -1 1/2  -2  0]   y1 = (m1 - m2) + (m3 / 2 - 2 m4)
/// [0  1  1 1/4   4  0]   y2 = (m1 + m2) + (m3 / 4 + 4 m4)
/// [0  1 -1 1/8  -8  1]   y3 = (m1 - m2) + (m3 / 8 - 8 m4) + m5
/// ```
#[inline(always)]
fn output_transform_4([m0, m1, m2, m3, m4, m5]: [&[f32]; 6], [y0, y1, y2, y3]: [&mut [f32]; 4]) {
    for k in 0..m0.len() {
        let (a, b) = (m1[k] + m2[k], m1[k] - m2[k]);
        y0[k] = m0[k] + a + (m3[k] + m4[k]);
        y1[k] = b + (0.5 * m3[k] - 2.0 * m4[k]);
        y2[k] = a + (0.25 * m3[k] + 4.0 * m4[k]);
        y3[k] = b + (0.125 * m3[k] - 8.0 * m4[k]) + m5[k];
    }
}

/// `Aᵀ` of F(2x2, 5x5) on the points 0, 1, -1, 1/2, -2 (the first two rows of F(4x4, 3x3)'s,
/// infinity's product in the last):
/// ```text
/// [1  1  1   1   1  0]   y0 = m0 + (m1 + m2) + (m3 + m4)
/// [0  1 -1 1/2  -2  1]   y1 = (m1 - m2) + (m3 / 2 - 2 m4) + m5
/// ```
#[inline(always)]
fn output_transform_2_of_6([m0, m1, m2, m3, m4, m5]: [&[f32]; 6], [y0, y1]: [&mut [f32]; 2]) {
    for k in 0..m0.len() {
        y0[k] = m0[k] + (m1[k] + m2[k]) + (m3[k] + m4[k]);
        y1[k] = (m1[k] - m2[k]) + (0.5 * m3[k] - 2.0 * m4[k]) + m5[k];
    }
}

#[cfg(test)]
#[path = "winograd_tests.rs"]
mod tests;
