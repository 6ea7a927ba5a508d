//! Embeds the dashboard: lists every file of `web/dist` (the committed Vite build) into
//! `$OUT_DIR/dashboard_assets.rs` as a sorted table of paths and `include_bytes!`, so the binary
//! serves the dashboard with no Node.js on the machine that builds or runs it.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest.join("../../web/dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    assert!(
        files.iter().any(|(rel, _)| rel == "index.html"),
        "web/dist/index.html is missing: the dashboard's build is committed; \
         rebuild it with `npm ci && npm run build` in web/"
    );
    files.sort();
    let mut out = String::from(
        "/// Every file of web/dist: its path below it, and its bytes.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        out.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(target.join("dashboard_assets.rs"), out).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; is web/dist there?", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).expect("below the root");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = path.canonicalize().expect("a file that exists");
            files.push((rel, abs.display().to_string()));
        }
    }
}
