//! Reading a PDF back with Debian's poppler-utils, as a person's PDF viewer would: text, page
//! count, page images. A missing tool fails the test (scripts/test-services.sh installs it).

use std::path::Path;
use std::process::Command;

/// Runs a poppler tool and returns stdout; panics (fails the test) if it is missing or fails.
pub fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} not runnable ({e}); install poppler-utils (scripts/test-services.sh does)")
    });
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn page_count(pdf: &Path) -> usize {
    let info = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("pdfinfo prints Pages:")
}

/// Renders every page with pdftoppm into `dir` and returns how many PNGs it wrote.
pub fn render_pages(pdf: &Path, dir: &Path, dpi: u32) -> usize {
    let prefix = dir.join("page");
    tool(
        "pdftoppm",
        &[
            "-r",
            &dpi.to_string(),
            "-png",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count()
}
