//! A typed model of the parts of the Pacemaker CIB this project writes, its XML form
//! (schema `pacemaker-3.0`, nothing schema 4.0 removed), and the resource model of an HA
//! NFS-Ganesha cluster ([`model`]).
//!
//! [`Cib::to_xml`] renders a complete CIB (for `crm_verify`, `crm_simulate`, or
//! `cibadmin --replace`); [`Cib::from_xml`] reads the same parts back from `cibadmin --query`
//! output so that a live configuration can be edited. Elements of `<resources>` and
//! `<constraints>` that this model cannot represent exactly (resources of other tools, rules
//! with dates, resource sets, ...) are kept verbatim as [`Foreign`] and written back unchanged.
//! Everything else of a live CIB (nodes, status, other property sets, ...) is ignored.
//!
//! Ids are deterministic: an attribute set of `<owner>` is `<owner>-instance_attributes` or
//! `<owner>-meta_attributes`, its pairs `<set>-<name>`; an operation is
//! `<rsc>-<name>-interval-<interval>`; constraint ids are named after what they do.

use std::io;
use std::ops::Range;

use ganesha_agents::names::{
    GANESHA_ACTIVE, GRACE_ACTIVE, GRACE_AGENT, MON_AGENT, NFSD_AGENT, PROVIDER,
};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use crate::spec::{ClusterSpec, Fencing};

/// The `validate-with` this project writes: accepted by Pacemaker 2.0 to 3.x.
pub const SCHEMA: &str = "pacemaker-3.0";

/// The clone of `ocf:ganesha:ganesha_nfsd`.
pub const NFSD_CLONE: &str = "nfs-ganesha-clone";
/// The clone of `ocf:ganesha:ganesha_mon`.
pub const MON_CLONE: &str = "nfs-mon-clone";
/// The clone of `ocf:ganesha:ganesha_grace` (`notify=true`).
pub const GRACE_CLONE: &str = "nfs-grace-clone";

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
    fn as_str(self) -> &'static str {
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

/// One child of `<constraints>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint {
    Location(Location),
    Colocation(Colocation),
    Order(Order),
    Foreign(Foreign),
}

impl Constraint {
    /// The constraint id.
    pub fn id(&self) -> &str {
        match self {
            Constraint::Location(c) => &c.id,
            Constraint::Colocation(c) => &c.id,
            Constraint::Order(c) => &c.id,
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

    /// A complete CIB document (`<nodes/>` and `<status/>` empty).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        match self.write(&mut w) {
            Ok(()) => String::from_utf8_lossy(&w.into_inner()).into_owned(),
            // Writing to a Vec<u8> does not fail.
            Err(_) => String::new(),
        }
    }

    /// The `<resources>` section alone (for `cibadmin --replace --scope resources`).
    pub fn resources_xml(&self) -> String {
        section_xml(|w| write_resources(w, &self.resources))
    }

    /// The `<constraints>` section alone (for `cibadmin --replace --scope constraints`).
    pub fn constraints_xml(&self) -> String {
        section_xml(|w| write_constraints(w, &self.constraints))
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
        w.create_element("cib")
            .with_attributes([
                ("validate-with", SCHEMA),
                ("admin_epoch", "0"),
                ("epoch", "1"),
                ("num_updates", "0"),
            ])
            .write_inner_content(|w| {
                w.create_element("configuration").write_inner_content(|w| {
                    w.create_element("crm_config").write_inner_content(|w| {
                        if !self.properties.is_empty() {
                            write_set(w, "cluster_property_set", PROPERTY_SET, &self.properties)?;
                        }
                        Ok(())
                    })?;
                    w.create_element("nodes").write_empty()?;
                    write_resources(w, &self.resources)?;
                    write_constraints(w, &self.constraints)?;
                    if !self.fencing_topology.is_empty() {
                        w.create_element("fencing-topology")
                            .write_inner_content(|w| {
                                for level in &self.fencing_topology {
                                    let index = level.index.to_string();
                                    let devices = level.devices.join(",");
                                    w.create_element("fencing-level")
                                        .with_attributes([
                                            ("id", level.id.as_str()),
                                            ("target", level.target.as_str()),
                                            ("index", index.as_str()),
                                            ("devices", devices.as_str()),
                                        ])
                                        .write_empty()?;
                                }
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
                w.create_element("status").write_empty()?;
                Ok(())
            })?;
        w.write_event(Event::Text(BytesText::from_escaped("\n")))?;
        Ok(())
    }

    /// Reads the managed parts of a CIB (`cibadmin --query` output or [`Cib::to_xml`]).
    pub fn from_xml(xml: &str) -> Result<Cib, CibError> {
        let root = parse_tree(xml)?;
        if root.name != "cib" {
            return Err(CibError::NotACib(format!("root element <{}>", root.name)));
        }
        let config = root
            .child("configuration")
            .ok_or_else(|| CibError::NotACib("no <configuration>".into()))?;
        let mut cib = Cib::default();
        if let Some(crm_config) = config.child("crm_config") {
            for set in crm_config.children_named("cluster_property_set") {
                if set.attr("id") == Some(PROPERTY_SET) {
                    cib.properties
                        .extend(set.children_named("nvpair").map(|p| NvPair {
                            id: p.attr("id").unwrap_or_default().to_owned(),
                            name: p.attr("name").unwrap_or_default().to_owned(),
                            value: p.attr("value").unwrap_or_default().to_owned(),
                        }));
                }
            }
        }
        if let Some(resources) = config.child("resources") {
            cib.resources = resources
                .children
                .iter()
                .map(|e| parse_resource(e).unwrap_or_else(|| Resource::Foreign(e.foreign(xml))))
                .collect();
        }
        if let Some(constraints) = config.child("constraints") {
            cib.constraints = constraints
                .children
                .iter()
                .map(|e| parse_constraint(e).unwrap_or_else(|| Constraint::Foreign(e.foreign(xml))))
                .collect();
        }
        if let Some(topology) = config.child("fencing-topology") {
            cib.fencing_topology = topology
                .children_named("fencing-level")
                .filter_map(|e| {
                    Some(FencingLevel {
                        id: e.attr("id")?.to_owned(),
                        target: e.attr("target")?.to_owned(),
                        index: e.attr("index")?.parse().ok()?,
                        devices: e.attr("devices")?.split(',').map(str::to_owned).collect(),
                    })
                })
                .collect();
        }
        Ok(cib)
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

fn meta_set_id(owner: &str) -> String {
    xml_id(&format!("{owner}-meta_attributes"))
}

// ---------------------------------------------------------------------------------------
// Writing

fn section_xml(f: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    match f(&mut w) {
        Ok(()) => String::from_utf8_lossy(&w.into_inner()).into_owned(),
        Err(_) => String::new(),
    }
}

fn write_set(w: &mut Writer<Vec<u8>>, element: &str, id: &str, pairs: &[NvPair]) -> io::Result<()> {
    w.create_element(element)
        .with_attribute(("id", id))
        .write_inner_content(|w| {
            for p in pairs {
                w.create_element("nvpair")
                    .with_attributes([
                        ("id", p.id.as_str()),
                        ("name", p.name.as_str()),
                        ("value", p.value.as_str()),
                    ])
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

/// Writes `f` verbatim (on a line of its own; what follows it may share its last line).
fn write_foreign(w: &mut Writer<Vec<u8>>, f: &Foreign) -> io::Result<()> {
    w.write_indent()?;
    w.write_event(Event::Text(BytesText::from_escaped(f.xml.as_str())))
}

fn write_primitive(w: &mut Writer<Vec<u8>>, p: &Primitive) -> io::Result<()> {
    let mut start = BytesStart::new("primitive");
    start.push_attribute(("id", p.id.as_str()));
    start.push_attribute(("class", p.class.as_str()));
    if let Some(provider) = &p.provider {
        start.push_attribute(("provider", provider.as_str()));
    }
    start.push_attribute(("type", p.kind.as_str()));
    if p.instance.is_empty() && p.meta.is_empty() && p.ops.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    if !p.instance.is_empty() {
        write_set(
            w,
            "instance_attributes",
            &instance_set_id(&p.id),
            &p.instance,
        )?;
    }
    if !p.meta.is_empty() {
        write_set(w, "meta_attributes", &meta_set_id(&p.id), &p.meta)?;
    }
    if !p.ops.is_empty() {
        w.create_element("operations").write_inner_content(|w| {
            for op in &p.ops {
                let mut e = BytesStart::new("op");
                e.push_attribute(("id", op.id.as_str()));
                e.push_attribute(("name", op.name.as_str()));
                e.push_attribute(("interval", op.interval.as_str()));
                if let Some(timeout) = &op.timeout {
                    e.push_attribute(("timeout", timeout.as_str()));
                }
                for (k, v) in &op.extra {
                    e.push_attribute((k.as_str(), v.as_str()));
                }
                if op.params.is_empty() {
                    w.write_event(Event::Empty(e))?;
                } else {
                    w.write_event(Event::Start(e))?;
                    write_set(
                        w,
                        "instance_attributes",
                        &instance_set_id(&op.id),
                        &op.params,
                    )?;
                    w.write_event(Event::End(BytesEnd::new("op")))?;
                }
            }
            Ok(())
        })?;
    }
    w.write_event(Event::End(BytesEnd::new("primitive")))
}

fn write_resources(w: &mut Writer<Vec<u8>>, resources: &[Resource]) -> io::Result<()> {
    if resources.is_empty() {
        w.create_element("resources").write_empty()?;
        return Ok(());
    }
    w.create_element("resources").write_inner_content(|w| {
        for r in resources {
            match r {
                Resource::Primitive(p) => write_primitive(w, p)?,
                Resource::Clone(c) => {
                    w.create_element("clone")
                        .with_attribute(("id", c.id.as_str()))
                        .write_inner_content(|w| {
                            if !c.meta.is_empty() {
                                write_set(w, "meta_attributes", &meta_set_id(&c.id), &c.meta)?;
                            }
                            write_primitive(w, &c.child)
                        })?;
                }
                Resource::Group(g) => {
                    w.create_element("group")
                        .with_attribute(("id", g.id.as_str()))
                        .write_inner_content(|w| {
                            for p in &g.members {
                                write_primitive(w, p)?;
                            }
                            Ok(())
                        })?;
                }
                Resource::Foreign(f) => write_foreign(w, f)?,
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn write_constraints(w: &mut Writer<Vec<u8>>, constraints: &[Constraint]) -> io::Result<()> {
    if constraints.is_empty() {
        w.create_element("constraints").write_empty()?;
        return Ok(());
    }
    w.create_element("constraints").write_inner_content(|w| {
        for c in constraints {
            match c {
                Constraint::Location(l) => match &l.target {
                    LocationTarget::Node { node, score } => {
                        w.create_element("rsc_location")
                            .with_attributes([
                                ("id", l.id.as_str()),
                                ("rsc", l.rsc.as_str()),
                                ("node", node.as_str()),
                                ("score", score.as_str()),
                            ])
                            .write_empty()?;
                    }
                    LocationTarget::Rule(rule) => {
                        w.create_element("rsc_location")
                            .with_attributes([("id", l.id.as_str()), ("rsc", l.rsc.as_str())])
                            .write_inner_content(|w| write_rule(w, rule))?;
                    }
                },
                Constraint::Colocation(c) => {
                    w.create_element("rsc_colocation")
                        .with_attributes([
                            ("id", c.id.as_str()),
                            ("rsc", c.rsc.as_str()),
                            ("with-rsc", c.with_rsc.as_str()),
                            ("score", c.score.as_str()),
                        ])
                        .write_empty()?;
                }
                Constraint::Order(o) => {
                    let mut e = BytesStart::new("rsc_order");
                    e.push_attribute(("id", o.id.as_str()));
                    e.push_attribute(("first", o.first.as_str()));
                    if let Some(a) = o.first_action {
                        e.push_attribute(("first-action", a.as_str()));
                    }
                    e.push_attribute(("then", o.then.as_str()));
                    if let Some(a) = o.then_action {
                        e.push_attribute(("then-action", a.as_str()));
                    }
                    if let Some(k) = o.kind {
                        e.push_attribute(("kind", k.as_str()));
                    }
                    if let Some(s) = o.symmetrical {
                        e.push_attribute(("symmetrical", if s { "true" } else { "false" }));
                    }
                    w.write_event(Event::Empty(e))?;
                }
                Constraint::Foreign(f) => write_foreign(w, f)?,
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn write_rule(w: &mut Writer<Vec<u8>>, rule: &Rule) -> io::Result<()> {
    let mut e = BytesStart::new("rule");
    e.push_attribute(("id", rule.id.as_str()));
    e.push_attribute(("score", rule.score.as_str()));
    if let Some(op) = rule.boolean_op {
        e.push_attribute(("boolean-op", op.as_str()));
    }
    w.write_event(Event::Start(e))?;
    for x in &rule.expressions {
        let mut e = BytesStart::new("expression");
        e.push_attribute(("id", x.id.as_str()));
        e.push_attribute(("attribute", x.attribute.as_str()));
        e.push_attribute(("operation", x.operation.as_str()));
        if let Some(v) = &x.value {
            e.push_attribute(("value", v.as_str()));
        }
        w.write_event(Event::Empty(e))?;
    }
    w.write_event(Event::End(BytesEnd::new("rule")))
}

// ---------------------------------------------------------------------------------------
// Reading

/// A minimal element tree, with each element's byte range in the source.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    span: Range<usize>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Whether every attribute is one of `allowed`.
    fn only_attrs(&self, allowed: &[&str]) -> bool {
        self.attrs
            .iter()
            .all(|(k, _)| allowed.contains(&k.as_str()))
    }

    fn foreign(&self, source: &str) -> Foreign {
        Foreign {
            id: self.attr("id").unwrap_or_default().to_owned(),
            xml: source.get(self.span.clone()).unwrap_or_default().to_owned(),
        }
    }
}

fn element_of(e: &BytesStart<'_>, start: usize) -> Result<Element, CibError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value()?.into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
        attrs,
        children: Vec::new(),
        span: start..start,
    })
}

fn parse_tree(xml: &str) -> Result<Element, CibError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event()?;
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let done = match event {
            Event::Start(e) => {
                stack.push(element_of(&e, start)?);
                None
            }
            Event::Empty(e) => {
                let mut el = element_of(&e, start)?;
                el.span = start..end;
                match stack.last_mut() {
                    Some(parent) => {
                        parent.children.push(el);
                        None
                    }
                    None => Some(el),
                }
            }
            Event::End(_) => match stack.pop() {
                Some(mut el) => {
                    el.span.end = end;
                    match stack.last_mut() {
                        Some(parent) => {
                            parent.children.push(el);
                            None
                        }
                        None => Some(el),
                    }
                }
                None => return Err(CibError::NotACib("unbalanced end tag".into())),
            },
            Event::Eof => return Err(CibError::NotACib("no root element".into())),
            _ => None,
        };
        if let Some(root) = done {
            return Ok(root);
        }
    }
}

/// The pairs of an attribute set with exactly the id `set_id` and nothing but nvpairs.
fn parse_set(e: &Element, set_id: &str) -> Option<Vec<NvPair>> {
    if e.attr("id") != Some(set_id) || !e.only_attrs(&["id"]) {
        return None;
    }
    e.children
        .iter()
        .map(|p| {
            if p.name != "nvpair"
                || !p.children.is_empty()
                || !p.only_attrs(&["id", "name", "value"])
            {
                return None;
            }
            Some(NvPair {
                id: p.attr("id")?.to_owned(),
                name: p.attr("name")?.to_owned(),
                value: p.attr("value")?.to_owned(),
            })
        })
        .collect()
}

fn parse_primitive(e: &Element) -> Option<Primitive> {
    if e.name != "primitive" || !e.only_attrs(&["id", "class", "provider", "type"]) {
        return None;
    }
    let mut p = Primitive {
        id: e.attr("id")?.to_owned(),
        class: e.attr("class")?.to_owned(),
        provider: e.attr("provider").map(str::to_owned),
        kind: e.attr("type")?.to_owned(),
        instance: Vec::new(),
        meta: Vec::new(),
        ops: Vec::new(),
    };
    // The order to_xml writes, each at most once and not empty.
    let mut stage = 0;
    for c in &e.children {
        match c.name.as_str() {
            "instance_attributes" if stage < 1 => {
                p.instance = parse_set(c, &instance_set_id(&p.id))?;
                stage = 1;
                if p.instance.is_empty() {
                    return None;
                }
            }
            "meta_attributes" if stage < 2 => {
                p.meta = parse_set(c, &meta_set_id(&p.id))?;
                stage = 2;
                if p.meta.is_empty() {
                    return None;
                }
            }
            "operations" if stage < 3 => {
                stage = 3;
                if !c.only_attrs(&[]) || c.children.is_empty() {
                    return None;
                }
                for op in &c.children {
                    if op.name != "op" || op.children.len() > 1 {
                        return None;
                    }
                    let mut parsed = Op {
                        id: op.attr("id")?.to_owned(),
                        name: op.attr("name")?.to_owned(),
                        interval: op.attr("interval")?.to_owned(),
                        timeout: op.attr("timeout").map(str::to_owned),
                        extra: Vec::new(),
                        params: Vec::new(),
                    };
                    if let Some(set) = op.children.first() {
                        if set.name != "instance_attributes" {
                            return None;
                        }
                        parsed.params = parse_set(set, &instance_set_id(&parsed.id))?;
                        if parsed.params.is_empty() {
                            return None;
                        }
                    }
                    // to_xml writes id, name, interval, timeout, then the rest.
                    let mut fixed = vec!["id", "name", "interval"];
                    if parsed.timeout.is_some() {
                        fixed.push("timeout");
                    }
                    let names: Vec<&str> = op.attrs.iter().map(|(k, _)| k.as_str()).collect();
                    if names.get(..fixed.len()) != Some(fixed.as_slice()) {
                        return None;
                    }
                    parsed.extra = op.attrs.get(fixed.len()..)?.to_vec();
                    p.ops.push(parsed);
                }
            }
            _ => return None,
        }
    }
    Some(p)
}

fn parse_resource(e: &Element) -> Option<Resource> {
    match e.name.as_str() {
        "primitive" => parse_primitive(e).map(Resource::Primitive),
        "clone" => {
            if !e.only_attrs(&["id"]) {
                return None;
            }
            let id = e.attr("id")?.to_owned();
            let (meta, child) = match e.children.as_slice() {
                [child] => (Vec::new(), child),
                [meta, child] if meta.name == "meta_attributes" => {
                    let pairs = parse_set(meta, &meta_set_id(&id))?;
                    if pairs.is_empty() {
                        return None;
                    }
                    (pairs, child)
                }
                _ => return None,
            };
            Some(Resource::Clone(Clone {
                id,
                meta,
                child: parse_primitive(child)?,
            }))
        }
        "group" => {
            if !e.only_attrs(&["id"]) || e.children.is_empty() {
                return None;
            }
            Some(Resource::Group(Group {
                id: e.attr("id")?.to_owned(),
                members: e
                    .children
                    .iter()
                    .map(parse_primitive)
                    .collect::<Option<_>>()?,
            }))
        }
        _ => None,
    }
}

fn parse_rule(e: &Element) -> Option<Rule> {
    if e.name != "rule" || !e.only_attrs(&["id", "score", "boolean-op"]) {
        return None;
    }
    let boolean_op = match e.attr("boolean-op") {
        None => None,
        Some("and") => Some(BoolOp::And),
        Some("or") => Some(BoolOp::Or),
        Some(_) => return None,
    };
    let expressions = e
        .children
        .iter()
        .map(|x| {
            if x.name != "expression"
                || !x.children.is_empty()
                || !x.only_attrs(&["id", "attribute", "operation", "value"])
            {
                return None;
            }
            Some(Expression {
                id: x.attr("id")?.to_owned(),
                attribute: x.attr("attribute")?.to_owned(),
                operation: x.attr("operation")?.to_owned(),
                value: x.attr("value").map(str::to_owned),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    if expressions.is_empty() {
        return None;
    }
    Some(Rule {
        id: e.attr("id")?.to_owned(),
        score: e.attr("score")?.to_owned(),
        boolean_op,
        expressions,
    })
}

fn parse_constraint(e: &Element) -> Option<Constraint> {
    match e.name.as_str() {
        "rsc_location" => {
            let id = e.attr("id")?.to_owned();
            let rsc = e.attr("rsc")?.to_owned();
            let target = match e.children.as_slice() {
                [] if e.only_attrs(&["id", "rsc", "node", "score"]) => LocationTarget::Node {
                    node: e.attr("node")?.to_owned(),
                    score: e.attr("score")?.to_owned(),
                },
                [rule] if e.only_attrs(&["id", "rsc"]) => LocationTarget::Rule(parse_rule(rule)?),
                _ => return None,
            };
            Some(Constraint::Location(Location { id, rsc, target }))
        }
        "rsc_colocation" => {
            if !e.children.is_empty() || !e.only_attrs(&["id", "rsc", "with-rsc", "score"]) {
                return None;
            }
            Some(Constraint::Colocation(Colocation {
                id: e.attr("id")?.to_owned(),
                rsc: e.attr("rsc")?.to_owned(),
                with_rsc: e.attr("with-rsc")?.to_owned(),
                score: e.attr("score")?.to_owned(),
            }))
        }
        "rsc_order" => {
            if !e.children.is_empty()
                || !e.only_attrs(&[
                    "id",
                    "first",
                    "first-action",
                    "then",
                    "then-action",
                    "kind",
                    "symmetrical",
                ])
            {
                return None;
            }
            let action = |name: &str| match e.attr(name) {
                None => Some(None),
                Some(a) => Action::parse(a).map(Some),
            };
            Some(Constraint::Order(Order {
                id: e.attr("id")?.to_owned(),
                first: e.attr("first")?.to_owned(),
                first_action: action("first-action")?,
                then: e.attr("then")?.to_owned(),
                then_action: action("then-action")?,
                kind: match e.attr("kind") {
                    None => None,
                    Some(k) => Some(OrderKind::parse(k)?),
                },
                symmetrical: match e.attr("symmetrical") {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(_) => return None,
                },
            }))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The HA NFS-Ganesha model

/// The resource (VIP or portblock group) that carries `node`'s VIP, as constraints name it.
pub fn vip_target(spec: &ClusterSpec, node: &str) -> String {
    if spec.portblock {
        xml_id(&format!("{node}-group"))
    } else {
        vip_id(node)
    }
}

/// The id of `node`'s IPaddr2 primitive.
pub fn vip_id(node: &str) -> String {
    xml_id(&format!("{node}-vip"))
}

/// `home`'s VIP preferences in ring order: `(node, score)` with the home node at
/// `1000 × n`, then each node before it in `nodes` (wrapping) 1000 less (glusterfs' weights).
pub fn ring_preferences<'a>(nodes: &[&'a str], home: usize) -> Vec<(&'a str, u32)> {
    let n = nodes.len();
    (0..n)
        .filter_map(|k| {
            let node = nodes.get((home + n - k) % n)?;
            let score = u32::try_from(1000 * (n - k)).unwrap_or(u32::MAX);
            Some((*node, score))
        })
        .collect()
}

fn ganesha_clone(id: &str, child: Primitive, meta: &[(&str, &str)]) -> Resource {
    Resource::Clone(Clone {
        id: id.to_owned(),
        meta: meta
            .iter()
            .map(|(k, v)| NvPair::new(&meta_set_id(id), k, v))
            .collect(),
        child,
    })
}

/// Why ganesha_mon's monitor is what it is (the generated CIB carries it as the op's
/// `description`; figures in docs/failover.md).
pub const MON_MONITOR_WHY: &str = "Failure detection: every 1 s by default at depth 10 (the \
    daemon must own its pid file and answer get_grace on D-Bus within 5 s). A dead daemon is \
    seen within the interval, a hung one within the interval plus 5 s; then grace-active is \
    withdrawn, the survivors enter grace and the VIP moves. A steady-state call costs about \
    3 ms, and its 10 s timeout is far from what a busy node needs, so a short interval buys \
    fast failover without false ones.";

/// Why ganesha_nfsd's monitor is what it is.
pub const NFSD_MONITOR_WHY: &str = "Recovery: every 10 s by default at depth 10 (the daemon \
    answers on D-Bus within dbus_timeout); on failure Pacemaker restarts the daemon, killing \
    a hung one, and ganesha_mon brings the VIP home once it is healthy again. Longer than \
    ganesha_mon's interval so that a failure usually moves the VIP first.";

/// The complete configuration of an HA NFS-Ganesha cluster (see the module docs and the
/// README, "Constraints: grace before the VIP moves, without a sleep").
pub fn model(spec: &ClusterSpec) -> Cib {
    let mut cib = Cib::default();
    match &spec.fencing {
        Fencing::Disabled => cib.set_property("stonith-enabled", "false"),
        Fencing::Devices(_) => cib.set_property("stonith-enabled", "true"),
    }
    let policy = if spec.nodes.len() <= 2 {
        "ignore"
    } else {
        "stop"
    };
    cib.set_property("no-quorum-policy", policy);

    if let Fencing::Devices(devices) = &spec.fencing {
        for d in devices {
            let mut p = Primitive::new(&d.id, "stonith", None, &d.agent);
            for (k, v) in &d.params {
                p = p.param(k, v);
            }
            cib.resources
                .push(Resource::Primitive(p.op("monitor", "60s", Some("20s"))));
        }
    }

    let mut nfsd = Primitive::new("nfs-ganesha", "ocf", Some(PROVIDER), NFSD_AGENT)
        .param("config", &spec.ganesha.config)
        .param("pid_file", &spec.ganesha.pid_file)
        .param("recovery_root", &spec.ganesha.recovery_root);
    for (name, value) in [
        ("state_device", &spec.state.device),
        ("state_fstype", &spec.state.fstype),
        ("state_options", &spec.state.options),
    ] {
        if let Some(v) = value {
            nfsd = nfsd.param(name, v);
        }
    }
    let nfsd = nfsd
        .param("state_mount", &spec.state.mount)
        .op("start", "0s", Some("60s"))
        .op("stop", "0s", Some("60s"))
        // Depth 10: the daemon must answer on D-Bus, so a hung one is recovered (restarted).
        .monitor_at_depth(&spec.intervals.nfsd, Some("20s"), 10)
        .describe_last_op(NFSD_MONITOR_WHY);
    cib.resources
        .push(ganesha_clone(NFSD_CLONE, nfsd, &[("interleave", "true")]));

    let mon = Primitive::new("nfs-mon", "ocf", Some(PROVIDER), MON_AGENT)
        .param("pid_file", &spec.ganesha.pid_file)
        // Depth 10: a daemon that lives but does not answer (hung) is unhealthy, so its VIP
        // moves as for a dead one.
        .monitor_at_depth(&spec.intervals.mon, Some("10s"), 10)
        .describe_last_op(MON_MONITOR_WHY);
    cib.resources.push(ganesha_clone(MON_CLONE, mon, &[]));

    let grace = Primitive::new("nfs-grace", "ocf", Some(PROVIDER), GRACE_AGENT)
        .op("notify", "0s", Some("30s"))
        .op("monitor", &spec.intervals.grace, Some("10s"));
    cib.resources
        .push(ganesha_clone(GRACE_CLONE, grace, &[("notify", "true")]));

    for node in &spec.nodes {
        let vip_id = vip_id(&node.name);
        let mut vip = Primitive::new(&vip_id, "ocf", Some("heartbeat"), "IPaddr2")
            .param("ip", &node.vip.ip().to_string())
            .param("cidr_netmask", &node.vip.prefix().to_string());
        if let Some(nic) = &spec.vip_nic {
            vip = vip.param("nic", nic);
        }
        let vip = vip.op("monitor", &spec.intervals.vip, Some("20s"));
        if spec.portblock {
            let ip = node.vip.ip().to_string();
            let block = Primitive::new(
                &xml_id(&format!("{}-nfs_block", node.name)),
                "ocf",
                Some("heartbeat"),
                "portblock",
            )
            .param("protocol", "tcp")
            .param("portno", "2049")
            .param("action", "block")
            .param("ip", &ip)
            .op("monitor", &spec.intervals.vip, Some("20s"));
            let tickle_dir = format!(
                "{}/nfs-ganesha/tickle_dir",
                spec.state.mount.trim_end_matches('/')
            );
            let unblock = Primitive::new(
                &xml_id(&format!("{}-nfs_unblock", node.name)),
                "ocf",
                Some("heartbeat"),
                "portblock",
            )
            .param("protocol", "tcp")
            .param("portno", "2049")
            .param("action", "unblock")
            .param("ip", &ip)
            .param("reset_local_on_unblock_stop", "true")
            .param("tickle_dir", &tickle_dir)
            .op("monitor", &spec.intervals.vip, Some("20s"));
            cib.resources.push(Resource::Group(Group {
                id: vip_target(spec, &node.name),
                members: vec![block, vip, unblock],
            }));
        } else {
            cib.resources.push(Resource::Primitive(vip));
        }
    }

    let grace_loc = format!("{GRACE_CLONE}-needs-{GRACE_ACTIVE}");
    cib.constraints.push(Constraint::Location(Location {
        rsc: GRACE_CLONE.to_owned(),
        target: LocationTarget::Rule(Rule::new(&grace_loc, "-INFINITY", None).expression(
            GRACE_ACTIVE,
            "ne",
            Some("1"),
        )),
        id: grace_loc,
    }));
    let names: Vec<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
    for (home, name) in names.iter().enumerate() {
        let target = vip_target(spec, name);
        let needs = format!("{target}-needs-ganesha");
        cib.constraints.push(Constraint::Location(Location {
            rsc: target.clone(),
            target: LocationTarget::Rule(
                Rule::new(&needs, "-INFINITY", Some(BoolOp::Or))
                    .expression(GANESHA_ACTIVE, "ne", Some("1"))
                    .expression(GRACE_ACTIVE, "ne", Some("1")),
            ),
            id: needs,
        }));
        for (node, score) in ring_preferences(&names, home) {
            cib.constraints.push(Constraint::Location(Location {
                id: xml_id(&format!("{target}-prefers-{node}")),
                rsc: target.clone(),
                target: LocationTarget::Node {
                    node: node.to_owned(),
                    score: score.to_string(),
                },
            }));
        }
        for action in [Action::Stop, Action::Start] {
            cib.constraints.push(Constraint::Order(Order {
                id: format!("{target}-after-grace-{}", action.as_str()),
                first: GRACE_CLONE.to_owned(),
                first_action: Some(action),
                then: target.clone(),
                then_action: Some(Action::Start),
                kind: Some(OrderKind::Optional),
                symmetrical: Some(false),
            }));
        }
    }
    cib
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ring_preferences_follow_glusterfs() {
        let nodes = ["a", "b", "c"];
        assert_eq!(
            ring_preferences(&nodes, 0),
            vec![("a", 3000), ("c", 2000), ("b", 1000)]
        );
        assert_eq!(
            ring_preferences(&nodes, 1),
            vec![("b", 3000), ("a", 2000), ("c", 1000)]
        );
        assert_eq!(ring_preferences(&["x"], 0), vec![("x", 1000)]);
    }

    #[test]
    fn ids_are_ncnames() {
        assert_eq!(xml_id("node1-vip"), "node1-vip");
        assert_eq!(xml_id("1node-vip"), "_1node-vip");
        assert_eq!(xml_id("a b:c"), "a_b_c");
    }

    #[test]
    fn foreign_elements_survive_a_round_trip() {
        let xml = r#"<cib validate-with="pacemaker-3.9" epoch="7"><configuration>
<crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="x" name="dc-version" value="2.1.5"/></cluster_property_set>
<cluster_property_set id="other"><nvpair id="y" name="a" value="b"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="web" class="ocf" provider="heartbeat" type="apache" description="d &amp; e"/>
<primitive id="p" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="p-instance_attributes"><nvpair id="p-instance_attributes-a" name="a" value="&lt;1&gt;"/></instance_attributes></primitive></resources>
<constraints><rsc_ticket id="t" rsc="web" ticket="T"/></constraints></configuration>
<status><node_state id="1"/></status></cib>"#;
        let cib = Cib::from_xml(xml).unwrap();
        assert_eq!(cib.property("dc-version"), Some("2.1.5"));
        assert_eq!(cib.properties.len(), 1);
        match &cib.resources[0] {
            Resource::Foreign(f) => {
                assert_eq!(f.id, "web");
                assert!(f.xml.starts_with("<primitive id=\"web\""), "{}", f.xml);
                assert!(f.xml.ends_with("/>"), "{}", f.xml);
            }
            other => panic!("{other:?}"),
        }
        match &cib.resources[1] {
            Resource::Primitive(p) => assert_eq!(p.param_value("a"), Some("<1>")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&cib.constraints[0], Constraint::Foreign(f) if f.id == "t"));
        let again = Cib::from_xml(&cib.to_xml()).unwrap();
        assert_eq!(again, cib);
    }

    #[test]
    fn not_a_cib_is_an_error() {
        assert!(matches!(Cib::from_xml("<foo/>"), Err(CibError::NotACib(_))));
        assert!(Cib::from_xml("<cib><configuration>").is_err());
    }
}
