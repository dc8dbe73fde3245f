//! Clone notifications (Pacemaker Administration, "Clone Notifications").
//!
//! The `*_uname` and `*_resource` variables are whitespace-separated lists. Node names are
//! compared exactly, never as substrings (the glusterfs scripts matched `node1` inside
//! `node10`).

use crate::context::Env;

/// `OCF_RESKEY_CRM_meta_notify_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyType {
    Pre,
    Post,
}

/// `OCF_RESKEY_CRM_meta_notify_operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyOperation {
    Start,
    Stop,
    Promote,
    Demote,
}

/// One notification as delivered to a clone instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notification {
    pub kind: Option<NotifyType>,
    pub operation: Option<NotifyOperation>,
    pub start_uname: Vec<String>,
    pub stop_uname: Vec<String>,
    pub active_uname: Vec<String>,
    pub promote_uname: Vec<String>,
    pub demote_uname: Vec<String>,
    pub start_resource: Vec<String>,
    pub stop_resource: Vec<String>,
}

const PREFIX: &str = "OCF_RESKEY_CRM_meta_notify_";

impl Notification {
    /// Reads the notification variables; anything missing is empty.
    pub fn from_env(env: &Env) -> Notification {
        let list = |suffix: &str| split_list(env.get(&format!("{PREFIX}{suffix}")));
        Notification {
            kind: match env.get(&format!("{PREFIX}type")) {
                Some("pre") => Some(NotifyType::Pre),
                Some("post") => Some(NotifyType::Post),
                _ => None,
            },
            operation: match env.get(&format!("{PREFIX}operation")) {
                Some("start") => Some(NotifyOperation::Start),
                Some("stop") => Some(NotifyOperation::Stop),
                Some("promote") => Some(NotifyOperation::Promote),
                Some("demote") => Some(NotifyOperation::Demote),
                _ => None,
            },
            start_uname: list("start_uname"),
            stop_uname: list("stop_uname"),
            active_uname: list("active_uname"),
            promote_uname: list("promote_uname"),
            demote_uname: list("demote_uname"),
            start_resource: list("start_resource"),
            stop_resource: list("stop_resource"),
        }
    }

    /// Whether this is the `kind`-`operation` notification.
    pub fn is(&self, kind: NotifyType, operation: NotifyOperation) -> bool {
        self.kind == Some(kind) && self.operation == Some(operation)
    }
}

/// Splits a notification list on whitespace, dropping duplicates but keeping order.
fn split_list(value: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in value.unwrap_or_default().split_whitespace() {
        if !out.iter().any(|seen| seen == item) {
            out.push(item.to_owned());
        }
    }
    out
}

/// The names in `names` other than `me`, by exact comparison.
pub fn others<'a>(names: &'a [String], me: &'a str) -> impl Iterator<Item = &'a str> {
    names.iter().map(String::as_str).filter(move |n| *n != me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_any_whitespace_and_deduplicate() {
        let env = Env::from_pairs([
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "stop"),
            (
                "OCF_RESKEY_CRM_meta_notify_stop_uname",
                " node1\tnode10  node1\nnode2 ",
            ),
        ]);
        let n = Notification::from_env(&env);
        assert!(n.is(NotifyType::Post, NotifyOperation::Stop));
        assert_eq!(n.stop_uname, ["node1", "node10", "node2"]);
        assert!(n.start_uname.is_empty());
    }

    #[test]
    fn others_matches_names_exactly_never_substrings() {
        let names: Vec<String> = ["node1", "node10", "node"].map(String::from).to_vec();
        let rest: Vec<&str> = others(&names, "node1").collect();
        assert_eq!(rest, ["node10", "node"]);
    }

    #[test]
    fn missing_variables_give_an_empty_notification() {
        assert_eq!(
            Notification::from_env(&Env::default()),
            Notification::default()
        );
    }
}
