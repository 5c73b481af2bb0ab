#!/bin/sh
# Seeds fuzz/corpus/<target>/ from the project's own inputs (small files only).
# Run from anywhere; the corpus directories are git-ignored.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus="$here/corpus"
small() { find "$@" -type f -size -16k 2>/dev/null; }
seed() { # seed TARGET FILE...
    target=$1
    shift
    mkdir -p "$corpus/$target"
    for f in "$@"; do
        # flatten the path into a file name, so seeds never collide
        name=$(printf '%s' "${f#"$root"/}" | tr '/' '_')
        cp "$f" "$corpus/$target/seed_$name"
    done
}
seed policy $(small "$root/policies" "$root/tests/cases/check" "$root/tests/cases/run" -name '*.policy')
seed schema $(small "$root/policies" "$root/tests/cases" -name 'schema.yaml')
seed cases $(small "$root/policies/tests" -name '*.yaml')
seed data_csv $(small "$root/policies/data" "$root/tests/cases/run" -name '*.csv') $(small "$here/seeds/csv" -name '*')
seed data_jsonl $(small "$root/policies/data" -name '*.jsonl') $(small "$here/seeds/jsonl" -name '*')
seed ledger $(small "$root/tests/cases/run" -name 'ledger*.csv') $(small "$here/seeds/ledger" -name '*')
for t in policy schema cases data_csv data_jsonl ledger; do
    printf '%-10s %s seeds\n' "$t" "$(ls "$corpus/$t" | wc -l)"
done
