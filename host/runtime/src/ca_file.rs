//! Reading a CA certificate file for the TLS capabilities (`capability.mqtt.tls.ca.location`,
//! `capability.http.tls.ca.location`): the config names the file, so its size is bounded before
//! anything is read.

use std::io::Read;
use std::path::Path;

/// Largest CA file read: a bundle of every public root is ~200 KiB.
pub(crate) const CA_FILE_MAX: u64 = 4 << 20;

/// The PEM text of the CA file at `path`; the error says what went wrong, for the caller to
/// prefix with the key and the path.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut pem = Vec::new();
    file.take(CA_FILE_MAX + 1)
        .read_to_end(&mut pem)
        .map_err(|e| format!("cannot read: {e}"))?;
    if pem.len() as u64 > CA_FILE_MAX {
        return Err(format!("larger than {CA_FILE_MAX} bytes"));
    }
    Ok(pem)
}
