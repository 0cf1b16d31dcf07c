//! The operations behind Kafka Connect's REST API, as one trait: the REST layer and the CLI
//! call it, the herder implements it. Methods may block (loading a component, stopping a task),
//! so async callers run them on a blocking thread.

use std::collections::BTreeMap;

use crate::model::{
    ConfigInfos, ConfigKeyInfo, ConfigMap, ConnectorInfo, ConnectorOffsets, ConnectorStatus,
    PluginDescription, ServerInfo, TargetState, TaskInfo, TaskStatus,
};

/// Why an operation was refused; the REST layer maps each to Connect's status code.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    /// 404: no such connector, task or plugin.
    #[error("{0}")]
    NotFound(String),
    /// 409: the connector exists already, or is in the wrong state for the operation (offsets
    /// of a connector that is not STOPPED, a rebalance in progress).
    #[error("{0}")]
    Conflict(String),
    /// 400 with the validation result as body: the config is invalid.
    #[error("Connector configuration is invalid and contains the following {} error(s)", .0.error_count)]
    InvalidConfig(Box<ConfigInfos>),
    /// 400: a request that cannot be applied (a malformed offsets body, a bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 500: anything else, with the reason.
    #[error("{0}")]
    Internal(String),
}

/// Result of a herder operation.
pub type HerderResult<T> = std::result::Result<T, HerderError>;

/// What `POST /connectors/{c}/restart` did.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartOutcome {
    /// Connect answers 204: only the connector instance was restarted.
    ConnectorOnly,
    /// Connect answers 202 with the status, showing what is RESTARTING.
    WithTasks(ConnectorStatus),
}

/// The worker's side of the REST API.
pub trait Herder: Send + Sync + 'static {
    /// `GET /`.
    fn server_info(&self) -> ServerInfo;

    /// `GET /connectors`: names, sorted.
    fn connectors(&self) -> Vec<String>;

    /// `GET /connectors/{c}`.
    fn connector_info(&self, name: &str) -> HerderResult<ConnectorInfo>;

    /// `GET /connectors/{c}/status`.
    fn connector_status(&self, name: &str) -> HerderResult<ConnectorStatus>;

    /// `POST /connectors` (with `allow_replace = false`: 409 when it exists) and
    /// `PUT /connectors/{c}/config` (`true`). Validates first (400 with the result). Returns
    /// whether the connector was created (201) rather than updated (200). `initial_state` is
    /// KIP-980's, honoured on create only.
    fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        initial_state: Option<TargetState>,
        allow_replace: bool,
    ) -> HerderResult<(bool, ConnectorInfo)>;

    /// `PATCH /connectors/{c}/config`: a null value removes the key.
    fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> HerderResult<ConnectorInfo>;

    /// `DELETE /connectors/{c}`: stops its tasks and forgets it (its offsets stay).
    fn delete_connector(&self, name: &str) -> HerderResult<()>;

    /// `GET /connectors/{c}/tasks`.
    fn task_configs(&self, name: &str) -> HerderResult<Vec<TaskInfo>>;

    /// `GET /connectors/{c}/tasks/{t}/status`.
    fn task_status(&self, name: &str, task: u32) -> HerderResult<TaskStatus>;

    /// `POST /connectors/{c}/tasks/{t}/restart`.
    fn restart_task(&self, name: &str, task: u32) -> HerderResult<()>;

    /// `POST /connectors/{c}/restart?includeTasks=&onlyFailed=`.
    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> HerderResult<RestartOutcome>;

    /// `PUT /connectors/{c}/pause`, `/resume` and `/stop`.
    fn set_target_state(&self, name: &str, state: TargetState) -> HerderResult<()>;

    /// `GET /connectors/{c}/topics`: topics the connector has used since the last reset.
    fn active_topics(&self, name: &str) -> HerderResult<Vec<String>>;

    /// `PUT /connectors/{c}/topics/reset`.
    fn reset_active_topics(&self, name: &str) -> HerderResult<()>;

    /// `GET /connectors/{c}/offsets`.
    fn offsets(&self, name: &str) -> HerderResult<ConnectorOffsets>;

    /// `PATCH /connectors/{c}/offsets` (connector STOPPED, else 409); returns Connect's message.
    fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets) -> HerderResult<String>;

    /// `DELETE /connectors/{c}/offsets` (connector STOPPED, else 409); returns Connect's message.
    fn reset_offsets(&self, name: &str) -> HerderResult<String>;

    /// `GET /connector-plugins?connectorsOnly=`.
    fn plugins(&self, connectors_only: bool) -> Vec<PluginDescription>;

    /// `GET /connector-plugins/{p}/config`.
    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<ConfigKeyInfo>>;

    /// `PUT /connector-plugins/{p}/config/validate`.
    fn validate(&self, plugin: &str, config: ConfigMap) -> HerderResult<ConfigInfos>;
}
