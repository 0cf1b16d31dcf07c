//! Built-in connector `file-source`: Kafka's FileStreamSource as a sandboxed component. Tails one
//! file inside the granted directory, one record per line, with a byte position per record.

pub mod lines;
pub mod position;
pub mod tail;
pub mod task;
