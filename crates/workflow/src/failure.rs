//! How a check fails: what was checked is invalid, or what it was given is unusable. The CLI
//! maps the first to exit 1 and the second to exit 2; a server maps them to its own replies.

/// How a check failed.
#[derive(Debug)]
pub enum Failure {
    /// The proof (or run) is invalid.
    Invalid(String),
    /// The input was unusable: a missing or malformed file, an unsupported model, bad options.
    Unusable(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Unusable(e)
    }
}

/// [`Failure::Unusable`], for `map_err`.
pub(crate) fn unusable(e: anyhow::Error) -> Failure {
    Failure::Unusable(e)
}

/// [`Failure::Invalid`] with the message `msg`.
pub(crate) fn invalid(msg: impl Into<String>) -> Failure {
    Failure::Invalid(msg.into())
}
