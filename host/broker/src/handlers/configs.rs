//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (and describe for the broker).
//!
//! Topic changes are validated as a whole, persisted, then applied to the running logs at once.
//! Broker configs are static (from weft.toml / server.properties), so altering them is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{s, Ctx};
use crate::config::{KeyType, Source, BROKER_KEYS};
use crate::error::{code, BrokerError};
use crate::server::Broker;
use crate::topic_config::TOPIC_KEYS;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn type_code(t: KeyType) -> i8 {
    match t {
        KeyType::Boolean => 1,
        KeyType::String => 2,
        KeyType::Int => 3,
        KeyType::Short => 4,
        KeyType::Long => 5,
        KeyType::Double => 6,
        KeyType::List => 7,
    }
}

/// One described config entry.
pub struct Entry {
    pub name: StrBytes,
    pub value: Option<StrBytes>,
    pub read_only: bool,
    pub config_source: i8,
    pub synonyms: Vec<DescribeConfigsSynonym>,
    pub config_type: i8,
    pub documentation: StrBytes,
}

fn broker_key_configured(broker: &Broker, key: &str) -> bool {
    let keys: &[&str] = match key {
        "log.retention.ms" => &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        "log.roll.ms" => &["log.roll.ms", "log.roll.hours"],
        k => std::slice::from_ref(match BROKER_KEYS.iter().find(|d| d.name == k) {
            Some(d) => &d.name,
            None => return false,
        }),
    };
    keys.iter().any(|k| {
        matches!(
            broker.config.effective.get(*k),
            Some((_, Source::Configured(_)))
        )
    })
}

/// The effective topic config entries (all keys, or those in `only`).
pub fn topic_entries(
    broker: &Arc<Broker>,
    overrides: &BTreeMap<String, String>,
    only: Option<&[StrBytes]>,
) -> Vec<Entry> {
    let defaults = broker.topics.defaults();
    TOPIC_KEYS
        .iter()
        .filter(|k| only.is_none_or(|o| o.iter().any(|n| n.as_str() == k.name)))
        .map(|k| {
            let default = defaults.values.get(k.name).cloned().unwrap_or_default();
            let broker_source = if broker_key_configured(broker, k.broker_key) {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            let mut synonyms = Vec::new();
            let (value, source) = match overrides.get(k.name) {
                Some(v) => {
                    synonyms.push(
                        DescribeConfigsSynonym::default()
                            .with_name(s(k.name))
                            .with_value(Some(s(v.clone())))
                            .with_source(SOURCE_DYNAMIC_TOPIC),
                    );
                    (v.clone(), SOURCE_DYNAMIC_TOPIC)
                }
                None => (default.clone(), broker_source),
            };
            synonyms.push(
                DescribeConfigsSynonym::default()
                    .with_name(s(k.broker_key))
                    .with_value(Some(s(default)))
                    .with_source(broker_source),
            );
            Entry {
                name: s(k.name),
                value: Some(s(value)),
                read_only: false,
                config_source: source,
                synonyms,
                config_type: type_code(k.ty),
                documentation: s(k.doc),
            }
        })
        .collect()
}

fn broker_entries(broker: &Broker, only: Option<&[StrBytes]>) -> Vec<Entry> {
    BROKER_KEYS
        .iter()
        .filter(|k| only.is_none_or(|o| o.iter().any(|n| n.as_str() == k.name)))
        .map(|k| {
            let (value, source) = broker
                .config
                .effective
                .get(k.name)
                .cloned()
                .unwrap_or((k.default.to_string(), Source::Default));
            let source = match source {
                Source::Configured(_) => SOURCE_STATIC_BROKER,
                Source::Default => SOURCE_DEFAULT,
            };
            Entry {
                name: s(k.name),
                value: if value.is_empty() {
                    None
                } else {
                    Some(s(value.clone()))
                },
                read_only: true,
                config_source: source,
                synonyms: vec![DescribeConfigsSynonym::default()
                    .with_name(s(k.name))
                    .with_value(Some(s(value)))
                    .with_source(source)],
                config_type: type_code(k.ty),
                documentation: s(k.doc),
            }
        })
        .collect()
}

pub fn describe(ctx: &Ctx<'_>, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let broker = ctx.broker;
    let mut results = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let result = DescribeConfigsResult::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let only = r.configuration_keys.as_deref();
        let entries = match r.resource_type {
            RESOURCE_TOPIC => match broker.topics.get(r.resource_name.as_str()) {
                Some(t) => topic_entries(broker, &t.overrides, only),
                None => {
                    results.push(
                        result
                            .with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                            .with_error_message(Some(s(format!(
                                "Topic '{}' does not exist.",
                                r.resource_name.as_str()
                            )))),
                    );
                    continue;
                }
            },
            RESOURCE_BROKER => {
                let name = r.resource_name.as_str();
                if !name.is_empty() && name != broker.node_id().to_string() {
                    results.push(
                        result
                            .with_error_code(code::INVALID_REQUEST)
                            .with_error_message(Some(s(format!(
                                "Broker {name} is not this node ({}).",
                                broker.node_id()
                            )))),
                    );
                    continue;
                }
                broker_entries(broker, only)
            }
            other => {
                results.push(
                    result
                        .with_error_code(code::INVALID_REQUEST)
                        .with_error_message(Some(s(format!(
                            "Resource type {other} is not supported."
                        )))),
                );
                continue;
            }
        };
        let configs = entries
            .into_iter()
            .map(|e| {
                let mut out = DescribeConfigsResourceResult::default()
                    .with_name(e.name)
                    .with_value(e.value)
                    .with_read_only(e.read_only)
                    .with_config_source(e.config_source)
                    .with_is_sensitive(false)
                    .with_config_type(e.config_type);
                // v0 has is_default instead of a source: the patched kafka-protocol writes
                // config_source == DEFAULT_CONFIG there (vendor/kafka-protocol/WEFT-PATCH.md).
                if req.include_synonyms {
                    out = out.with_synonyms(e.synonyms);
                }
                if req.include_documentation {
                    out = out.with_documentation(Some(e.documentation));
                }
                out
            })
            .collect();
        results.push(result.with_configs(configs));
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// Validates a resource for altering and returns the topic name, or the error to report.
fn alter_target(resource_type: i8, name: &StrBytes) -> Result<String, (i16, String)> {
    match resource_type {
        RESOURCE_TOPIC => Ok(name.to_string()),
        RESOURCE_BROKER => Err((
            code::INVALID_REQUEST,
            "Weft broker configs are static: change weft.toml or server.properties and restart."
                .into(),
        )),
        other => Err((
            code::INVALID_REQUEST,
            format!("Resource type {other} is not supported."),
        )),
    }
}

fn apply(
    broker: &Broker,
    topic: &str,
    overrides: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    crate::internal_topics::check_configs(topic, &overrides)?;
    broker
        .topics
        .set_overrides(topic, overrides, validate_only)
        .map_err(|e: BrokerError| (e.code(), e.to_string()))
}

pub fn alter(ctx: &Ctx<'_>, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        // AlterConfigs replaces the whole set: keys not given revert to their defaults.
        let outcome = alter_target(r.resource_type, &r.resource_name).and_then(|topic| {
            let overrides = r
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.to_string(), v.to_string()))
                })
                .collect();
            apply(ctx.broker, &topic, overrides, req.validate_only)
        });
        let mut resp = alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name);
        if let Err((c, m)) = outcome {
            resp = resp.with_error_code(c).with_error_message(Some(s(m)));
        }
        responses.push(resp);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub fn incremental_alter(
    ctx: &Ctx<'_>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let outcome = alter_target(r.resource_type, &r.resource_name).and_then(|topic| {
            let current = ctx.broker.topics.get(&topic).ok_or((
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("Topic '{topic}' does not exist."),
            ))?;
            let defaults = ctx.broker.topics.defaults();
            let mut overrides = current.overrides.clone();
            for c in &r.configs {
                let name = c.name.to_string();
                let value = c.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
                match c.config_operation {
                    OP_SET => {
                        overrides.insert(name, value);
                    }
                    OP_DELETE => {
                        overrides.remove(&name);
                    }
                    OP_APPEND | OP_SUBTRACT => {
                        let is_list = TOPIC_KEYS
                            .iter()
                            .any(|k| k.name == name && k.ty == KeyType::List);
                        if !is_list {
                            return Err((
                                code::INVALID_CONFIG,
                                format!(
                                    "'{name}' is not a list; APPEND/SUBTRACT need a list config"
                                ),
                            ));
                        }
                        let base = overrides
                            .get(&name)
                            .cloned()
                            .or_else(|| defaults.values.get(name.as_str()).cloned())
                            .unwrap_or_default();
                        let mut items: Vec<String> = base
                            .split(',')
                            .map(|x| x.trim().to_string())
                            .filter(|x| !x.is_empty())
                            .collect();
                        for v in value.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                            if c.config_operation == OP_APPEND {
                                if !items.iter().any(|i| i == v) {
                                    items.push(v.to_string());
                                }
                            } else {
                                items.retain(|i| i != v);
                            }
                        }
                        overrides.insert(name, items.join(","));
                    }
                    other => {
                        return Err((
                            code::INVALID_REQUEST,
                            format!("unknown config operation {other}"),
                        ))
                    }
                }
            }
            apply(ctx.broker, &topic, overrides, req.validate_only)
        });
        let mut resp = incremental_alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name);
        if let Err((c, m)) = outcome {
            resp = resp.with_error_code(c).with_error_message(Some(s(m)));
        }
        responses.push(resp);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
