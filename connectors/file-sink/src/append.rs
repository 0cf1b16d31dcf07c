//! Hands the sink's buffered lines to its file in one write at the file's end.
//!
//! In the sandbox, `std`'s writes go through WASI output streams, which the host splits into
//! 64 KiB pieces and runs each on a thread of its blocking pool while the task's thread waits: a
//! megabyte of lines took sixteen hand-offs. A positional write of the whole buffer through the
//! file's descriptor is one call that the host runs on the task's own thread. The end is read
//! before each write, so the file is appended to as with `O_APPEND` when only this task writes
//! it (and one truncated meanwhile, by a log rotation, is written from its new end).
//! Natively (the unit tests) the append-mode `std` file does the same job.

#[cfg(target_os = "wasi")]
pub use wasi_file::Appender;

#[cfg(not(target_os = "wasi"))]
pub use native_file::Appender;

#[cfg(target_os = "wasi")]
mod wasi_file {
    use std::io;

    use wasi::filesystem::preopens::get_directories;
    use wasi::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};

    /// A write-only descriptor of the sink's file.
    #[derive(Debug)]
    pub struct Appender {
        file: Descriptor,
    }

    impl Appender {
        /// Opens `path` (as the guest sees it, inside a preopened directory), which exists.
        pub fn open(path: &str, _opened: &std::fs::File) -> io::Result<Appender> {
            let dirs = get_directories();
            let (dir, inside) = dirs
                .iter()
                .filter_map(|(dir, name)| super::inside(path, name).map(|rest| (dir, rest)))
                .min_by_key(|(_, rest)| rest.len())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("`{path}` is in no granted directory"),
                    )
                })?;
            let file = dir
                .open_at(
                    // As `std` opened it: a symlink inside the granted directory is followed.
                    PathFlags::SYMLINK_FOLLOW,
                    inside,
                    OpenFlags::empty(),
                    DescriptorFlags::WRITE,
                )
                .map_err(io_error)?;
            Ok(Appender { file })
        }

        /// Writes all of `buf` at the file's current end.
        pub fn append(&mut self, buf: &[u8]) -> io::Result<()> {
            let end = self.file.stat().map_err(io_error)?.size;
            let mut done = 0usize;
            while done < buf.len() {
                let n = self
                    .file
                    .write(&buf[done..], end + done as u64)
                    .map_err(io_error)?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                // The host never reports more than it was given; `min` keeps a wrong count
                // from slicing past the buffer.
                done += usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .min(buf.len() - done);
            }
            Ok(())
        }
    }

    fn io_error(code: ErrorCode) -> io::Error {
        let kind = match code {
            ErrorCode::NoEntry => io::ErrorKind::NotFound,
            ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => {
                io::ErrorKind::PermissionDenied
            }
            ErrorCode::InsufficientSpace => io::ErrorKind::StorageFull,
            ErrorCode::Quota => io::ErrorKind::QuotaExceeded,
            ErrorCode::FileTooLarge => io::ErrorKind::FileTooLarge,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{}: {}", code.name(), code.message()))
    }
}

#[cfg(not(target_os = "wasi"))]
mod native_file {
    use std::io::{self, Write};

    /// The sink's file, opened for appending.
    #[derive(Debug)]
    pub struct Appender {
        file: std::fs::File,
    }

    impl Appender {
        /// Shares `opened`, the sink's append-mode file.
        pub fn open(_path: &str, opened: &std::fs::File) -> io::Result<Appender> {
            Ok(Appender {
                file: opened.try_clone()?,
            })
        }

        /// Writes all of `buf` at the file's end.
        pub fn append(&mut self, buf: &[u8]) -> io::Result<()> {
            self.file.write_all(buf)
        }
    }
}

/// `path` relative to the directory named `dir` when it lies inside it (`/d/x` inside `/d`
/// is `x`); `None` for the directory itself or a path outside it.
#[cfg_attr(not(target_os = "wasi"), allow(dead_code))]
fn inside<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    let dir = dir.trim_end_matches('/');
    let rest = path.strip_prefix(dir)?;
    if !dir.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let rest = rest.trim_start_matches('/');
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn a_path_is_found_inside_its_preopened_directory() {
        assert_eq!(inside("/out.txt", "/"), Some("out.txt"));
        assert_eq!(inside("/d/out.txt", "/"), Some("d/out.txt"));
        assert_eq!(inside("/d/out.txt", "/d"), Some("out.txt"));
        assert_eq!(inside("/d/out.txt", "/d/"), Some("out.txt"));
        assert_eq!(inside("/dx/out.txt", "/d"), None);
        assert_eq!(inside("/d", "/d"), None);
        assert_eq!(inside("/", "/"), None);
    }
}
