//! One module per `weft` subcommand.

pub mod broker;
pub mod connect;
pub mod consume;
pub mod dump_log;
pub mod groups;
pub mod mirror;
pub mod offsets;
pub mod perf;
pub mod perf_e2e;
pub mod plugin;
pub mod produce;
pub mod topics;
pub mod transactions;
