//! `ganesha-ha setup`: form the cluster when the nodes are not one yet ([`crate::form`]),
//! merge the model into the live CIB and wait until every resource runs; `teardown` undoes
//! both.
//!
//! The live CIB is read with `cibadmin --query` and the model's resources and constraints
//! replace those with the same ids; everything else (resources this project did not write)
//! stays. When the result equals what is live, nothing is written: running setup twice
//! changes nothing the second time. Pacemaker does not restart resources whose definitions
//! did not change, so resources of unaffected nodes keep running. Every call is bounded by
//! its own limit and the command's deadline, and the wait reports which resource failed and
//! why, from `crm_mon --output-as=xml`.

use std::process::Command;
use std::time::{Duration, Instant};

use ocf::Deadline;

use crate::cib::{Cib, Resource};
use crate::error::CliError;
use crate::form;
use crate::model::model;
use crate::spec::{ClusterSpec, NodeSpec};
use crate::status;
use crate::transport::{self, Transport};

const CALL_LIMIT: Duration = Duration::from_secs(30);

fn run(program: &str, args: &[&str], deadline: &Deadline) -> Result<String, CliError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = ocf::command::run(&mut cmd, deadline.bound(CALL_LIMIT))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The parts of the live CIB this project manages (others kept verbatim).
fn live_cib(deadline: &Deadline) -> Result<Cib, CliError> {
    let context = "reading the live CIB";
    let xml = run("cibadmin", &["--query"], deadline).map_err(|e| e.context(context))?;
    Cib::from_xml(&xml).map_err(|e| CliError::from(e).context(context))
}

/// Replaces one configuration section (`resources`, `constraints`) of the live CIB.
fn replace_section(scope: &str, xml: &str, deadline: &Deadline) -> Result<(), CliError> {
    run(
        "cibadmin",
        &["--replace", "--scope", scope, "--xml-text", xml],
        deadline,
    )
    .map(drop)
    .map_err(|e| e.context(format!("replacing the {scope} section")))
}

/// Replaces or appends `desired` items by id, keeping the others in place.
fn merge_by_id<T: Clone>(live: &[T], desired: &[T], id: impl Fn(&T) -> &str) -> Vec<T> {
    let mut out: Vec<T> = live.to_vec();
    for d in desired {
        match out.iter_mut().find(|l| id(l) == id(d)) {
            Some(slot) => *slot = d.clone(),
            None => out.push(d.clone()),
        }
    }
    out
}

/// The live CIB with the model merged in.
pub fn merge(live: &Cib, desired: &Cib) -> Cib {
    let mut merged = live.clone();
    merged.resources = merge_by_id(&live.resources, &desired.resources, |r| r.id());
    merged.constraints = merge_by_id(&live.constraints, &desired.constraints, |c| c.id());
    for p in &desired.properties {
        merged.set_property(&p.name, &p.value);
    }
    merged
}

/// Ids of every primitive of the model (clone children, group members included).
pub fn primitive_ids(cib: &Cib) -> Vec<String> {
    let mut ids = Vec::new();
    for r in &cib.resources {
        match r {
            Resource::Primitive(p) => ids.push(p.id.clone()),
            Resource::Clone(c) => ids.push(c.child.id.clone()),
            Resource::Group(g) => ids.extend(g.members.iter().map(|m| m.id.clone())),
            Resource::Foreign(_) => {}
        }
    }
    ids
}

/// What setup did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The live CIB already matched the model.
    Unchanged,
    /// The CIB was updated and everything started.
    Applied,
}

/// Forms the cluster if needed, merges the model of `spec` into the live CIB, then waits
/// until every resource of the model is started and the cluster is HEALTHY; all of it by
/// `deadline`.
pub fn setup(
    spec: &ClusterSpec,
    transport: &dyn Transport,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<Outcome, CliError> {
    // Checked (and the shared storage prepared) before anything of the cluster changes.
    if spec.gluster_shared_storage {
        crate::gluster::prepare_shared_storage(spec, transport, deadline, progress)?;
    }
    let formation = form::form(spec, transport, deadline, progress)?;
    let formed = matches!(formation, form::Formation::Formed { .. });
    let outcome = configure(spec, deadline, progress)?;
    Ok(if formed { Outcome::Applied } else { outcome })
}

/// Merges the model of `spec` into the live CIB of a formed cluster and waits until every
/// resource runs.
pub fn configure(
    spec: &ClusterSpec,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<Outcome, CliError> {
    // For the progress lines only; `deadline` bounds the work.
    let started = Instant::now();
    let live = live_cib(deadline)?;
    let desired = model(spec);
    let merged = merge(&live, &desired);
    let outcome = if merged == live {
        progress("the cluster already has this configuration; nothing to change");
        Outcome::Unchanged
    } else {
        if merged.resources != live.resources {
            replace_section("resources", &merged.resources_xml(), deadline)?;
        }
        if merged.constraints != live.constraints {
            replace_section("constraints", &merged.constraints_xml(), deadline)?;
        }
        for p in &desired.properties {
            if live.property(&p.name) != Some(p.value.as_str()) {
                run(
                    "crm_attribute",
                    &[
                        "--type",
                        "crm_config",
                        "--name",
                        &p.name,
                        "--update",
                        &p.value,
                    ],
                    deadline,
                )
                .map_err(|e| e.context(format!("setting {}", p.name)))?;
            }
        }
        progress(&format!(
            "[{:5.1}s] configuration written ({} resources, {} constraints)",
            started.elapsed().as_secs_f64(),
            desired.resources.len(),
            desired.constraints.len()
        ));
        Outcome::Applied
    };
    wait_started(&primitive_ids(&desired), deadline, progress)?;
    progress(&format!(
        "[{:5.1}s] every resource started; cluster HEALTHY",
        started.elapsed().as_secs_f64()
    ));
    Ok(outcome)
}

/// Polls crm_mon until every listed primitive runs (clone instances on every online node)
/// and the verdict is HEALTHY; fails early with the reason when one of them fails.
fn wait_started(
    ids: &[String],
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<(), CliError> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let xml = run(
            "crm_mon",
            &[
                "--one-shot",
                "--output-as=xml",
                "--show-node-attributes",
                "--inactive",
            ],
            deadline,
        );
        let mut waiting_for = Vec::new();
        if let Some(state) = xml.ok().and_then(|x| status::parse(&x).ok()) {
            let ours: Vec<&status::FailedAction> = state
                .failures
                .iter()
                .filter(|f| {
                    ids.iter()
                        .any(|id| f.operation.starts_with(&format!("{id}_")))
                })
                .collect();
            if let Some(f) = ours.first() {
                return Err(CliError::Cluster(format!(
                    "{} failed on {}: {} {} (see `crm_mon -1`; after fixing it run `crm_resource --cleanup`)",
                    f.operation, f.node, f.status, f.reason
                )));
            }
            let online = state
                .nodes
                .iter()
                .filter(|n| n.online && !n.standby)
                .count();
            for id in ids {
                let running = state
                    .resources
                    .iter()
                    .filter(|r| &r.id == id && r.active && r.role == "Started")
                    .count();
                let cloned = state
                    .resources
                    .iter()
                    .filter(|r| &r.id == id)
                    .any(|r| r.parent.as_deref().is_some_and(|p| p.ends_with("-clone")));
                let wanted = if cloned { online } else { 1 };
                if running < wanted {
                    waiting_for.push(id.clone());
                }
            }
            if waiting_for.is_empty() && status::assess(&state).verdict == status::Verdict::Healthy
            {
                return Ok(());
            }
        } else {
            waiting_for.push("crm_mon".to_owned());
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            progress(&format!(
                "[{:5.1}s] waiting for {waiting_for:?}",
                started.elapsed().as_secs_f64()
            ));
            last_report = Instant::now();
        }
        // Give up at the deadline, after the last poll: one started then has no time left.
        std::thread::sleep(deadline.bound(Duration::from_millis(250)));
        if deadline.expired() {
            return Err(CliError::Timeout(format!(
                "not every resource started within {:.1?}; still waiting for {waiting_for:?} (see `crm_mon -1`)",
                started.elapsed()
            )));
        }
    }
}

/// Removes the model's resources and constraints, then, when ganesha-ha formed the cluster,
/// the cluster itself ([`form::dissolve`]). Resources it did not write and a cluster it did
/// not form stay; ganesha's data and the state volume's contents always stay.
pub fn teardown(
    spec: &ClusterSpec,
    transport: &dyn Transport,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<Outcome, CliError> {
    let removed = remove_resources(spec, deadline, progress)?;
    let local = transport::local_node_name();
    let mut ours: Vec<&NodeSpec> = Vec::new();
    // This node's own corosync.conf tells first, without reaching the others.
    if form::local_conf_is_ours() {
        for node in &spec.nodes {
            if form::formed_by_us(transport, node, deadline)? {
                ours.push(node);
            }
        }
    }
    if ours.is_empty() {
        progress("the cluster was not formed by ganesha-ha: it keeps running");
        return Ok(removed);
    }
    form::dissolve(&ours, transport, local.as_deref(), deadline, progress)?;
    Ok(Outcome::Applied)
}

/// Removes the model's resources and constraints (by id) from the live CIB and waits until
/// Pacemaker has stopped them. Resources it did not write and cluster properties stay.
pub fn remove_resources(
    spec: &ClusterSpec,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<Outcome, CliError> {
    remove_model(&model(spec), deadline, progress)
}

/// The resources and constraints of `old` whose ids `new` does not have (what deleting a
/// node removes).
pub fn model_difference(old: &Cib, new: &Cib) -> Cib {
    Cib {
        resources: old
            .resources
            .iter()
            .filter(|r| !new.resources.iter().any(|n| n.id() == r.id()))
            .cloned()
            .collect(),
        constraints: old
            .constraints
            .iter()
            .filter(|c| !new.constraints.iter().any(|n| n.id() == c.id()))
            .cloned()
            .collect(),
        ..Cib::default()
    }
}

/// Stops, then removes (by id) the resources and constraints of `desired` from the live CIB.
pub fn remove_model(
    desired: &Cib,
    deadline: &Deadline,
    progress: &dyn Fn(&str),
) -> Result<Outcome, CliError> {
    // For the progress lines and messages only; `deadline` bounds the work.
    let started = Instant::now();
    let live = live_cib(deadline)?;
    let ours_r: Vec<&str> = desired.resources.iter().map(Resource::id).collect();
    let ours_c: Vec<&str> = desired.constraints.iter().map(|c| c.id()).collect();
    let mut kept = live.clone();
    kept.resources.retain(|r| !ours_r.contains(&r.id()));
    kept.constraints.retain(|c| !ours_c.contains(&c.id()));
    if kept == live {
        progress("none of this configuration's resources is in the cluster; nothing to remove");
        return Ok(Outcome::Unchanged);
    }
    // Stop first, as `pcs resource delete` does: deleted resources become orphans whose stop
    // Pacemaker may hold back (for instance once the fencing device is gone too). Fencing
    // devices keep running until everything else has stopped.
    let fencing: Vec<&str> = desired
        .resources
        .iter()
        .filter(|r| matches!(r, Resource::Primitive(p) if p.class == "stonith"))
        .map(Resource::id)
        .collect();
    let present: Vec<&str> = live
        .resources
        .iter()
        .map(Resource::id)
        .filter(|id| ours_r.contains(id))
        .collect();
    let services: Vec<&str> = present
        .iter()
        .copied()
        .filter(|id| !fencing.contains(id))
        .collect();
    for id in &services {
        run(
            "crm_resource",
            &[
                "--resource",
                id,
                "--meta",
                "--set-parameter",
                "target-role",
                "--parameter-value",
                "Stopped",
            ],
            deadline,
        )
        .map_err(|e| e.context(format!("stopping {id}")))?;
    }
    let service_ids: Vec<String> = primitive_ids(desired)
        .into_iter()
        .filter(|id| !fencing.contains(&id.as_str()))
        .collect();
    wait_stopped(&service_ids, started, deadline)?;
    progress(&format!(
        "[{:5.1}s] every resource of this configuration is stopped",
        started.elapsed().as_secs_f64()
    ));
    // Constraints first, so that no constraint refers to a resource that no longer exists.
    let now = live_cib(deadline)?;
    let mut kept = now.clone();
    kept.resources.retain(|r| !ours_r.contains(&r.id()));
    kept.constraints.retain(|c| !ours_c.contains(&c.id()));
    if kept.constraints != now.constraints {
        replace_section("constraints", &kept.constraints_xml(), deadline)?;
    }
    replace_section("resources", &kept.resources_xml(), deadline)?;
    progress(&format!(
        "[{:5.1}s] {} resources and {} constraints removed",
        started.elapsed().as_secs_f64(),
        now.resources.len() - kept.resources.len(),
        now.constraints.len() - kept.constraints.len()
    ));
    wait_stopped(&primitive_ids(desired), started, deadline)?;
    progress(&format!("[{:5.1}s] done", started.elapsed().as_secs_f64()));
    Ok(Outcome::Applied)
}

/// Waits until none of `ids` is active (by `deadline`; `started` is when the removal began).
fn wait_stopped(ids: &[String], started: Instant, deadline: &Deadline) -> Result<(), CliError> {
    loop {
        let xml = run(
            "crm_mon",
            &["--one-shot", "--output-as=xml", "--inactive"],
            deadline,
        )?;
        let state = status::parse(&xml)?;
        let running: Vec<&str> = state
            .resources
            .iter()
            .filter(|r| ids.contains(&r.id) && r.active)
            .map(|r| r.id.as_str())
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        // Give up at the deadline, after the last poll: one started then has no time left.
        std::thread::sleep(deadline.bound(Duration::from_millis(250)));
        if deadline.expired() {
            return Err(CliError::Timeout(format!(
                "still running after {:.1?}: {running:?} (see `crm_mon -1`)",
                started.elapsed()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cib::{Foreign, Primitive};

    #[test]
    fn merge_keeps_foreign_resources_and_replaces_ours_by_id() {
        let live = Cib {
            resources: vec![
                Resource::Foreign(Foreign {
                    id: "lab-fencing".into(),
                    xml: "<primitive id=\"lab-fencing\"/>".into(),
                }),
                Resource::Primitive(
                    Primitive::new("node1-vip", "ocf", Some("heartbeat"), "IPaddr2")
                        .param("ip", "192.0.2.9"),
                ),
            ],
            ..Cib::default()
        };
        let desired = Cib {
            resources: vec![Resource::Primitive(
                Primitive::new("node1-vip", "ocf", Some("heartbeat"), "IPaddr2")
                    .param("ip", "192.0.2.101"),
            )],
            ..Cib::default()
        };
        let merged = merge(&live, &desired);
        assert_eq!(merged.resources.len(), 2);
        assert_eq!(merged.resources[0].id(), "lab-fencing");
        assert_eq!(merged.resources[1], desired.resources[0]);
        assert_eq!(
            merge(&merged, &desired),
            merged,
            "merging again changes nothing"
        );
    }
}
