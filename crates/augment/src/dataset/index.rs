//! Keras 2.15's `index_directory` for `image_dataset_from_directory`: class folders sorted
//! (hidden ones skipped), each walked recursively in sorted order, files with an image
//! extension kept, the whole list shuffled with NumPy's `RandomState(seed)`, then
//! `get_training_or_validation_split` (the last `int(split * n)` files are the validation
//! subset). Same files, same order, same split as Keras for the same seed.

use std::path::{Path, PathBuf};

use crate::dataset::numpy_shuffle::RandomState;
use crate::error::{AugmentError, Result};

/// Extensions Keras accepts (`ALLOWLIST_FORMATS`), compared case-insensitively.
const FORMATS: [&str; 5] = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AugmentError + '_ {
    move |source| AugmentError::Io { path: path.to_path_buf(), source }
}

/// The entries of `dir`, sorted by name as Python sorts strings.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|entry| entry.map(|e| e.path()).map_err(io(dir)))
        .collect::<Result<_>>()?;
    entries.sort();
    Ok(entries)
}

/// Whether `path` is a folder to descend into: real folders always, linked ones only when
/// following links (and never one already on the way down: a link cycle).
fn descend_into(path: &Path, follow_links: bool, ancestors: &[PathBuf]) -> Result<Option<PathBuf>> {
    let metadata = std::fs::symlink_metadata(path).map_err(io(path))?;
    let is_link = metadata.file_type().is_symlink();
    if !path.is_dir() || (is_link && !follow_links) {
        return Ok(None);
    }
    let canonical = std::fs::canonicalize(path).map_err(io(path))?;
    match ancestors.contains(&canonical) {
        true => Ok(None),
        false => Ok(Some(canonical)),
    }
}

/// The files of one folder: those with an image extension, and the others.
type FolderFiles = (PathBuf, Vec<PathBuf>, Vec<PathBuf>);

/// Every folder under `dir` (itself included) with its files sorted, images (by `formats`,
/// lower-case suffixes) apart from the rest.
fn folders_with_images(
    dir: &Path,
    follow_links: bool,
    formats: &[&str],
    ancestors: &mut Vec<PathBuf>,
    out: &mut Vec<FolderFiles>,
) -> Result<()> {
    let (mut subfolders, mut images, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for entry in sorted_entries(dir)? {
        match descend_into(&entry, follow_links, ancestors)? {
            Some(canonical) => subfolders.push((entry, canonical)),
            // Anything but a folder: a FIFO, device or dangling link named like an image is
            // listed, so the scan reports it as a bad image instead of passing over it.
            None if !entry.is_dir() => {
                let name = entry.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
                match formats.iter().any(|format| name.ends_with(format)) {
                    true => images.push(entry),
                    false => others.push(entry),
                }
            }
            None => {}
        }
    }
    out.push((dir.to_path_buf(), images, others));
    for (folder, canonical) in subfolders {
        ancestors.push(canonical);
        folders_with_images(&folder, follow_links, formats, ancestors, out)?;
        ancestors.pop();
    }
    Ok(())
}

/// Keras' `iter_valid_files` / `_iter_valid_files`: the image files under `dir` (by
/// `formats`, lower-case suffixes such as `.png`), folder by folder in the order Python
/// sorts the folders' path strings (`sorted(os.walk(dir, followlinks), key=lambda x: x[0])`),
/// each folder's files sorted; linked folders entered only when `follow_links` (and a link
/// back to a folder on the way down never: no cycles). Returns the images and, apart, the
/// other files found.
pub(crate) fn image_files(dir: &Path, follow_links: bool, formats: &[&str]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut folders = Vec::new();
    let mut ancestors = vec![std::fs::canonicalize(dir).map_err(io(dir))?];
    folders_with_images(dir, follow_links, formats, &mut ancestors, &mut folders)?;
    folders.sort_by(|a, b| a.0.as_os_str().as_encoded_bytes().cmp(b.0.as_os_str().as_encoded_bytes()));
    let (mut images, mut others) = (Vec::new(), Vec::new());
    for (_, folder_images, folder_others) in folders {
        images.extend(folder_images);
        others.extend(folder_others);
    }
    Ok((images, others))
}

/// Every image file under `dir` in Keras' order (`labels=None`: the folder walked as
/// `index_directory` walks a class folder, links not followed).
pub fn keras_image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(image_files(dir, false, &FORMATS)?.0)
}

/// Files with their class index, and the class names, as `index_directory` gives them.
pub(crate) struct Index {
    pub(crate) files: Vec<(PathBuf, usize)>,
    pub(crate) class_names: Vec<String>,
}

/// `index_directory(directory, labels="inferred", class_names, shuffle, seed, follow_links)`.
pub(crate) fn index_directory(
    directory: &Path,
    class_names: Option<&[String]>,
    shuffle: bool,
    seed: u32,
    follow_links: bool,
) -> Result<Index> {
    // Class folders by name, each with its path as the system gave it (a name that is not
    // UTF-8 is shown lossily but its folder is still the one read).
    let mut paths = Vec::new();
    for entry in sorted_entries(directory)? {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if entry.is_dir() && !name.starts_with('.') {
            paths.push((name, entry));
        }
    }
    let folders: Vec<String> = paths.iter().map(|(name, _)| name.clone()).collect();
    let class_names: Vec<String> = match class_names {
        None => folders,
        Some(given) => {
            let (mut a, mut b) = (given.to_vec(), folders.clone());
            a.sort();
            b.sort();
            if a != b {
                return Err(AugmentError::EmptyDirectory {
                    path: directory.to_path_buf(),
                    reason: format!(
                        "the class_names passed did not match the names of the sub-folders: expected {folders:?}, received {given:?}"
                    ),
                });
            }
            given.to_vec()
        }
    };
    if class_names.is_empty() {
        return Err(AugmentError::EmptyDirectory {
            path: directory.to_path_buf(),
            reason: "no class sub-folders (expected e.g. cats/ and dogs/ inside)".into(),
        });
    }
    let mut files = Vec::new();
    for (class, name) in class_names.iter().enumerate() {
        let folder =
            paths.iter().find(|(folder, _)| folder == name).map_or_else(|| directory.join(name), |p| p.1.clone());
        let (found, _) = image_files(&folder, follow_links, &FORMATS)?;
        files.extend(found.into_iter().map(|path| (path, class)));
    }
    if shuffle {
        RandomState::new(seed).shuffle(&mut files);
    }
    Ok(Index { files, class_names })
}

/// Keras' `get_training_or_validation_split`: the first `n - int(split * n)` files train,
/// the rest validate.
pub(crate) fn split<T: Clone>(files: &[T], validation_split: f64) -> (Vec<T>, Vec<T>) {
    let validation = (validation_split * files.len() as f64) as usize;
    let (train, val) = files.split_at(files.len() - validation);
    (train.to_vec(), val.to_vec())
}
