//! Connect's error handling for a task: `errors.tolerance` none|all, retries of retriable
//! errors with exponential backoff bounded by `errors.retry.timeout` and
//! `errors.retry.delay.max.ms` (a plugin's retry-after wins over the computed delay),
//! `errors.log.*`, and the dead-letter queue of sinks with the `__connect.errors.*` headers.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use weft_runtime::{Record, RuntimeError};

use crate::config::ErrorPolicy;
use crate::task::component::retry_after;

/// Connect's first retry delay (`RetryWithToleranceOperator.RETRIES_DELAY_MIN_MS`).
const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

/// Where in the pipeline a record failed, named as Connect's `Stage` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    /// Connect's name, as the `__connect.errors.stage` header carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// Why a task stopped with FAILED: the message for logs, the trace for `/status`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TaskFailure {
    pub message: String,
    pub trace: String,
}

impl TaskFailure {
    /// A failure whose trace is the message with the stage and the component.
    pub fn new(stage: Option<Stage>, component: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let trace = match stage {
            Some(s) => format!(
                "org.apache.kafka.connect.errors.ConnectException: {message}\n\tat stage {} in {component}",
                s.as_str()
            ),
            None => format!("org.apache.kafka.connect.errors.ConnectException: {message}\n\tat {component}"),
        };
        TaskFailure { message, trace }
    }

    /// A component call failed for good.
    pub fn from_runtime(stage: Option<Stage>, component: &str, e: &RuntimeError) -> Self {
        TaskFailure::new(stage, component, e.to_string())
    }
}

/// The exception class Connect would name for a failure.
fn exception_class(retriable: bool) -> &'static str {
    if retriable {
        "org.apache.kafka.connect.errors.RetriableException"
    } else {
        "org.apache.kafka.connect.errors.DataException"
    }
}

/// Sleeps that a stop request cuts short.
pub trait Interrupt {
    /// Waits up to `d`; true if the task was asked to stop meanwhile.
    fn pause_for(&self, d: Duration) -> bool;
}

/// The outcome of a call retried under the policy.
pub enum Retried<T> {
    Done(T),
    /// Retries ran out (or the error was not retriable): the last error.
    Failed(RuntimeError),
    /// The task was asked to stop while waiting.
    Stopped,
}

/// A task's error handling: the policy plus the dead-letter queue.
pub struct ErrorHandler {
    policy: ErrorPolicy,
    connector: String,
    task: u32,
    dlq: Option<(ThreadedProducer<DefaultProducerContext>, String)>,
    /// Records given up under `errors.tolerance=all`.
    pub errors_total: u64,
    /// Records sent to the dead-letter queue.
    pub dlq_total: u64,
}

/// One failed record and where it came from, for the log and the DLQ.
pub struct FailedRecord<'a> {
    pub stage: Stage,
    /// The component (or client) that failed it.
    pub class: &'a str,
    /// The record as consumed (sinks) or polled (sources).
    pub original: &'a Record,
    /// Its offset in Kafka (sinks; the record's own `offset` holds its index in the batch).
    pub kafka_offset: Option<i64>,
    pub retriable: bool,
    pub message: &'a str,
}

impl ErrorHandler {
    /// The handler for a task; a sink with a DLQ topic gets a producer for it (the topic is
    /// created first if missing).
    pub fn new(
        policy: ErrorPolicy,
        connector: &str,
        task: u32,
        dlq_client: Option<(ClientConfig, ClientConfig)>,
    ) -> Result<ErrorHandler, String> {
        let dlq = match (&policy.dlq_topic, dlq_client) {
            (Some(topic), Some((producer, admin))) if !topic.is_empty() => {
                crate::task::clients::ensure_topic(&admin, topic, policy.dlq_replication_factor)?;
                let p: ThreadedProducer<DefaultProducerContext> = producer
                    .create()
                    .map_err(|e| format!("cannot create the dead-letter queue producer: {e}"))?;
                Some((p, topic.clone()))
            }
            _ => None,
        };
        Ok(ErrorHandler {
            policy,
            connector: connector.to_string(),
            task,
            dlq,
            errors_total: 0,
            dlq_total: 0,
        })
    }

    /// `errors.tolerance=all`.
    pub fn tolerate_all(&self) -> bool {
        self.policy.tolerate_all
    }

    /// Runs `op`, retrying retriable errors with exponential backoff until
    /// `errors.retry.timeout`; `forever` retries without that bound (Connect retries a sink's
    /// `put` and a source's `poll` until they succeed or the task stops).
    pub fn retry<T>(
        &self,
        stop: &dyn Interrupt,
        forever: bool,
        mut op: impl FnMut() -> Result<T, RuntimeError>,
    ) -> Retried<T> {
        let start = Instant::now();
        let mut delay = RETRY_DELAY_MIN;
        loop {
            let e = match op() {
                Ok(v) => return Retried::Done(v),
                Err(e) => e,
            };
            if !e.is_retriable() {
                return Retried::Failed(e);
            }
            let wait = retry_after(&e).unwrap_or(delay);
            let in_time = forever
                || match self.policy.retry_timeout {
                    None => true,
                    Some(t) => start.elapsed() + wait <= t,
                };
            if !in_time {
                return Retried::Failed(e);
            }
            tracing::debug!(connector = %self.connector, task = self.task, error = %e, ?wait, "retrying");
            if stop.pause_for(wait) {
                return Retried::Stopped;
            }
            delay = (delay * 2).min(self.policy.retry_delay_max.max(RETRY_DELAY_MIN));
        }
    }

    /// Gives up one record under `errors.tolerance=all`: logs it when asked and sends it to
    /// the dead-letter queue if there is one. Returns false under `none` (the task must fail).
    pub fn tolerate(&mut self, f: &FailedRecord<'_>) -> bool {
        if self.policy.log_enable || !self.policy.tolerate_all {
            if self.policy.log_include_messages {
                tracing::error!(
                    connector = %self.connector, task = self.task, stage = f.stage.as_str(),
                    class = f.class, topic = %f.original.topic, partition = ?f.original.partition,
                    offset = ?f.kafka_offset, error = f.message,
                    key = ?f.original.key.as_deref().map(String::from_utf8_lossy),
                    value = ?f.original.value.as_deref().map(String::from_utf8_lossy),
                    "error handling a record"
                );
            } else {
                tracing::error!(
                    connector = %self.connector, task = self.task, stage = f.stage.as_str(),
                    class = f.class, topic = %f.original.topic, partition = ?f.original.partition,
                    offset = ?f.kafka_offset, error = f.message,
                    "error handling a record"
                );
            }
        }
        if !self.policy.tolerate_all {
            return false;
        }
        self.errors_total += 1;
        if let Some((producer, topic)) = &self.dlq {
            if self.send_to_dlq(producer, topic, f) {
                self.dlq_total += 1;
            }
        }
        true
    }

    fn send_to_dlq(
        &self,
        producer: &ThreadedProducer<DefaultProducerContext>,
        topic: &str,
        f: &FailedRecord<'_>,
    ) -> bool {
        let r = f.original;
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len() + 10);
        for h in &r.headers {
            headers = headers.insert(Header {
                key: &h.key,
                value: h.value.as_deref(),
            });
        }
        if self.policy.dlq_context_headers {
            let partition = r.partition.unwrap_or(-1).to_string();
            let offset = f.kafka_offset.unwrap_or(-1).to_string();
            let task = self.task.to_string();
            let ctx: [(&str, &str); 10] = [
                ("__connect.errors.topic", &r.topic),
                ("__connect.errors.partition", &partition),
                ("__connect.errors.offset", &offset),
                ("__connect.errors.connector.name", &self.connector),
                ("__connect.errors.task.id", &task),
                ("__connect.errors.stage", f.stage.as_str()),
                ("__connect.errors.class.name", f.class),
                (
                    "__connect.errors.exception.class.name",
                    exception_class(f.retriable),
                ),
                ("__connect.errors.exception.message", f.message),
                (
                    "__connect.errors.exception.stacktrace",
                    &format!(
                        "{}: {}\n\tat {} ({})",
                        exception_class(f.retriable),
                        f.message,
                        f.class,
                        f.stage.as_str()
                    ),
                ),
            ];
            for (k, v) in ctx {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).headers(headers);
        if let Some(k) = r.key.as_deref() {
            rec = rec.key(k);
        }
        if let Some(v) = r.value.as_deref() {
            rec = rec.payload(v);
        }
        match producer.send(rec) {
            Ok(()) => true,
            Err((e, _)) => {
                tracing::error!(connector = %self.connector, task = self.task, topic, error = %e,
                    "cannot write a failed record to the dead-letter queue");
                false
            }
        }
    }

    /// Waits until every dead-letter record sent so far is in the cluster, before the offsets
    /// of the records it replaces are committed.
    pub fn flush(&self, timeout: Duration) -> Result<(), String> {
        match &self.dlq {
            Some((p, topic)) => p
                .flush(timeout)
                .map_err(|e| format!("cannot flush the dead-letter queue {topic}: {e}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Never;
    impl Interrupt for Never {
        fn pause_for(&self, _d: Duration) -> bool {
            false
        }
    }

    fn retriable() -> RuntimeError {
        RuntimeError::Plugin {
            plugin: "p".into(),
            retriable: true,
            message: "busy".into(),
            retry_after: None,
        }
    }

    #[test]
    fn retriable_errors_are_retried_only_within_the_timeout() {
        let policy = ErrorPolicy {
            retry_timeout: Some(Duration::ZERO),
            ..ErrorPolicy::default()
        };
        let h = ErrorHandler::new(policy, "c", 0, None).unwrap();
        let calls = Cell::new(0);
        let r = h.retry(&Never, false, || {
            calls.set(calls.get() + 1);
            Err::<(), _>(retriable())
        });
        assert!(matches!(r, Retried::Failed(_)));
        assert_eq!(calls.get(), 1);

        let calls = Cell::new(0);
        let r = h.retry(&Never, true, || {
            calls.set(calls.get() + 1);
            if calls.get() < 4 {
                Err(retriable())
            } else {
                Ok(7)
            }
        });
        assert!(matches!(r, Retried::Done(7)));
        assert_eq!(calls.get(), 4);
    }

    #[test]
    fn none_refuses_to_tolerate_and_all_counts() {
        let rec = Record::new("t", b"v".to_vec());
        let f = FailedRecord {
            stage: Stage::TaskPut,
            class: "x",
            original: &rec,
            kafka_offset: Some(3),
            retriable: false,
            message: "bad",
        };
        let mut none = ErrorHandler::new(ErrorPolicy::default(), "c", 0, None).unwrap();
        assert!(!none.tolerate(&f));
        let mut all = ErrorHandler::new(
            ErrorPolicy {
                tolerate_all: true,
                ..ErrorPolicy::default()
            },
            "c",
            0,
            None,
        )
        .unwrap();
        assert!(all.tolerate(&f));
        assert_eq!(all.errors_total, 1);
    }
}
