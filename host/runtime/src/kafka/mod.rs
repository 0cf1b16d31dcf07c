//! The Kafka capabilities: `remote-cluster` (read a granted cluster, write the topics granted)
//! and `local-admin` (administer the cluster the Connect worker writes to), on librdkafka.
//!
//! - `grant` — the `capability.remote-cluster.*` and `capability.local-admin*` keys.
//! - `cluster` — one cluster's client settings, lazily made admin and metadata clients, and the
//!   read operations both capabilities share.
//! - `batches` — `fetch-batches`: stored record batches through weft-wire, for passthrough.
//! - `fetch` — the consumers an assignment is split over, and the WFB1 packing of what they read.
//! - `reader` — `list-offsets`, `assign` and `fetch`, which both capabilities serve.
//! - `remote`, `local` — the two WIT imports.
//!
//! Every call that waits on the network runs inside `HostState::wait`, so it does not count
//! against the plugin's call deadline, and blocks only the instance's own thread (admin futures
//! are driven there by `futures_executor::block_on`). Clients are made on first use and live as
//! long as the store.

mod batches;
mod cluster;
mod fetch;
mod grant;
mod local;
mod reader;
mod remote;

pub use fetch::{not_utf8_warning, utf8_headers};
pub use grant::{
    local_from_config, remote_from_config, KafkaCluster, RemoteGrant, KEY_LOCAL_ADMIN,
    KEY_LOCAL_BOOTSTRAP, KEY_LOCAL_CLIENT, KEY_REMOTE, KEY_REMOTE_CLIENT, KEY_REMOTE_FETCHERS,
    KEY_REMOTE_PRODUCE,
};

use crate::config::Grants;

/// An instance's Kafka capability state (nothing is connected until the plugin calls).
#[derive(Default)]
pub(crate) struct KafkaState {
    pub(crate) remote: Option<remote::RemoteState>,
    pub(crate) local: Option<local::LocalState>,
}

impl KafkaState {
    /// The granted clusters of a plugin called `plugin` (`name@version`).
    pub(crate) fn new(grants: &Grants, plugin: &str) -> Self {
        let name = plugin.split('@').next().unwrap_or("plugin");
        KafkaState {
            remote: grants
                .remote_cluster
                .as_ref()
                .map(|g| remote::RemoteState::new(g, format!("weft-{name}-remote"))),
            local: grants.local_admin.as_ref().map(|c| {
                local::LocalState::new(cluster::Cluster::new(
                    "local cluster",
                    c.clone(),
                    format!("weft-{name}-local"),
                ))
            }),
        }
    }
}
