//! Meta-data XML.
//!
//! `ocf-tester` validates meta-data with `xmllint --valid` against resource-agents'
//! `ra-api-1.dtd`, which needs the DOCTYPE line and accepts only the subset shared by OCF 1.0
//! and 1.1: `unique`/`required` attributes, content types string/integer/boolean, and the
//! DTD's action names (so no `reload-agent`, `reloadable` or `unique-group`). The output of
//! [`Metadata::to_xml`] stays inside that subset and also validates against OCF 1.1's
//! `ra-api.rng`.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::{Action, ParamSpec};

/// The OCF API version agents built on this crate implement.
pub const OCF_VERSION: &str = "1.1";

/// One advertised action with its default timeout (seconds) and options.
#[derive(Clone, Copy, Debug)]
pub struct ActionSpec {
    pub action: Action,
    pub timeout_secs: u32,
    pub interval_secs: Option<u32>,
    pub depth: Option<u32>,
    /// The role a recurring monitor is for (`Promoted`, `Unpromoted`) in a promotable clone.
    pub role: Option<&'static str>,
}

impl ActionSpec {
    /// An action with its default timeout.
    pub const fn new(action: Action, timeout_secs: u32) -> ActionSpec {
        ActionSpec {
            action,
            timeout_secs,
            interval_secs: None,
            depth: None,
            role: None,
        }
    }

    /// For one role of a promotable clone (`Promoted`, `Unpromoted`).
    pub const fn role(self, role: &'static str) -> ActionSpec {
        ActionSpec {
            role: Some(role),
            ..self
        }
    }

    /// A recurring action (monitor) with its default interval and depth.
    pub const fn every(self, interval_secs: u32, depth: u32) -> ActionSpec {
        ActionSpec {
            interval_secs: Some(interval_secs),
            depth: Some(depth),
            ..self
        }
    }
}

/// Everything the meta-data describes.
#[derive(Clone, Copy, Debug)]
pub struct Metadata {
    pub name: &'static str,
    pub version: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub params: &'static [ParamSpec],
    pub actions: &'static [ActionSpec],
}

impl Metadata {
    /// The meta-data document, DTD-valid, with the DOCTYPE `ocf-tester` requires.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing into a Vec cannot fail; the results are ignored deliberately.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)));
        let _ = w.write_event(Event::DocType(BytesText::from_escaped(
            r#"resource-agent SYSTEM "ra-api-1.dtd""#,
        )));
        let mut root = BytesStart::new("resource-agent");
        root.push_attribute(("name", self.name));
        root.push_attribute(("version", self.version));
        let _ = w.write_event(Event::Start(root));
        text_element(&mut w, "version", OCF_VERSION, false);
        text_element(&mut w, "longdesc", self.longdesc, true);
        text_element(&mut w, "shortdesc", self.shortdesc, true);

        let _ = w.write_event(Event::Start(BytesStart::new("parameters")));
        for p in self.params {
            let mut el = BytesStart::new("parameter");
            el.push_attribute(("name", p.name));
            el.push_attribute(("unique", if p.unique { "1" } else { "0" }));
            el.push_attribute(("required", if p.required { "1" } else { "0" }));
            let _ = w.write_event(Event::Start(el));
            text_element(&mut w, "longdesc", p.longdesc, true);
            text_element(&mut w, "shortdesc", p.shortdesc, true);
            let mut content = BytesStart::new("content");
            content.push_attribute(("type", p.kind.as_str()));
            if let Some(default) = p.default {
                content.push_attribute(("default", default));
            }
            let _ = w.write_event(Event::Empty(content));
            let _ = w.write_event(Event::End(BytesEnd::new("parameter")));
        }
        let _ = w.write_event(Event::End(BytesEnd::new("parameters")));

        let _ = w.write_event(Event::Start(BytesStart::new("actions")));
        for a in self.actions.iter().filter(|a| dtd_knows(a.action)) {
            let mut el = BytesStart::new("action");
            el.push_attribute(("name", a.action.as_str()));
            el.push_attribute(("timeout", format!("{}s", a.timeout_secs).as_str()));
            if let Some(interval) = a.interval_secs {
                el.push_attribute(("interval", format!("{interval}s").as_str()));
            }
            if let Some(role) = a.role {
                el.push_attribute(("role", role));
            }
            if let Some(depth) = a.depth {
                el.push_attribute(("depth", depth.to_string().as_str()));
            }
            let _ = w.write_event(Event::Empty(el));
        }
        let _ = w.write_event(Event::End(BytesEnd::new("actions")));
        let _ = w.write_event(Event::End(BytesEnd::new("resource-agent")));
        let mut xml = String::from_utf8_lossy(&w.into_inner()).into_owned();
        xml.push('\n');
        xml
    }

    /// A one-line usage text listing the advertised actions.
    pub fn usage(&self) -> String {
        let names: Vec<&str> = self.actions.iter().map(|a| a.action.as_str()).collect();
        format!("usage: {} {{{}}}", self.name, names.join("|"))
    }
}

/// `ra-api-1.dtd` enumerates the action names it accepts; `reload-agent` and `usage`
/// variants outside it would make the document invalid.
fn dtd_knows(action: Action) -> bool {
    !matches!(action, Action::ReloadAgent)
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str, lang: bool) {
    let mut el = BytesStart::new(name);
    if lang {
        el.push_attribute(("lang", "en"));
    }
    let _ = w.write_event(Event::Start(el));
    let _ = w.write_event(Event::Text(BytesText::new(text)));
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

#[cfg(test)]
mod tests {
    use super::*;

    static PARAMS: [ParamSpec; 2] = [
        ParamSpec::string("grace_active")
            .default("grace-active")
            .describe("Attribute", "The <node attribute> & its name."),
        ParamSpec::integer("n").required().unique(),
    ];
    static ACTIONS: [ActionSpec; 3] = [
        ActionSpec::new(Action::Start, 40),
        ActionSpec::new(Action::Monitor, 10).every(5, 0),
        ActionSpec::new(Action::ReloadAgent, 10),
    ];
    static PROMOTABLE: [ActionSpec; 1] = [ActionSpec::new(Action::Monitor, 30)
        .every(10, 0)
        .role("Promoted")];
    static META: Metadata = Metadata {
        name: "test_agent",
        version: "0.1.0",
        shortdesc: "Short",
        longdesc: "Long",
        params: &PARAMS,
        actions: &ACTIONS,
    };

    #[test]
    fn xml_has_doctype_params_and_escaping() {
        let xml = META.to_xml();
        assert!(xml.starts_with(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"
        ));
        assert!(xml.contains("<content type=\"string\" default=\"grace-active\"/>"));
        assert!(xml.contains("The &lt;node attribute&gt; &amp; its name."));
        assert!(xml.contains("<parameter name=\"n\" unique=\"1\" required=\"1\">"));
        assert!(
            xml.contains("<action name=\"monitor\" timeout=\"10s\" interval=\"5s\" depth=\"0\"/>")
        );
        assert!(
            !xml.contains("reload-agent"),
            "the DTD does not know reload-agent"
        );
    }

    #[test]
    fn a_monitor_may_name_its_role() {
        let meta = Metadata {
            actions: &PROMOTABLE,
            ..META
        };
        assert!(meta.to_xml().contains(
            "<action name=\"monitor\" timeout=\"30s\" interval=\"10s\" role=\"Promoted\" depth=\"0\"/>"
        ));
    }

    #[test]
    fn usage_lists_actions() {
        assert_eq!(
            META.usage(),
            "usage: test_agent {start|monitor|reload-agent}"
        );
    }
}
