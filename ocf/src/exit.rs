//! OCF exit codes (OCF RA API 1.1, "Return codes"; 190/191 from Pacemaker's
//! `agents.rst`).

/// The status an agent reports to the resource manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// Action succeeded; for monitor, the resource is running.
    Success = 0,
    /// Unspecified error (Pacemaker: hard error on this node).
    ErrGeneric = 1,
    /// The parameters are invalid on this host.
    ErrArgs = 2,
    /// The action is not implemented by this agent.
    ErrUnimplemented = 3,
    /// Insufficient privileges.
    ErrPerm = 4,
    /// Software the agent needs is missing on this host.
    ErrInstalled = 5,
    /// The parameters are inherently invalid (Pacemaker: fatal, stopped everywhere).
    ErrConfigured = 6,
    /// Monitor: the resource is cleanly stopped.
    NotRunning = 7,
    /// Monitor: running in the promoted role.
    RunningPromoted = 8,
    /// Monitor: promoted but failed.
    FailedPromoted = 9,
    /// Monitor: active but degraded.
    Degraded = 190,
    /// Monitor: promoted and degraded.
    DegradedPromoted = 191,
}

impl ExitCode {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The name `ocf-returncodes` gives this code, for logs.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Success => "OCF_SUCCESS",
            ExitCode::ErrGeneric => "OCF_ERR_GENERIC",
            ExitCode::ErrArgs => "OCF_ERR_ARGS",
            ExitCode::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            ExitCode::ErrPerm => "OCF_ERR_PERM",
            ExitCode::ErrInstalled => "OCF_ERR_INSTALLED",
            ExitCode::ErrConfigured => "OCF_ERR_CONFIGURED",
            ExitCode::NotRunning => "OCF_NOT_RUNNING",
            ExitCode::RunningPromoted => "OCF_RUNNING_PROMOTED",
            ExitCode::FailedPromoted => "OCF_FAILED_PROMOTED",
            ExitCode::Degraded => "OCF_DEGRADED",
            ExitCode::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}
