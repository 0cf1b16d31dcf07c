//! The per-kind pre-instantiated components and typed exports, so that the rest of the module
//! handles every kind through one type.

use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::PluginKind;
use crate::bindings;
use crate::host::HostState;

/// Per-kind pre-instantiated components: imports resolved once, so instantiation is cheap.
#[derive(Clone)]
pub(super) enum Pre {
    Partitioner(bindings::partitioner::PartitionerPre<HostState>),
    Serializer(bindings::serializer::SerializerPre<HostState>),
    Interceptor(bindings::interceptor::InterceptorPre<HostState>),
    Transform(bindings::transform::TransformPre<HostState>),
    Converter(bindings::converter::ConverterPre<HostState>),
    Source(bindings::source::SourceConnectorPre<HostState>),
    Sink(bindings::sink::SinkConnectorPre<HostState>),
}

impl Pre {
    pub(super) fn new(kind: PluginKind, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::Partitioner => {
                Pre::Partitioner(bindings::partitioner::PartitionerPre::new(pre)?)
            }
            PluginKind::Serializer => {
                Pre::Serializer(bindings::serializer::SerializerPre::new(pre)?)
            }
            PluginKind::Interceptor => {
                Pre::Interceptor(bindings::interceptor::InterceptorPre::new(pre)?)
            }
            PluginKind::Transform => Pre::Transform(bindings::transform::TransformPre::new(pre)?),
            PluginKind::Converter => Pre::Converter(bindings::converter::ConverterPre::new(pre)?),
            PluginKind::SourceConnector => {
                Pre::Source(bindings::source::SourceConnectorPre::new(pre)?)
            }
            PluginKind::SinkConnector => Pre::Sink(bindings::sink::SinkConnectorPre::new(pre)?),
        })
    }

    pub(super) fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<World> {
        Ok(match self {
            Pre::Partitioner(p) => World::Partitioner(p.instantiate(store)?),
            Pre::Serializer(p) => World::Serializer(p.instantiate(store)?),
            Pre::Interceptor(p) => World::Interceptor(p.instantiate(store)?),
            Pre::Transform(p) => World::Transform(p.instantiate(store)?),
            Pre::Converter(p) => World::Converter(p.instantiate(store)?),
            Pre::Source(p) => World::Source(p.instantiate(store)?),
            Pre::Sink(p) => World::Sink(p.instantiate(store)?),
        })
    }
}

/// A live instance's typed exports.
pub(super) enum World {
    Partitioner(bindings::partitioner::Partitioner),
    Serializer(bindings::serializer::Serializer),
    Interceptor(bindings::interceptor::Interceptor),
    Transform(bindings::transform::Transform),
    Converter(bindings::converter::Converter),
    Source(bindings::source::SourceConnector),
    Sink(bindings::sink::SinkConnector),
}

/// Calls a function of the `plugin` interface, which every world exports under its own type.
macro_rules! plugin_iface {
    ($world:expr, $store:expr, |$p:ident| $call:expr) => {
        match $world {
            World::Partitioner(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Serializer(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Interceptor(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Transform(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Converter(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Source(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Sink(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
        }
    };
}
pub(super) use plugin_iface;
