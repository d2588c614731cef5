//! Compiled modules on disk, so that a restarted replica instantiates its apps without recompiling.
//!
//! A file is only ever loaded by the engine configuration that wrote it: its name carries the code hash
//! and wasmtime's compatibility hash of the engine (version, target, settings), and its content ends with a
//! SHA-256 of the artifact so that a truncated or corrupted file is detected and recompiled instead of
//! being handed to `Module::deserialize`. The cache is best-effort: any I/O failure just means "compile".

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::module::CodeHash;

const CHECKSUM_BYTES: usize = 32;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ArtifactCache {
    pub fn open(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, engine_tag: format!("{:016x}", hasher.finish()) }
    }

    fn path(&self, code_hash: &CodeHash) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", code_hash.to_hex(), self.engine_tag))
    }

    pub fn load(&self, engine: &Engine, code_hash: &CodeHash) -> Option<Module> {
        let bytes = std::fs::read(self.path(code_hash)).ok()?;
        let split = bytes.len().checked_sub(CHECKSUM_BYTES)?;
        let (artifact, checksum) = bytes.split_at(split);
        if Sha256::digest(artifact).as_slice() != checksum {
            return None;
        }
        // SAFETY: the artifact was produced by `Engine::precompile`-equivalent serialization of a module by an
        // engine with the same compatibility hash (it is in the file name), lives in the replica's own data
        // directory, and its checksum matches, so it is exactly the bytes this process family wrote.
        unsafe { Module::deserialize(engine, artifact) }.ok()
    }

    pub fn store(&self, module: &Module, code_hash: &CodeHash) {
        let Ok(mut artifact) = module.serialize() else {
            return;
        };
        let checksum = Sha256::digest(&artifact);
        artifact.extend_from_slice(&checksum);
        let path = self.path(code_hash);
        let tmp = path.with_extension("tmp");
        // Write-then-rename: a crash leaves either no file or a whole one.
        let _ = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, &artifact))
            .and_then(|()| std::fs::rename(&tmp, &path));
    }
}
