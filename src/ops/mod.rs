//! The operations listener: `/metrics` (Prometheus), `/healthz` and `/readyz`, on their own
//! address (`[server] admin_listen`), apart from the webhook channels so that no channel
//! path can shadow them and so that they can stay on a private interface.

mod listener;
mod metrics;

pub(crate) use listener::spawn;
pub(crate) use metrics::{AttemptOutcome, Metrics};
