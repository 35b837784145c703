//! Reading and writing float32 `.npy` arrays (NumPy format 1.0-3.0, little-endian, C order),
//! the exchange format of the examples (`features`, `apply_transform`) and the parity tests.

use std::io::{Read, Write};
use std::path::Path;

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
    /// The file is not a float32, C-order `.npy` array.
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

/// Reads a little-endian float32 (or float64, converted) C-order `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray, NpyError> {
    let name = path.display().to_string();
    let bad = |reason: &str| NpyError::Format { path: name.clone(), reason: reason.to_string() };
    let mut bytes = Vec::new();
    backbone::internal::regular_file(path)
        .and_then(|()| std::fs::File::open(path))
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| NpyError::Io { path: name.clone(), source })?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file (no \\x93NUMPY magic)"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        _ => return Err(bad("unsupported .npy version")),
    };
    let header = bytes.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        Some(header[at..].trim_start_matches([':', ' ']))
    };
    let descr = field("descr").ok_or_else(|| bad("no descr in header"))?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        let dtype: String = descr.chars().take(6).collect();
        return Err(bad(&format!("dtype {dtype} is not little-endian float32/float64")));
    };
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad("Fortran-order arrays are not supported; save with np.ascontiguousarray"));
    }
    let shape_text = field("shape").ok_or_else(|| bad("no shape in header"))?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|rest| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| bad("the shape is not a tuple"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad(&format!("shape entry `{s}` is not a size"))))
        .collect::<Result<Vec<_>, _>>()?;
    let expected = shape
        .iter()
        .try_fold(width as usize, |bytes: usize, &d| bytes.checked_mul(d))
        .ok_or_else(|| bad(&format!("shape {shape:?} does not fit in memory")))?;
    let data = &bytes[start + header_len..];
    if data.len() != expected {
        return Err(bad(&format!("{} data bytes for shape {shape:?}, expected {expected}", data.len())));
    }
    let values = match width {
        4 => data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
    };
    Ok(NpyArray { shape, values })
}

/// Writes a float32 C-order `.npy` file (format 1.0).
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> Result<(), NpyError> {
    let name = path.display().to_string();
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .map_err(|source| NpyError::Io { path: name, source })
}
