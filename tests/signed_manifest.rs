//! The signed manifest and `akko-audit verify` on a run folder, with keys made by OpenSSL (the
//! tool an auditor has) and the signature cross-checked by OpenSSL too: what we sign, anyone
//! can verify without this program.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::job::{demo_config_absolute, openssl, output_text, run, write_config};

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .arg("verify")
        .args(args)
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .unwrap()
}

/// A signed demo run: (run folder, public key path).
fn signed_run(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (key, public) = support::job::ed25519_keypair(dir);
    let cfg = write_config(
        dir,
        &format!(
            "{}\n[signing]\nkey_file = \"{}\"\n",
            demo_config_absolute(),
            key.display()
        ),
    );
    let out = dir.join("out");
    let o = run(&cfg, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    (out, public)
}

#[test]
fn a_signed_set_verifies_here_and_with_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, public) = signed_run(tmp.path());
    let sig = std::fs::read(out.join("manifest.json.sig")).unwrap();
    assert_eq!(sig.len(), 64, "a raw Ed25519 signature");
    // OpenSSL agrees (the README's command for auditors).
    openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        public.to_str().unwrap(),
        "-rawin",
        "-in",
        out.join("manifest.json").to_str().unwrap(),
        "-sigfile",
        out.join("manifest.json.sig").to_str().unwrap(),
    ]);
    let o = verify(&[
        out.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let t = output_text(&o);
    assert!(t.contains("signature valid"), "{t}");
    assert!(t.contains("VERIFIED"), "{t}");
    // The signature file is listed nowhere in the manifest (it signs the manifest), but
    // report.pdf is.
    let m = support::job::manifest(&out);
    let names: Vec<_> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"report.pdf".to_string()));
    assert!(!names.contains(&"manifest.json.sig".to_string()));
}

#[test]
fn verify_names_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, public) = signed_run(tmp.path());
    let key = public.to_str().unwrap();
    // One byte flipped in a CSV: that file, and the evidence digest, are named.
    let path = out.join("opa_denials.csv");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let o = verify(&[out.to_str().unwrap(), "--public-key", key]);
    let t = output_text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("CHANGED   opa_denials.csv: SHA-256"), "{t}");
    assert!(t.contains("evidence_sha256"), "{t}");
    assert!(t.contains("NOT VERIFIED"), "{t}");
    // A file removed.
    std::fs::remove_file(out.join("report.pdf")).unwrap();
    let t = output_text(&verify(&[out.to_str().unwrap(), "--public-key", key]));
    assert!(t.contains("MISSING   report.pdf"), "{t}");

    // A manifest edited to match a tampered file: the hashes agree, the signature does not.
    let tmp2 = tempfile::tempdir().unwrap();
    let (out2, public2) = signed_run(tmp2.path());
    let manifest = std::fs::read_to_string(out2.join("manifest.json")).unwrap();
    std::fs::write(
        out2.join("manifest.json"),
        manifest.replace("\"status\": \"complete\"", "\"status\": \"complete\" "),
    )
    .unwrap();
    let o = verify(&[
        out2.to_str().unwrap(),
        "--public-key",
        public2.to_str().unwrap(),
    ]);
    let t = output_text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("SIGNATURE INVALID"), "{t}");
    // Another signer's key does not verify it either.
    let other = tmp2.path().join("other.pem");
    let other_pub = tmp2.path().join("other.pub.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        other.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        other.to_str().unwrap(),
        "-pubout",
        "-out",
        other_pub.to_str().unwrap(),
    ]);
    let tmp3 = tempfile::tempdir().unwrap();
    let (out3, _) = signed_run(tmp3.path());
    let o = verify(&[
        out3.to_str().unwrap(),
        "--public-key",
        other_pub.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
}

#[test]
fn verify_refuses_unchecked_signatures_and_bad_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = signed_run(tmp.path());
    // Without a key: bad input, unless hashes only were asked for.
    let o = verify(&[out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(output_text(&o).contains("--public-key"));
    let o = verify(&[out.to_str().unwrap(), "--hashes-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(output_text(&o).contains("signature not checked"));
    // A private key file where the public key belongs is refused with the flag named.
    let o = verify(&[
        out.to_str().unwrap(),
        "--public-key",
        tmp.path().join("signing.pem").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    // A signing key that is not a key: exit 2 before anything is read or written.
    let cfg = write_config(
        tmp.path(),
        &format!(
            "{}\n[signing]\nkey_env = \"AKKO_TEST_SIGNING_KEY\"\n",
            demo_config_absolute()
        ),
    );
    let out2 = tmp.path().join("out2");
    let o = run(&cfg, &out2, &[("AKKO_TEST_SIGNING_KEY", "not-a-key")]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(output_text(&o).contains("signing.key"));
    assert!(
        !output_text(&o).contains("not-a-key"),
        "the secret must not be echoed"
    );
    assert!(!out2.exists());
}
