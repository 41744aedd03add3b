//! Self-describing values: every value a workload writes names its writer
//! and sequence number and carries a checksum, so a read identifies exactly
//! which write it observed and a corrupted value is detected.
//!
//! Text form: `w<writer>-s<seq>-c<crc32 hex>` followed by optional padding
//! `.<filler>` up to the configured size; the checksum covers the writer,
//! the sequence and the padding.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value as written: writer, sequence, and the padding length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Value {
    /// The client that wrote it.
    pub writer: u32,
    /// The writer's sequence number (unique per writer).
    pub seq: u64,
    /// Bytes of padding after the header.
    pub pad: u32,
}

/// A read that is not a value any writer could have produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not of the form `w<n>-s<n>-c<hex>[.<pad>]`.
    #[error("not a zk-chaos value: `{0}`")]
    Malformed(String),
    /// The checksum does not match (corruption).
    #[error("checksum mismatch in `{0}`")]
    Checksum(String),
}

fn crc32(bytes: &[u8]) -> u32 {
    // CRC-32 (IEEE), bitwise: values are short.
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn filler(writer: u32, seq: u64, pad: u32) -> String {
    // Deterministic, so the checksum of a padded value is reproducible.
    (0..pad).map(|i| (b'a' + ((u64::from(writer) + seq + u64::from(i)) % 26) as u8) as char).collect()
}

impl Value {
    /// A value without padding.
    pub fn new(writer: u32, seq: u64) -> Self {
        Self { writer, seq, pad: 0 }
    }

    /// A value padded to about `size` bytes.
    pub fn sized(writer: u32, seq: u64, size: usize) -> Self {
        let header = Self::new(writer, seq).to_string().len();
        let pad = size.saturating_sub(header + 1) as u32;
        Self { writer, seq, pad }
    }

    fn checksum(&self) -> u32 {
        crc32(format!("{}:{}:{}", self.writer, self.seq, filler(self.writer, self.seq, self.pad)).as_bytes())
    }

    /// Parse and verify a value read back from a znode.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::Malformed(text.chars().take(64).collect());
        let (head, pad) = match text.split_once('.') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let mut parts = head.split('-');
        let writer = parts.next().and_then(|p| p.strip_prefix('w')).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|p| p.strip_prefix('s')).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let crc = parts
            .next()
            .and_then(|p| p.strip_prefix('c'))
            .and_then(|n| u32::from_str_radix(n, 16).ok())
            .ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let v = Self { writer, seq, pad: pad.map_or(0, |p| p.len() as u32) };
        if v.checksum() != crc || pad.is_some_and(|p| p != filler(writer, seq, v.pad)) {
            return Err(ValueError::Checksum(text.chars().take(64).collect()));
        }
        Ok(v)
    }

    /// The bytes to write.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}-s{}-c{:08x}", self.writer, self.seq, self.checksum())?;
        if self.pad > 0 {
            write!(f, ".{}", filler(self.writer, self.seq, self.pad))?;
        }
        Ok(())
    }
}

impl FromStr for Value {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Value {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Value> for String {
    fn from(v: Value) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn corruption_and_garbage_are_detected() {
        let v = Value::sized(3, 42, 64);
        let text = v.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(Value::parse(&text).unwrap(), v);
        let mut flipped = text.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'a' { b'b' } else { b'a' };
        assert!(matches!(Value::parse(std::str::from_utf8(&flipped).unwrap()), Err(ValueError::Checksum(_))));
        assert!(matches!(Value::parse("kubedb"), Err(ValueError::Malformed(_))));
        assert!(matches!(Value::parse("w1-s2-c00000000"), Err(ValueError::Checksum(_))));
    }

    proptest! {
        #[test]
        fn values_round_trip(writer: u32, seq: u64, size in 0usize..300) {
            let v = Value::sized(writer, seq, size);
            prop_assert_eq!(Value::parse(&v.to_string()).unwrap(), v);
        }
    }
}
