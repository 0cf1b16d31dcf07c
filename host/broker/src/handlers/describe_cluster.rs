//! DescribeCluster: the cluster id, controller and brokers (Admin clients' describeCluster).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::metadata::OPS_NOT_REQUESTED;
use super::{s, Ctx};

pub fn handle(ctx: &Ctx<'_>, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let broker = ctx.broker;
    let adv = broker.advertised_for(ctx.listener);
    let node = BrokerId(broker.node_id());
    DescribeClusterResponse::default()
        .with_endpoint_type(req.endpoint_type)
        .with_cluster_id(s(broker.cluster_id.clone()))
        .with_controller_id(node)
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(node)
            .with_host(s(adv.host.clone()))
            .with_port(adv.port as i32)])
        .with_cluster_authorized_operations(OPS_NOT_REQUESTED)
}
