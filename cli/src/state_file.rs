//! App state kept in a file between local runs (`nexus run --state FILE`), so a stateful app can be tried
//! without a network. The file is postcard-encoded `(key, value)` pairs behind a magic header and a version;
//! a file that does not parse is refused, never half-read.

use std::path::Path;

use nexus_wasm_host::MemoryState;

const MAGIC: &[u8; 8] = b"NXSTATE1";
/// Largest state file read.
pub const MAX_STATE_FILE_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("could not read or write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a nexus state file (bad header)")]
    BadHeader { path: String },
    #[error("{path} is corrupt or truncated: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path} is {size_bytes} bytes, more than the limit of {MAX_STATE_FILE_BYTES} bytes")]
    TooLarge { path: String, size_bytes: u64 },
}

/// Loads the state in `path`; a missing file is an empty state.
pub fn load(path: &Path) -> Result<MemoryState, StateFileError> {
    let p = path.display().to_string();
    let io = |source| StateFileError::Io { path: p.clone(), source };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MemoryState::new()),
        Err(e) => return Err(io(e)),
        Ok(meta) if meta.len() > MAX_STATE_FILE_BYTES => {
            return Err(StateFileError::TooLarge { path: p, size_bytes: meta.len() });
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let body = bytes.strip_prefix(MAGIC).ok_or_else(|| StateFileError::BadHeader { path: p.clone() })?;
    let entries: Vec<(Vec<u8>, Vec<u8>)> =
        postcard::from_bytes(body).map_err(|e| StateFileError::Corrupt { path: p.clone(), reason: e.to_string() })?;
    Ok(entries.into_iter().collect())
}

/// Writes `state` to `path` atomically (write to a temporary file, then rename).
pub fn save(path: &Path, state: &MemoryState) -> Result<(), StateFileError> {
    let p = path.display().to_string();
    let entries: Vec<(&Vec<u8>, &Vec<u8>)> = state.iter().collect();
    let mut bytes = MAGIC.to_vec();
    bytes.extend(postcard::to_allocvec(&entries).expect("byte pairs always encode"));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| StateFileError::Io { path: p, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let state: MemoryState = [(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), vec![0; 300])].into_iter().collect();
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), state);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(matches!(load(&path), Err(StateFileError::Corrupt { .. })));
        std::fs::write(&path, b"garbage").unwrap();
        assert!(matches!(load(&path), Err(StateFileError::BadHeader { .. })));
        assert!(load(&dir.path().join("missing")).unwrap().is_empty());
    }
}
