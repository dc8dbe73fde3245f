//! Instance parameters, declared once.
//!
//! A [`ParamSpec`] list is both the source of the meta-data `<parameters>` and the schema
//! used to read `OCF_RESKEY_<name>`. As in `ocf-shellfuncs` (`${OCF_RESKEY_x:-default}`), an
//! empty value counts as unset.

use std::time::Duration;

use crate::context::Env;
use crate::OcfError;

/// The content type of a parameter (`ra-api-1.dtd`: string, integer, boolean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

/// One instance parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamType,
    pub default: Option<&'static str>,
    pub required: bool,
    pub unique: bool,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

impl ParamSpec {
    /// A string parameter with no default.
    pub const fn string(name: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            kind: ParamType::String,
            default: None,
            required: false,
            unique: false,
            shortdesc: "",
            longdesc: "",
        }
    }

    /// An integer parameter with no default.
    pub const fn integer(name: &'static str) -> ParamSpec {
        ParamSpec {
            kind: ParamType::Integer,
            ..ParamSpec::string(name)
        }
    }

    /// A boolean parameter with no default.
    pub const fn boolean(name: &'static str) -> ParamSpec {
        ParamSpec {
            kind: ParamType::Boolean,
            ..ParamSpec::string(name)
        }
    }

    /// With a default value.
    pub const fn default(self, value: &'static str) -> ParamSpec {
        ParamSpec {
            default: Some(value),
            ..self
        }
    }

    /// Marked required.
    pub const fn required(self) -> ParamSpec {
        ParamSpec {
            required: true,
            ..self
        }
    }

    /// Marked unique across resources of this type.
    pub const fn unique(self) -> ParamSpec {
        ParamSpec {
            unique: true,
            ..self
        }
    }

    /// With its descriptions.
    pub const fn describe(self, shortdesc: &'static str, longdesc: &'static str) -> ParamSpec {
        ParamSpec {
            shortdesc,
            longdesc,
            ..self
        }
    }

    /// The environment variable carrying this parameter.
    pub fn env_name(&self) -> String {
        format!("OCF_RESKEY_{}", self.name)
    }
}

/// Parameter values read from the environment under a list of specs.
#[derive(Clone, Debug)]
pub struct Params {
    specs: &'static [ParamSpec],
    values: Vec<Option<String>>,
}

impl Params {
    /// Reads every declared parameter from `env` (explicit value, else default).
    pub fn from_env(specs: &'static [ParamSpec], env: &Env) -> Params {
        let values = specs
            .iter()
            .map(|spec| {
                env.get(&spec.env_name())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .or_else(|| spec.default.map(str::to_owned))
            })
            .collect();
        Params { specs, values }
    }

    /// Checks presence of required parameters and the syntax of typed ones.
    pub fn check(&self) -> Result<(), OcfError> {
        for (spec, value) in self.specs.iter().zip(&self.values) {
            match (value, spec.kind) {
                (None, _) if spec.required => {
                    return Err(OcfError::configured(spec.name, "is required but not set"))
                }
                (Some(v), ParamType::Integer) => {
                    parse_integer(spec.name, v)?;
                }
                (Some(v), ParamType::Boolean) => {
                    parse_bool(spec.name, v)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn spec_index(&self, name: &str) -> Option<usize> {
        let index = self.specs.iter().position(|s| s.name == name);
        debug_assert!(index.is_some(), "parameter {name} is not declared");
        index
    }

    /// The value (or default) of a declared parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.spec_index(name)
            .and_then(|i| self.values[i].as_deref())
    }

    /// The value of a parameter that must be set.
    pub fn require(&self, name: &str) -> Result<&str, OcfError> {
        self.get(name)
            .ok_or_else(|| OcfError::configured(name, "is required but not set"))
    }

    /// An integer parameter.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, OcfError> {
        self.get(name).map(|v| parse_integer(name, v)).transpose()
    }

    /// A boolean parameter (`ocf_is_true` spellings).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, OcfError> {
        self.get(name).map(|v| parse_bool(name, v)).transpose()
    }

    /// A non-negative integer parameter counted in seconds.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, OcfError> {
        match self.integer(name)? {
            None => Ok(None),
            Some(n) if n < 0 => Err(OcfError::configured(
                name,
                format!("must be a number of seconds >= 0, got {n}"),
            )),
            Some(n) => Ok(Some(Duration::from_secs(n.unsigned_abs()))),
        }
    }

    /// The declared specs.
    pub fn specs(&self) -> &'static [ParamSpec] {
        self.specs
    }
}

fn parse_integer(name: &str, value: &str) -> Result<i64, OcfError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| OcfError::configured(name, format!("must be an integer, got '{value}'")))
}

/// `ocf_is_true` / `ocf_is_false` of ocf-shellfuncs, strictly: anything else is an error.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, OcfError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" | "t" => Ok(true),
        "0" | "no" | "false" | "off" | "n" | "f" => Ok(false),
        _ => Err(OcfError::configured(
            name,
            format!("must be a boolean (true/false, yes/no, 1/0), got '{value}'"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitCode;

    static SPECS: [ParamSpec; 4] = [
        ParamSpec::string("name").default("grace-active"),
        ParamSpec::integer("delay").default("5"),
        ParamSpec::boolean("flag"),
        ParamSpec::string("must").required(),
    ];

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_env(&SPECS, &Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let p = params(&[("OCF_RESKEY_name", ""), ("OCF_RESKEY_must", "x")]);
        assert_eq!(p.get("name"), Some("grace-active"));
        assert_eq!(p.integer("delay").ok().flatten(), Some(5));
        assert_eq!(p.boolean("flag").ok().flatten(), None);
        assert!(p.check().is_ok());
    }

    #[test]
    fn missing_required_parameter_is_configured_error_naming_it() {
        let e = params(&[]).check().err();
        let e = e.map(|e| (e.exit_code(), e.to_string()));
        assert_eq!(
            e,
            Some((
                ExitCode::ErrConfigured,
                "parameter must: is required but not set".to_string()
            ))
        );
    }

    #[test]
    fn malformed_typed_values_are_rejected() {
        let bad_int = params(&[("OCF_RESKEY_must", "x"), ("OCF_RESKEY_delay", "5s")]);
        assert!(matches!(
            bad_int.check(),
            Err(OcfError::Configured { ref param, .. }) if param == "delay"
        ));
        let bad_bool = params(&[("OCF_RESKEY_must", "x"), ("OCF_RESKEY_flag", "maybe")]);
        assert!(bad_bool.check().is_err());
        let good_bool = params(&[("OCF_RESKEY_must", "x"), ("OCF_RESKEY_flag", "Yes")]);
        assert_eq!(good_bool.boolean("flag").ok().flatten(), Some(true));
    }

    #[test]
    fn negative_seconds_are_rejected() {
        let p = params(&[("OCF_RESKEY_delay", "-1")]);
        assert!(p.seconds("delay").is_err());
    }
}
