//! `manifest.json.sig`: a detached Ed25519 signature of `manifest.json`, as the raw 64 bytes,
//! so an auditor can check it without this tool:
//! `openssl pkeyutl -verify -pubin -inkey akko-audit.pub.pem -rawin -in manifest.json -sigfile manifest.json.sig`.
//! The manifest holds every other file's SHA-256, so one signature covers the whole set.

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::Artifact;

pub const NAME: &str = "manifest.json.sig";

/// A private key as `openssl genpkey -algorithm ed25519` writes it (PKCS#8 PEM), or its 32-byte
/// seed as 64 hex digits.
pub fn signing_key(secret: &[u8]) -> Result<SigningKey, String> {
    let text = std::str::from_utf8(secret).map_err(|_| "the key is not text (PEM or hex)")?;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(text).map_err(|e| {
            format!("not an Ed25519 PKCS#8 private key ({e}); create one with `openssl genpkey -algorithm ed25519`")
        });
    }
    let seed: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("neither a PEM private key nor 64 hex digits")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key as `openssl pkey -pubout` writes it (SPKI PEM), or 64 hex digits.
pub fn verifying_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).map_err(|e| {
            format!("not an Ed25519 public key ({e}); export it with `openssl pkey -in key.pem -pubout`")
        });
    }
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("neither a PEM public key nor 64 hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

pub fn sign(key: &SigningKey, manifest: &[u8]) -> Artifact {
    Artifact {
        name: NAME.to_string(),
        bytes: key.sign(manifest).to_bytes().to_vec(),
        rows: 0,
    }
}

pub fn check(key: &VerifyingKey, manifest: &[u8], sig: &[u8]) -> Result<(), String> {
    let sig = Signature::from_slice(sig)
        .map_err(|_| format!("{NAME} is {} bytes, not a 64-byte signature", sig.len()))?;
    key.verify(manifest, &sig)
        .map_err(|_| "the signature does not match manifest.json for this public key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_check_hex_keys() {
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let key = signing_key(seed.as_bytes()).unwrap();
        let public = hex::encode(key.verifying_key().to_bytes());
        // RFC 8032 test 1: this seed's public key.
        assert_eq!(
            public,
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = sign(&key, b"{\"files\":[]}\n");
        let vk = verifying_key(&public).unwrap();
        check(&vk, b"{\"files\":[]}\n", &sig.bytes).unwrap();
        assert!(check(&vk, b"{\"files\":[1]}\n", &sig.bytes).is_err());
        assert!(check(&vk, b"{\"files\":[]}\n", &sig.bytes[..63]).is_err());
        assert!(signing_key(b"not a key").is_err());
    }
}
