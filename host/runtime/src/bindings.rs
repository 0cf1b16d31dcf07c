//! Host-side bindings of the WIT contract: the shared types and host interface once, then one
//! module per plugin world reusing them.

/// Shared types and the `host` import.
pub mod base {
    wasmtime::component::bindgen!({
        world: "sdk-base",
        path: "../../wit",
    });
}

macro_rules! world {
    ($module:ident, $world:literal) => {
        /// Bindings of one plugin world.
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                with: {
                    "weft:plugin/types": crate::bindings::base::weft::plugin::types,
                    "weft:plugin/host": crate::bindings::base::weft::plugin::host,
                },
            });
        }
    };
}

world!(partitioner, "partitioner");
world!(serializer, "serializer");
world!(interceptor, "interceptor");
world!(transform, "transform");
world!(source, "source-connector");
world!(sink, "sink-connector");

pub use base::weft::plugin::types;
