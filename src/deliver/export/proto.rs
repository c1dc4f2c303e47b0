//! A minimal protocol-buffers writer: just the wire types the ONNX messages we emit use
//! (varints, length-delimited fields, packed floats). Fields are written in a fixed order, so
//! the same model always serialises to the same bytes.

/// A message under construction.
#[derive(Debug, Default, Clone)]
pub struct Message {
    bytes: Vec<u8>,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        varint(
            &mut self.bytes,
            (u64::from(field) << 3) | u64::from(wire_type),
        );
    }

    /// An integer field (int32/int64/enum; negative values as ten-byte two's complement).
    pub fn int(mut self, field: u32, v: i64) -> Message {
        self.key(field, 0);
        varint(&mut self.bytes, v as u64);
        self
    }

    /// A bytes or string field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Message {
        self.key(field, 2);
        varint(&mut self.bytes, v.len() as u64);
        self.bytes.extend_from_slice(v);
        self
    }

    /// A string field.
    pub fn string(self, field: u32, v: &str) -> Message {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message field.
    pub fn message(self, field: u32, v: &Message) -> Message {
        self.bytes(field, &v.bytes)
    }

    /// A packed repeated int64 field.
    pub fn packed_ints(self, field: u32, values: &[i64]) -> Message {
        let mut payload = Vec::new();
        for &v in values {
            varint(&mut payload, v as u64);
        }
        self.bytes(field, &payload)
    }

    /// A float field (fixed 32-bit).
    pub fn float(mut self, field: u32, v: f32) -> Message {
        self.key(field, 5);
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        assert_eq!(Message::new().int(1, 150).into_bytes(), [0x08, 0x96, 0x01]);
        assert_eq!(
            Message::new().string(2, "testing").into_bytes()[..2],
            [0x12, 0x07]
        );
        assert_eq!(Message::new().int(1, -1).into_bytes().len(), 11);
        assert_eq!(
            Message::new().float(2, 1.0).into_bytes(),
            [0x15, 0, 0, 0x80, 0x3f]
        );
    }
}
