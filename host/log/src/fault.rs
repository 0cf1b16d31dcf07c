//! Fault injection for tests (cargo feature `fault-injection`, off by default): fail the next write or
//! fsync or rename under a directory, or simulate a power loss that drops every write not yet fsynced.
//!
//! The model of a power loss: a file's durable contents are what it held at its last fsync through the
//! log's file layer (or, for a file not synced since the scope was armed, what it held when the layer
//! first touched it). Renames and removals made through the layer count as durable at once (the log
//! fsyncs the directory right after each), and a file created since arming and never fsynced vanishes.
//! Files the layer never touched are left alone.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A kind of file operation a test can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Writes and truncations.
    Write,
    /// fsyncs of files and directories.
    Fsync,
    Rename,
}

/// When operations of one kind fail: after `skip` more succeed, the next `fail` ones fail.
#[derive(Debug, Default, Clone, Copy)]
struct Trigger {
    skip: u32,
    fail: u32,
}

impl Trigger {
    /// Whether this operation fails.
    fn fires(&mut self) -> bool {
        if self.fail == 0 {
            false
        } else if self.skip > 0 {
            self.skip -= 1;
            false
        } else {
            self.fail -= 1;
            true
        }
    }
}

#[derive(Debug, Default)]
struct Armed {
    root: PathBuf,
    writes: Trigger,
    fsyncs: Trigger,
    renames: Trigger,
    syncs: u64,
    /// Durable contents of every file touched since arming; `None`: the file does not durably exist.
    durable: HashMap<PathBuf, Option<Vec<u8>>>,
}

static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

fn armed() -> MutexGuard<'static, Vec<Armed>> {
    ARMED.lock().unwrap_or_else(|e| e.into_inner())
}

fn with_scope<T>(path: &Path, f: impl FnOnce(&mut Armed) -> T) -> Option<T> {
    let mut all = armed();
    all.iter_mut()
        .filter(|a| path.starts_with(&a.root))
        .max_by_key(|a| a.root.as_os_str().len())
        .map(f)
}

fn snapshot(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn remember(a: &mut Armed, path: &Path) {
    if !a.durable.contains_key(path) && !path.is_dir() {
        a.durable.insert(path.to_path_buf(), snapshot(path));
    }
}

fn injected(what: &str, path: &Path) -> io::Error {
    io::Error::other(format!("injected {what} failure on {}", path.display()))
}

pub(crate) fn touch(path: &Path) {
    with_scope(path, |a| remember(a, path));
}

pub(crate) fn before_write(path: &Path) -> io::Result<()> {
    with_scope(path, |a| {
        remember(a, path);
        if a.writes.fires() {
            return Err(injected("write", path));
        }
        Ok(())
    })
    .unwrap_or(Ok(()))
}

pub(crate) fn before_sync(path: &Path) -> io::Result<()> {
    with_scope(path, |a| {
        a.syncs += 1;
        if a.fsyncs.fires() {
            return Err(injected("fsync", path));
        }
        Ok(())
    })
    .unwrap_or(Ok(()))
}

pub(crate) fn after_sync(path: &Path) {
    with_scope(path, |a| {
        a.durable.insert(path.to_path_buf(), snapshot(path));
    });
}

pub(crate) fn before_rename(from: &Path, to: &Path) -> io::Result<()> {
    touch(from);
    touch(to);
    with_scope(to, |a| {
        if a.renames.fires() {
            return Err(injected("rename", to));
        }
        Ok(())
    })
    .unwrap_or(Ok(()))
}

pub(crate) fn after_rename(from: &Path, to: &Path) {
    with_scope(to, |a| {
        let moved = a.durable.remove(from).flatten();
        a.durable.insert(to.to_path_buf(), moved);
        a.durable.insert(from.to_path_buf(), None);
    });
}

pub(crate) fn after_remove(path: &Path) {
    with_scope(path, |a| {
        a.durable.insert(path.to_path_buf(), None);
    });
}

/// Faults armed for every file under one directory until dropped.
#[derive(Debug)]
pub struct FaultScope {
    root: PathBuf,
}

/// Arms fault injection (and power-loss tracking) for `root` and everything under it.
pub fn arm(root: &Path) -> FaultScope {
    let root = root.to_path_buf();
    let mut all = armed();
    all.retain(|a| a.root != root);
    all.push(Armed {
        root: root.clone(),
        ..Armed::default()
    });
    FaultScope { root }
}

impl FaultScope {
    fn with<T>(&self, f: impl FnOnce(&mut Armed) -> T) -> T {
        let mut all = armed();
        match all.iter_mut().find(|a| a.root == self.root) {
            Some(a) => f(a),
            None => f(&mut Armed::default()),
        }
    }

    /// The next `n` writes (or truncations) under the root fail.
    pub fn fail_next_writes(&self, n: u32) {
        self.with(|a| a.writes = Trigger { skip: 0, fail: n });
    }

    /// The next `n` fsyncs (of files or directories) under the root fail.
    pub fn fail_next_fsyncs(&self, n: u32) {
        self.with(|a| a.fsyncs = Trigger { skip: 0, fail: n });
    }

    /// After `skip` more operations of kind `op` under the root succeed, the next one fails (once):
    /// a test walks `skip` upwards to fail each step of a multi-step operation in turn.
    pub fn fail_after(&self, op: Op, skip: u32) {
        let t = Trigger { skip, fail: 1 };
        self.with(|a| match op {
            Op::Write => a.writes = t,
            Op::Fsync => a.fsyncs = t,
            Op::Rename => a.renames = t,
        });
    }

    /// Whether an armed failure has not fired yet (the operation did not reach it).
    pub fn failure_pending(&self) -> bool {
        self.with(|a| a.writes.fail + a.fsyncs.fail + a.renames.fail > 0)
    }

    /// fsyncs attempted under the root since arming.
    pub fn fsyncs(&self) -> u64 {
        self.with(|a| a.syncs)
    }

    /// Simulates a power loss: every file the log touched goes back to its durable contents (see the
    /// module doc). Drop the `Log` first, as a crash would; tracking starts afresh afterwards.
    pub fn power_loss(&self) -> io::Result<()> {
        let durable = self.with(|a| std::mem::take(&mut a.durable));
        for (path, contents) in durable {
            match contents {
                Some(bytes) => std::fs::write(&path, bytes)?,
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

impl Drop for FaultScope {
    fn drop(&mut self) {
        armed().retain(|a| a.root != self.root);
    }
}
