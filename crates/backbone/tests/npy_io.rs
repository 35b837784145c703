//! `.npy` files as NumPy writes them: every numeric dtype, both byte orders, C and Fortran
//! order, read as float32 in C order exactly as NumPy's `astype(np.float32)` gives them
//! (fixtures and values by `crates/backbone/tests/fixtures/npy/make_npy_dtypes.py`); and a round trip.

use std::path::Path;

use backbone::npy::{read_npy, write_npy};

#[test]
fn every_numpy_dtype_and_order_reads_as_numpy_converts_it() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("expected.json")).unwrap()).unwrap();
    let cases = expected.as_object().unwrap();
    assert_eq!(cases.len(), 8);
    for (name, case) in cases {
        let array = read_npy(&folder.join(format!("{name}.npy"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<usize> =
            case["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let values: Vec<f32> = case["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(array.shape, shape, "{name}");
        assert_eq!(array.values, values, "{name}");
    }
}

#[test]
fn written_arrays_read_back() {
    let path = std::env::temp_dir().join(format!("npy-io-{}.npy", std::process::id()));
    let values: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 3.0).collect();
    write_npy(&path, &[2, 3, 4], &values).unwrap();
    let back = read_npy(&path).unwrap();
    assert_eq!((back.shape, back.values), (vec![2, 3, 4], values));
    let err = write_npy(&path, &[5], &[1.0; 4]).unwrap_err().to_string();
    assert!(err.contains("4 values for shape [5]"), "{err}");
    std::fs::remove_file(&path).unwrap();
}
