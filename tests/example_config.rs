//! The shipped live example config must stay valid: `config check` accepts it.

use std::process::Command;

#[test]
fn live_example_config_passes_config_check() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/akko-audit.example.toml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["config", "check", "--config", path])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("source trino       backend loki"),
        "{stdout}"
    );
    assert!(
        stdout.contains("source litellm     backend postgres"),
        "{stdout}"
    );
}
