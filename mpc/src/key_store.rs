//! A replica's key share on disk.
//!
//! Format (all integers big-endian): magic `NXKEYSH1`, suite id (u16 length + bytes), participant id (u16),
//! key epoch (u64), key package (u32 length + frost bytes), public key package (u32 length + frost bytes),
//! SHA-256 of everything before it. Written to a temporary file created with mode 0600 in the same folder,
//! fsynced, renamed over the target, and the folder fsynced. Loading refuses a file that group or others can
//! access, a truncated file, and anything whose checksum, magic, suite or lengths do not match.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use frost_core::Ciphersuite;
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use zeroize::Zeroizing;

use crate::{ParticipantId, sha256};

const MAGIC: &[u8; 8] = b"NXKEYSH1";
/// Largest key file accepted.
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// A key share and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey<C: Ciphersuite> {
    /// This replica's participant id.
    pub participant: ParticipantId,
    /// Epoch of the group key.
    pub key_epoch: u64,
    /// The secret key share.
    pub key_package: KeyPackage<C>,
    /// The group's public key package.
    pub public_key_package: PublicKeyPackage<C>,
}

/// Why a key file could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: key file is accessible by group or others (mode {mode:o}); it must be 0600")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("{path}: key file is {size} bytes, more than a key file can be")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path}: key file is truncated")]
    Truncated { path: PathBuf },
    #[error("{path}: not a key file, or corrupted: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: key file is for suite {found}, expected {expected}")]
    WrongSuite { path: PathBuf, found: String, expected: &'static str },
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io { path: path.to_path_buf(), source }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Writes `key` to `path` atomically with mode 0600.
pub fn save<C: Ciphersuite>(path: &Path, key: &StoredKey<C>) -> Result<(), KeyStoreError> {
    let encode = |e: frost_core::Error<C>| KeyStoreError::Encode(e.to_string());
    let key_package = Zeroizing::new(key.key_package.serialize().map_err(encode)?);
    let public = key.public_key_package.serialize().map_err(encode)?;
    let mut out = Zeroizing::new(Vec::with_capacity(key_package.len() + public.len() + 128));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(C::ID.len() as u16).to_be_bytes());
    out.extend_from_slice(C::ID.as_bytes());
    out.extend_from_slice(&key.participant.to_be_bytes());
    out.extend_from_slice(&key.key_epoch.to_be_bytes());
    put_bytes(&mut out, &key_package);
    put_bytes(&mut out, &public);
    let checksum = sha256(&[&out]);
    out.extend_from_slice(&checksum);

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| KeyStoreError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}-{}", std::process::id(), SAVES.fetch_add(1, Ordering::Relaxed)));
    let tmp = dir.join(tmp_name);
    // A leftover temp file with this name (a crashed save of a process with the same id) is stale.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        // The mode given to open() is reduced by the umask, never widened; set it exactly anyway.
        f.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
        f.write_all(&out).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a key file written by [`save`].
pub fn load<C: Ciphersuite>(path: &Path) -> Result<StoredKey<C>, KeyStoreError> {
    let mut f = File::open(path).map_err(io(path))?;
    let meta = f.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(KeyStoreError::Corrupt { path: path.to_path_buf(), reason: "not a regular file".into() });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyStoreError::InsecurePermissions { path: path.to_path_buf(), mode });
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyStoreError::TooLarge { path: path.to_path_buf(), size: meta.len() });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    Read::take(&mut f, MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io(path))?;
    decode(path, &bytes)
}

fn decode<C: Ciphersuite>(path: &Path, bytes: &[u8]) -> Result<StoredKey<C>, KeyStoreError> {
    let corrupt = |reason: &str| KeyStoreError::Corrupt { path: path.to_path_buf(), reason: reason.to_string() };
    let truncated = || KeyStoreError::Truncated { path: path.to_path_buf() };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return if MAGIC.starts_with(bytes) { Err(truncated()) } else { Err(corrupt("bad magic")) };
    }
    let mut r = Cursor { buf: &bytes[MAGIC.len()..] };
    let suite_len = usize::from(u16::from_be_bytes(r.array().ok_or_else(truncated)?));
    let suite = r.take(suite_len).ok_or_else(truncated)?;
    if suite != C::ID.as_bytes() {
        return Err(KeyStoreError::WrongSuite {
            path: path.to_path_buf(),
            found: String::from_utf8_lossy(suite).into_owned(),
            expected: C::ID,
        });
    }
    let participant = u16::from_be_bytes(r.array().ok_or_else(truncated)?);
    let key_epoch = u64::from_be_bytes(r.array().ok_or_else(truncated)?);
    let key_len = u32::from_be_bytes(r.array().ok_or_else(truncated)?) as usize;
    let key_bytes = r.take(key_len).ok_or_else(truncated)?;
    let public_len = u32::from_be_bytes(r.array().ok_or_else(truncated)?) as usize;
    let public_bytes = r.take(public_len).ok_or_else(truncated)?;
    let body_len = bytes.len() - r.buf.len();
    let checksum: [u8; 32] = r.array().ok_or_else(truncated)?;
    if !r.buf.is_empty() {
        return Err(corrupt("trailing bytes after the checksum"));
    }
    if sha256(&[&bytes[..body_len]]) != checksum {
        return Err(corrupt("checksum mismatch"));
    }
    let key_package = KeyPackage::<C>::deserialize(key_bytes).map_err(|e| corrupt(&format!("key package: {e}")))?;
    let public_key_package =
        PublicKeyPackage::<C>::deserialize(public_bytes).map_err(|e| corrupt(&format!("public key package: {e}")))?;
    if key_package.verifying_key() != public_key_package.verifying_key() {
        return Err(corrupt("the key share and the public key package have different group keys"));
    }
    if crate::identifier::<C>(participant).as_ref() != Some(key_package.identifier()) {
        return Err(corrupt("the participant id does not match the key share"));
    }
    Ok(StoredKey { participant, key_epoch, key_package, public_key_package })
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}
