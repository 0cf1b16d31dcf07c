//! Writes the macro that generates a plugin's export bindings, with the WIT directory's absolute
//! path baked in, so that a plugin crate anywhere on disk can generate bindings for its world.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // In the repository the contract lives at the top-level wit/; a packaged SDK carries a copy.
    let candidates = [manifest.join("../../wit"), manifest.join("wit")];
    let Some(wit) = candidates.iter().find(|p| p.join("plugin.wit").is_file()) else {
        panic!("weft-plugin-sdk: cannot find wit/plugin.wit next to the SDK");
    };
    let wit = wit.canonicalize().unwrap_or_else(|_| wit.clone());
    println!(
        "cargo:rerun-if-changed={}",
        wit.join("plugin.wit").display()
    );
    println!("cargo:rustc-env=WEFT_WIT_DIR={}", wit.display());
    // The contract version, from `package weft:plugin@X;`, names the interfaces in `with`.
    let text = fs::read_to_string(wit.join("plugin.wit")).unwrap_or_default();
    let Some(version) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package weft:plugin@"))
        .map(|v| v.trim_end_matches(';').trim().to_string())
    else {
        panic!("weft-plugin-sdk: wit/plugin.wit has no `package weft:plugin@<version>;` line");
    };
    println!("cargo:rustc-env=WEFT_CONTRACT_VERSION={version}");
    let path = format!("{:?}", wit.display().to_string());
    // Two arms: the connector worlds also import `task-context`, and wit-bindgen refuses a
    // `with` entry for an interface the world does not use.
    let src = format!(
        r#"/// Generates the bindings of one world inside a plugin crate (see the export macros).
#[doc(hidden)]
#[macro_export]
macro_rules! __weft_generate {{
    ($world:literal) => {{
        $crate::__rt::generate!({{
            world: $world,
            path: {path},
            with: {{
                "weft:plugin/types@{version}": ::weft_plugin_sdk::__bindings::weft::plugin::types,
                "weft:plugin/host@{version}": ::weft_plugin_sdk::__bindings::weft::plugin::host,
            }},
            runtime_path: "::weft_plugin_sdk::__rt::rt",
            export_macro_name: "__weft_export",
        }});
    }};
    ($world:literal, task_context) => {{
        $crate::__rt::generate!({{
            world: $world,
            path: {path},
            with: {{
                "weft:plugin/types@{version}": ::weft_plugin_sdk::__bindings::weft::plugin::types,
                "weft:plugin/host@{version}": ::weft_plugin_sdk::__bindings::weft::plugin::host,
                "weft:plugin/task-context@{version}": ::weft_plugin_sdk::__bindings::weft::plugin::task_context,
            }},
            runtime_path: "::weft_plugin_sdk::__rt::rt",
            export_macro_name: "__weft_export",
        }});
    }};
}}
"#
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("generate.rs");
    if let Err(e) = fs::write(&out, src) {
        panic!("weft-plugin-sdk: cannot write {}: {e}", out.display());
    }
}
