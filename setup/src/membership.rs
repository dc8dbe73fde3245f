//! `ganesha-ha add NODE VIP` and `ganesha-ha delete NODE`: change the membership of a live
//! cluster and the configuration file with it.
//!
//! Both validate the edited configuration before touching anything, change the cluster, and
//! write the configuration file last (atomically): after a failure the file still describes
//! what was asked before, and rerunning the command finishes the job (every step is
//! idempotent). Resources of the other nodes are not restarted: their definitions do not
//! change, only the new or deleted node's VIP, its constraints and the ring preferences.
//! Every step shares the command's deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use ocf::Deadline;

use crate::error::CliError;
use crate::model::model;
use crate::spec::ClusterSpec;
use crate::transport;
use crate::{apply, config, form};

/// Bound on a single command on a node.
const CALL_LIMIT: Duration = Duration::from_secs(30);

fn read_config(file: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|e| CliError::io(file.display().to_string(), e))
}

/// The configuration `text` of `file` edited as `edit` describes, validated as a whole
/// (VIP syntax, duplicates, node names).
fn parse_edit(text: &str, file: &Path, edit: String) -> Result<ClusterSpec, CliError> {
    config::parse(text, file).map_err(|errors| CliError::InvalidEdit { edit, errors })
}

/// Replaces the configuration file `file` with `text` (temporary file, then rename: never
/// half written); `ganesha-ha export` writes its export files the same way.
pub(crate) fn write_config(file: &Path, text: &str) -> Result<(), CliError> {
    let tmp = file.with_extension("conf.ganesha-ha-new");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| CliError::io(format!("writing {}", file.display()), e))
}

/// Adds `node` with `vip` (and its ring address `addr`) to the cluster of `file`, by
/// `deadline`.
pub fn add(
    file: &Path,
    node: &str,
    vip: &str,
    addr: Option<&str>,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<(), CliError> {
    // For the progress lines only; `deadline` bounds the work.
    let started = Instant::now();
    let text = read_config(file)?;
    let old = config::parse(&text, file)?;
    if old.nodes.iter().any(|n| n.name == node) {
        return Err(CliError::Refused(format!(
            "{node} is already in HA_CLUSTER_NODES of {}",
            file.display()
        )));
    }
    let new_text = config::with_node_added(&text, node, vip, addr).ok_or_else(|| {
        CliError::Refused(format!("{}: no HA_CLUSTER_NODES line", file.display()))
    })?;
    let new = parse_edit(&new_text, file, format!("adding {node} {vip}"))?;
    let transport = transport::for_spec(&new);
    let kept = |e: CliError| CliError::ConfigKept(Box::new(e));
    form::form(&new, transport.as_ref(), deadline, progress).map_err(kept)?;
    apply::configure(&new, deadline, progress).map_err(kept)?;
    write_config(file, &new_text)?;
    progress(&format!(
        "[{:5.1}s] {node} added; {} now lists {} nodes",
        started.elapsed().as_secs_f64(),
        file.display(),
        new.nodes.len()
    ));
    Ok(())
}

/// Deletes `node` from the cluster of `file`: its VIP and constraints go, its stack stops,
/// the others forget it. Its recovery state on the shared volume stays unless `purge`.
pub fn delete(
    file: &Path,
    node: &str,
    purge: bool,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<(), CliError> {
    // For the progress lines only; `deadline` bounds the work.
    let started = Instant::now();
    let say = |line: &str| {
        progress(&format!(
            "[{:5.1}s] {line}",
            started.elapsed().as_secs_f64()
        ))
    };
    let text = read_config(file)?;
    let old = config::parse(&text, file)?;
    let Some(gone) = old.nodes.iter().find(|n| n.name == node).cloned() else {
        return Err(CliError::Refused(format!(
            "{node} is not in HA_CLUSTER_NODES of {}",
            file.display()
        )));
    };
    let local = transport::local_node_name();
    if local.as_deref() == Some(node) {
        return Err(CliError::Refused(format!(
            "this is {node}: run delete from one of the nodes that stay"
        )));
    }
    let new_text = config::with_node_removed(&text, node);
    let new = parse_edit(&new_text, file, format!("deleting {node}"))?;
    let transport = transport::for_spec(&old);
    let kept = |e: CliError| CliError::ConfigKept(Box::new(e));

    // Its VIP (and anything else only it had) stops and goes first, while it is a member.
    let only_its = apply::model_difference(&model(&old), &model(&new));
    apply::remove_model(&only_its, deadline, progress).map_err(kept)?;
    // Then it leaves: Pacemaker stops its clone instances, corosync goes, its files too.
    form::dissolve(
        &[&gone],
        transport.as_ref(),
        local.as_deref(),
        deadline,
        progress,
    )
    .map_err(kept)?;
    // The others reload the shorter nodelist and forget it.
    form::form(&new, transport.as_ref(), deadline, progress).map_err(kept)?;
    let mut cmd = std::process::Command::new("crm_node");
    cmd.args(["--force", "--remove", node]);
    ocf::command::run(&mut cmd, deadline.bound(CALL_LIMIT)).map_err(|e| kept(CliError::from(e)))?;
    say(&format!("{node} removed from Pacemaker's node list"));
    apply::configure(&new, deadline, progress).map_err(kept)?;
    if purge {
        purge_recovery_state(&new, node)?;
        say(&format!("{node}'s recovery state purged"));
    } else {
        say(&format!(
            "{node}'s recovery state kept in {}/nfs-ganesha/{node} (delete --purge removes it)",
            new.state.mount
        ));
    }
    write_config(file, &new_text)?;
    say(&format!("{node} deleted; {} updated", file.display()));
    Ok(())
}

/// Removes `node`'s directory from the recovery layout on the shared volume and the links
/// the other nodes keep to it (see the agents' recovery layout).
fn purge_recovery_state(spec: &ClusterSpec, node: &str) -> Result<(), CliError> {
    let base = Path::new(&spec.state.mount).join("nfs-ganesha");
    for other in &spec.nodes {
        let link = base.join(&other.name).join("ganesha").join(node);
        match std::fs::remove_file(&link) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(CliError::io(format!("removing {}", link.display()), e))
            }
            _ => {}
        }
    }
    let dir = base.join(node);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(CliError::io(format!("removing {}", dir.display()), e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn purge_removes_the_node_and_the_links_to_it_only() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "HA_NAME=c\nHA_CLUSTER_NODES=a,b\nVIP_a=10.0.2.1\nVIP_b=10.0.2.2\nHA_STONITH=off\n\
             HA_STATE_MOUNT={}\n",
            dir.path().display()
        );
        let spec = config::parse(&text, Path::new("t.conf")).unwrap();
        let base = dir.path().join("nfs-ganesha");
        for n in ["a", "b", "c"] {
            std::fs::create_dir_all(base.join(n).join("ganesha/v4recov")).unwrap();
        }
        for (from, to) in [("a", "c"), ("b", "c"), ("a", "b"), ("c", "a")] {
            std::os::unix::fs::symlink(
                format!("../../{to}/ganesha"),
                base.join(from).join("ganesha").join(to),
            )
            .unwrap();
        }
        purge_recovery_state(&spec, "c").unwrap();
        assert!(!base.join("c").exists());
        assert!(base.join("a/ganesha/b").symlink_metadata().is_ok());
        assert!(base.join("a/ganesha/c").symlink_metadata().is_err());
        assert!(base.join("b/ganesha/c").symlink_metadata().is_err());
        assert!(base.join("a/ganesha/v4recov").is_dir());
        purge_recovery_state(&spec, "c").unwrap();
    }
}
