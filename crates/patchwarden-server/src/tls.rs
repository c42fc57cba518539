//! TLS for the listener with rustls and the ring provider (no OpenSSL).

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

pub fn acceptor(cert_file: &Path, key_file: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert_file)
            .with_context(|| format!("cannot open TLS certificate {}", cert_file.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("cannot read TLS certificate {}", cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate found in {}", cert_file.display());
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key_file)
            .with_context(|| format!("cannot open TLS key {}", key_file.display()))?,
    ))
    .with_context(|| format!("cannot read TLS key {}", key_file.display()))?
    .with_context(|| format!("no private key found in {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}
