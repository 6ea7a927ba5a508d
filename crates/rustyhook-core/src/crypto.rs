//! Encryption of secrets at rest (endpoint signing secrets). The key is 32 random bytes kept apart
//! from the database (a file beside it, or an environment variable); each value is sealed with
//! ChaCha20-Poly1305 under a fresh nonce, so a copied database alone reveals no secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const VERSION: &str = "v1:";

/// Seals and opens values with the installation's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

/// A sealed value could not be opened: wrong key, or the stored value was altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored secret could not be decrypted: the encryption key does not match the database")]
pub struct OpenError;

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// A new random key.
    pub fn generate_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    /// Seals `plain` into printable text.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// Opens what [`Self::seal`] produced.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or(OpenError)?;
        if raw.len() < 12 {
            return Err(OpenError);
        }
        let (nonce, body) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| OpenError)
    }
}

/// `url` with its password replaced by `***`, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key() {
        let a = SecretBox::new(&SecretBox::generate_key());
        let b = SecretBox::new(&SecretBox::generate_key());
        let sealed = a.seal(b"whsec_abc");
        assert!(!sealed.contains("whsec"));
        assert_eq!(a.open(&sealed).as_deref(), Ok(&b"whsec_abc"[..]));
        assert_eq!(b.open(&sealed), Err(OpenError));
        assert_eq!(a.open("v1:AAAA"), Err(OpenError));
    }

    #[test]
    fn a_url_s_password_is_hidden() {
        assert_eq!(
            redact_url("postgres://rh:hunter2@db:5432/rh"),
            "postgres://rh:***@db:5432/rh"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
    }
}
