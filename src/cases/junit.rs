//! Case results as JUnit XML, the report format CI systems read
//! (`mianshen test … --format junit`): one test suite per file, one test
//! case per case, a `<failure>` with expected against actual.

use super::CaseResult;
use crate::diag::Diagnostic;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // characters XML 1.0 cannot hold
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The results as one JUnit XML document; a test file that could not be
/// read is a suite of one test in error, so CI shows it too.
pub fn render(results: &[(String, Vec<CaseResult>)], unreadable: &[Diagnostic]) -> String {
    let total: usize = results.iter().map(|(_, c)| c.len()).sum::<usize>() + unreadable.len();
    let failed = |cases: &[CaseResult]| cases.iter().filter(|c| !c.passed()).count();
    let all_failed: usize = results.iter().map(|(_, c)| failed(c)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"mianshen test\" tests=\"{total}\" failures=\"{all_failed}\" errors=\"{}\">\n",
        unreadable.len()
    ));
    for d in unreadable {
        let (file, place) = match d.location() {
            Some((f, l, c)) => (f.clone(), format!("{f}:{l}:{c}: ")),
            None => (String::new(), String::new()),
        };
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\">\n    <testcase classname=\"{}\" name=\"(test file)\">\n      <error message=\"{}\">{}{}</error>\n    </testcase>\n  </testsuite>\n",
            escape(&file),
            escape(&file),
            escape(&d.message),
            escape(&place),
            escape(&d.help.clone().map(|h| format!("{}\nhelp: {h}", d.message)).unwrap_or_else(|| d.message.clone()))
        ));
    }
    for (path, cases) in results {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
            escape(path),
            cases.len(),
            failed(cases)
        ));
        for c in cases {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(path),
                escape(&c.name)
            );
            if c.passed() {
                out.push_str(&format!("{open}/>\n"));
                continue;
            }
            let mut detail: Vec<String> = c.errors.iter().map(|e| format!("error: {e}")).collect();
            detail.extend(
                c.mismatches
                    .iter()
                    .map(|[what, want, got]| format!("{what}: expected {want}, actual {got}")),
            );
            let first = detail.first().cloned().unwrap_or_default();
            out.push_str(&format!(
                "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                escape(&first),
                escape(&detail.join("\n"))
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
