//! Source hygiene of the macro crate: every module says what it owns, and nothing
//! derived from user input can panic (`unwrap`, `expect`, `panic!`) outside tests.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn macro_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../autodiff-macros/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 10,
        "macro sources not found under {}",
        root.display()
    );
    files
}

#[test]
fn every_macro_module_has_a_module_doc() {
    for file in macro_sources() {
        let text = std::fs::read_to_string(&file).expect("readable source");
        assert!(
            text.trim_start().starts_with("//!"),
            "{} does not open with a `//!` line saying what it owns",
            file.display()
        );
    }
}

#[test]
fn macro_never_unwraps_or_panics_outside_tests() {
    const FORBIDDEN: [&str; 5] = [
        ".unwrap()",
        ".expect(",
        "panic!(",
        "todo!(",
        "unimplemented!(",
    ];
    let mut offences = Vec::new();
    for file in macro_sources() {
        if file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pattern in FORBIDDEN {
                if line.contains(pattern) {
                    offences.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "panicking calls in the macro:\n{}",
        offences.join("\n")
    );
}
