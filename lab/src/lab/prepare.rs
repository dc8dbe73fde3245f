//! Preparing one node before its daemons start: its own copies of host directories, its
//! configs, its OCF providers and fence agent, and its mount namespace built from them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::agents::Agents;
use crate::node::install_file;
use crate::{conf, io_err, sys, LabError, Node, Tools, FENCE_AGENT, OCF_RESOURCE_D, OWN_PROVIDER};

/// Per-node copies of host directories, bind-mounted over the originals inside the node:
/// (directory under [`Node::dir`], path inside the node).
const NODE_BINDS: &[(&str, &str)] = &[
    ("etc-corosync", "/etc/corosync"),
    ("var-lib-corosync", "/var/lib/corosync"),
    ("var-lib-pacemaker", "/var/lib/pacemaker"),
    ("var-log-corosync", "/var/log/corosync"),
    ("var-log-pacemaker", "/var/log/pacemaker"),
    ("var-log-ganesha", "/var/log/ganesha"),
    ("var-lib-nfs", "/var/lib/nfs"),
    ("etc-ganesha", "/etc/ganesha"),
    // booth's configuration and key: each node its own (the sites' booth, `src/sites.rs`).
    ("etc-booth", "/etc/booth"),
];

/// Of those, the ones whose host contents each node gets a copy of.
const COPIED_CONTENTS: &[&str] = &["/etc/corosync", "/etc/ganesha", "/var/lib/nfs"];

/// Subdirectories of `/var/lib/pacemaker`, owned `hacluster:haclient`.
const PACEMAKER_DIRS: &[&str] = &["cib", "pengine", "blackbox", "cores"];

/// What [`prepare_node`] needs besides the node.
pub(super) struct NodeSetup<'a> {
    pub(super) ids: (u32, u32),
    /// `None`: a bare node (no corosync.conf, not even the package's example).
    pub(super) corosync_conf: Option<&'a str>,
    pub(super) agents: &'a Agents,
    pub(super) ganesha_conf: Option<&'a str>,
}

/// Writes the node's host-side directories and configs, then builds its mount namespace.
pub(super) fn prepare_node(
    node: &Node,
    tools: &Tools,
    setup: &NodeSetup<'_>,
) -> Result<(), LabError> {
    let dir = node.dir();
    let binds = own_copies(dir)?;
    write_configs(dir, setup)?;
    let providers = ocf_providers(node, setup.agents)?;
    let sbin = fence_overlay(dir, setup.agents)?;
    mount_inside(node, tools, &binds, &providers, sbin.as_ref())?;
    let leaked = sys::mounts_under(dir);
    if !leaked.is_empty() {
        return Err(LabError::Setup(format!(
            "mounts made inside {} are visible on the host ({leaked:?}): mount propagation is not private",
            node.name()
        )));
    }
    Ok(())
}

/// The node's own copies of [`NODE_BINDS`] under `dir`: (copy, path inside the node).
fn own_copies(dir: &Path) -> Result<Vec<(PathBuf, &'static str)>, LabError> {
    let mut binds = Vec::new();
    for &(sub, target) in NODE_BINDS {
        let original = Path::new(target);
        if !original.is_dir() {
            tracing::warn!("{target} does not exist on the host; the node shares nothing there");
            continue;
        }
        let own = dir.join(sub);
        let what = || format!("prepare {} for {target}", own.display());
        fs::create_dir(&own).map_err(io_err(what()))?;
        if COPIED_CONTENTS.contains(&target) {
            sys::copy_tree(original, &own, 2000).map_err(io_err(what()))?;
        }
        sys::mirror_attrs(original, &own).map_err(io_err(what()))?;
        binds.push((own, target));
    }
    Ok(binds)
}

/// corosync.conf (or none), Pacemaker's directories and seed CIB, the system bus config and
/// ganesha.conf, in the node's copies.
fn write_configs(dir: &Path, setup: &NodeSetup<'_>) -> Result<(), LabError> {
    let conf_file = dir.join("etc-corosync").join("corosync.conf");
    match setup.corosync_conf {
        Some(text) => fs::write(&conf_file, text).map_err(io_err("write corosync.conf"))?,
        None => match fs::remove_file(&conf_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("remove the package's corosync.conf")(e))
            }
            _ => {}
        },
    }
    seed_pacemaker(&dir.join("var-lib-pacemaker"), setup.ids)?;
    fs::write(
        dir.join("dbus-system.conf"),
        conf::dbus_system_conf(conf::SYSTEM_BUS_SOCKET),
    )
    .map_err(io_err("write dbus-system.conf"))?;
    if let Some(text) = setup.ganesha_conf {
        let etc = dir.join("etc-ganesha");
        if !etc.is_dir() {
            return Err(LabError::Missing {
                missing: "/etc/ganesha".into(),
                packages: "nfs-ganesha nfs-ganesha-vfs".into(),
            });
        }
        fs::write(etc.join("ganesha.conf"), text).map_err(io_err("write ganesha.conf"))?;
    }
    Ok(())
}

/// [`PACEMAKER_DIRS`] in the node's `/var/lib/pacemaker` (`pcmk`) and the seed CIB, owned by
/// `hacluster:haclient` (`ids`).
fn seed_pacemaker(pcmk: &Path, (hacluster, haclient): (u32, u32)) -> Result<(), LabError> {
    for sub in PACEMAKER_DIRS {
        let p = pcmk.join(sub);
        let what = || format!("prepare {}", p.display());
        fs::create_dir_all(&p).map_err(io_err(what()))?;
        sys::chown(&p, hacluster, haclient).map_err(io_err(what()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o750)).map_err(io_err(what()))?;
    }
    let cib = pcmk.join("cib").join("cib.xml");
    fs::write(&cib, conf::SEED_CIB).map_err(io_err("write cib.xml"))?;
    sys::chown(&cib, hacluster, haclient).map_err(io_err("chown cib.xml"))?;
    fs::set_permissions(&cib, fs::Permissions::from_mode(0o600))
        .map_err(io_err("chmod cib.xml"))?;
    Ok(())
}

/// The node's /usr/lib/ocf/resource.d: `ocf/` with the host's providers to be bound into it
/// (returned: host directory, mount point), except `ganesha`, which is the node's own and
/// holds the project's agents.
fn ocf_providers(node: &Node, agents: &Agents) -> Result<Vec<(PathBuf, PathBuf)>, LabError> {
    let ocf = node.ocf_dir();
    fs::create_dir(&ocf).map_err(io_err("create ocf/"))?;
    sys::mirror_attrs(Path::new(OCF_RESOURCE_D), &ocf).map_err(io_err("chmod ocf/"))?;
    let mut providers = Vec::new();
    for entry in fs::read_dir(OCF_RESOURCE_D).map_err(io_err(format!("read {OCF_RESOURCE_D}")))? {
        let entry = entry.map_err(io_err(format!("read {OCF_RESOURCE_D}")))?;
        let from = entry.path();
        let to = ocf.join(entry.file_name());
        if entry.file_name() == OWN_PROVIDER {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(io_err(format!("stat {}", from.display())))?;
        if ft.is_symlink() {
            let target =
                fs::read_link(&from).map_err(io_err(format!("readlink {}", from.display())))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(io_err(format!("symlink {}", to.display())))?;
        } else if ft.is_dir() {
            fs::create_dir(&to).map_err(io_err(format!("create {}", to.display())))?;
            providers.push((from, to));
        }
    }
    let own = ocf.join(OWN_PROVIDER);
    fs::create_dir(&own).map_err(io_err(format!("create {}", own.display())))?;
    fs::set_permissions(&own, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("chmod {}", own.display())))?;
    for (name, path) in &agents.ocf {
        install_file(path, &own.join(name))?;
    }
    Ok(providers)
}

/// With the fence agent, the upper and work directories of an overlay on `/usr/sbin` inside
/// the node, the upper one holding the agent.
fn fence_overlay(dir: &Path, agents: &Agents) -> Result<Option<(PathBuf, PathBuf)>, LabError> {
    let Some(fence) = &agents.fence else {
        return Ok(None);
    };
    let upper = dir.join("sbin-upper");
    let work = dir.join("sbin-work");
    for d in [&upper, &work] {
        fs::create_dir(d).map_err(io_err(format!("create {}", d.display())))?;
    }
    sys::mirror_attrs(Path::new("/usr/sbin"), &upper)
        .map_err(io_err(format!("chmod {}", upper.display())))?;
    install_file(fence, &upper.join(FENCE_AGENT))?;
    Ok(Some((upper, work)))
}

/// Inside the node's mount namespace: fresh tmpfs on `/run` and `/dev/shm`, the node's
/// copies, the host's OCF providers, its own resource.d, the `/usr/sbin` overlay; then its
/// hostname.
fn mount_inside(
    node: &Node,
    tools: &Tools,
    binds: &[(PathBuf, &str)],
    providers: &[(PathBuf, PathBuf)],
    sbin: Option<&(PathBuf, PathBuf)>,
) -> Result<(), LabError> {
    let mount = tools.get("mount");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    node.fresh_run(false)?;
    for (own, target) in binds {
        node.run_setup(mount, &["--bind", &s(own), target])?;
    }
    for (from, to) in providers {
        node.run_setup(mount, &["--bind", &s(from), &s(to)])?;
    }
    node.run_setup(mount, &["--rbind", &s(&node.ocf_dir()), OCF_RESOURCE_D])?;
    if let Some((upper, work)) = sbin {
        let opts = format!(
            "lowerdir=/usr/sbin,upperdir={},workdir={}",
            s(upper),
            s(work)
        );
        node.run_setup(
            mount,
            &["-t", "overlay", "overlay", "-o", &opts, "/usr/sbin"],
        )?;
    }
    node.run_setup(tools.get("hostname"), &[node.name()])?;
    Ok(())
}
