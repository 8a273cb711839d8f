//! The async path: commit the event and its job, then answer. The answer never comes
//! before the commit.

use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use super::reply::{self, HttpResponse};
use crate::config::ChannelConfig;
use crate::security::{Settlement, unix_millis};
use crate::server::Gateway;
use crate::store::{Accepted, Dedup, Event, NewJob};

/// How long a sender should wait before retrying when the store cannot commit.
const RETRY_AFTER_SECONDS: u32 = 5;

/// Stores a verified request of an async channel and answers 202, 200 for a duplicate,
/// or 503 when the store cannot commit (so the sender retries; nothing was acknowledged).
pub(super) async fn accept(
    gateway: &Gateway,
    channel: &ChannelConfig,
    head: http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    settlement: Settlement,
    cid: &str,
) -> HttpResponse {
    let now = unix_millis(SystemTime::now());
    let dedup = channel.dedup.as_ref().and_then(|rule| {
        rule.key(&head.headers, &body, &channel.security)
            .map(|key| Dedup {
                key,
                window: rule.window,
            })
    });
    let event = Event {
        cid: cid.to_string(),
        channel: channel.name.clone(),
        method: head.method.as_str().to_string(),
        path: head.uri.path().to_string(),
        query: head.uri.query().unwrap_or("").to_string(),
        headers: head
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect(),
        body,
        peer: peer.to_string(),
        received_at: now,
        dedup,
    };
    let max_attempts = gateway
        .workers
        .max_attempts_for_channel(&channel.name, &channel.service);
    let job = NewJob::new(&channel.service, max_attempts, now);
    match gateway.store.accept(event, job).await {
        Ok(accepted) => {
            let acknowledgement = settlement.acknowledgement().map(reply::raw);
            settlement.settle(true);
            match accepted {
                Accepted::Stored => {
                    tracing::debug!("event stored");
                    // A provider that needs a specific acknowledgement (Salesforce's SOAP
                    // Ack) gets it, now that the event is safe.
                    acknowledgement.unwrap_or_else(|| {
                        reply::json(
                            StatusCode::ACCEPTED,
                            &json!({ "status": "received", "cid": cid }),
                        )
                    })
                }
                Accepted::Duplicate { first_cid } => {
                    tracing::info!(first_cid, "duplicate delivery; not stored again");
                    acknowledgement.unwrap_or_else(|| {
                        reply::json(
                            StatusCode::OK,
                            &json!({ "status": "duplicate", "cid": first_cid }),
                        )
                    })
                }
            }
        }
        Err(err) if err.is_unavailable() => {
            settlement.settle(false);
            tracing::warn!(error = %err, "the store cannot commit; answered 503");
            reply::unavailable(
                "the event could not be stored; try again later",
                cid,
                RETRY_AFTER_SECONDS,
            )
        }
        Err(err) => {
            settlement.settle(false);
            tracing::error!(error = %err, "storing the event failed");
            reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the server log has the details under this cid",
                cid,
            )
        }
    }
}
