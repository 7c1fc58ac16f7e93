//! `payforms reconcile [--since DATE]`: what Stripe holds against the
//! stored records, repaired where a webhook was missed; the rest reported.

use std::path::Path;
use std::process::ExitCode;

use crate::webhooks::reconcile::{self, Report};

/// `2026-12-01` (midnight UTC) or an RFC 3339 time, as unix seconds.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(|| format!("--since {text} is not a date"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| format!("--since is `{text}`; give a date (2026-12-01) or an RFC 3339 time"))
}

pub fn run(app: &Path, database: Option<String>, since: Option<String>) -> ExitCode {
    let since = match since.as_deref().map(parse_since).transpose() {
        Ok(since) => since,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    super::run_offline(app, database, false, move |instance| {
        let report = reconcile::reconcile(instance, since);
        print(&report);
        if report.failed() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

fn print(report: &Report) {
    for (kind, found) in &report.kinds {
        println!(
            "{}: {} checked, {} repaired, {} unchanged, {} not reconciled",
            kind.plural(),
            found.checked,
            found.repaired.len(),
            found.unchanged,
            found.failed.len()
        );
        for id in &found.repaired {
            println!("  repaired {id}");
        }
        for (id, why) in &found.failed {
            println!("  not reconciled {id}: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(parse_since("1970-01-02"), Ok(86_400));
        assert_eq!(parse_since("1970-01-01T00:01:00Z"), Ok(60));
        assert!(parse_since("yesterday").is_err());
    }
}
