//! Reading a component: imports and exports, the kind from the world it exports, and its metadata
//! from `describe`, run once in a throwaway sandbox at load time.

use wasmtime::component::Component;
use wasmtime::Store;

use super::grants::{is_implemented, is_known_import, CAPABILITIES};
use super::store::{classify, new_store};
use super::world::{plugin_iface, Pre, World};
use super::{ConfigDef, Metadata, PluginKind, PluginSource, ALL_KINDS};
use crate::bindings::{types, CONTRACT_VERSION};
use crate::config::{Grants, Sandbox};
use crate::engine::Runtime;
use crate::error::{Result, RuntimeError};
use crate::host::{HostState, Metrics};

/// A compiled plugin, ready to instantiate many times.
pub struct LoadedPlugin {
    pub(super) runtime: Runtime,
    pub(super) component: Component,
    /// `None` when the plugin imports capabilities (resolved per instance, after the grant check).
    pub(super) pre: Option<Pre>,
    pub(super) hash: [u8; 32],
    pub(super) source: PluginSource,
    pub(super) kind: PluginKind,
    pub(super) metadata: Metadata,
    pub(super) imports: Vec<String>,
    pub(super) exports: Vec<String>,
}

impl LoadedPlugin {
    pub(crate) fn new(
        runtime: Runtime,
        component: Component,
        hash: [u8; 32],
        source: PluginSource,
    ) -> Result<Self> {
        let label = source.label();
        let engine = runtime.engine().clone();
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
        let Some(found) = exports
            .iter()
            .find_map(|e| e.strip_prefix("weft:plugin/plugin@"))
        else {
            return Err(RuntimeError::NotAPlugin {
                plugin: label,
                reason: "it does not export `weft:plugin/plugin` (build it with weft-plugin-sdk)"
                    .into(),
            });
        };
        // Before anything else: another contract's exports would fail to link with a less
        // helpful error, or worse, link and mean something else.
        if !compatible(found, CONTRACT_VERSION) {
            return Err(RuntimeError::ContractVersion {
                plugin: label,
                found: found.to_string(),
                supported: supported_range(CONTRACT_VERSION),
            });
        }
        let kinds: Vec<PluginKind> = ALL_KINDS
            .iter()
            .copied()
            .filter(|k| exports.iter().any(|e| e.starts_with(k.export_interface())))
            .collect();
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => {
                return Err(RuntimeError::NotAPlugin {
                    plugin: label,
                    reason: "it exports none of the plugin-kind interfaces".into(),
                })
            }
            _ => {
                return Err(RuntimeError::NotAPlugin {
                    plugin: label,
                    reason: "it exports more than one plugin-kind interface".into(),
                })
            }
        };
        let uses_capabilities = imports
            .iter()
            .any(|i| CAPABILITIES.iter().any(|(p, _)| i.starts_with(p)) && !is_implemented(i));
        let pre = if uses_capabilities {
            None
        } else {
            let p = runtime
                .inner
                .linker
                .instantiate_pre(&component)
                .and_then(|p| Pre::new(kind, p));
            match p {
                Ok(p) => Some(p),
                Err(e) => {
                    // Name the first import the host does not provide, if that is the cause.
                    if let Some(unknown) = imports.iter().find(|i| !is_known_import(i)) {
                        return Err(RuntimeError::UnknownImport {
                            plugin: label,
                            interface: unknown.clone(),
                        });
                    }
                    return Err(RuntimeError::Instantiate {
                        plugin: label,
                        message: format!("{e:#}"),
                    });
                }
            }
        };
        let metadata = describe(&runtime, &component, kind, &label)?;
        if metadata.kind != kind {
            return Err(RuntimeError::NotAPlugin {
                plugin: label,
                reason: format!(
                    "it exports the {} world but describes itself as a {}",
                    kind.as_str(),
                    metadata.kind.as_str()
                ),
            });
        }
        Ok(LoadedPlugin {
            runtime,
            component,
            pre,
            hash,
            source,
            kind,
            metadata,
            imports,
            exports,
        })
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The plugin's self-description.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// `name@version`, the registry key.
    pub fn id(&self) -> String {
        format!("{}@{}", self.metadata.name, self.metadata.version)
    }

    /// SHA-256 of the component bytes, hex.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Where it was loaded from.
    pub fn source(&self) -> &PluginSource {
        &self.source
    }

    /// Interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Interfaces the component exports.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// Fails unless the plugin is of `kind`.
    pub fn expect_kind(&self, kind: PluginKind) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(RuntimeError::WrongKind {
                plugin: self.id(),
                expected: kind.as_str(),
                actual: self.kind.as_str(),
            })
        }
    }
}

pub(super) fn describe(
    runtime: &Runtime,
    component: &Component,
    kind: PluginKind,
    label: &str,
) -> Result<Metadata> {
    // Inspection must work even for plugins whose capabilities are not granted here, so
    // capability imports are linked as functions that trap if called.
    let mut linker = runtime.inner.linker.clone();
    linker
        .define_unknown_imports_as_traps(component)
        .map_err(|e| RuntimeError::Instantiate {
            plugin: label.to_string(),
            message: format!("{e:#}"),
        })?;
    let sandbox = Sandbox::default();
    let mut store = new_store(
        runtime,
        label,
        &Grants::default(),
        &sandbox,
        Metrics::default(),
        Default::default(),
    )?;
    let fail = |store: &Store<HostState>, e| classify(label, &sandbox, store.data(), e);
    let pre = linker
        .instantiate_pre(component)
        .and_then(|p| Pre::new(kind, p))
        .map_err(|e| RuntimeError::Instantiate {
            plugin: label.to_string(),
            message: format!("{e:#}"),
        })?;
    let world = match pre.instantiate(&mut store) {
        Ok(w) => w,
        Err(e) => return Err(fail(&store, e)),
    };
    let m = match plugin_iface!(&world, store, |p| p.call_describe(&mut store)) {
        Ok(m) => m,
        Err(e) => return Err(fail(&store, e)),
    };
    Ok(metadata_from_wit(m))
}

fn metadata_from_wit(m: types::Metadata) -> Metadata {
    Metadata {
        name: m.name,
        version: m.version,
        kind: match m.kind {
            types::PluginKind::Partitioner => PluginKind::Partitioner,
            types::PluginKind::Serializer => PluginKind::Serializer,
            types::PluginKind::Interceptor => PluginKind::Interceptor,
            types::PluginKind::Transform => PluginKind::Transform,
            types::PluginKind::Converter => PluginKind::Converter,
            types::PluginKind::SourceConnector => PluginKind::SourceConnector,
            types::PluginKind::SinkConnector => PluginKind::SinkConnector,
        },
        description: m.description,
        config: m
            .config
            .into_iter()
            .map(|d| ConfigDef {
                name: d.name,
                ty: match d.type_ {
                    types::ConfigType::Boolean => "boolean",
                    types::ConfigType::Int => "int",
                    types::ConfigType::Long => "long",
                    types::ConfigType::Double => "double",
                    types::ConfigType::String => "string",
                    types::ConfigType::List => "list",
                    types::ConfigType::Password => "password",
                },
                default: d.default_value,
                required: d.required,
                doc: d.documentation,
                importance: match d.importance {
                    types::Importance::High => "HIGH",
                    types::Importance::Medium => "MEDIUM",
                    types::Importance::Low => "LOW",
                },
                group: d.group,
                order_in_group: d.order_in_group,
                display_name: d.display_name,
                recommended_values: d.recommended_values,
            })
            .collect(),
    }
}

/// `major.minor` of a version, `None` if it is not `a.b[.c...]`.
fn major_minor(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Semver compatibility as the component model links it: same major, or for 0.x the same
/// minor (0.2.0 and 0.2.5 are compatible, 0.1.0 and 0.2.0 are not).
fn compatible(found: &str, ours: &str) -> bool {
    match (major_minor(found), major_minor(ours)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

/// How the versions this host accepts are written in errors: `0.2.x`, or `1.x`.
fn supported_range(ours: &str) -> String {
    match major_minor(ours) {
        Some((0, minor)) => format!("0.{minor}.x"),
        Some((major, _)) => format!("{major}.x"),
        None => ours.to_string(),
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id())
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions_are_compatible_within_a_major() {
        assert!(compatible("0.2.0", "0.2.0"));
        assert!(compatible("0.2.7", "0.2.0"));
        assert!(!compatible("0.1.0", "0.2.0"));
        assert!(!compatible("0.3.0", "0.2.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        assert!(!compatible("garbage", "0.2.0"));
        assert_eq!(supported_range("0.2.0"), "0.2.x");
        assert_eq!(supported_range("1.3.0"), "1.x");
    }
}
