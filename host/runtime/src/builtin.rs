//! The built-in plugins, compiled to wasm32-wasip2 by the build script and embedded here.

/// One embedded plugin component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Registry name (`insert-field`).
    pub name: &'static str,
    /// Kind, as the WIT world name (`transform`).
    pub kind: &'static str,
    /// The component bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Every built-in plugin.
pub fn all() -> &'static [Builtin] {
    BUILTINS
}

/// The built-in named `name`.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
