//! Call arguments on the command line, encoded exactly as the guest SDK decodes them (postcard).
//!
//! postcard encodes a tuple or a struct as the concatenation of its fields, so an argument list is a
//! sequence of typed literals, each `TYPE:VALUE`, encoded one after the other:
//!
//! | literal | encodes |
//! |---|---|
//! | `u8:7`, `u16:`, `u32:`, `u64:`, `u128:` | unsigned varint |
//! | `i8:-7`, `i16:`, `i32:`, `i64:`, `i128:` | zigzag varint |
//! | `bool:true` | one byte |
//! | `str:hello` | length + UTF-8 (a `String` / `&str`) |
//! | `bytes:00ff` | length + bytes (a `Vec<u8>` / `ByteBuf`) |
//! | `file:PATH` | length + the file's bytes |
//! | `hex:00ff` | raw bytes, no length (a `[u8; N]` array, or pre-encoded data) |
//! | `unit` or nothing | nothing (`()`) |
//!
//! Outputs are shown with [`decode_as`] and the same type names.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    #[error("argument `{0}` is not TYPE:VALUE (e.g. u64:5, str:hello, bytes:00ff, hex:00ff)")]
    Syntax(String),
    #[error("unknown argument type `{0}`")]
    UnknownType(String),
    #[error("`{value}` is not a valid {ty}: {reason}")]
    BadValue { ty: String, value: String, reason: String },
    #[error("could not read {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("output does not decode as {ty}: {reason}")]
    BadOutput { ty: String, reason: String },
}

/// Encodes a list of literals into one input.
pub fn encode_args<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, ArgError> {
    let mut out = Vec::new();
    for arg in args {
        out.extend(encode_arg(arg.as_ref())?);
    }
    Ok(out)
}

fn encode_arg(arg: &str) -> Result<Vec<u8>, ArgError> {
    if arg == "unit" || arg.is_empty() {
        return Ok(Vec::new());
    }
    let (ty, value) = arg.split_once(':').ok_or_else(|| ArgError::Syntax(arg.to_string()))?;
    let bad = |reason: String| ArgError::BadValue { ty: ty.to_string(), value: value.to_string(), reason };
    let num = |r: Result<Vec<u8>, String>| r.map_err(bad);
    match ty {
        "u8" => num(parse_enc::<u8>(value)),
        "u16" => num(parse_enc::<u16>(value)),
        "u32" => num(parse_enc::<u32>(value)),
        "u64" => num(parse_enc::<u64>(value)),
        "u128" => num(parse_enc::<u128>(value)),
        "i8" => num(parse_enc::<i8>(value)),
        "i16" => num(parse_enc::<i16>(value)),
        "i32" => num(parse_enc::<i32>(value)),
        "i64" => num(parse_enc::<i64>(value)),
        "i128" => num(parse_enc::<i128>(value)),
        "bool" => num(parse_enc::<bool>(value)),
        "str" => Ok(enc(value)),
        "bytes" => Ok(enc(&hex::decode(value).map_err(|e| bad(e.to_string()))?)),
        "hex" => hex::decode(value).map_err(|e| bad(e.to_string())),
        "file" => {
            let data = std::fs::read(value).map_err(|source| ArgError::File { path: value.to_string(), source })?;
            Ok(enc(&data))
        }
        other => Err(ArgError::UnknownType(other.to_string())),
    }
}

fn parse_enc<T: std::str::FromStr + Serialize>(value: &str) -> Result<Vec<u8>, String>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map(|v| enc(&v)).map_err(|e| e.to_string())
}

fn enc<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard encodes primitive types into a Vec")
}

/// Renders an output as the given type (same names as the argument literals), or as hex for `hex`.
pub fn decode_as(ty: &str, bytes: &[u8]) -> Result<String, ArgError> {
    fn show<T: DeserializeOwned + std::fmt::Debug>(ty: &str, bytes: &[u8]) -> Result<String, ArgError> {
        match postcard::take_from_bytes::<T>(bytes) {
            Ok((value, [])) => Ok(format!("{value:?}")),
            Ok((_, rest)) => {
                Err(ArgError::BadOutput { ty: ty.to_string(), reason: format!("{} bytes left over", rest.len()) })
            }
            Err(e) => Err(ArgError::BadOutput { ty: ty.to_string(), reason: e.to_string() }),
        }
    }
    match ty {
        "u8" => show::<u8>(ty, bytes),
        "u16" => show::<u16>(ty, bytes),
        "u32" => show::<u32>(ty, bytes),
        "u64" => show::<u64>(ty, bytes),
        "u128" => show::<u128>(ty, bytes),
        "i8" => show::<i8>(ty, bytes),
        "i16" => show::<i16>(ty, bytes),
        "i32" => show::<i32>(ty, bytes),
        "i64" => show::<i64>(ty, bytes),
        "i128" => show::<i128>(ty, bytes),
        "bool" => show::<bool>(ty, bytes),
        "str" => show::<String>(ty, bytes),
        "unit" => show::<()>(ty, bytes),
        "bytes" => match postcard::take_from_bytes::<Vec<u8>>(bytes) {
            Ok((v, [])) => Ok(hex::encode(v)),
            _ => Err(ArgError::BadOutput { ty: ty.to_string(), reason: "not length-prefixed bytes".into() }),
        },
        "hex" => Ok(hex::encode(bytes)),
        other => Err(ArgError::UnknownType(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_encode_like_postcard_values() {
        assert_eq!(encode_args(&["u64:300"]).unwrap(), postcard::to_allocvec(&300u64).unwrap());
        assert_eq!(encode_args(&["i32:-2"]).unwrap(), postcard::to_allocvec(&-2i32).unwrap());
        assert_eq!(encode_args(&["str:hé"]).unwrap(), postcard::to_allocvec("hé").unwrap());
        assert_eq!(encode_args(&["bytes:0aff"]).unwrap(), postcard::to_allocvec(&vec![0x0au8, 0xff]).unwrap());
        // A struct { to: [u8; 2], amount: u64 } is its fields one after the other.
        let expected = postcard::to_allocvec(&([1u8, 2u8], 9u64)).unwrap();
        assert_eq!(encode_args(&["hex:0102", "u64:9"]).unwrap(), expected);
        assert_eq!(encode_args(&["unit"]).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bad_literals_are_refused_with_the_reason() {
        assert!(matches!(encode_args(&["u64"]), Err(ArgError::Syntax(_))));
        assert!(matches!(encode_args(&["u8:256"]), Err(ArgError::BadValue { .. })));
        assert!(matches!(encode_args(&["bytes:xyz"]), Err(ArgError::BadValue { .. })));
        assert!(matches!(encode_args(&["float:1"]), Err(ArgError::UnknownType(_))));
        assert!(matches!(encode_args(&["file:/nonexistent/nexus"]), Err(ArgError::File { .. })));
    }

    #[test]
    fn outputs_decode_by_type_and_refuse_leftovers() {
        let bytes = postcard::to_allocvec(&300u64).unwrap();
        assert_eq!(decode_as("u64", &bytes).unwrap(), "300");
        assert!(decode_as("u8", &bytes).is_err());
        assert_eq!(decode_as("hex", &[1, 2]).unwrap(), "0102");
    }
}
