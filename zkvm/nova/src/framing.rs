//! The byte form of a proof that travels (a node to another machine, a proof into a file): magic
//! (8 bytes), format version (`u32` LE), payload length (`u64` LE), then the ark-serialize
//! compressed encoding. Decoding validates every point (on the curve, in the subgroup), refuses a
//! short, long or re-headered input, and never panics: ark-serialize reads vectors element by
//! element, so a forged length cannot make it allocate more than the input holds.

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

/// Bytes before the payload.
pub const HEADER_LEN: usize = 8 + 4 + 8;

/// Encode `value` behind the header.
pub fn encode<T: CanonicalSerialize>(magic: &[u8; 8], version: u32, value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(HEADER_LEN + value.compressed_size());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(value.compressed_size() as u64).to_le_bytes());
    value.serialize_compressed(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Decode what [`encode`] wrote; the error says what is wrong.
pub fn decode<T: CanonicalDeserialize>(magic: &[u8; 8], version: u32, bytes: &[u8]) -> Result<T, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("{} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len()));
    }
    let (header, payload) = bytes.split_at(HEADER_LEN);
    if &header[..8] != magic {
        return Err(format!("bad magic (expected {:?})", String::from_utf8_lossy(magic)));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&header[8..12]);
    let found = u32::from_le_bytes(v);
    if found != version {
        return Err(format!("format version {found}, this build reads version {version}"));
    }
    let mut l = [0u8; 8];
    l.copy_from_slice(&header[12..20]);
    let declared = u64::from_le_bytes(l);
    if declared != payload.len() as u64 {
        return Err(format!("payload length {declared} declared, {} present", payload.len()));
    }
    let mut reader = payload;
    let value = T::deserialize_compressed(&mut reader).map_err(|e| e.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} trailing bytes", reader.len()));
    }
    Ok(value)
}
