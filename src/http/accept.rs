//! The async path: commit the event and its job, then answer. The answer never comes
//! before the commit.

use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use super::reply::{self, HttpResponse};
use crate::config::ChannelConfig;
use crate::security::{Settlement, unix_millis};
use crate::server::Gateway;
use crate::store::{Accepted, Dedup, Event, Headers, NewJob};

/// How long a sender should wait before retrying when the store cannot commit.
const RETRY_AFTER_SECONDS: u32 = 5;

/// The answer to a stored or duplicate event, serialised straight from this struct (the
/// keys in the order a `serde_json::Value` would give them).
#[derive(Serialize)]
struct Receipt<'a> {
    cid: &'a str,
    status: &'static str,
}

/// The peer address as stored with the event, `203.0.113.9:51234` or `[2001:db8::1]:443`.
/// IPv4, the common case, is written by hand: `SocketAddr`'s `Display` goes through the
/// formatter's padding machinery and cost about as much as the rest of building the event.
fn peer_text(peer: SocketAddr) -> String {
    let SocketAddr::V4(v4) = peer else {
        return peer.to_string();
    };
    let mut digits = itoa::Buffer::new();
    let mut text = String::with_capacity(21);
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        text.push_str(digits.format(octet));
    }
    text.push(':');
    text.push_str(digits.format(v4.port()));
    text
}

/// Stores a verified request of an async channel and answers 202, 200 for a duplicate,
/// or 503 when the store cannot commit (so the sender retries; nothing was acknowledged).
pub(super) async fn accept(
    gateway: &Gateway,
    channel: &ChannelConfig,
    head: Box<http::request::Parts>,
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
        headers: Headers::from_pairs(
            head.headers
                .iter()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
        ),
        body,
        peer: peer_text(peer),
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
                            &Receipt {
                                cid,
                                status: "received",
                            },
                        )
                    })
                }
                Accepted::Duplicate { first_cid } => {
                    tracing::info!(first_cid, "duplicate delivery; not stored again");
                    acknowledgement.unwrap_or_else(|| {
                        reply::json(
                            StatusCode::OK,
                            &Receipt {
                                cid: &first_cid,
                                status: "duplicate",
                            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_matches_display() {
        for peer in [
            "0.0.0.0:0",
            "127.0.0.1:11223",
            "203.0.113.9:51234",
            "255.255.255.255:65535",
            "10.0.10.100:8",
            "[::1]:443",
            "[2001:db8::1]:65535",
        ] {
            let addr: SocketAddr = peer.parse().unwrap();
            assert_eq!(peer_text(addr), addr.to_string());
        }
    }

    #[test]
    fn receipt_reads_as_before() {
        let body = serde_json::to_string(&Receipt {
            cid: "abc",
            status: "received",
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "status": "received", "cid": "abc" }).to_string()
        );
    }
}
