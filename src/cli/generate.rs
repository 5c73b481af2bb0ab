//! `mianshen generate DIR`: synthetic firms for a schema.

use std::path::Path;

use super::*;

/// `mianshen generate DIR`: synthetic firms for the set's schema.
pub fn generate(
    dir: &Path,
    rows: u64,
    seed: u64,
    messy: bool,
    bad_rows: f64,
    output: Option<&Path>,
) -> u8 {
    let schema_path = dir.join("schema.yaml");
    let text = match std::fs::read_to_string(&schema_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", schema_path.display());
            return EXIT_USAGE;
        }
    };
    let schema = match crate::schema::Schema::load(&crate::diag::SourceText::new(
        schema_path.to_string_lossy(),
        text,
    )) {
        Ok(s) => s,
        Err(diags) => {
            print_diags(&diags, false);
            return EXIT_POLICY;
        }
    };
    if !(0.0..=1.0).contains(&bad_rows) {
        eprintln!("error: `--bad-rows {bad_rows}` must be a fraction from 0 to 1");
        return EXIT_USAGE;
    }
    let opts = crate::generate::GenOptions {
        rows,
        seed,
        messy,
        bad_rows,
    };
    let written = match output {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            crate::generate::generate(&schema, &opts, &mut w)?;
            std::io::Write::flush(&mut w)
        }),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            crate::generate::generate(&schema, &opts, &mut w)
                .and_then(|_| std::io::Write::flush(&mut w))
        }
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: cannot write the firms: {e}");
            EXIT_USAGE
        }
    }
}
