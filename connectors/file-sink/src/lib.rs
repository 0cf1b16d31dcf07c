//! Built-in connector `file-sink`: Kafka's FileStreamSink as a sandboxed component. Appends each
//! record's value as one line to a file inside the granted directory, fsynced on pre-commit.

pub mod encode;
pub mod task;
pub mod writer;
