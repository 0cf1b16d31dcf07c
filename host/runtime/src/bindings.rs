//! Host-side bindings of the WIT contract: the shared types, the host and task-context imports
//! once, then one module per plugin world reusing them.

/// Shared types and the `host` and `task-context` imports.
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
    ($module:ident, $world:literal, task_context) => {
        /// Bindings of one connector world (which also imports `task-context`).
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                with: {
                    "weft:plugin/types": crate::bindings::base::weft::plugin::types,
                    "weft:plugin/host": crate::bindings::base::weft::plugin::host,
                    "weft:plugin/task-context": crate::bindings::base::weft::plugin::task_context,
                },
            });
        }
    };
}

world!(partitioner, "partitioner");
world!(serializer, "serializer");
world!(interceptor, "interceptor");
world!(transform, "transform");
world!(converter, "converter");
world!(source, "source-connector", task_context);
world!(sink, "sink-connector", task_context);

/// The `http` capability import.
pub mod http {
    wasmtime::component::bindgen!({
        world: "capability-http",
        path: "../../wit",
        with: {
            "weft:plugin/types": crate::bindings::base::weft::plugin::types,
        },
    });
}

/// The `mqtt` capability import.
pub mod capability_mqtt {
    wasmtime::component::bindgen!({
        world: "capability-mqtt",
        path: "../../wit",
        with: {
            "weft:plugin/types": crate::bindings::base::weft::plugin::types,
        },
    });
}

/// The `remote-cluster` capability import.
pub mod capability_remote_cluster {
    wasmtime::component::bindgen!({
        world: "capability-remote-cluster",
        path: "../../wit",
        with: {
            "weft:plugin/types": crate::bindings::base::weft::plugin::types,
        },
    });
}

/// The `local-admin` capability import.
pub mod capability_local_admin {
    wasmtime::component::bindgen!({
        world: "capability-local-admin",
        path: "../../wit",
        with: {
            "weft:plugin/types": crate::bindings::base::weft::plugin::types,
        },
    });
}

pub use base::weft::plugin::types;

/// The contract version this host implements (`package weft:plugin@<version>` of the WIT).
pub const CONTRACT_VERSION: &str = env!("WEFT_CONTRACT_VERSION");
