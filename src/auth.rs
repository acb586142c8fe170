//! Authentication: a per-cluster secret and an HMAC-SHA256 challenge-response.
//!
//! The secret is 32 random bytes kept hex-encoded in `<cluster dir>/secret` with mode 0600; it
//! never crosses the wire. The server sends a random nonce; the peer answers with
//! HMAC(secret, "hpcluster-v1 client" | role | nonce) and its own nonce; the server answers
//! HMAC(secret, "hpcluster-v1 server" | peer nonce), so each side proves it knows the secret.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::protocol::{read_frame_within, write_frame, Role, VERSION};

/// How long a peer may take to answer the challenge.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest handshake message: nonces and MACs take a few hundred bytes, so a peer that has
/// not proved it knows the secret cannot make the server allocate more than this for it.
pub const HANDSHAKE_MAX_FRAME: usize = 4096;

/// The cluster's shared secret.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> anyhow::Result<Secret> {
        let mut bytes = vec![0u8; 32];
        getrandom::getrandom(&mut bytes).context("failed to get random bytes for the secret")?;
        Ok(Secret(bytes))
    }

    /// Reads `path`, or creates it (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Secret> {
        if path.exists() {
            return Secret::load(path);
        }
        let secret = Secret::generate()?;
        crate::atomic_file::write_with_mode(
            path,
            hex::encode(&secret.0).as_bytes(),
            crate::atomic_file::PRIVATE,
        )?;
        Ok(secret)
    }

    /// Reads the secret file; refuses one that others can read.
    pub fn load(path: &Path) -> anyhow::Result<Secret> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("failed to read the cluster secret `{}`", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "the cluster secret `{}` is readable by others (mode {:o}): run `chmod 600 {}`",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the cluster secret `{}`", path.display()))?;
        let bytes = hex::decode(text.trim()).with_context(|| {
            format!(
                "the cluster secret `{}` is not hex: delete it and restart `hpcluster up`",
                path.display()
            )
        })?;
        if bytes.len() < 16 {
            bail!("the cluster secret `{}` is too short", path.display());
        }
        Ok(Secret(bytes))
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes any key length");
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac takes any key length");
        for p in parts {
            mac.update(p);
        }
        mac.verify_slice(tag).is_ok()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Challenge {
    version: u32,
    nonce: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Response {
    version: u32,
    role: Role,
    tag: String,
    nonce: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Verdict {
    Welcome { tag: String },
    Refused { reason: String },
}

fn nonce() -> anyhow::Result<String> {
    let mut n = [0u8; 32];
    getrandom::getrandom(&mut n)?;
    Ok(hex::encode(n))
}

fn role_bytes(role: Role) -> &'static [u8] {
    match role {
        Role::Worker => b"worker",
        Role::Client => b"client",
    }
}

/// Server side: challenges the peer; returns its role, or an error after telling it why.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &Secret,
) -> anyhow::Result<Role> {
    let challenge = nonce()?;
    write_frame(
        stream,
        &Challenge {
            version: VERSION,
            nonce: challenge.clone(),
        },
    )
    .await?;
    let resp: Response = read_frame_within(stream, HANDSHAKE_MAX_FRAME, HANDSHAKE_TIMEOUT).await?;
    let tag = hex::decode(&resp.tag).unwrap_or_default();
    let ok = resp.version == VERSION
        && secret.verify(
            &[
                b"hpcluster-v1 client",
                role_bytes(resp.role),
                challenge.as_bytes(),
            ],
            &tag,
        );
    if !ok {
        let reason = if resp.version != VERSION {
            format!(
                "protocol version {} is not {VERSION}: use the same hpcluster on both sides",
                resp.version
            )
        } else {
            "authentication failed: wrong cluster secret".to_string()
        };
        let _ = write_frame(
            stream,
            &Verdict::Refused {
                reason: reason.clone(),
            },
        )
        .await;
        bail!(reason);
    }
    let tag = secret.mac(&[b"hpcluster-v1 server", resp.nonce.as_bytes()]);
    write_frame(
        stream,
        &Verdict::Welcome {
            tag: hex::encode(tag),
        },
    )
    .await?;
    Ok(resp.role)
}

/// Peer side: answers the server's challenge and checks the server knows the secret too.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &Secret,
    role: Role,
) -> anyhow::Result<()> {
    let ch: Challenge = read_frame_within(stream, HANDSHAKE_MAX_FRAME, HANDSHAKE_TIMEOUT).await?;
    let mine = nonce()?;
    let tag = secret.mac(&[
        b"hpcluster-v1 client",
        role_bytes(role),
        ch.nonce.as_bytes(),
    ]);
    write_frame(
        stream,
        &Response {
            version: VERSION,
            role,
            tag: hex::encode(tag),
            nonce: mine.clone(),
        },
    )
    .await?;
    match read_frame_within::<_, Verdict>(stream, HANDSHAKE_MAX_FRAME, HANDSHAKE_TIMEOUT).await? {
        Verdict::Welcome { tag } => {
            let tag = hex::decode(tag).unwrap_or_default();
            if !secret.verify(&[b"hpcluster-v1 server", mine.as_bytes()], &tag) {
                bail!("the server did not prove it knows the cluster secret: refusing it");
            }
            Ok(())
        }
        Verdict::Refused { reason } => bail!("the server refused the connection: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_secret_is_accepted() {
        let s = Secret::generate().unwrap();
        let (mut a, mut b) = tokio::io::duplex(4096);
        let s2 = s.clone();
        let server = tokio::spawn(async move { accept(&mut a, &s2).await });
        connect(&mut b, &s, Role::Worker).await.unwrap();
        assert_eq!(server.await.unwrap().unwrap(), Role::Worker);
    }

    #[tokio::test]
    async fn wrong_secret_is_refused_on_both_sides() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let good = Secret::generate().unwrap();
        let bad = Secret::generate().unwrap();
        let server = tokio::spawn(async move { accept(&mut a, &good).await });
        let e = connect(&mut b, &bad, Role::Client).await.unwrap_err();
        assert!(e.to_string().contains("wrong cluster secret"), "{e}");
        assert!(server.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_large_frame_before_authentication_is_refused() {
        use tokio::io::AsyncWriteExt;
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let s = Secret::generate().unwrap();
        let server = tokio::spawn(async move { accept(&mut a, &s).await });
        // Read the server's challenge, then announce a 1 MiB answer (the post-handshake
        // limit) and send nothing more: refused at once, not awaited or allocated.
        let _: serde_json::Value =
            crate::protocol::read_frame_within(&mut b, HANDSHAKE_MAX_FRAME, HANDSHAKE_TIMEOUT)
                .await
                .unwrap();
        b.write_all(&(crate::protocol::MAX_FRAME as u32).to_be_bytes())
            .await
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("refused without waiting for the body")
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("exceeds the 4096 byte limit"), "{e}");
    }

    #[test]
    fn secret_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        Secret::load_or_create(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Secret::load(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
