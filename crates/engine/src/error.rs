//! Errors that stop the engine's loop (a step's own failure is a recorded outcome instead).

use crate::port::PortError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "saving upgrade record {id} failed: {source}; the upgrade resumes from the last saved state with `changeover upgrade next`"
    )]
    Save {
        id: String,
        #[source]
        source: PortError,
    },
    #[error(transparent)]
    Action(#[from] crate::upgrade::ActionError),
    #[error("{0}")]
    Refused(String),
}
