//! Test fixture: a transform that drives the `remote-cluster` and `local-admin` capabilities.
//! Each input record names a call in its topic (`remote.fetch`, `local.create-topics`, ...) with
//! text arguments in its key and value; its output value is the answer as text (a fetch: the
//! WFB1 batch itself), or its topic becomes `error` and its value `<kind>: <message>`.

use weft_plugin_sdk::__bindings::weft::plugin::types::{
    ConfigEntry, ErrorKind, PluginError, TopicPartition, TopicPartitionOffset,
};
use weft_plugin_sdk::capability::remote_cluster as remote;
use weft_plugin_sdk::*;

use weft_plugin_sdk::capability::local_admin as local;

#[derive(Default)]
struct KafkaProbe;

impl Plugin for KafkaProbe {
    fn metadata() -> Metadata {
        Metadata::new(
            "kafka-probe",
            "0.1.0",
            PluginKind::Transform,
            "Calls the Kafka capabilities as its records say",
        )
    }
}

fn lines(s: &str) -> impl Iterator<Item = &str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// `topic:partition[:offset]`.
fn tpo(line: &str) -> (String, i32, i64) {
    let mut parts = line.split(':');
    let t = parts.next().unwrap_or_default().to_string();
    let p = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let o = parts.next().and_then(|o| o.parse().ok()).unwrap_or(0);
    (t, p, o)
}

fn entries(s: &str, sep: char) -> Vec<ConfigEntry> {
    s.split(sep)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| ConfigEntry {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn offsets(value: &str) -> Vec<TopicPartitionOffset> {
    lines(value)
        .map(tpo)
        .map(|(topic, partition, offset)| TopicPartitionOffset {
            topic,
            partition,
            offset,
        })
        .collect()
}

fn describe(d: Vec<weft_plugin_sdk::__bindings::weft::plugin::types::TopicDescription>) -> Vec<u8> {
    let mut out = String::new();
    for t in d {
        out.push_str(&format!("#{} {}\n", t.name, t.partitions));
        for e in t.config {
            out.push_str(&format!("{}={}\n", e.key, e.value));
        }
    }
    out.into_bytes()
}

fn join(v: impl IntoIterator<Item = String>) -> Vec<u8> {
    v.into_iter().collect::<Vec<_>>().join("\n").into_bytes()
}

fn call(op: &str, key: &str, value: &[u8]) -> std::result::Result<Vec<u8>, PluginError> {
    let text = std::str::from_utf8(value).unwrap_or_default();
    Ok(match op {
        "remote.list-topics" => join(remote::list_topics()?),
        "remote.describe-topics" => describe(remote::describe_topics(
            &lines(text).map(String::from).collect::<Vec<_>>(),
        )?),
        "remote.list-offsets" => {
            let parts: Vec<TopicPartition> = lines(text)
                .map(tpo)
                .map(|(topic, partition, _)| TopicPartition { topic, partition })
                .collect();
            join(
                remote::list_offsets(&parts)?
                    .into_iter()
                    .map(|w| format!("{}:{}:{}:{}", w.topic, w.partition, w.earliest, w.latest)),
            )
        }
        "remote.list-groups" => join(remote::list_groups()?),
        "remote.group-offsets" => join(
            remote::group_offsets(key)?
                .into_iter()
                .map(|o| format!("{}:{}:{}", o.topic, o.partition, o.offset)),
        ),
        "remote.assign" => {
            remote::assign(&offsets(text))?;
            b"ok".to_vec()
        }
        "remote.fetch" => remote::fetch(key.parse().unwrap_or(1000), text.parse().unwrap_or(1000))?,
        "remote.produce" => join(
            remote::produce(value)?
                .into_iter()
                .map(|f| format!("{} {:?} {}", f.index, f.kind, f.message)),
        ),
        "local.list-topics" => join(local::list_topics()?),
        "local.describe-topics" => describe(local::describe_topics(
            &lines(text).map(String::from).collect::<Vec<_>>(),
        )?),
        "local.create-topics" => {
            local::create_topics(&new_topics(text))?;
            b"ok".to_vec()
        }
        "remote.create-topics" => {
            remote::create_topics(&new_topics(text))?;
            b"ok".to_vec()
        }
        "local.create-partitions" => {
            local::create_partitions(key, text.parse().unwrap_or(0))?;
            b"ok".to_vec()
        }
        "local.alter-topic-configs" => {
            local::alter_topic_configs(key, &entries(text, '\n'))?;
            b"ok".to_vec()
        }
        "local.group-offsets" => join(
            local::group_offsets(key)?
                .into_iter()
                .map(|o| format!("{}:{}:{}", o.topic, o.partition, o.offset)),
        ),
        "local.commit-group-offsets" => local::commit_group_offsets(key, &offsets(text))?
            .to_string()
            .into_bytes(),
        other => {
            return Err(PluginError {
                kind: ErrorKind::Fatal,
                message: format!("unknown call {other}"),
                retry_after_ms: None,
            })
        }
    })
}

impl Transform for KafkaProbe {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let key = record.key_str().unwrap_or_default().to_string();
        let value = record.value().unwrap_or_default().to_vec();
        match call(&record.topic, &key, &value) {
            Ok(answer) => record.set_value(answer),
            Err(e) => {
                let kind = match e.kind {
                    ErrorKind::Retriable => "retriable",
                    ErrorKind::Fatal => "fatal",
                };
                record.topic = "error".into();
                record.set_value(format!("{kind}: {}", e.message));
            }
        }
        Ok(Some(record))
    }
}

export_transform!(KafkaProbe);

/// Topics to create, one per line: `name:partitions:replication-factor:k=v;k=v`.
fn new_topics(text: &str) -> Vec<local::NewTopic> {
    lines(text)
        .map(|l| {
            let mut p = l.splitn(4, ':');
            local::NewTopic {
                name: p.next().unwrap_or_default().to_string(),
                partitions: p.next().and_then(|n| n.parse().ok()).unwrap_or(1),
                replication_factor: p.next().and_then(|n| n.parse().ok()).unwrap_or(-1),
                config: entries(p.next().unwrap_or_default(), ';'),
            }
        })
        .collect()
}
