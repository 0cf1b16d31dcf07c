//! Built-in connector `datagen`: rate-limited synthetic records (Confluent datagen's orders,
//! users and pageviews quickstarts as JSON, or fixed-size benchmark values), generated straight
//! into the poll's batch.

pub mod pacing;
pub mod rng;
pub mod shapes;
pub mod task;
