//! A typed model of the parts of the Pacemaker CIB this project writes, in schema
//! `pacemaker-3.0` (nothing schema 4.0 removed); the HA model built from it is
//! [`crate::model`].
//!
//! [`Cib::to_xml`] (in `write.rs`) renders a complete CIB (for `crm_verify`, `crm_simulate`,
//! or `cibadmin --replace`); [`Cib::from_xml`] (in `read.rs`) reads the same parts back from
//! `cibadmin --query` output so that a live configuration can be edited. Elements of
//! `<resources>` and `<constraints>` that this model cannot represent exactly (resources of
//! other tools, rules with dates, resource sets, ...) are kept verbatim as [`Foreign`] and
//! written back unchanged. Everything else of a live CIB (nodes, status, other property
//! sets, ...) is ignored.
//!
//! Ids are deterministic: an attribute set of `<owner>` is `<owner>-instance_attributes` or
//! `<owner>-meta_attributes`, its pairs `<set>-<name>`; an operation is
//! `<rsc>-<name>-interval-<interval>`; constraint ids are named after what they do.

mod read;
mod write;

/// The `validate-with` this project writes: accepted by Pacemaker 2.0 to 3.x.
pub const SCHEMA: &str = "pacemaker-3.0";

/// Reading a CIB failed.
#[derive(Debug, thiserror::Error)]
pub enum CibError {
    /// Not well-formed XML.
    #[error("malformed CIB XML: {0}")]
    Xml(#[from] quick_xml::Error),
    /// An attribute could not be read.
    #[error("malformed CIB XML attribute: {0}")]
    Attribute(#[from] quick_xml::events::attributes::AttrError),
    /// Well-formed, but not a CIB.
    #[error("not a CIB: {0}")]
    NotACib(String),
}

/// One `<nvpair>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPair {
    pub id: String,
    pub name: String,
    pub value: String,
}

impl NvPair {
    /// A pair of the set `set`, with the id `<set>-<name>`.
    pub fn new(set: &str, name: &str, value: &str) -> NvPair {
        NvPair {
            id: xml_id(&format!("{set}-{name}")),
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// One `<op>` of a primitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub id: String,
    /// `monitor`, `start`, `stop`, `notify`, ...
    pub name: String,
    /// A Pacemaker interval such as `10s`; `0s` for non-recurring operations.
    pub interval: String,
    pub timeout: Option<String>,
    /// Further attributes (`on-fail`, `role`, ...), in order.
    pub extra: Vec<(String, String)>,
    /// The operation's own instance attributes (`OCF_CHECK_LEVEL`), in the set
    /// `<op id>-instance_attributes`.
    pub params: Vec<NvPair>,
}

impl Op {
    /// The operation `name` of `rsc`, with the id `<rsc>-<name>-interval-<interval>`.
    pub fn new(rsc: &str, name: &str, interval: &str, timeout: Option<&str>) -> Op {
        Op {
            id: xml_id(&format!("{rsc}-{name}-interval-{interval}")),
            name: name.to_owned(),
            interval: interval.to_owned(),
            timeout: timeout.map(str::to_owned),
            extra: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds the operation instance attribute `name=value` (`OCF_CHECK_LEVEL`: the depth of a
    /// monitor).
    pub fn param(mut self, name: &str, value: &str) -> Op {
        let set = instance_set_id(&self.id);
        self.params.push(NvPair::new(&set, name, value));
        self
    }
}

/// A `<primitive>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    /// `ocf`, `stonith`, `systemd`, ...
    pub class: String,
    /// Required for `ocf`, absent for `stonith`.
    pub provider: Option<String>,
    /// The agent (`type`).
    pub kind: String,
    pub instance: Vec<NvPair>,
    pub meta: Vec<NvPair>,
    pub ops: Vec<Op>,
}

impl Primitive {
    /// A primitive without parameters or operations.
    pub fn new(id: &str, class: &str, provider: Option<&str>, kind: &str) -> Primitive {
        Primitive {
            id: id.to_owned(),
            class: class.to_owned(),
            provider: provider.map(str::to_owned),
            kind: kind.to_owned(),
            instance: Vec::new(),
            meta: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// Adds the instance attribute `name=value` (id `<id>-instance_attributes-<name>`).
    pub fn param(mut self, name: &str, value: &str) -> Primitive {
        let set = instance_set_id(&self.id);
        self.instance.push(NvPair::new(&set, name, value));
        self
    }

    /// Adds the meta attribute `name=value` (id `<id>-meta_attributes-<name>`).
    pub fn meta(mut self, name: &str, value: &str) -> Primitive {
        let set = meta_set_id(&self.id);
        self.meta.push(NvPair::new(&set, name, value));
        self
    }

    /// Adds an operation.
    pub fn op(mut self, name: &str, interval: &str, timeout: Option<&str>) -> Primitive {
        let op = Op::new(&self.id, name, interval, timeout);
        self.ops.push(op);
        self
    }

    /// Sets the `description` of the operation added last.
    pub fn describe_last_op(mut self, text: &str) -> Primitive {
        if let Some(op) = self.ops.last_mut() {
            op.extra.push(("description".to_owned(), text.to_owned()));
        }
        self
    }

    /// Adds a recurring monitor at `OCF_CHECK_LEVEL` `depth`.
    pub fn monitor_at_depth(
        mut self,
        interval: &str,
        timeout: Option<&str>,
        depth: u32,
    ) -> Primitive {
        let op = Op::new(&self.id, "monitor", interval, timeout)
            .param("OCF_CHECK_LEVEL", &depth.to_string());
        self.ops.push(op);
        self
    }

    /// The value of the instance attribute `name`.
    pub fn param_value(&self, name: &str) -> Option<&str> {
        self.instance
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

/// A `<clone>` of one primitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clone {
    pub id: String,
    pub meta: Vec<NvPair>,
    pub child: Primitive,
}

/// A `<group>` of primitives (started in order, stopped in reverse).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub members: Vec<Primitive>,
}

/// An element this model does not represent, kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// Its `id` attribute (empty if none).
    pub id: String,
    /// The element as it was read.
    pub xml: String,
}

/// One child of `<resources>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Primitive(Primitive),
    Clone(Clone),
    Group(Group),
    Foreign(Foreign),
}

impl Resource {
    /// The resource id.
    pub fn id(&self) -> &str {
        match self {
            Resource::Primitive(p) => &p.id,
            Resource::Clone(c) => &c.id,
            Resource::Group(g) => &g.id,
            Resource::Foreign(f) => &f.id,
        }
    }
}

/// A boolean operator of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

impl BoolOp {
    fn as_str(self) -> &'static str {
        match self {
            BoolOp::And => "and",
            BoolOp::Or => "or",
        }
    }
}

/// A node-attribute `<expression>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    pub id: String,
    pub attribute: String,
    /// `lt|gt|lte|gte|eq|ne|defined|not_defined`.
    pub operation: String,
    /// Absent for `defined`/`not_defined`.
    pub value: Option<String>,
}

/// A `<rule>` of node-attribute expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// `-INFINITY`, `INFINITY` or an integer.
    pub score: String,
    /// Absent means `and`.
    pub boolean_op: Option<BoolOp>,
    pub expressions: Vec<Expression>,
}

impl Rule {
    /// A rule with the id `<location>-rule`; expressions `<rule>-<attribute>`.
    pub fn new(location: &str, score: &str, boolean_op: Option<BoolOp>) -> Rule {
        Rule {
            id: xml_id(&format!("{location}-rule")),
            score: score.to_owned(),
            boolean_op,
            expressions: Vec::new(),
        }
    }

    /// Adds `attribute <operation> value`.
    pub fn expression(mut self, attribute: &str, operation: &str, value: Option<&str>) -> Rule {
        self.expressions.push(Expression {
            id: xml_id(&format!("{}-{attribute}", self.id)),
            attribute: attribute.to_owned(),
            operation: operation.to_owned(),
            value: value.map(str::to_owned),
        });
        self
    }
}

/// Where a `<rsc_location>` applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocationTarget {
    /// `node=` and `score=`.
    Node { node: String, score: String },
    /// One rule (schema 4.0 allows no more than one top-level rule).
    Rule(Rule),
}

/// A `<rsc_location>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub id: String,
    pub rsc: String,
    pub target: LocationTarget,
}

/// A `<rsc_colocation>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Colocation {
    pub id: String,
    pub rsc: String,
    pub with_rsc: String,
    pub score: String,
}

/// An action of an ordering constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Promote,
    Demote,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Promote => "promote",
            Action::Demote => "demote",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [Action::Start, Action::Stop, Action::Promote, Action::Demote]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// The kind of an ordering constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Mandatory,
    Optional,
    Serialize,
}

impl OrderKind {
    fn as_str(self) -> &'static str {
        match self {
            OrderKind::Mandatory => "Mandatory",
            OrderKind::Optional => "Optional",
            OrderKind::Serialize => "Serialize",
        }
    }

    fn parse(s: &str) -> Option<OrderKind> {
        [
            OrderKind::Mandatory,
            OrderKind::Optional,
            OrderKind::Serialize,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A `<rsc_order>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub first: String,
    pub first_action: Option<Action>,
    pub then: String,
    pub then_action: Option<Action>,
    pub kind: Option<OrderKind>,
    pub symmetrical: Option<bool>,
}

/// A `<rsc_ticket>`: `rsc` (in `rsc_role`, if given) runs only where `ticket` is granted;
/// losing the ticket applies `loss_policy` (`stop`, `demote`, `freeze`, `fence`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub id: String,
    pub rsc: String,
    pub rsc_role: Option<String>,
    pub ticket: String,
    pub loss_policy: Option<String>,
}

/// One child of `<constraints>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint {
    Location(Location),
    Colocation(Colocation),
    Order(Order),
    Ticket(Ticket),
    Foreign(Foreign),
}

impl Constraint {
    /// The constraint id.
    pub fn id(&self) -> &str {
        match self {
            Constraint::Location(c) => &c.id,
            Constraint::Colocation(c) => &c.id,
            Constraint::Order(c) => &c.id,
            Constraint::Ticket(c) => &c.id,
            Constraint::Foreign(f) => &f.id,
        }
    }
}

/// A `<fencing-level>`: at `index`, fence `target` with all of `devices`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencingLevel {
    pub id: String,
    pub target: String,
    pub index: u32,
    pub devices: Vec<String>,
}

/// The parts of a CIB this project manages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cib {
    /// The `cib-bootstrap-options` cluster properties.
    pub properties: Vec<NvPair>,
    pub resources: Vec<Resource>,
    pub constraints: Vec<Constraint>,
    pub fencing_topology: Vec<FencingLevel>,
}

/// The id of the cluster property set.
pub const PROPERTY_SET: &str = "cib-bootstrap-options";

impl Cib {
    /// Sets the cluster property `name` (replacing its value if present).
    pub fn set_property(&mut self, name: &str, value: &str) {
        match self.properties.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = value.to_owned(),
            None => self.properties.push(NvPair::new(PROPERTY_SET, name, value)),
        }
    }

    /// The value of the cluster property `name`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// The top-level resource `id`.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id() == id)
    }

    /// The constraint `id`.
    pub fn constraint(&self, id: &str) -> Option<&Constraint> {
        self.constraints.iter().find(|c| c.id() == id)
    }
}

/// A valid XML id (NCName) made from `s`: other characters become `_`, and an id that does
/// not start with a letter or `_` gets a `_` prefix.
pub fn xml_id(s: &str) -> String {
    let mut id: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

fn instance_set_id(owner: &str) -> String {
    xml_id(&format!("{owner}-instance_attributes"))
}

pub(crate) fn meta_set_id(owner: &str) -> String {
    xml_id(&format!("{owner}-meta_attributes"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ids_are_ncnames() {
        assert_eq!(xml_id("node1-vip"), "node1-vip");
        assert_eq!(xml_id("1node-vip"), "_1node-vip");
        assert_eq!(xml_id("a b:c"), "a_b_c");
    }
}
