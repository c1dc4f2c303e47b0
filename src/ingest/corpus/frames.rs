//! Counting decoded frames as they stream past, because `vmaf` exits 0 on a truncated input.
//!
//! Raw streams are counted in whole frames of the source geometry; YUV4MPEG2 streams by
//! walking the header, then each `FRAME` marker and its payload. A stream that ends inside a
//! frame is reported as truncated.

/// Where in the stream the counter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside the YUV4MPEG2 stream header line.
    Header,
    /// Inside a `FRAME…\n` marker line; the number of marker bytes seen so far.
    Marker(usize),
    /// Inside a frame's planes; the bytes still to come.
    Payload(u64),
}

/// Counts whole frames in a raw or YUV4MPEG2 byte stream fed in arbitrary chunks.
#[derive(Debug, Clone)]
pub struct FrameCounter {
    frame_bytes: u64,
    y4m: bool,
    state: State,
    frames: u64,
}

impl FrameCounter {
    /// A counter for frames of `frame_bytes` bytes, raw or YUV4MPEG2.
    pub fn new(frame_bytes: u64, y4m: bool) -> Self {
        let state = if y4m {
            State::Header
        } else {
            State::Payload(frame_bytes)
        };
        FrameCounter {
            frame_bytes,
            y4m,
            state,
            frames: 0,
        }
    }

    /// Accounts for the next chunk of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match self.state {
                State::Header | State::Marker(_) => match chunk.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        chunk = &chunk[end + 1..];
                        self.state = match self.state {
                            State::Header => State::Marker(0),
                            _ => State::Payload(self.frame_bytes),
                        };
                    }
                    None => {
                        if let State::Marker(seen) = self.state {
                            self.state = State::Marker(seen + chunk.len());
                        }
                        chunk = &[];
                    }
                },
                State::Payload(remaining) => {
                    let take = remaining.min(chunk.len() as u64);
                    chunk = &chunk[take as usize..];
                    let left = remaining - take;
                    self.state = if left > 0 {
                        State::Payload(left)
                    } else {
                        self.frames += 1;
                        if self.y4m {
                            State::Marker(0)
                        } else {
                            State::Payload(self.frame_bytes)
                        }
                    };
                }
            }
        }
    }

    /// The number of whole frames, or an error if the stream stopped inside a frame.
    pub fn finish(&self) -> Result<u64, String> {
        let at_boundary = match self.state {
            State::Header => self.frames == 0,
            State::Marker(seen) => seen == 0,
            State::Payload(left) => !self.y4m && left == self.frame_bytes,
        };
        if at_boundary {
            Ok(self.frames)
        } else {
            Err(format!(
                "the decoded stream ends inside frame {} (truncated after {} whole frames)",
                self.frames, self.frames
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_in_chunks(counter: &mut FrameCounter, bytes: &[u8], chunk: usize) {
        bytes.chunks(chunk).for_each(|c| counter.feed(c));
    }

    #[test]
    fn raw_counts_whole_frames_across_chunk_boundaries() {
        let mut c = FrameCounter::new(6, false);
        feed_in_chunks(&mut c, &[0u8; 18], 4);
        assert_eq!(c.finish(), Ok(3));
        c.feed(&[0u8; 2]);
        assert!(c.finish().unwrap_err().contains("inside frame 3"));
    }

    #[test]
    fn y4m_walks_header_and_markers() {
        let mut bytes = b"YUV4MPEG2 W2 H2 F25:1\n".to_vec();
        for _ in 0..4 {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(&[7u8; 6]);
        }
        for chunk in [1, 3, 5, 100] {
            let mut c = FrameCounter::new(6, true);
            feed_in_chunks(&mut c, &bytes, chunk);
            assert_eq!(c.finish(), Ok(4), "chunk {chunk}");
            c.feed(b"FRA");
            assert!(c.finish().is_err());
        }
    }

    #[test]
    fn empty_stream_is_zero_frames() {
        assert_eq!(FrameCounter::new(6, true).finish(), Ok(0));
        assert_eq!(FrameCounter::new(6, false).finish(), Ok(0));
    }
}
