//! The error a service returns, and how it maps to HTTP.

use std::fmt;

use http::StatusCode;

/// What kind of failure a [`ServiceError`] is; this decides the status code and whether a
/// background job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller sent something wrong: a 4xx whose message is shown to the client.
    Client(StatusCode),
    /// Anything else: 500 for the client, the whole cause chain for the operator's log.
    /// A background job that fails this way is retried.
    Internal,
    /// A failure that retrying cannot fix: 500 for the client; a background job goes
    /// straight to `dead`.
    Permanent,
    /// The service panicked. Treated like `Internal`.
    Panic,
    /// The service took longer than its timeout: 504.
    Timeout,
    /// The service named by a channel or an `invoke` is not deployed: 503.
    NotDeployed,
    /// Something the service needs is down for now (the store could not commit): 503 with
    /// `Retry-After`, so that the sender tries again later.
    Unavailable,
}

/// A failed service call.
///
/// Any `std::error::Error` converts into an internal error, so `?` works in services; use the
/// constructors for bad input (`bad_request`, `unprocessable`) and for permanent failures.
pub struct ServiceError {
    kind: ErrorKind,
    error: anyhow::Error,
}

impl ServiceError {
    /// 400, with `message` shown to the client.
    pub fn bad_request(message: impl fmt::Display) -> Self {
        Self::client(StatusCode::BAD_REQUEST, message)
    }

    /// 422, with `message` shown to the client: the input is well-formed but does not fit.
    pub fn unprocessable(message: impl fmt::Display) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// Any 4xx status, with `message` shown to the client. Other statuses become 500.
    pub fn client(status: StatusCode, message: impl fmt::Display) -> Self {
        let kind = if status.is_client_error() {
            ErrorKind::Client(status)
        } else {
            ErrorKind::Internal
        };
        ServiceError {
            kind,
            error: anyhow::Error::msg(message.to_string()),
        }
    }

    /// A failure that is logged in full and answered with an opaque 500.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ServiceError {
            kind: ErrorKind::Internal,
            error: error.into(),
        }
    }

    /// A failure that retrying cannot fix, such as a record that no longer exists.
    pub fn permanent(error: impl Into<anyhow::Error>) -> Self {
        ServiceError {
            kind: ErrorKind::Permanent,
            error: error.into(),
        }
    }

    pub(crate) fn with_kind(kind: ErrorKind, message: impl fmt::Display) -> Self {
        ServiceError {
            kind,
            error: anyhow::Error::msg(message.to_string()),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status code the client gets.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::Client(status) => status,
            ErrorKind::Internal | ErrorKind::Permanent | ErrorKind::Panic => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::NotDeployed | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message the client may see. Internal details never leave the server.
    pub fn public_message(&self) -> String {
        match self.kind {
            ErrorKind::Client(_) | ErrorKind::NotDeployed => self.error.to_string(),
            ErrorKind::Internal | ErrorKind::Permanent | ErrorKind::Panic => {
                "internal error; the server log has the details under this cid".to_string()
            }
            ErrorKind::Timeout => "the service did not finish in time".to_string(),
            ErrorKind::Unavailable => "temporarily unavailable; try again later".to_string(),
        }
    }

    /// The underlying error, with its cause chain.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }
}

impl<E> From<E> for ServiceError
where
    E: Into<anyhow::Error>,
{
    fn from(error: E) -> Self {
        ServiceError::internal(error)
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceError({:?}: {:#})", self.kind, self.error)
    }
}

impl fmt::Display for ServiceError {
    /// The whole cause chain, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_show_their_message_others_do_not() {
        let bad = ServiceError::unprocessable("missing field `email`");
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.public_message(), "missing field `email`");

        let io = std::io::Error::other("disk /var/secret full");
        let internal = ServiceError::from(io);
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.public_message().contains("secret"));
        assert!(internal.to_string().contains("disk /var/secret full"));
    }

    #[test]
    fn non_client_status_is_internal() {
        let err = ServiceError::client(StatusCode::BAD_GATEWAY, "upstream down");
        assert_eq!(err.kind(), ErrorKind::Internal);
    }
}
