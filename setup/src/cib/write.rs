//! The XML form of a [`Cib`]: what [`Cib::to_xml`] and the section writers emit, indented
//! by two spaces, [`Foreign`] elements verbatim.

use std::io;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{
    instance_set_id, meta_set_id, Cib, Constraint, Foreign, LocationTarget, NvPair, Primitive,
    Resource, Rule, PROPERTY_SET, SCHEMA,
};

impl Cib {
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
}

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
                Constraint::Ticket(t) => {
                    let mut e = BytesStart::new("rsc_ticket");
                    e.push_attribute(("id", t.id.as_str()));
                    e.push_attribute(("rsc", t.rsc.as_str()));
                    if let Some(role) = &t.rsc_role {
                        e.push_attribute(("rsc-role", role.as_str()));
                    }
                    e.push_attribute(("ticket", t.ticket.as_str()));
                    if let Some(policy) = &t.loss_policy {
                        e.push_attribute(("loss-policy", policy.as_str()));
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
