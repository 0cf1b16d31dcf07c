//! Builds the built-in plugins under `plugins/` (and the connectors under `connectors/`, when
//! that guest workspace exists) for wasm32-wasip2 and embeds them.
//!
//! The guests are a separate cargo workspace (plugins/Cargo.toml) built by a nested cargo into a
//! target directory under OUT_DIR: a different target dir means no wait on the outer build's
//! lock, and the nested cargo shares the outer jobserver (CARGO_MAKEFLAGS) so it does not
//! oversubscribe the machine. Set WEFT_SKIP_GUEST_BUILD=1 to embed nothing (host-only builds).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest kinds: directory under plugins/ and WIT world name. Crate `weft-<world>-<name>` in
/// plugins/<dir>/<name> builds `weft_<world>_<name>.wasm`, registered as `<name>` (converters
/// as `<name>-converter`, Connect's naming: `json-converter`).
const KINDS: [(&str, &str); 5] = [
    ("partitioners", "partitioner"),
    ("serializers", "serializer"),
    ("interceptors", "interceptor"),
    ("transforms", "transform"),
    ("converters", "converter"),
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let plugins = root.join("plugins");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed={}", plugins.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=WEFT_SKIP_GUEST_BUILD");
    contract_version(&root.join("wit/plugin.wit"));

    let mut guests = Vec::new();
    if env::var_os("WEFT_SKIP_GUEST_BUILD").is_none() {
        for (dir, kind) in KINDS {
            let Ok(entries) = fs::read_dir(plugins.join(dir)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                guests.push((dir, kind, name));
            }
        }
        if !guests.is_empty() {
            build_guests(&plugins, &out.join("guests"));
        }
    }

    let wasm_dir = out.join("guests/wasm32-wasip2/release");
    let mut src = String::from("static BUILTINS: &[Builtin] = &[\n");
    for (dir, kind, name) in &guests {
        // Crate `weft-<kind>-<name>` in plugins/<dir>/<name> builds weft_<kind>_<name>.wasm.
        let file = wasm_dir.join(format!(
            "weft_{}_{}.wasm",
            kind.replace('-', "_"),
            name.replace('-', "_")
        ));
        if !file.is_file() {
            panic!(
                "built-in plugin plugins/{dir}/{name} did not produce {} \
                 (its crate must be named weft-{kind}-{name})",
                file.display()
            );
        }
        let registered = if *kind == "converter" {
            format!("{name}-converter")
        } else {
            name.clone()
        };
        push_builtin(&mut src, &registered, kind, &file);
    }
    for c in connectors(&root) {
        push_builtin(&mut src, &c.name, c.kind, &c.wasm);
    }
    src.push_str("];\n");
    if let Err(e) = fs::write(out.join("builtins.rs"), src) {
        panic!("cannot write builtins.rs: {e}");
    }
}

fn push_builtin(src: &mut String, name: &str, kind: &str, file: &Path) {
    let _ = writeln!(
        src,
        "    Builtin {{ name: {name:?}, kind: {kind:?}, wasm: include_bytes!({:?}) }},",
        file.display().to_string()
    );
}

/// A connector of the top-level `connectors/` guest workspace.
struct Connector {
    name: String,
    kind: &'static str,
    wasm: PathBuf,
}

/// Builds the `connectors/` guest workspace (when it exists) and lists its connectors: one
/// crate per connector at connectors/<name>/, package `weft-connector-<name>`, producing
/// `weft_connector_<name>.wasm`, registered as `<name>`, its kind read from
/// `[package.metadata.weft] kind = "source-connector" | "sink-connector"` in its Cargo.toml
/// (declared rather than inspected: the build script has no wasm parser, and a wrong
/// declaration is caught at load, where the exported world must match the kind).
fn connectors(root: &Path) -> Vec<Connector> {
    let dir = root.join("connectors");
    // Not watched while it does not exist: cargo reruns a build script on every build while a
    // watched path is missing. The merge that adds connectors/ reruns this script anyway.
    if !dir.is_dir() {
        return Vec::new();
    }
    println!("cargo:rerun-if-changed={}", dir.display());
    if env::var_os("WEFT_SKIP_GUEST_BUILD").is_some() || !dir.join("Cargo.toml").is_file() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut crates: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    if crates.is_empty() {
        return Vec::new();
    }
    crates.sort();
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("connectors");
    build_guests(&dir, &out);
    let wasm_dir = out.join("wasm32-wasip2/release");
    crates
        .into_iter()
        .map(|(name, path)| {
            let manifest = path.join("Cargo.toml");
            let text = fs::read_to_string(&manifest).unwrap_or_default();
            let kind = match declared_kind(&text) {
                Some("source-connector") => "source-connector",
                Some("sink-connector") => "sink-connector",
                other => panic!(
                    "{}: [package.metadata.weft] kind must be \"source-connector\" or \
                     \"sink-connector\", found {other:?}",
                    manifest.display()
                ),
            };
            let wasm = wasm_dir.join(format!("weft_connector_{}.wasm", name.replace('-', "_")));
            if !wasm.is_file() {
                panic!(
                    "connector connectors/{name} did not produce {} \
                     (its package must be named weft-connector-{name})",
                    wasm.display()
                );
            }
            Connector { name, kind, wasm }
        })
        .collect()
}

/// The `kind` under `[package.metadata.weft]` of a Cargo.toml, read line by line (a TOML
/// parser in the build script would be one more dependency for one key).
fn declared_kind(manifest: &str) -> Option<&str> {
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[package.metadata.weft]";
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "kind" {
                let value = value.split('#').next().unwrap_or("").trim();
                return Some(value.trim_matches('"'));
            }
        }
    }
    None
}

fn build_guests(plugins: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // From the guest workspace, so that plugins/.cargo/config.toml (simd128) applies.
    cmd.current_dir(plugins);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // What the outer build set for host code must not leak into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    ] {
        cmd.env_remove(var);
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run cargo to build the built-in plugins: {e}"),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target") {
            "\nhint: install the guest target with `rustup target add wasm32-wasip2` \
             (rust-toolchain.toml lists it, so rustup normally does this itself)"
        } else {
            ""
        };
        panic!(
            "building the built-in guests ({}) failed:\n{stderr}{hint}",
            plugins.display()
        );
    }
}

/// Exports the WIT package version as `WEFT_CONTRACT_VERSION`, so that the load-time version
/// check cannot disagree with the bindings.
fn contract_version(wit: &Path) {
    let text = fs::read_to_string(wit).unwrap_or_default();
    let Some(version) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package weft:plugin@"))
        .map(|v| v.trim_end_matches(';').trim().to_string())
    else {
        panic!(
            "{} has no `package weft:plugin@<version>;` line",
            wit.display()
        );
    };
    println!("cargo:rustc-env=WEFT_CONTRACT_VERSION={version}");
}
