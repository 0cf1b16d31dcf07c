//! ApiVersions: tells the client which APIs and versions this broker handles.

use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{supported_versions, Ctx};

pub fn handle(_ctx: &Ctx<'_>, _req: ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_api_keys(supported_versions())
        .with_finalized_features_epoch(-1)
}
