//! Every write, truncation, fsync, creation, rename and removal the log makes goes through these
//! functions, so that a test build (the `fault-injection` feature, see [`crate::fault`]) can fail them
//! or simulate a power loss. Without the feature each one is the plain system call.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::Path;

#[cfg(feature = "fault-injection")]
use crate::fault;

/// Opens (possibly creating) a file the log will write.
#[inline]
pub(crate) fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    #[cfg(feature = "fault-injection")]
    fault::touch(path);
    options.open(path)
}

/// Creates or truncates `path` for writing.
#[inline]
pub(crate) fn create(path: &Path) -> io::Result<File> {
    #[cfg(feature = "fault-injection")]
    fault::before_write(path)?;
    File::create(path)
}

/// `write_all` of a vectored write (appends of patched header + producer bytes).
#[inline]
pub(crate) fn write_all_vectored(
    mut file: &File,
    path: &Path,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_write(path)?;
    let _ = path;
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole record batch",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[inline]
pub(crate) fn write_all(mut file: &File, path: &Path, buf: &[u8]) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_write(path)?;
    let _ = path;
    file.write_all(buf)
}

#[inline]
pub(crate) fn set_len(file: &File, path: &Path, len: u64) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_write(path)?;
    let _ = path;
    file.set_len(len)
}

/// fdatasync: the file's data (and the size, which fdatasync includes) is durable afterwards.
#[inline]
pub(crate) fn sync_data(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_sync(path)?;
    file.sync_data()?;
    #[cfg(feature = "fault-injection")]
    fault::after_sync(path);
    let _ = path;
    Ok(())
}

#[inline]
pub(crate) fn sync_all(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_sync(path)?;
    file.sync_all()?;
    #[cfg(feature = "fault-injection")]
    fault::after_sync(path);
    let _ = path;
    Ok(())
}

/// fsync of a directory (creations, renames and removals in it become durable).
#[inline]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_sync(dir)?;
    File::open(dir)?.sync_all()
}

#[inline]
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::before_rename(from, to)?;
    std::fs::rename(from, to)?;
    #[cfg(feature = "fault-injection")]
    fault::after_rename(from, to);
    Ok(())
}

#[inline]
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    fault::touch(path);
    std::fs::remove_file(path)?;
    #[cfg(feature = "fault-injection")]
    fault::after_remove(path);
    Ok(())
}
