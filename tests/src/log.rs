//! Reading the nodes' pacemaker.log: lines in time order after a scenario's marks.

use crate::ha::Ha;

/// Milliseconds since the start of the year of a pacemaker.log line
/// (`Nov 21 05:34:33.533 node1 ...`), enough to order lines of one lab run.
pub fn log_time(line: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut w = line.split_whitespace();
    let name = w.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as i64;
    let day: i64 = w.next()?.parse().ok()?;
    let (hms, ms) = w.next()?.split_once('.')?;
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, s) = (t.next()??, t.next()??, t.next()??);
    let ms: i64 = ms.parse().ok()?;
    Some((((month * 31 + day) * 24 + h) * 60 + m) * 60_000 + s * 1000 + ms)
}

/// The first line after byte offset `from` that contains `needle`: its time, the line and
/// its offset in the log.
pub fn log_line_after(log: &str, from: usize, needle: &str) -> Option<(i64, String, usize)> {
    let mut offset = from;
    for l in log.get(from..)?.split_inclusive('\n') {
        if l.contains(needle) {
            if let Some(t) = log_time(l) {
                return Some((t, l.trim_end().to_owned(), offset));
            }
        }
        offset += l.len();
    }
    None
}

/// The first line of any node's log after `marks` containing every one of `needles`.
pub fn first_logged(ha: &Ha, marks: &[usize], needles: &[&str]) -> Option<(i64, String)> {
    ha.lab
        .nodes()
        .iter()
        .zip(marks)
        .filter_map(|(n, &m)| {
            let log = ha.pacemaker_log(n);
            log.get(m..)?
                .lines()
                .filter(|l| needles.iter().all(|x| l.contains(x)))
                .find_map(|l| Some((log_time(l)?, l.to_owned())))
        })
        .min()
}
