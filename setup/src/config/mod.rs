//! `ganesha-ha.conf`: the glusterfs configuration format, read as data.
//!
//! glusterfs's `ganesha-ha.sh` `eval`ed lines of this file; here it is never evaluated. Each
//! line is blank, a `#` comment, or `KEY=value` / `KEY="value"` / `KEY='value'` (an optional
//! leading `export ` is tolerated, and a `# comment` may follow the value after whitespace).
//! Quotes are stripped and nothing is expanded; values that would have run a command under
//! glusterfs (a backquote or `$(`) are rejected. Every problem found is reported, each with
//! its line number and, where there is one, a fix.
//!
//! `lex.rs` splits the text into entries; `interpret.rs` reads each as the key table
//! ([`keys::KEYS`]) says, with the value parsers of `values.rs`; `edit.rs` rewrites a file
//! for `add` and `delete`.

mod edit;
mod errors;
mod interpret;
pub mod keys;
mod lex;
pub mod sites;
#[cfg(test)]
mod test_support;
mod values;

use std::path::Path;

use crate::spec::ClusterSpec;

pub use edit::{with_node_added, with_node_removed};
pub use errors::{ConfigError, ConfigErrors};

/// Reads `file` and parses it (see [`parse`]).
pub fn load(file: &Path) -> Result<ClusterSpec, ConfigErrors> {
    match std::fs::read_to_string(file) {
        Ok(text) => parse(&text, file),
        Err(e) => {
            let fix = (e.kind() == std::io::ErrorKind::NotFound).then(|| {
                "create it (HA_NAME, HA_CLUSTER_NODES and one VIP_<node> per node) \
                 or give the right path"
                    .to_string()
            });
            Err(ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                line: None,
                message: format!("cannot read the configuration: {e}"),
                fix,
            }]))
        }
    }
}

/// Parses the text of a `ganesha-ha.conf`; `file` is used only in error messages.
pub fn parse(text: &str, file: &Path) -> Result<ClusterSpec, ConfigErrors> {
    let mut report = errors::Report::new(file);
    let lexed = lex::file(text, &mut report);
    match interpret::interpret(&lexed, &mut report) {
        Some(spec) if report.is_empty() => Ok(spec),
        _ => Err(report.into_errors()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::spec::Fencing;

    #[test]
    fn config_fixture_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/ganesha-ha.conf");
        let spec = load(&path).unwrap();
        let Fencing::Devices(devices) = &spec.fencing else {
            panic!("want devices, got {:?}", spec.fencing)
        };
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].id, "ipmi1");
        assert_eq!(devices[0].agent, "fence_ipmilan");
        assert_eq!(
            devices[0].params,
            [
                ("ip".to_string(), "10.0.0.101".to_string()),
                ("username".into(), "admin".into()),
                ("password".into(), "secret".into()),
                ("pcmk_host_list".into(), "server1".into()),
            ]
        );
    }

    #[test]
    fn config_load_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ganesha-ha.conf");
        let e = load(&path).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].line, None);
        assert!(e.0[0].message.contains("cannot read"));
        assert!(e.0[0].fix.is_some());
    }
}
