//! Small per-instance state files (`key=value` lines) under `HA_RSCTMP`, written atomically
//! so that a monitor killed mid-write never leaves a torn file behind.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The entries of a state file; `None` when there is no file.
pub fn read(path: &Path) -> io::Result<Option<BTreeMap<String, String>>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect(),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the state file with `entries` (temporary file, then rename).
pub fn write(path: &Path, entries: &BTreeMap<String, String>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let mut file = fs::File::create(&tmp)?;
    for (k, v) in entries {
        writeln!(file, "{k}={v}")?;
    }
    file.sync_data()?;
    fs::rename(&tmp, path)
}

/// Removes the state file; a missing file is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_removal() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let path = dir.path().join("sub/x.state");
        assert_eq!(read(&path).ok(), Some(None));
        let entries: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string())].into_iter().collect();
        assert!(write(&path, &entries).is_ok());
        assert_eq!(read(&path).ok(), Some(Some(entries)));
        assert!(remove(&path).is_ok());
        assert!(remove(&path).is_ok());
    }
}
