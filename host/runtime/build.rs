//! Builds the built-in plugins under `plugins/` for wasm32-wasip2 and embeds them.
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

/// Guest kinds: directory under plugins/ and WIT world name.
const KINDS: [(&str, &str); 4] = [
    ("partitioners", "partitioner"),
    ("serializers", "serializer"),
    ("interceptors", "interceptor"),
    ("transforms", "transform"),
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
        let _ = writeln!(
            src,
            "    Builtin {{ name: {name:?}, kind: {kind:?}, wasm: include_bytes!({:?}) }},",
            file.display().to_string()
        );
    }
    src.push_str("];\n");
    if let Err(e) = fs::write(out.join("builtins.rs"), src) {
        panic!("cannot write builtins.rs: {e}");
    }
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
        panic!("building the built-in plugins (plugins/) failed:\n{stderr}{hint}");
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
