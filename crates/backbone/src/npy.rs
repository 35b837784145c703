//! Reading and writing `.npy` arrays as float32, the exchange format of the examples
//! (`features`, `apply_transform`) and the parity tests, through the `npyz` crate: every
//! NumPy format version, byte order, C or Fortran order, and every numeric dtype (bool,
//! integers, float16/32/64), converted to float32 as NumPy's `astype(np.float32)` does.
//! This module adds what `npyz` leaves to its caller: the file checks (a regular file, a
//! shape that fits the data before anything is allocated), the conversion, C order, and
//! errors that name the file.

use std::io::Read;
use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};

/// What can go wrong with an `.npy` file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not an `.npy` array of numbers, or lies about its size.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A float32 array: shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C (row-major) order.
    pub values: Vec<f32>,
}

/// Reads an `.npy` array of any numeric dtype and byte order as float32, in C order.
pub fn read_npy(path: &Path) -> Result<NpyArray, NpyError> {
    let name = path.display().to_string();
    let bad = |reason: String| NpyError::Format { path: name.clone(), reason };
    let mut bytes = Vec::new();
    crate::files::regular_file(path)
        .and_then(|()| std::fs::File::open(path))
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| NpyError::Io { path: name.clone(), source })?;
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err(bad("not an .npy file (no \\x93NUMPY magic)".into()));
    }
    let file = NpyFile::new(&bytes[..]).map_err(|e| bad(format!("bad .npy header: {e}")))?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
    let DType::Plain(dtype) = file.dtype() else {
        return Err(bad(format!("a structured array ({}) is not an array of numbers", file.dtype().descr())));
    };
    let width = dtype.num_bytes().unwrap_or(0);
    let expected = shape
        .iter()
        .try_fold(width, |bytes: usize, &d| bytes.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} does not fit in memory")))?;
    let order = file.order();
    let header_len = bytes.len() - file.into_inner().len();
    let data = bytes.len() - header_len;
    if data != expected {
        return Err(bad(format!("{data} data bytes for shape {shape:?} of {dtype}, expected {expected}")));
    }
    let file = NpyFile::new(&bytes[..]).map_err(|e| bad(format!("bad .npy header: {e}")))?;
    let read = |e: std::io::Error| bad(format!("reading {dtype} values: {e}"));
    let values: Vec<f32> = match (dtype.type_char(), width) {
        (TypeChar::Float, 4) => file.into_vec::<f32>().map_err(read)?,
        (TypeChar::Float, 8) => file.into_vec::<f64>().map_err(read)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Float, 2) => file.into_vec::<half::f16>().map_err(read)?.into_iter().map(f32::from).collect(),
        (TypeChar::Int, 1) => converted::<i8>(file).map_err(read)?,
        (TypeChar::Int, 2) => converted::<i16>(file).map_err(read)?,
        (TypeChar::Int, 4) => file.into_vec::<i32>().map_err(read)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Int, 8) => file.into_vec::<i64>().map_err(read)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Uint, 1) => converted::<u8>(file).map_err(read)?,
        (TypeChar::Uint, 2) => converted::<u16>(file).map_err(read)?,
        (TypeChar::Uint, 4) => file.into_vec::<u32>().map_err(read)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Uint, 8) => file.into_vec::<u64>().map_err(read)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Bool, 1) => {
            file.into_vec::<bool>().map_err(read)?.into_iter().map(|v| f32::from(u8::from(v))).collect()
        }
        _ => return Err(bad(format!("dtype {dtype} is not a number type (bool, int, uint or float)"))),
    };
    let values = match order {
        Order::C => values,
        Order::Fortran => fortran_to_c(&values, &shape),
    };
    Ok(NpyArray { shape, values })
}

/// Every value of `file` converted losslessly to float32.
fn converted<T: npyz::Deserialize + Into<f32>>(file: NpyFile<&[u8]>) -> std::io::Result<Vec<f32>> {
    Ok(file.into_vec::<T>()?.into_iter().map(Into::into).collect())
}

/// Fortran (column-major) values of an array of `shape` in C (row-major) order.
fn fortran_to_c(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut strides = vec![1usize; shape.len()];
    for axis in 1..shape.len() {
        strides[axis] = strides[axis - 1] * shape[axis - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(values.len());
    for _ in 0..values.len() {
        out.push(values[index.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>()]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// Writes a float32 C-order `.npy` file, atomically (a crash leaves the old file or the new
/// one).
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> Result<(), NpyError> {
    let name = path.display().to_string();
    let expected: usize = shape.iter().product();
    if expected != values.len() {
        return Err(NpyError::Format {
            path: name,
            reason: format!("{} values for shape {shape:?} ({expected} expected)", values.len()),
        });
    }
    let io = |source| NpyError::Io { path: name.clone(), source };
    let mut bytes = Vec::with_capacity(128 + values.len() * 4);
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer =
        npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(&mut bytes).begin_nd().map_err(io)?;
    writer.extend(values.iter().copied()).map_err(io)?;
    writer.finish().map_err(io)?;
    crate::atomic::write_atomically(path, &bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::fortran_to_c;

    #[test]
    fn fortran_order_becomes_c_order() {
        // np.asfortranarray(np.arange(6).reshape(2, 3)) stores 0 3 1 4 2 5.
        assert_eq!(fortran_to_c(&[0., 3., 1., 4., 2., 5.], &[2, 3]), vec![0., 1., 2., 3., 4., 5.]);
        assert_eq!(fortran_to_c(&[7.], &[]), vec![7.]);
    }
}
