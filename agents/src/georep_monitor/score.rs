//! The promotion score: Pacemaker promotes only an instance that has one. Set
//! (`crm_attribute --promotion -v 100`) from start and monitor while the local glusterd
//! answers, removed (`-D`) on stop. Which instance gets promoted is the ticket's business
//! (`rsc_ticket rsc-role=Promoted`), so every site's score is the same.

use std::process::Command;
use std::time::Duration;

use ocf::{Deadline, OcfError};

/// The score of an instance whose glusterd answers.
pub const PROMOTION_SCORE: u32 = 100;

/// Sets and removes this instance's promotion score.
pub trait Promotion {
    fn set(&self, score: u32, deadline: Deadline) -> Result<(), OcfError>;
    fn clear(&self, deadline: Deadline) -> Result<(), OcfError>;
}

/// `crm_attribute --promotion` (it finds the resource in `OCF_RESOURCE_INSTANCE`), on the
/// node Pacemaker named, else the local one.
#[derive(Clone, Debug, Default)]
pub struct CrmPromotion {
    pub node: Option<String>,
}

const LIMIT: Duration = Duration::from_secs(10);

impl CrmPromotion {
    fn run(&self, args: &[&str], deadline: Deadline) -> Result<(), OcfError> {
        let mut cmd = Command::new("crm_attribute");
        cmd.arg("--promotion").args(args);
        if let Some(node) = &self.node {
            cmd.arg("-N").arg(node);
        }
        ocf::command::run(&mut cmd, deadline.bound(LIMIT))?;
        Ok(())
    }
}

impl Promotion for CrmPromotion {
    fn set(&self, score: u32, deadline: Deadline) -> Result<(), OcfError> {
        self.run(&["-v", &score.to_string()], deadline)
    }

    fn clear(&self, deadline: Deadline) -> Result<(), OcfError> {
        self.run(&["-D"], deadline)
    }
}
