//! Errors of scheduler adapters, each with a retryable flag.

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(
        "cannot reach the scheduler at {endpoint} for {operation}; check that it runs and that the address is right"
    )]
    Unreachable {
        endpoint: String,
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    #[error(
        "the scheduler at {endpoint} did not answer {operation} in time; retry, or raise the timeout"
    )]
    Timeout {
        endpoint: String,
        operation: &'static str,
    },
    #[error("the scheduler refused {operation} (HTTP {status}, {code}): {message}")]
    Rejected {
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "the scheduler answered {operation} with something that is not the changeover contract: {detail}"
    )]
    InvalidResponse {
        operation: &'static str,
        detail: String,
    },
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(String),
}

impl SchedulerError {
    /// Whether sending the same request again may succeed (network trouble, timeouts,
    /// 5xx, 408 and 429 answers).
    pub fn is_retryable(&self) -> bool {
        match self {
            SchedulerError::Unreachable { .. } | SchedulerError::Timeout { .. } => true,
            SchedulerError::Rejected { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            SchedulerError::InvalidResponse { .. } | SchedulerError::InvalidConfig(_) => false,
        }
    }

    /// The machine-readable error code the scheduler sent, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SchedulerError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}
