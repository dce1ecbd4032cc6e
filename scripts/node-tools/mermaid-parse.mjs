// Parses mermaid diagrams with mermaid's own parser, as GitHub's renderer would: exit 0 when
// every file parses, 1 naming each file that does not and why.
//
// mermaid's parse() sanitises labels with DOMPurify, which needs a DOM; jsdom provides one.
// It must exist before mermaid is loaded, hence the dynamic import.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const { window } = new JSDOM('');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import('mermaid');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: mermaid-parse.mjs FILE...');
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  try {
    const { diagramType } = await mermaid.parse(text);
    console.log(`${file}: ok (${diagramType})`);
  } catch (err) {
    failed += 1;
    console.error(`${file}: ${err?.message ?? err}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
