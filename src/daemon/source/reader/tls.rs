//! TLS for `https://` servers: one rustls client configuration for the event stream and the
//! other calls alike, trusting the public web roots (`webpki-roots`, as reqwest does) plus the
//! certificates in the PEM file `OCBAR_CA_FILE` names (a server with a private or self-signed
//! certificate).

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::coalesce::CoalescingSocket;
use crate::daemon::source::api::ApiError;

/// The variable that names a PEM file of extra certificates to trust.
pub const CA_FILE_VAR: &str = "OCBAR_CA_FILE";

/// The extra trusted certificates, read once: `Ok(certs)`, or why the file named by
/// [`CA_FILE_VAR`] could not be used (the text for the log and `doctor`).
pub fn extra_roots() -> &'static Result<Vec<CertificateDer<'static>>, String> {
    static ROOTS: OnceLock<Result<Vec<CertificateDer<'static>>, String>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let Some(path) = std::env::var_os(CA_FILE_VAR).filter(|p| !p.is_empty()) else {
            return Ok(Vec::new());
        };
        let shown = std::path::Path::new(&path).display().to_string();
        let pem =
            std::fs::read(&path).map_err(|e| format!("cannot read {CA_FILE_VAR}={shown}: {e}"))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{CA_FILE_VAR}={shown} is not a PEM certificate file: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "{CA_FILE_VAR}={shown} holds no certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
        Ok(certs)
    })
}

/// The client configuration of every TLS stream (made once): the web roots and
/// [`extra_roots`].
pub fn client_config() -> Result<Arc<ClientConfig>, ApiError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let extra = extra_roots().as_ref().map_err(Clone::clone)?;
            client_config_with(extra).map(Arc::new)
        })
        .clone()
        .map_err(ApiError::BadUrl)
}

/// A client configuration trusting the web roots and `extra`.
pub fn client_config_with(extra: &[CertificateDer<'static>]) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("{CA_FILE_VAR}: a certificate was refused: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The TLS handshake with `host` over the stream's socket.
pub(super) async fn connect(
    host: &str,
    sock: CoalescingSocket,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<CoalescingSocket>, ApiError> {
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|e| ApiError::BadUrl(format!("'{host}' is not a TLS server name: {e}")))?
        .to_owned();
    TlsConnector::from(config)
        .connect(name, sock)
        .await
        .map_err(|e| ApiError::from_io(&e))
}
