//! TLS for the worker pool on untrusted networks: the coordinator presents a
//! certificate (`run --cluster ADDR --tls-cert FILE --tls-key FILE`), and
//! workers check it against a CA they are given (`worker --tls-ca FILE`).
//!
//! The shared secret still authenticates the workers (ractor_cluster's
//! challenge–response, now inside the encrypted connection); the
//! certificate authenticates the coordinator and encrypts the scenario and
//! the parts. Files are PEM; their content is never quoted in an error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim_engine::error::Error;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The coordinator's certificate chain and key (PEM files).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// `--tls-cert`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `--tls-key`: its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What a worker trusts (PEM file) and the name it expects.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// `--tls-ca`: the certificates that may sign the coordinator's.
    pub ca: PathBuf,
    /// `--tls-name`: the name the coordinator's certificate must carry
    /// (default: the address of `--connect`, as an IP address name).
    pub name: Option<String>,
}

fn certs(flag: &str, file: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |why: String| Error::input(format!("preflight: {flag} {}: {why}", file.display()));
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM file ({e})")))?;
    if certs.is_empty() {
        return Err(bad(
            "no certificate in it (a PEM `CERTIFICATE` block expected)".into(),
        ));
    }
    Ok(certs)
}

impl ServerTls {
    /// The acceptor the coordinator's node server wraps connections in.
    pub fn acceptor(&self) -> Result<TlsAcceptor, Error> {
        let chain = certs("--tls-cert", &self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            Error::input(format!(
                "preflight: --tls-key {}: no private key read ({e}; a PEM `PRIVATE KEY` block expected)",
                self.key.display()
            ))
        })?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                Error::input(format!(
                    "preflight: --tls-cert {} and --tls-key {}: {e}",
                    self.cert.display(),
                    self.key.display()
                ))
            })?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ClientTls {
    /// The connector and the server name a worker connects to `to` with.
    pub fn connector(&self, to: SocketAddr) -> Result<(TlsConnector, ServerName<'static>), Error> {
        let mut roots = RootCertStore::empty();
        for cert in certs("--tls-ca", &self.ca)? {
            roots.add(cert).map_err(|e| {
                Error::input(format!("preflight: --tls-ca {}: {e}", self.ca.display()))
            })?;
        }
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = match &self.name {
            Some(n) => ServerName::try_from(n.clone()).map_err(|e| {
                Error::input(format!(
                    "preflight: --tls-name {n}: not a DNS name or IP address ({e})"
                ))
            })?,
            None => ServerName::IpAddress(to.ip().into()),
        };
        Ok((TlsConnector::from(Arc::new(config)), name))
    }
}
