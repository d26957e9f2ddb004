//! Frame Streams (fstrm), the framing dnstap travels in, as a writer on a
//! bidirectional connection: READY with the content type, the reader's
//! ACCEPT, START; then data frames (a 32-bit big-endian length and the
//! bytes); at the end STOP, answered by FINISH. Control frames are a zero
//! length, their own length, their type and fields (content types) — the
//! farsightsec/golang-framestream encoder CoreDNS uses writes the same.

use std::io::{self, BufWriter, Read, Write};

/// The content type of dnstap's frames.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

const ACCEPT: u32 = 1;
const START: u32 = 2;
const STOP: u32 = 3;
const READY: u32 = 4;
const FINISH: u32 = 5;
const FIELD_CONTENT_TYPE: u32 = 1;
/// The longest control frame a reader may send.
const CONTROL_MAX: u32 = 512;

/// Why a stream could not be set up or went wrong; the texts are
/// golang-framestream's.
#[derive(Debug, thiserror::Error)]
pub enum FstrmError {
    #[error("content type mismatch")]
    ContentType,
    #[error("decoding error")]
    Decode,
    #[error("EOF")]
    Eof,
    #[error("{0}")]
    Io(io::Error),
}

impl From<io::Error> for FstrmError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FstrmError::Eof
        } else {
            FstrmError::Io(e)
        }
    }
}

/// A control frame: its type and content types.
#[derive(Debug, PartialEq, Eq)]
pub struct Control {
    pub kind: u32,
    pub types: Vec<Vec<u8>>,
}

fn control(kind: u32, types: &[&[u8]], out: &mut Vec<u8>) {
    let fields: usize = types.iter().map(|t| 8 + t.len()).sum();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&((4 + fields) as u32).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    for t in types {
        out.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        out.extend_from_slice(&(t.len() as u32).to_be_bytes());
        out.extend_from_slice(t);
    }
}

fn read_u32(r: &mut impl Read) -> Result<u32, FstrmError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// Reads one control frame (escape, length, type, fields).
pub fn read_control(r: &mut impl Read) -> Result<Control, FstrmError> {
    if read_u32(r)? != 0 {
        return Err(FstrmError::Decode);
    }
    let len = read_u32(r)?;
    if !(4..=CONTROL_MAX).contains(&len) {
        return Err(FstrmError::Decode);
    }
    let kind = read_u32(r)?;
    let mut rest = vec![0u8; len as usize - 4];
    r.read_exact(&mut rest)?;
    let mut types = Vec::new();
    let mut f = rest.as_slice();
    while f.len() > 8 {
        let field = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        let n = u32::from_be_bytes([f[4], f[5], f[6], f[7]]) as usize;
        f = &f[8..];
        if field != FIELD_CONTENT_TYPE || n > f.len() {
            return Err(FstrmError::Decode);
        }
        types.push(f[..n].to_vec());
        f = &f[n..];
    }
    if !f.is_empty() {
        return Err(FstrmError::Decode);
    }
    Ok(Control { kind, types })
}

/// Writes `kind` with `types` and flushes.
pub fn write_control<W: Write>(w: &mut W, kind: u32, types: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    control(kind, types, &mut buf);
    w.write_all(&buf)?;
    w.flush()
}

/// A writer that finished the handshake: data frames go through a buffer
/// (`flush` sends them).
pub struct Writer<S: Read + Write> {
    w: BufWriter<S>,
}

impl<S: Read + Write> Writer<S> {
    /// READY, ACCEPT, START on `stream` (its timeouts bound the wait).
    pub fn handshake(mut stream: S) -> Result<Self, FstrmError> {
        write_control(&mut stream, READY, &[CONTENT_TYPE])?;
        let accept = read_control(&mut stream)?;
        if accept.kind != ACCEPT {
            return Err(FstrmError::Decode);
        }
        // A reader that names no content type takes any.
        if !accept.types.is_empty() && !accept.types.iter().any(|t| t == CONTENT_TYPE) {
            return Err(FstrmError::ContentType);
        }
        write_control(&mut stream, START, &[CONTENT_TYPE])?;
        Ok(Self {
            w: BufWriter::with_capacity(64 * 1024, stream),
        })
    }

    /// One data frame, buffered.
    pub fn frame(&mut self, data: &[u8]) -> io::Result<()> {
        self.w.write_all(&(data.len() as u32).to_be_bytes())?;
        self.w.write_all(data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// STOP, then the reader's FINISH.
    pub fn close(mut self) -> Result<(), FstrmError> {
        write_control(&mut self.w, STOP, &[])?;
        let s = self.w.get_mut();
        let finish = read_control(s)?;
        if finish.kind != FINISH {
            return Err(FstrmError::Decode);
        }
        Ok(())
    }
}

/// The reading end's side of the handshake and its frames, for tests
/// (the integration tests use the real `dnstap` reader).
#[cfg(test)]
pub mod reader {
    use super::*;

    /// Waits for READY, answers ACCEPT, waits for START.
    pub fn accept<S: Read + Write>(s: &mut S) -> Result<(), FstrmError> {
        let ready = read_control(s)?;
        assert_eq!(ready.kind, READY);
        assert_eq!(ready.types, vec![CONTENT_TYPE.to_vec()]);
        write_control(s, ACCEPT, &[CONTENT_TYPE])?;
        let start = read_control(s)?;
        assert_eq!(start.kind, START);
        Ok(())
    }

    /// The next data frame, or None at STOP (after answering FINISH).
    pub fn next<S: Read + Write>(s: &mut S) -> Result<Option<Vec<u8>>, FstrmError> {
        let len = read_u32(s)?;
        if len == 0 {
            let len = read_u32(s)?;
            let kind = read_u32(s)?;
            let mut rest = vec![0u8; len as usize - 4];
            s.read_exact(&mut rest)?;
            assert_eq!(kind, STOP);
            write_control(s, FINISH, &[])?;
            return Ok(None);
        }
        let mut b = vec![0u8; len as usize];
        s.read_exact(&mut b)?;
        Ok(Some(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn control_frames_as_framestream_writes_them() {
        let mut b = Vec::new();
        control(READY, &[CONTENT_TYPE], &mut b);
        let mut want = vec![0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 22];
        want.extend_from_slice(CONTENT_TYPE);
        assert_eq!(b, want);
        let mut b = Vec::new();
        control(STOP, &[], &mut b);
        assert_eq!(b, [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
        let c = read_control(&mut want.as_slice()).unwrap();
        assert_eq!(c.kind, READY);
        assert_eq!(c.types, vec![CONTENT_TYPE.to_vec()]);
    }

    #[test]
    fn bad_control_frames_are_refused() {
        // Not escaped, too long, a field of another kind, cut short.
        let cases: [&[u8]; 4] = [
            &[0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 1],
            &[
                0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, b'x',
            ],
            &[0, 0, 0, 0, 0, 0, 0, 8, 0, 0],
        ];
        let errs: Vec<String> = cases
            .iter()
            .map(|c| read_control(&mut &c[..]).unwrap_err().to_string())
            .collect();
        assert_eq!(
            errs,
            ["decoding error", "decoding error", "decoding error", "EOF"]
        );
    }

    #[test]
    fn handshake_frames_and_close() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            reader::accept(&mut b).unwrap();
            let mut got = Vec::new();
            while let Some(f) = reader::next(&mut b).unwrap() {
                got.push(f);
            }
            got
        });
        let mut w = Writer::handshake(a).unwrap();
        w.frame(b"one").unwrap();
        w.frame(b"three").unwrap();
        w.flush().unwrap();
        w.close().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got, [b"one".to_vec(), b"three".to_vec()]);
    }

    #[test]
    fn a_reader_of_another_content_type_is_refused() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            read_control(&mut b).unwrap();
            write_control(&mut b, ACCEPT, &[b"protobuf:other"]).unwrap();
        });
        let err = Writer::handshake(a).err().unwrap();
        assert_eq!(err.to_string(), "content type mismatch");
        reader.join().unwrap();
    }
}
