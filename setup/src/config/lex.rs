//! Lines of `ganesha-ha.conf` into `KEY=value` entries: quoting and comments, and the
//! refusal of anything glusterfs's `eval` would have run (a backquote or `$(`).

use std::collections::{HashMap, HashSet};

use super::errors::{Problem, Report};

/// One `KEY=value` line.
#[derive(Debug)]
pub(super) struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The entries of a file, each key once.
pub(super) struct Lexed {
    pub entries: Vec<Entry>,
    /// Keys of malformed lines: reported already, so not reported missing as well.
    pub broken: HashSet<String>,
}

/// Splits the text into entries, reporting malformed lines and duplicate keys.
pub(super) fn file(text: &str, report: &mut Report<'_>) -> Lexed {
    let mut entries: Vec<Entry> = Vec::new();
    let mut broken: HashSet<String> = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let raw = if i == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        match self::line(raw) {
            Ok(None) => {}
            Ok(Some((key, value))) => {
                if let Some(&first) = seen.get(&key) {
                    report.err(
                        Some(line),
                        format!("{key} is set twice (lines {first} and {line})"),
                        format!("remove one of lines {first} and {line}"),
                    );
                } else {
                    seen.insert(key.clone(), line);
                    entries.push(Entry { key, value, line });
                }
            }
            Err(problem) => {
                if let Some(key) = key_of(raw) {
                    broken.insert(key);
                }
                report.line(line, problem);
            }
        }
    }
    Lexed { entries, broken }
}

/// The key of a line that looks like an assignment, however malformed.
pub(super) fn key_of(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix("export ").unwrap_or(t).trim_start();
    let key = t.split_once('=')?.0.trim_end();
    valid_key(key).then(|| key.to_string())
}

/// Parses one line into its key and value: `Ok(None)` for blank lines and comments.
pub(super) fn line(raw: &str) -> Result<Option<(String, String)>, Problem> {
    let t = raw.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let t = match t.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => t,
    };
    let Some(eq) = t.find('=') else {
        return Err(Problem::new(
            "not a KEY=value line",
            "write KEY=\"value\", or comment the line out with #",
        ));
    };
    let (key, rest) = (&t[..eq], &t[eq + 1..]);
    if key.ends_with(char::is_whitespace) || rest.starts_with(char::is_whitespace) {
        return Err(Problem::new(
            "space around '='",
            "write KEY=\"value\" with no space around '='",
        ));
    }
    if !valid_key(key) {
        return Err(Problem::new(
            format!("`{key}` is not a valid key"),
            "keys are letters, digits and '_' (and '-' or '.' in a node name), \
             e.g. HA_NAME or VIP_server1",
        ));
    }
    let value = value(rest)?;
    if value.contains('`') || value.contains("$(") {
        return Err(Problem::new(
            format!("{key}: command substitution (` or $(...)) is not allowed"),
            "write the literal value: this file is read as data, but glusterfs's \
             ganesha-ha.sh would have run the command",
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Problem::new(
            format!("{key}: the value contains a control character"),
            "remove it",
        ));
    }
    Ok(Some((key.to_string(), value)))
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The value after `=`: quoted or a single word, optionally followed by a comment.
fn value(rest: &str) -> Result<String, Problem> {
    let trailing_ok = |after: &str| {
        let trimmed = after.trim_start();
        trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < after.len())
    };
    if let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let inner = &rest[1..];
        let Some(end) = inner.find(quote) else {
            return Err(Problem::new(
                format!("unterminated {quote} quote"),
                format!("close the {quote} quote on the same line (values cannot span lines)"),
            ));
        };
        let after = &inner[end + 1..];
        if !trailing_ok(after) {
            return Err(Problem::new(
                format!(
                    "unexpected text after the closing quote: `{}`",
                    after.trim()
                ),
                "a value is one quoted string; put a comment after whitespace and #",
            ));
        }
        return Ok(inner[..end].to_string());
    }
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (word, after) = (&rest[..end], &rest[end..]);
    if !trailing_ok(after) {
        return Err(Problem::new(
            format!("unexpected text after the value: `{}`", after.trim()),
            "quote a value that contains spaces: KEY=\"a b\"",
        ));
    }
    if word.contains('`') || word.contains("$(") {
        // Reported by the caller with the key.
        return Ok(word.to_string());
    }
    if let Some(c) = word.chars().find(|c| {
        matches!(
            c,
            '"' | '\'' | '\\' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
        )
    }) {
        return Err(Problem::new(
            format!("unquoted value contains `{c}`"),
            "write the value in quotes, without shell syntax",
        ));
    }
    Ok(word.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use crate::config::test_support::{fix, ok, only, BASE};
    use ipnetwork::IpNetwork;

    #[test]
    fn config_quotes_comments_and_export() {
        let spec = ok("# leading comment\n\
             \n\
             export HA_NAME='c-1' # trailing comment\n\
             \t HA_CLUSTER_NODES=a,b   # unquoted, then a comment\r\n\
             VIP_a=\"10.0.2.1/24\"\n\
             VIP_b='fd00::2'\n\
             HA_STONITH=\"off\"\n\
             HA_STATE_DEVICE=\"server1:/gluster_$shared#storage\"\n\
             HA_STATE_OPTIONS='_netdev,$x'\n");
        assert_eq!(spec.name, "c-1");
        assert_eq!(
            spec.nodes[0].vip,
            "10.0.2.1/24".parse::<IpNetwork>().unwrap()
        );
        assert_eq!(spec.nodes[0].vip.prefix(), 24);
        assert_eq!(
            spec.nodes[1].vip,
            "fd00::2/128".parse::<IpNetwork>().unwrap()
        );
        // No expansion: `$` and `#` inside quotes are plain characters.
        assert_eq!(
            spec.state.device.as_deref(),
            Some("server1:/gluster_$shared#storage")
        );
        assert_eq!(spec.state.options.as_deref(), Some("_netdev,$x"));
    }

    #[test]
    fn config_malformed_lines() {
        only(
            &format!("{BASE}HA_PORTBLOCK\n"),
            Some(6),
            "not a KEY=value line",
        );
        only(
            &format!("{BASE}HA_PORTBLOCK = on\n"),
            Some(6),
            "space around '='",
        );
        only(
            &format!("{BASE}HA_PORTBLOCK= on\n"),
            Some(6),
            "space around '='",
        );
        only(
            &format!("{BASE}HA_VIP_NIC=\"eth0\n"),
            Some(6),
            "unterminated \" quote",
        );
        only(
            &format!("{BASE}HA_VIP_NIC='eth0\"\n"),
            Some(6),
            "unterminated ' quote",
        );
        only(
            &format!("{BASE}HA_VIP_NIC=\"eth0\"x\n"),
            Some(6),
            "unexpected text after the closing quote",
        );
        only(
            &format!("{BASE}HA_VIP_NIC=\"eth0\"#c\n"),
            Some(6),
            "unexpected text after the closing quote",
        );
        only(
            &format!("{BASE}HA_VIP_NIC=eth0 eth1\n"),
            Some(6),
            "unexpected text after the value",
        );
        only(
            &format!("{BASE}9HA=x\n"),
            Some(6),
            "`9HA` is not a valid key",
        );
        only(&format!("{BASE}=x\n"), Some(6), "`` is not a valid key");
    }

    #[test]
    fn config_malformed_line_is_not_also_reported_missing() {
        only(
            &BASE.replace("VIP_b=10.0.2.2", "VIP_b = 10.0.2.2"),
            Some(4),
            "space around '='",
        );
        only(
            &BASE.replace("HA_CLUSTER_NODES=\"a,b\"", "HA_CLUSTER_NODES=\"a,b"),
            Some(2),
            "unterminated",
        );
        let on = BASE.replace("HA_STONITH=off", "HA_STONITH=on");
        only(
            &format!("{on}HA_FENCE_x=\"fence_x\" a=1\n"),
            Some(6),
            "after the closing quote",
        );
    }

    #[test]
    fn config_duplicate_key() {
        let e = only(
            &format!("{BASE}\n\n\nHA_NAME=d\n"),
            Some(9),
            "HA_NAME is set twice (lines 1 and 9)",
        );
        assert_eq!(fix(&e), "remove one of lines 1 and 9");
    }

    #[test]
    fn config_injection_is_never_executed() {
        // The classic: a quote closes the value and a command follows.
        let e = only(
            &BASE.replace("HA_NAME=c", "HA_NAME=\"x\"; rm -rf /\""),
            Some(1),
            "unexpected text after the closing quote: `; rm -rf /\"`",
        );
        assert!(fix(&e).contains("one quoted string"));
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=x;reboot"),
            Some(1),
            "unquoted value contains `;`",
        );
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=x&&reboot"),
            Some(1),
            "unquoted value contains `&`",
        );
        // Command substitution, quoted or not, in any key.
        for v in [
            "\"`reboot`\"",
            "`reboot`",
            "\"$(reboot)\"",
            "$(reboot)",
            "'a$(id)'",
        ] {
            let e = only(
                &format!("{BASE}HA_STATE_DEVICE={v}\n"),
                Some(6),
                "HA_STATE_DEVICE: command substitution",
            );
            assert!(fix(&e).contains("glusterfs"), "{v}");
        }
        // The VIP trick of ganesha-ha.sh's indirection: the value is data, checked as an address.
        only(
            &BASE.replace("VIP_b=10.0.2.2", "VIP_b='10.0.2.2;id'"),
            Some(4),
            "is not an IP address",
        );
        // Variables are not expanded, only kept literally (and here rejected as a name).
        only(
            &BASE.replace("HA_NAME=c", "HA_NAME=\"$USER\""),
            Some(1),
            "contains `$`",
        );
        let spec = ok(&format!("{BASE}HA_STATE_DEVICE=\"${{IFS}}x\"\n"));
        assert_eq!(spec.state.device.as_deref(), Some("${IFS}x"));
    }
}
