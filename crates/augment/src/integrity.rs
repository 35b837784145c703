//! Whole-file checks of image containers, cheap enough for every file of a folder scan:
//! what a header read cannot see and a decoder would only find epochs later (a JPEG cut
//! short, a PNG cut inside its pixel data or with a damaged chunk, a BMP shorter than its
//! header says).

/// What is wrong with `bytes` as a PNG or BMP file (`None`: nothing found; a JPEG's
/// truncation is [`is_truncated_jpeg`], which Pillow's `LOAD_TRUNCATED_IMAGES` may accept;
/// other formats are left to the decoder).
pub(crate) fn container_problem(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(PNG_SIGNATURE) {
        return png_problem(bytes);
    }
    if bytes.starts_with(b"BM") {
        return bmp_problem(bytes);
    }
    None
}

/// A JPEG (`FF D8` first) without an end-of-image marker (`FF D9`) after its last
/// start-of-scan (`FF DA`): cut short. (Inside a scan a data `FF` is always followed by
/// `00` or a restart marker, so `FF D9` there can only be the real end; data after it is
/// allowed, as decoders ignore it.)
pub(crate) fn is_truncated_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let marker = |code: u8| bytes.windows(2).rposition(|w| w == [0xFF, code]);
    match marker(0xDA) {
        Some(scan) => !bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true,
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Every chunk of a PNG whole and with its CRC right, up to an `IEND` chunk.
fn png_problem(bytes: &[u8]) -> Option<String> {
    let mut at = PNG_SIGNATURE.len();
    loop {
        let Some(header) = bytes.get(at..at + 8) else {
            return Some(format!("PNG cut short at byte {at} (no IEND chunk)"));
        };
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = String::from_utf8_lossy(&header[4..8]).into_owned();
        let end = at + 8 + length + 4;
        let Some(chunk) = bytes.get(at + 4..end) else {
            return Some(format!("PNG cut short inside its {kind} chunk at byte {at} (no IEND chunk)"));
        };
        let (body, crc) = chunk.split_at(chunk.len() - 4);
        if crc32fast::hash(body).to_be_bytes() != crc {
            return Some(format!("PNG {kind} chunk at byte {at} is damaged (CRC mismatch)"));
        }
        if kind == "IEND" {
            return None;
        }
        at = end;
    }
}

/// An uncompressed BMP (`BI_RGB` / `BI_BITFIELDS`) holding every row its header declares.
fn bmp_problem(bytes: &[u8]) -> Option<String> {
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(offset), Some(header_size)) = (u32_at(10), u32_at(14)) else {
        return Some("BMP cut short inside its header".into());
    };
    if header_size < 40 {
        return None; // an OS/2 core header: left to the decoder
    }
    let (Some(width), Some(height), Some(bits), Some(compression)) =
        (u32_at(18), u32_at(22), bytes.get(28..30).map(|b| u16::from_le_bytes([b[0], b[1]])), u32_at(30))
    else {
        return Some("BMP cut short inside its header".into());
    };
    if compression != 0 && compression != 3 {
        return None; // run-length encoded: its length is not fixed by the header
    }
    let (width, height) = (u64::from((width as i32).unsigned_abs()), u64::from((height as i32).unsigned_abs()));
    // Saturating: a header declaring absurd sizes is simply more than any file holds.
    let stride = width.saturating_mul(u64::from(bits)).div_ceil(32).saturating_mul(4);
    let needed = u64::from(offset).saturating_add(stride.saturating_mul(height));
    let held = bytes.len() as u64;
    (held < needed)
        .then(|| format!("BMP pixel data cut short: the header declares {needed} bytes, the file has {held}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(width, height, image::Rgb([9, 99, 199]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn whole_files_pass_and_cut_or_damaged_ones_are_named() {
        let good = png(40, 30);
        assert_eq!(container_problem(&good), None);
        let cut = &good[..good.len() - 20];
        assert!(container_problem(cut).unwrap().contains("IDAT"), "{:?}", container_problem(cut));
        let mut damaged = good.clone();
        let idat = good.windows(4).position(|w| w == b"IDAT").unwrap();
        damaged[idat + 6] ^= 0x40;
        assert!(container_problem(&damaged).unwrap().contains("CRC"));

        let mut bmp = Vec::new();
        image::RgbImage::from_pixel(7, 5, image::Rgb([1, 2, 3]))
            .write_to(&mut std::io::Cursor::new(&mut bmp), image::ImageFormat::Bmp)
            .unwrap();
        assert_eq!(container_problem(&bmp), None);
        assert!(container_problem(&bmp[..bmp.len() - 3]).unwrap().contains("cut short"));
        assert_eq!(container_problem(b"GIF89a..."), None, "other formats are left to the decoder");
    }
}
