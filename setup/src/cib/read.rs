//! Reading a [`Cib`] back from XML: the parts it models exactly are parsed, every other
//! element of `<resources>` and `<constraints>` is kept verbatim as a [`Foreign`].

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{
    instance_set_id, meta_set_id, Action, BoolOp, Cib, CibError, Clone, Colocation, Constraint,
    Expression, FencingLevel, Foreign, Group, Location, LocationTarget, NvPair, Op, Order,
    OrderKind, Primitive, Resource, Rule, Ticket, PROPERTY_SET,
};

impl Cib {
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
        "rsc_ticket" => {
            if !e.children.is_empty()
                || !e.only_attrs(&["id", "rsc", "rsc-role", "ticket", "loss-policy"])
            {
                return None;
            }
            Some(Constraint::Ticket(Ticket {
                id: e.attr("id")?.to_owned(),
                rsc: e.attr("rsc")?.to_owned(),
                rsc_role: e.attr("rsc-role").map(str::to_owned),
                ticket: e.attr("ticket")?.to_owned(),
                loss_policy: e.attr("loss-policy").map(str::to_owned),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn foreign_elements_survive_a_round_trip() {
        let xml = r#"<cib validate-with="pacemaker-3.9" epoch="7"><configuration>
<crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="x" name="dc-version" value="2.1.5"/></cluster_property_set>
<cluster_property_set id="other"><nvpair id="y" name="a" value="b"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="web" class="ocf" provider="heartbeat" type="apache" description="d &amp; e"/>
<primitive id="p" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="p-instance_attributes"><nvpair id="p-instance_attributes-a" name="a" value="&lt;1&gt;"/></instance_attributes></primitive></resources>
<constraints><rsc_ticket id="t" ticket="T"><resource_set id="s"><resource_ref id="web"/></resource_set></rsc_ticket>
<rsc_ticket id="u" rsc="web" rsc-role="Promoted" ticket="T" loss-policy="demote"/></constraints></configuration>
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
        assert!(
            matches!(&cib.constraints[1], Constraint::Ticket(t) if t.rsc_role.as_deref() == Some("Promoted"))
        );
        let again = Cib::from_xml(&cib.to_xml()).unwrap();
        assert_eq!(again, cib);
    }

    #[test]
    fn not_a_cib_is_an_error() {
        assert!(matches!(Cib::from_xml("<foo/>"), Err(CibError::NotACib(_))));
        assert!(Cib::from_xml("<cib><configuration>").is_err());
    }
}
