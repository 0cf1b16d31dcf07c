//! Resolves plugin names, `name@version`s and paths to loaded plugins: the embedded built-ins
//! first, then `.wasm` files in the plugin directories.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::builtin;
use crate::engine::Runtime;
use crate::error::{Result, RuntimeError};
use crate::plugin::{LoadedPlugin, PluginSource};

/// A line of `weft plugin list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Registry name.
    pub name: String,
    /// Version, when known without compiling (`None` for built-ins: same as weft's).
    pub version: Option<String>,
    /// Kind (WIT world name).
    pub kind: String,
    /// `builtin` or the file path.
    pub source: String,
    /// SHA-256 of the component, hex.
    pub hash: String,
    /// Description, or the load error for a broken file.
    pub description: String,
}

/// Finds and caches plugins.
pub struct Registry {
    runtime: Runtime,
    dirs: Vec<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
}

impl Registry {
    /// A registry with the built-ins only.
    pub fn new(runtime: Runtime) -> Self {
        Registry {
            runtime,
            dirs: Vec::new(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Also searches `dir` for `.wasm` plugins (searched in the order added).
    pub fn with_plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// The runtime plugins are loaded into.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Resolves `spec`: a path (contains `/` or ends in `.wasm`), else `name` or `name@version`
    /// among the built-ins and then the plugin directories.
    pub fn resolve(&self, spec: &str) -> Result<Arc<LoadedPlugin>> {
        if let Some(p) = self.loaded.lock().ok().and_then(|m| m.get(spec).cloned()) {
            return Ok(p);
        }
        let plugin = self.resolve_uncached(spec)?;
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(spec.to_string(), plugin.clone());
        }
        Ok(plugin)
    }

    /// Resolves `spec` from its source again without touching what [`Registry::resolve`]
    /// remembers: `resolve` keeps the first load of a spec, so a `.wasm` rewritten in place is
    /// only seen through this. The compiled caches are keyed by the content's SHA-256, so
    /// unchanged bytes are not compiled again and changed bytes never reuse an old artifact.
    pub fn resolve_fresh(&self, spec: &str) -> Result<Arc<LoadedPlugin>> {
        self.resolve_uncached(spec)
    }

    /// Makes `resolve(spec)` answer `plugin` from now on (a checked new version of it).
    pub fn remember(&self, spec: &str, plugin: Arc<LoadedPlugin>) {
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(spec.to_string(), plugin);
        }
    }

    fn resolve_uncached(&self, spec: &str) -> Result<Arc<LoadedPlugin>> {
        if spec.ends_with(".wasm") || spec.contains('/') {
            return self.runtime.load_file(Path::new(spec));
        }
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let version_ok = |p: &LoadedPlugin| version.is_none_or(|v| p.metadata().version == v);
        if let Some(b) = builtin::find(name) {
            let p = self
                .runtime
                .load_bytes(b.wasm, PluginSource::Builtin(b.name.to_string()))?;
            if version_ok(&p) {
                return Ok(p);
            }
        }
        for dir in &self.dirs {
            let direct = dir.join(format!("{name}.wasm"));
            if direct.is_file() {
                let p = self.runtime.load_file(&direct)?;
                if p.metadata().name == name && version_ok(&p) {
                    return Ok(p);
                }
            }
            for file in wasm_files(dir) {
                if file == direct {
                    continue;
                }
                // Broken files are reported by `list`; resolution just skips them.
                if let Ok(p) = self.runtime.load_file(&file) {
                    if p.metadata().name == name && version_ok(&p) {
                        return Ok(p);
                    }
                }
            }
        }
        Err(RuntimeError::NotFound(spec.to_string()))
    }

    /// Built-ins (without compiling them) and every `.wasm` in the plugin directories.
    pub fn list(&self) -> Vec<PluginInfo> {
        let mut out: Vec<PluginInfo> = builtin::all()
            .iter()
            .map(|b| PluginInfo {
                name: b.name.to_string(),
                version: None,
                kind: b.kind.to_string(),
                source: "builtin".into(),
                hash: hex(&Sha256::digest(b.wasm)),
                description: String::new(),
            })
            .collect();
        for dir in &self.dirs {
            for file in wasm_files(dir) {
                let info = match self.runtime.load_file(&file) {
                    Ok(p) => PluginInfo {
                        name: p.metadata().name.clone(),
                        version: Some(p.metadata().version.clone()),
                        kind: p.kind().as_str().to_string(),
                        source: file.display().to_string(),
                        hash: p.hash_hex(),
                        description: p.metadata().description.clone(),
                    },
                    Err(e) => PluginInfo {
                        name: file
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        version: None,
                        kind: "?".into(),
                        source: file.display().to_string(),
                        hash: String::new(),
                        description: format!("cannot load: {e}"),
                    },
                };
                out.push(info);
            }
        }
        out
    }
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
