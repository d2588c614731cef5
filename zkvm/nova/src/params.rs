//! Public parameters on disk: a versioned, checksummed container around the ark-serialize
//! encoding of [`PublicParams`].
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `NXNOVAPP` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | payload length |
//! | 32 | SHA-256 of the payload |
//! | … | payload: `PublicParams::serialize_compressed` |
//!
//! Reading checks, in order: header, version, exact length, checksum, a validating
//! deserialization (points on their curves), both shapes ([`crate::r1cs::R1csShape::validate`]),
//! both keys re-derived from their labels (a file cannot smuggle in generators with a known
//! discrete-log relation), the stored digest against the recomputed one, and finally, if the
//! caller has one, the digest expected for its step circuit. Each failure is its own error.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use ark_bn254::{Fr, G1Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

use crate::{
    augmented::AugmentedInputs,
    cyclefold,
    ivc::{CYCLEFOLD_KEY_LABEL, IvcError, PRIMARY_KEY_LABEL, PublicParams, params_digest},
    r1cs::R1csError,
    step_circuit::{StepCircuit, StepError, synthesize_step},
    transcript::Challenge,
};

/// File magic.
pub const MAGIC: &[u8; 8] = b"NXNOVAPP";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 32;

/// Errors reading a parameters file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    /// Shorter than the header.
    #[error("parameters file truncated: {0} bytes, the header alone is {HEADER_LEN}")]
    Truncated(usize),
    /// Not a parameters file.
    #[error("not a nexus-nova parameters file (bad magic)")]
    BadMagic,
    /// Written by another format version.
    #[error("parameters file format version {found}, this build reads version {FORMAT_VERSION}")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
    },
    /// The payload length in the header does not match the file.
    #[error("payload length {declared} in the header, {actual} bytes present")]
    LengthMismatch {
        /// From the header.
        declared: u64,
        /// Present.
        actual: u64,
    },
    /// The checksum does not match: the file is corrupted.
    #[error("parameters file corrupted: checksum mismatch")]
    ChecksumMismatch,
    /// The payload does not decode.
    #[error("parameters payload does not decode: {0}")]
    Decode(String),
    /// A shape is malformed.
    #[error("invalid shape in parameters file: {0}")]
    Shape(#[from] R1csError),
    /// A commitment key is not the documented derivation of its label.
    #[error("{0} commitment key is not derived from its label")]
    KeyDerivation(&'static str),
    /// The stored digest does not match the content.
    #[error("stored parameters digest does not match the content")]
    DigestInconsistent,
    /// The parameters are for another step circuit (or another version of it).
    #[error("parameters are for another step circuit (digest mismatch)")]
    WrongCircuit,
    /// Serialization failed while writing.
    #[error("serialization failed: {0}")]
    Serialize(String),
}

impl PublicParams {
    /// Encode into the file format.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, ParamsError> {
        let mut payload = Vec::new();
        self.serialize_compressed(&mut payload).map_err(|e| ParamsError::Serialize(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Decode and fully check a parameters file; `expected_digest` is the digest of the caller's
    /// own parameters for its step circuit, when it has it.
    pub fn from_file_bytes(bytes: &[u8], expected_digest: Option<Fr>) -> Result<Self, ParamsError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParamsError::Truncated(bytes.len()));
        }
        let (header, payload) = bytes.split_at(HEADER_LEN);
        if &header[..8] != MAGIC {
            return Err(ParamsError::BadMagic);
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&header[8..12]);
        let found = u32::from_le_bytes(v);
        if found != FORMAT_VERSION {
            return Err(ParamsError::UnsupportedVersion { found });
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&header[12..20]);
        let declared = u64::from_le_bytes(l);
        if declared != payload.len() as u64 {
            return Err(ParamsError::LengthMismatch { declared, actual: payload.len() as u64 });
        }
        if Sha256::digest(payload).as_slice() != &header[20..52] {
            return Err(ParamsError::ChecksumMismatch);
        }
        let pp = Self::deserialize_compressed(payload).map_err(|e| ParamsError::Decode(e.to_string()))?;
        pp.shape.validate()?;
        pp.cf_shape.validate()?;
        if pp.ck.len() < pp.shape.num_constraints.max(pp.shape.num_witness) || !pp.ck.verify_derivation() {
            return Err(ParamsError::KeyDerivation("primary"));
        }
        if pp.cf_ck.len() < pp.cf_shape.num_constraints.max(pp.cf_shape.num_witness) || !pp.cf_ck.verify_derivation() {
            return Err(ParamsError::KeyDerivation("CycleFold"));
        }
        if pp.compute_digest() != pp.digest {
            return Err(ParamsError::DigestInconsistent);
        }
        if expected_digest.is_some_and(|d| d != pp.digest) {
            return Err(ParamsError::WrongCircuit);
        }
        Ok(pp)
    }
}

/// Which construction a parameters file is for (part of the cache key: IVC and PCD parameters
/// of one step circuit have different primary shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsKind {
    /// Sequential IVC ([`crate::ivc`]): the augmented circuit.
    Ivc,
    /// Tree folding ([`crate::pcd`]): the node circuit.
    Pcd,
}

impl ParamsKind {
    fn name(self) -> &'static str {
        match self {
            ParamsKind::Ivc => "ivc",
            ParamsKind::Pcd => "pcd",
        }
    }

    /// Generate the parameters of this kind for `circuit`.
    pub fn setup<C: StepCircuit<Fr> + ?Sized>(self, circuit: &C) -> Result<PublicParams, CacheError> {
        Ok(match self {
            ParamsKind::Ivc => PublicParams::setup(circuit)?,
            ParamsKind::Pcd => crate::pcd::setup(circuit)?,
        })
    }

    /// The digest [`Self::setup`] would give, from the shapes alone (no key derivation): what a
    /// cached file must carry.
    pub fn expected_digest<C: StepCircuit<Fr> + ?Sized>(self, circuit: &C) -> Result<Fr, CacheError> {
        let arity = circuit.arity();
        let shape = match self {
            ParamsKind::Ivc => crate::augmented::synthesize(circuit, &AugmentedInputs::placeholder(arity))?.shape,
            ParamsKind::Pcd => crate::pcd::synthesize(circuit, &crate::pcd::NodeInputs::placeholder(arity))?.shape,
        };
        let (cf_shape, _) =
            cyclefold::synthesize(Challenge(0), &G1Affine::zero(), &G1Affine::zero(), &G1Affine::zero())?;
        let ck_len = shape.num_constraints.max(shape.num_witness);
        let cf_len = cf_shape.num_constraints.max(cf_shape.num_witness);
        Ok(params_digest(arity as u64, &shape, &cf_shape, [(PRIMARY_KEY_LABEL, ck_len), (CYCLEFOLD_KEY_LABEL, cf_len)]))
    }
}

/// Errors of the parameters cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading, writing or renaming a file failed.
    #[error("parameters cache I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No file for this circuit in the cache.
    #[error("no cached parameters at {0}")]
    Missing(PathBuf),
    /// The file exists but is corrupted, of another version, or for another circuit; the caller
    /// may regenerate ([`ParamsCache::load_or_setup`] does).
    #[error("cached parameters at {path} are unusable: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ParamsError,
    },
    /// [`ParamsCache::store`] was given parameters that are not this circuit's.
    #[error("parameters given to store are not for this step circuit")]
    NotForThisCircuit,
    /// Synthesis or setup failed.
    #[error(transparent)]
    Ivc(#[from] IvcError),
    /// PCD setup failed.
    #[error(transparent)]
    Pcd(#[from] crate::pcd::PcdError),
    /// Encoding failed.
    #[error(transparent)]
    Params(#[from] ParamsError),
}

impl From<StepError> for CacheError {
    fn from(e: StepError) -> Self {
        CacheError::Ivc(e.into())
    }
}

impl From<R1csError> for CacheError {
    fn from(e: R1csError) -> Self {
        CacheError::Ivc(e.into())
    }
}

fn io_err(path: &Path, source: std::io::Error) -> CacheError {
    CacheError::Io { path: path.to_path_buf(), source }
}

/// What [`ParamsCache::load_or_setup`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Not cached: generated and stored.
    Created,
    /// Cached but unusable (the reason): regenerated and replaced.
    Regenerated(ParamsError),
}

/// A directory of parameters files, one per (kind, step-circuit shape, format version):
/// `{kind}-{step shape digest, hex}-v{FORMAT_VERSION}.nxpp`.
///
/// The key is the digest of the step circuit's own shape ([`crate::r1cs::R1csShape::digest`] of
/// [`synthesize_step`] at `i = 0`, `z = 0`), so two step circuits never share a file and a
/// format change never reads an old file. A file is still fully checked on load (container,
/// checksum, shapes, keys re-derived, digest), and its digest is compared with the one the
/// caller's circuit gives ([`ParamsKind::expected_digest`]), so a file renamed, copied over or
/// left by another build of the circuit is refused as [`ParamsError::WrongCircuit`].
///
/// Writes go to a temporary file in the same directory, are synced, then renamed over the
/// target: a reader sees the old file or the complete new one, never a partial write.
#[derive(Clone, Debug)]
pub struct ParamsCache {
    dir: PathBuf,
}

impl ParamsCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file for `circuit`'s parameters of `kind`.
    pub fn path_for<C: StepCircuit<Fr> + ?Sized>(&self, kind: ParamsKind, circuit: &C) -> Result<PathBuf, CacheError> {
        let zeros = vec![Fr::from(0u64); circuit.arity()];
        let digest = synthesize_step(circuit, 0, &zeros)?.shape.digest();
        let hex: String = digest.into_bigint().to_bytes_be().iter().map(|b| format!("{b:02x}")).collect();
        Ok(self.dir.join(format!("{}-{hex}-v{FORMAT_VERSION}.nxpp", kind.name())))
    }

    /// Load and fully check `circuit`'s parameters of `kind`.
    pub fn load<C: StepCircuit<Fr> + ?Sized>(&self, kind: ParamsKind, circuit: &C) -> Result<PublicParams, CacheError> {
        let path = self.path_for(kind, circuit)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheError::Missing(path)),
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        let expected = kind.expected_digest(circuit)?;
        PublicParams::from_file_bytes(&bytes, Some(expected)).map_err(|source| CacheError::Invalid { path, source })
    }

    /// Store `pp` as `circuit`'s parameters of `kind` (temporary file, sync, rename).
    pub fn store<C: StepCircuit<Fr> + ?Sized>(
        &self,
        kind: ParamsKind,
        circuit: &C,
        pp: &PublicParams,
    ) -> Result<PathBuf, CacheError> {
        if kind.expected_digest(circuit)? != pp.digest {
            return Err(CacheError::NotForThisCircuit);
        }
        let path = self.path_for(kind, circuit)?;
        let bytes = pp.to_file_bytes()?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let tmp = self.dir.join(format!(".{}.tmp-{}-{nanos}", kind.name(), std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&path, e));
        }
        Ok(path)
    }

    /// Load `circuit`'s parameters of `kind`, or generate and store them if they are missing or
    /// unusable (an I/O error reading them is returned, not papered over).
    pub fn load_or_setup<C: StepCircuit<Fr> + ?Sized>(
        &self,
        kind: ParamsKind,
        circuit: &C,
    ) -> Result<(PublicParams, CacheOutcome), CacheError> {
        let outcome = match self.load(kind, circuit) {
            Ok(pp) => return Ok((pp, CacheOutcome::Hit)),
            Err(CacheError::Missing(_)) => CacheOutcome::Created,
            Err(CacheError::Invalid { source, .. }) => CacheOutcome::Regenerated(source),
            Err(e) => return Err(e),
        };
        let pp = kind.setup(circuit)?;
        self.store(kind, circuit, &pp)?;
        Ok((pp, outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_circuit::examples::Fibonacci;
    use ark_ff::One;

    /// Re-checksum a modified file so the checks behind the checksum are exercised.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let sum = Sha256::digest(&bytes[HEADER_LEN..]);
        bytes[20..52].copy_from_slice(&sum);
        bytes
    }

    /// The container checks, on a small payload (fast, in CI).
    #[test]
    fn header_checks_on_a_small_payload() {
        let payload = vec![7u8; 100];
        let mut f = Vec::new();
        f.extend_from_slice(MAGIC);
        f.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        f.extend_from_slice(&Sha256::digest(&payload));
        f.extend_from_slice(&payload);
        let load = |b: &[u8]| PublicParams::from_file_bytes(b, None);
        // Intact container, garbage payload: a clean decode error, no panic.
        assert!(matches!(load(&f), Err(ParamsError::Decode(_))));
        assert_eq!(load(&[]), Err(ParamsError::Truncated(0)));
        let mut b = f.clone();
        b[3] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::BadMagic));
        let mut b = f.clone();
        b[8] = 9;
        assert_eq!(load(&b), Err(ParamsError::UnsupportedVersion { found: 9 }));
        assert_eq!(load(&f[..f.len() - 3]), Err(ParamsError::LengthMismatch { declared: 100, actual: 97 }));
        let mut b = f.clone();
        b[HEADER_LEN + 50] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::ChecksumMismatch));
    }

    /// Real parameters (30 MB for Fibonacci, ~5 s in the dev profile).
    #[test]
    fn roundtrip_and_every_corruption_has_its_error() {
        let pp = PublicParams::setup(&Fibonacci { iterations: 1 }).unwrap();
        let bytes = pp.to_file_bytes().unwrap();
        eprintln!("parameters file: {} bytes", bytes.len());
        assert_eq!(PublicParams::from_file_bytes(&bytes, Some(pp.digest)).unwrap(), pp);
        let load = |b: &[u8]| PublicParams::from_file_bytes(b, Some(pp.digest));

        assert_eq!(load(&bytes[..10]), Err(ParamsError::Truncated(10)));
        let mut b = bytes.clone();
        b[0] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::BadMagic));
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(load(&b), Err(ParamsError::UnsupportedVersion { found: 2 }));
        let actual = (bytes.len() - HEADER_LEN - 1) as u64;
        assert_eq!(load(&bytes[..bytes.len() - 1]), Err(ParamsError::LengthMismatch { declared: actual + 1, actual }));
        let mut b = bytes.clone();
        let mid = HEADER_LEN + (bytes.len() - HEADER_LEN) / 2;
        b[mid] ^= 0x40;
        assert_eq!(load(&b), Err(ParamsError::ChecksumMismatch));
        // Behind a valid checksum: garbage payload, a swapped generator, a changed digest.
        let mut b = bytes.clone();
        for x in &mut b[HEADER_LEN..HEADER_LEN + 64] {
            *x = 0xff;
        }
        assert!(matches!(load(&reseal(b)), Err(ParamsError::Decode(_) | ParamsError::Shape(_))));
        let mut bad = pp.clone();
        bad.ck.generators.swap(0, 1);
        assert_eq!(load(&bad.to_file_bytes().unwrap()), Err(ParamsError::KeyDerivation("primary")));
        let mut bad = pp.clone();
        bad.digest += Fr::one();
        assert_eq!(load(&bad.to_file_bytes().unwrap()), Err(ParamsError::DigestInconsistent));
        // Parameters for another circuit.
        assert_eq!(PublicParams::from_file_bytes(&bytes, Some(pp.digest + Fr::one())), Err(ParamsError::WrongCircuit));
    }

    /// The cache on real files: missing → created (no temporary file left), hit, corrupted →
    /// typed error and regenerated, another circuit's file under this circuit's name → refused,
    /// truncated → refused, another circuit's parameters refused by `store`.
    #[test]
    fn cache_directory_create_hit_corrupt_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParamsCache::new(dir.path().join("params"));
        let a = Fibonacci { iterations: 1 };
        let b = Fibonacci { iterations: 2 };
        let kind = ParamsKind::Ivc;
        let path_a = cache.path_for(kind, &a).unwrap();
        let path_b = cache.path_for(kind, &b).unwrap();
        assert_ne!(path_a, path_b);
        assert_ne!(path_a, cache.path_for(ParamsKind::Pcd, &a).unwrap());
        let name = path_a.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("ivc-") && name.ends_with(&format!("-v{FORMAT_VERSION}.nxpp")), "{name}");
        assert!(matches!(cache.load(kind, &a), Err(CacheError::Missing(p)) if p == path_a));

        let t = std::time::Instant::now();
        let (pp, outcome) = cache.load_or_setup(kind, &a).unwrap();
        eprintln!("setup + store {:?}", t.elapsed());
        assert_eq!(outcome, CacheOutcome::Created);
        assert_eq!(pp.digest, kind.expected_digest(&a).unwrap());
        let files: Vec<_> =
            std::fs::read_dir(dir.path().join("params")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files, vec![std::ffi::OsString::from(&name)], "temporary file left behind");
        let t = std::time::Instant::now();
        let (again, outcome) = cache.load_or_setup(kind, &a).unwrap();
        eprintln!("load {:?}", t.elapsed());
        assert_eq!((outcome, &again), (CacheOutcome::Hit, &pp));

        // Corrupted: a typed error from load, then regenerated by load_or_setup.
        let good = std::fs::read(&path_a).unwrap();
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        std::fs::write(&path_a, &bad).unwrap();
        assert!(matches!(cache.load(kind, &a), Err(CacheError::Invalid { source: ParamsError::ChecksumMismatch, .. })));
        let (regen, outcome) = cache.load_or_setup(kind, &a).unwrap();
        assert_eq!((outcome, &regen), (CacheOutcome::Regenerated(ParamsError::ChecksumMismatch), &pp));
        assert_eq!(std::fs::read(&path_a).unwrap(), good);

        // Truncated.
        std::fs::write(&path_b, &good[..good.len() - 100]).unwrap();
        assert!(matches!(
            cache.load(kind, &b),
            Err(CacheError::Invalid { source: ParamsError::LengthMismatch { .. }, .. })
        ));
        // Circuit a's (valid) file under circuit b's name.
        std::fs::write(&path_b, &good).unwrap();
        assert!(matches!(cache.load(kind, &b), Err(CacheError::Invalid { source: ParamsError::WrongCircuit, .. })));
        // store refuses parameters of another circuit.
        assert!(matches!(cache.store(kind, &b, &pp), Err(CacheError::NotForThisCircuit)));
        // An unreadable cache path is an I/O error, not "missing".
        let file_as_dir = ParamsCache::new(&path_a);
        assert!(matches!(file_as_dir.store(kind, &a, &pp), Err(CacheError::Io { .. })));
    }
}
