//! The actions of OCF RA API 1.1 ("Actions"), plus the legacy aliases agents still receive.

/// An action requested by the resource manager (`argv[1]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Start,
    Stop,
    /// `monitor`, or its legacy alias `status`.
    Monitor,
    MetaData,
    ValidateAll,
    Notify,
    Promote,
    Demote,
    /// Reload the service's native configuration (not parameters).
    Reload,
    /// Apply changed `reloadable` parameters without a restart.
    ReloadAgent,
    MigrateTo,
    MigrateFrom,
    /// `usage` or `help`: print usage, succeed.
    Usage,
}

impl Action {
    /// Every action in the order the usage text lists them.
    pub const ALL: [Action; 13] = [
        Action::Start,
        Action::Stop,
        Action::Monitor,
        Action::MetaData,
        Action::ValidateAll,
        Action::Notify,
        Action::Promote,
        Action::Demote,
        Action::Reload,
        Action::ReloadAgent,
        Action::MigrateTo,
        Action::MigrateFrom,
        Action::Usage,
    ];

    /// Parses `argv[1]`. `None` for an action the spec does not know.
    pub fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" | "status" => Action::Monitor,
            "meta-data" | "metadata" => Action::MetaData,
            "validate-all" => Action::ValidateAll,
            "notify" => Action::Notify,
            "promote" => Action::Promote,
            "demote" => Action::Demote,
            "reload" => Action::Reload,
            "reload-agent" => Action::ReloadAgent,
            "migrate_to" => Action::MigrateTo,
            "migrate_from" => Action::MigrateFrom,
            "usage" | "help" => Action::Usage,
            _ => return None,
        })
    }

    /// The spec's name for the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::MetaData => "meta-data",
            Action::ValidateAll => "validate-all",
            Action::Notify => "notify",
            Action::Promote => "promote",
            Action::Demote => "demote",
            Action::Reload => "reload",
            Action::ReloadAgent => "reload-agent",
            Action::MigrateTo => "migrate_to",
            Action::MigrateFrom => "migrate_from",
            Action::Usage => "usage",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
    }

    #[test]
    fn legacy_aliases_and_unknown_actions() {
        assert_eq!(Action::parse("status"), Some(Action::Monitor));
        assert_eq!(Action::parse("metadata"), Some(Action::MetaData));
        assert_eq!(Action::parse("frobnicate"), None);
        assert_eq!(Action::parse("START"), None);
    }
}
