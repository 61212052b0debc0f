//! Values that exist only while a run is in progress (bootstrap token, certificate key, CA hash,
//! encryption key). Templates carry placeholders for them; scripts receive them on stdin, so they
//! never appear in a rendered file kept on disk, in argv, in the plan or in the run journal.

use rand::Rng;
use serde::Serialize;

use crate::secret::Secret;

/// One run-time value a script needs. Scripts read the values they list, one per line, from
/// stdin in the listed order (see [`RuntimeValues::stdin_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeInput {
    /// `[a-z0-9]{6}.[a-z0-9]{16}`, created for this run with a short TTL and deleted after joins.
    BootstrapToken,
    /// 32 random bytes, hex: encrypts the control-plane certificates uploaded for joins.
    CertificateKey,
    /// `sha256:<hex>` of the cluster CA public key. Not secret, but only known after init.
    CaCertHash,
    /// base64 of 32 random bytes: the key of the encryption-at-rest provider.
    EncryptionKey,
}

impl RuntimeInput {
    pub const ALL: [RuntimeInput; 4] = [
        RuntimeInput::BootstrapToken,
        RuntimeInput::CertificateKey,
        RuntimeInput::CaCertHash,
        RuntimeInput::EncryptionKey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RuntimeInput::BootstrapToken => "bootstrap-token",
            RuntimeInput::CertificateKey => "certificate-key",
            RuntimeInput::CaCertHash => "ca-cert-hash",
            RuntimeInput::EncryptionKey => "encryption-key",
        }
    }

    /// Marker in rendered files, replaced on the node by the script that writes the file.
    /// `otp-provision render` shows it as is.
    pub fn placeholder(self) -> &'static str {
        match self {
            RuntimeInput::BootstrapToken => "@@OTP:bootstrap-token@@",
            RuntimeInput::CertificateKey => "@@OTP:certificate-key@@",
            RuntimeInput::CaCertHash => "@@OTP:ca-cert-hash@@",
            RuntimeInput::EncryptionKey => "@@OTP:encryption-key@@",
        }
    }

    /// Shell variable the value is read into on the node.
    pub fn shell_var(self) -> &'static str {
        match self {
            RuntimeInput::BootstrapToken => "OTP_BOOTSTRAP_TOKEN",
            RuntimeInput::CertificateKey => "OTP_CERTIFICATE_KEY",
            RuntimeInput::CaCertHash => "OTP_CA_CERT_HASH",
            RuntimeInput::EncryptionKey => "OTP_ENCRYPTION_KEY",
        }
    }

    pub fn is_secret(self) -> bool {
        !matches!(self, RuntimeInput::CaCertHash)
    }

    /// Which inputs a text refers to through placeholders, in [`RuntimeInput::ALL`] order.
    pub fn referenced_by(text: &str) -> Vec<RuntimeInput> {
        Self::ALL
            .into_iter()
            .filter(|i| text.contains(i.placeholder()))
            .collect()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    #[error("run-time value {0} is not known yet (the step that provides it has not run)")]
    Missing(&'static str),
    #[error("{what}: unexpected output: {reason}")]
    BadCapture { what: &'static str, reason: String },
}

/// The run's values. Secrets are wrapped in [`Secret`]; `Debug` never shows them.
#[derive(Debug, Clone, Default)]
pub struct RuntimeValues {
    pub bootstrap_token: Option<Secret>,
    pub certificate_key: Option<Secret>,
    pub ca_cert_hash: Option<String>,
    pub encryption_key: Option<Secret>,
}

impl RuntimeValues {
    pub fn get(&self, input: RuntimeInput) -> Option<&str> {
        match input {
            RuntimeInput::BootstrapToken => self.bootstrap_token.as_ref().map(Secret::expose),
            RuntimeInput::CertificateKey => self.certificate_key.as_ref().map(Secret::expose),
            RuntimeInput::CaCertHash => self.ca_cert_hash.as_deref(),
            RuntimeInput::EncryptionKey => self.encryption_key.as_ref().map(Secret::expose),
        }
    }

    /// Create a fresh random value for a generated input (token, certificate key, encryption
    /// key). The CA hash is never generated: it comes from the cluster.
    pub fn generate(&mut self, input: RuntimeInput) {
        match input {
            RuntimeInput::BootstrapToken => self.bootstrap_token = Some(generate_bootstrap_token()),
            RuntimeInput::CertificateKey => self.certificate_key = Some(generate_certificate_key()),
            RuntimeInput::EncryptionKey => self.encryption_key = Some(generate_encryption_key()),
            RuntimeInput::CaCertHash => {}
        }
    }

    /// Bytes for a script's stdin: each requested value on its own line, in order.
    /// Returned as a [`Secret`] so the buffer is wiped and never printed.
    pub fn stdin_for(&self, inputs: &[RuntimeInput]) -> Result<Secret, RuntimeError> {
        let mut out = String::new();
        for i in inputs {
            let v = self.get(*i).ok_or(RuntimeError::Missing(i.name()))?;
            out.push_str(v);
            out.push('\n');
        }
        Ok(Secret::new(out))
    }

    /// Store what a step printed for a [`Capture`]; validates the shape so a garbled line
    /// never becomes a join parameter.
    pub fn record(&mut self, capture: Capture, stdout: &str) -> Result<(), RuntimeError> {
        let line = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        match capture {
            Capture::CaCertHash => {
                let hex = line.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(RuntimeError::BadCapture {
                        what: "ca-cert-hash",
                        reason: "want sha256:<64 hex digits> on the last line".into(),
                    });
                }
                self.ca_cert_hash = Some(line.to_ascii_lowercase());
            }
            Capture::EncryptionKey => {
                let ok = line.len() == 44
                    && line
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                if !ok {
                    // Never echo the line: it may be (part of) the key.
                    return Err(RuntimeError::BadCapture {
                        what: "encryption-key",
                        reason: "want the base64 of 32 bytes on the last line".into(),
                    });
                }
                self.encryption_key = Some(Secret::new(line));
            }
        }
        Ok(())
    }
}

/// What a step's stdout provides to later steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capture {
    /// Last line: `sha256:<hex>`.
    CaCertHash,
    /// Last line: the encryption key already used by the cluster (secret).
    EncryptionKey,
}

const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub fn generate_bootstrap_token() -> Secret {
    Secret::new(format!(
        "{}.{}",
        random_from(TOKEN_ALPHABET, 6),
        random_from(TOKEN_ALPHABET, 16)
    ))
}

pub fn generate_certificate_key() -> Secret {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    let s = hex::encode(key);
    key.fill(0);
    Secret::new(s)
}

pub fn generate_encryption_key() -> Secret {
    use base64::Engine;
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    let s = base64::engine::general_purpose::STANDARD.encode(key);
    key.fill(0);
    Secret::new(s)
}

/// The public id of a bootstrap token (`abcdef` of `abcdef.0123...`): safe to log and pass in argv.
pub fn token_id(token: &Secret) -> Option<String> {
    let (id, secret) = token.expose().split_once('.')?;
    (id.len() == 6 && secret.len() == 16).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_the_formats_kubeadm_and_the_apiserver_want() {
        for _ in 0..50 {
            let t = generate_bootstrap_token();
            let (id, sec) = t.expose().split_once('.').unwrap();
            assert_eq!((id.len(), sec.len()), (6, 16));
            assert!(
                t.expose()
                    .bytes()
                    .all(|b| b == b'.' || TOKEN_ALPHABET.contains(&b))
            );
            assert_eq!(token_id(&t).as_deref(), Some(id));
            let k = generate_certificate_key();
            assert_eq!(k.expose().len(), 64);
            assert!(k.expose().bytes().all(|b| b.is_ascii_hexdigit()));
            let e = generate_encryption_key();
            let mut rv = RuntimeValues::default();
            rv.record(Capture::EncryptionKey, e.expose()).unwrap();
        }
        assert_ne!(
            generate_bootstrap_token().expose(),
            generate_bootstrap_token().expose()
        );
    }

    #[test]
    fn stdin_lists_values_in_order_and_reports_the_missing_one() {
        let mut rv = RuntimeValues {
            ca_cert_hash: Some("sha256:ab".into()),
            ..Default::default()
        };
        assert_eq!(
            rv.stdin_for(&[RuntimeInput::CaCertHash, RuntimeInput::BootstrapToken])
                .unwrap_err(),
            RuntimeError::Missing("bootstrap-token")
        );
        rv.bootstrap_token = Some(Secret::new("abcdef.0123456789abcdef"));
        let s = rv
            .stdin_for(&[RuntimeInput::BootstrapToken, RuntimeInput::CaCertHash])
            .unwrap();
        assert_eq!(s.expose(), "abcdef.0123456789abcdef\nsha256:ab\n");
        assert!(!format!("{rv:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn captures_are_validated() {
        let mut rv = RuntimeValues::default();
        let hash = format!("sha256:{}", "A".repeat(64));
        rv.record(Capture::CaCertHash, &format!("noise\n{hash}\n\n"))
            .unwrap();
        assert_eq!(rv.ca_cert_hash, Some(hash.to_ascii_lowercase()));
        for bad in ["", "sha256:xyz", "deadbeef"] {
            assert!(rv.record(Capture::CaCertHash, bad).is_err(), "{bad}");
        }
        let err = rv
            .record(Capture::EncryptionKey, "not-a-key secret-ish")
            .unwrap_err();
        assert!(!err.to_string().contains("secret-ish"));
    }

    #[test]
    fn placeholders_are_found_in_text() {
        let text = format!(
            "a {} b {}",
            RuntimeInput::CaCertHash.placeholder(),
            RuntimeInput::BootstrapToken.placeholder()
        );
        assert_eq!(
            RuntimeInput::referenced_by(&text),
            vec![RuntimeInput::BootstrapToken, RuntimeInput::CaCertHash]
        );
    }
}
