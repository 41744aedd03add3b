//! A text file kept plain or gzip-compressed beside its name
//! (`<file>.gz`). A passing scenario's bulky files (its history, probes,
//! statuses and server logs) are written compressed (see
//! [`crate::report::artifacts`]); a failing one's stay plain. Every reader
//! goes through [`open_text`] or [`read_text`], which take the plain name
//! and read whichever of the two is there.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// As is, under its own name.
    #[default]
    Plain,
    /// Gzip-compressed, as `<file>.gz`.
    Gzip,
}

/// Reading or writing a text file failed.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (the `.gz` one when that is what was read).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A `.gz` file is not a whole gzip stream (corrupt or cut short).
    #[error("{}: cannot decompress (a corrupt or truncated gzip file): {source}", path.display())]
    Decompress {
        /// The `.gz` file.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },
}

/// `path` with `.gz` appended (`history.jsonl` → `history.jsonl.gz`).
pub fn gz_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".gz");
    PathBuf::from(s)
}

/// The file holding `path`'s text: `path` itself, else `path.gz`; `None`
/// when neither is a file.
pub fn stored(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_path_buf());
    }
    let gz = gz_path(path);
    gz.is_file().then_some(gz)
}

/// Whether `path`'s text is kept, plain or compressed.
pub fn exists(path: &Path) -> bool {
    stored(path).is_some()
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// A reader whose errors name the file and say it would not decompress.
struct Named<R> {
    path: PathBuf,
    inner: R,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|source| {
            let kind = source.kind();
            io::Error::new(kind, TextError::Decompress { path: self.path.clone(), source })
        })
    }
}

fn not_found(path: &Path) -> TextError {
    let source = io::Error::new(io::ErrorKind::NotFound, "no such file (nor a .gz of it)");
    TextError::Io { path: path.to_path_buf(), source }
}

/// Open `path`'s text for reading: `path`, else `path.gz` decompressed
/// as it is read (a read error then names the `.gz` file). Neither there:
/// a not-found error naming `path`.
pub fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>, TextError> {
    let Some(file) = stored(path) else {
        return Err(not_found(path));
    };
    let f = File::open(&file).map_err(|source| TextError::Io { path: file.clone(), source })?;
    if is_gz(&file) && f.metadata().is_ok_and(|m| m.len() == 0) {
        let source = io::Error::new(io::ErrorKind::UnexpectedEof, "the file is empty");
        return Err(TextError::Decompress { path: file, source });
    }
    Ok(if is_gz(&file) {
        Box::new(BufReader::new(Named { path: file, inner: MultiGzDecoder::new(BufReader::new(f)) }))
    } else {
        Box::new(BufReader::new(f))
    })
}

/// An error from a reader [`open_text`] gave for `path`, as a
/// [`TextError`]: the decoder's own (naming the `.gz` file), else an I/O
/// error on the file read.
pub fn reader_error(path: &Path, e: io::Error) -> TextError {
    if e.get_ref().is_some_and(|inner| inner.is::<TextError>()) {
        let inner = e.into_inner().expect("checked: it wraps an error");
        return *inner.downcast::<TextError>().expect("checked: it is a TextError");
    }
    TextError::Io { path: stored(path).unwrap_or_else(|| path.to_path_buf()), source: e }
}

/// All of `path`'s text: `path`, else `path.gz` decompressed (see
/// [`open_text`]).
pub fn read_text(path: &Path) -> Result<Vec<u8>, TextError> {
    let Some(file) = stored(path) else {
        return Err(not_found(path));
    };
    let bytes = std::fs::read(&file).map_err(|source| TextError::Io { path: file.clone(), source })?;
    if !is_gz(&file) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    match MultiGzDecoder::new(bytes.as_slice()).read_to_end(&mut out) {
        // An empty file is no gzip stream either (the decoder reads it as nothing).
        Ok(_) if bytes.is_empty() => Err(TextError::Decompress {
            path: file,
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "the file is empty"),
        }),
        Ok(_) => Ok(out),
        Err(source) => Err(TextError::Decompress { path: file, source }),
    }
}

/// A text file being written, plain or compressed; [`TextWriter::finish`]
/// completes it.
pub struct TextWriter {
    path: PathBuf,
    out: Out,
}

enum Out {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl TextWriter {
    /// Create `path` (or `path.gz`, per `storage`), removing the other
    /// form when present so that only one copy of the text is kept.
    pub fn create(path: &Path, storage: Storage) -> Result<Self, TextError> {
        let (file, other) = match storage {
            Storage::Plain => (path.to_path_buf(), gz_path(path)),
            Storage::Gzip => (gz_path(path), path.to_path_buf()),
        };
        match std::fs::remove_file(&other) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(TextError::Io { path: other, source: e }),
            _ => {}
        }
        let f = BufWriter::new(File::create(&file).map_err(|source| TextError::Io { path: file.clone(), source })?);
        let out = match storage {
            Storage::Plain => Out::Plain(f),
            Storage::Gzip => Out::Gzip(GzEncoder::new(f, Compression::default())),
        };
        Ok(Self { path: file, out })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush everything (the gzip trailer too); returns the file written.
    pub fn finish(self) -> Result<PathBuf, TextError> {
        let err = |source| TextError::Io { path: self.path.clone(), source };
        let mut inner = match self.out {
            Out::Plain(w) => w,
            Out::Gzip(g) => g.finish().map_err(err)?,
        };
        inner.flush().map_err(err)?;
        Ok(self.path)
    }
}

impl Write for TextWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Out::Plain(w) => w.write(buf),
            Out::Gzip(g) => g.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Out::Plain(w) => w.flush(),
            Out::Gzip(g) => g.flush(),
        }
    }
}

/// Write `bytes` as `path` or `path.gz` (per `storage`); returns the file written.
pub fn write_text(path: &Path, bytes: &[u8], storage: Storage) -> Result<PathBuf, TextError> {
    let mut w = TextWriter::create(path, storage)?;
    w.write_all(bytes).map_err(|source| TextError::Io { path: w.path().to_path_buf(), source })?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_text_reads_back_under_its_plain_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history.jsonl");
        let text = "a line\n".repeat(1000);
        let written = write_text(&p, text.as_bytes(), Storage::Gzip).unwrap();
        assert_eq!(written, d.path().join("history.jsonl.gz"));
        assert!(!p.exists() && written.is_file());
        assert!(std::fs::metadata(&written).unwrap().len() < 200, "compressed");
        assert_eq!(stored(&p), Some(written.clone()));
        assert!(exists(&p));
        assert_eq!(read_text(&p).unwrap(), text.as_bytes());
        let lines: Vec<String> = open_text(&p).unwrap().lines().map(Result::unwrap).collect();
        assert_eq!(lines.len(), 1000);
    }

    #[test]
    fn writing_one_form_removes_the_other() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("probes.jsonl");
        write_text(&p, b"plain\n", Storage::Plain).unwrap();
        write_text(&p, b"packed\n", Storage::Gzip).unwrap();
        assert!(!p.exists());
        assert_eq!(read_text(&p).unwrap(), b"packed\n");
        write_text(&p, b"plain again\n", Storage::Plain).unwrap();
        assert!(!gz_path(&p).exists());
        assert_eq!(read_text(&p).unwrap(), b"plain again\n");
    }

    #[test]
    fn the_plain_file_wins_when_both_are_there() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("status.jsonl");
        std::fs::write(&p, "plain\n").unwrap();
        std::fs::write(gz_path(&p), "not even gzip").unwrap();
        assert_eq!(read_text(&p).unwrap(), b"plain\n");
    }

    #[test]
    fn a_missing_file_names_its_plain_path() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("none.jsonl");
        assert!(!exists(&p) && stored(&p).is_none());
        let e = read_text(&p).unwrap_err();
        assert!(matches!(&e, TextError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound), "{e:?}");
        assert!(e.to_string().contains("none.jsonl"), "{e}");
    }

    #[test]
    fn a_corrupt_or_truncated_gz_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history.jsonl");
        std::fs::write(gz_path(&p), b"this is not gzip at all\n").unwrap();
        let e = read_text(&p).unwrap_err();
        assert!(matches!(e, TextError::Decompress { .. }), "{e:?}");
        assert!(e.to_string().contains("history.jsonl.gz") && e.to_string().contains("cannot decompress"), "{e}");
        // Streaming: the error surfaces from the reader, still naming the file.
        let err = open_text(&p).unwrap().lines().find_map(Result::err).unwrap();
        let err = reader_error(&p, err);
        assert!(matches!(err, TextError::Decompress { .. }), "{err:?}");
        assert_eq!(err.to_string().matches("history.jsonl.gz").count(), 1, "named once: {err}");

        // Cut short: a valid start without its end.
        let text = "x".repeat(10_000);
        let whole = write_text(&p, text.as_bytes(), Storage::Gzip).unwrap();
        let bytes = std::fs::read(&whole).unwrap();
        std::fs::write(&whole, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_text(&p).unwrap_err();
        assert!(matches!(e, TextError::Decompress { .. }), "{e:?}");
        assert!(e.to_string().contains("history.jsonl.gz"), "{e}");

        std::fs::write(&whole, b"").unwrap();
        let e = read_text(&p).unwrap_err();
        assert!(matches!(e, TextError::Decompress { .. }), "{e:?}");
        assert!(matches!(open_text(&p).err(), Some(TextError::Decompress { .. })));
    }
}
