//! What the config unit tests share: a base file, and parsing that expects success or
//! particular errors.

#![allow(clippy::panic)]

use std::path::Path;

use super::{parse, ConfigError, ConfigErrors};
use crate::spec::ClusterSpec;

pub const FILE: &str = "/etc/ganesha/ganesha-ha.conf";

/// A valid two-node config without fencing, to which tests append lines.
pub const BASE: &str =
    "HA_NAME=c\nHA_CLUSTER_NODES=\"a,b\"\nVIP_a=10.0.2.1\nVIP_b=10.0.2.2\nHA_STONITH=off\n";

pub fn ok(text: &str) -> ClusterSpec {
    match parse(text, Path::new(FILE)) {
        Ok(spec) => spec,
        Err(e) => panic!("expected success, got:\n{e}"),
    }
}

pub fn errs(text: &str) -> Vec<ConfigError> {
    match parse(text, Path::new(FILE)) {
        Ok(spec) => panic!("expected errors, got {spec:?}"),
        Err(e) => e.0,
    }
}

/// Asserts that exactly one error matches the line and message fragment; returns it.
pub fn find(errors: &[ConfigError], line: Option<usize>, fragment: &str) -> ConfigError {
    let hits: Vec<&ConfigError> = errors
        .iter()
        .filter(|e| e.line == line && e.message.contains(fragment))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "want one error at {line:?} containing {fragment:?} in:\n{}",
        ConfigErrors(errors.to_vec())
    );
    hits[0].clone()
}

/// The single error of a config; asserts there is exactly one.
pub fn only(text: &str, line: Option<usize>, fragment: &str) -> ConfigError {
    let e = errs(text);
    assert_eq!(
        e.len(),
        1,
        "want one error, got:\n{}",
        ConfigErrors(e.clone())
    );
    find(&e, line, fragment)
}

pub fn fix(e: &ConfigError) -> &str {
    e.fix.as_deref().unwrap_or("")
}
