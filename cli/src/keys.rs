//! Client keys: the Ed25519 key a user signs requests with, kept under the user's config directory.
//!
//! A key file holds the 32-byte secret as 64 hex digits and a newline, is created with mode 0600 and never
//! overwritten unless asked. The directory is `$NEXUS_CONFIG_DIR` if set, else `<config dir>/nexus`
//! (`~/.config/nexus` on Linux); keys live in its `keys/` folder as `NAME.key`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nexus_replica::ClientKey;

/// Longest key name accepted; names become file names.
pub const MAX_KEY_NAME_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no config directory: set NEXUS_CONFIG_DIR")]
    NoConfigDir,
    #[error("`{0}` is not a valid key name (letters, digits, `-`, `_`; at most {MAX_KEY_NAME_CHARS} characters)")]
    BadName(String),
    #[error("key `{name}` already exists at {path} (pass --force to replace it)")]
    Exists { name: String, path: PathBuf },
    #[error("no key `{name}` at {path}; create one with `nexus keys new`")]
    Missing { name: String, path: PathBuf },
    #[error("{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path} is not a key file (64 hex digits expected)")]
    Malformed { path: PathBuf },
    #[error("could not use {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

/// The nexus config directory.
pub fn config_dir() -> Result<PathBuf, KeyError> {
    if let Some(dir) = std::env::var_os("NEXUS_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir().map(|d| d.join("nexus")).ok_or(KeyError::NoConfigDir)
}

fn key_path(dir: &Path, name: &str) -> Result<PathBuf, KeyError> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_KEY_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(KeyError::BadName(name.to_string()));
    }
    Ok(dir.join("keys").join(format!("{name}.key")))
}

/// Creates key `name` under `dir` from fresh randomness and returns it.
pub fn create(dir: &Path, name: &str, force: bool) -> Result<ClientKey, KeyError> {
    let path = key_path(dir, name)?;
    let io = |source| KeyError::Io { path: path.clone(), source };
    if path.exists() && !force {
        return Err(KeyError::Exists { name: name.to_string(), path });
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    std::fs::create_dir_all(path.parent().expect("key paths have a parent")).map_err(io)?;
    // Written to a temporary file created 0600, then renamed: the secret is never readable by others, and
    // a crash never leaves half a key.
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    file.write_all(format!("{}\n", hex::encode(secret)).as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(ClientKey::from_secret(secret))
}

/// Loads key `name` from `dir`, refusing a file others can read.
pub fn load(dir: &Path, name: &str) -> Result<ClientKey, KeyError> {
    let path = key_path(dir, name)?;
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::Missing { name: name.to_string(), path });
        }
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions { path, mode });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Io { path: path.clone(), source })?;
    let secret: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| KeyError::Malformed { path: path.clone() })?;
    Ok(ClientKey::from_secret(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_loaded_and_never_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let key = create(dir.path(), "alice", false).unwrap();
        let path = dir.path().join("keys/alice.key");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(dir.path(), "alice").unwrap().public(), key.public());
        assert!(matches!(create(dir.path(), "alice", false), Err(KeyError::Exists { .. })));
        let replaced = create(dir.path(), "alice", true).unwrap();
        assert_ne!(replaced.public(), key.public(), "fresh randomness");
        assert!(matches!(load(dir.path(), "bob"), Err(KeyError::Missing { .. })));
        assert!(matches!(create(dir.path(), "../escape", false), Err(KeyError::BadName(_))));
    }

    #[test]
    fn readable_or_malformed_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path(), "k", false).unwrap();
        let path = dir.path().join("keys/k.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(dir.path(), "k"), Err(KeyError::Permissions { mode: 0o644, .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abcd\n").unwrap();
        assert!(matches!(load(dir.path(), "k"), Err(KeyError::Malformed { .. })));
    }
}
