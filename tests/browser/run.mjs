// Runs the browser tests: every flow of the brief in real Chromium against
// real `silta dev` servers. Re-executes itself inside a network namespace
// that has only `lo` (media stays on loopback).
//
//   node run.mjs                 every flow
//   node run.mjs walk-in close   the named flows

import { existsSync } from 'node:fs';
import { accessibilityFindings, inLoopbackNamespace, siltaBinary } from './lib.mjs';
import { flows as callFlows } from './flows.mjs';
import { documentFlows } from './document-flows.mjs';
import { inclusionFlows } from './inclusion-flows.mjs';
import { signinFlows } from './signin-flows.mjs';

const flows = [...callFlows, ...inclusionFlows, ...documentFlows, ...signinFlows];

inLoopbackNamespace(import.meta.url);

if (!existsSync(siltaBinary)) {
  console.error(`${siltaBinary} is missing: build it first (cargo build -p silta)`);
  process.exit(1);
}
if (!existsSync('/usr/bin/chromium')) {
  console.error('/usr/bin/chromium is missing: apt-get install -y chromium');
  process.exit(1);
}

const wanted = process.argv.slice(2);
const selected = flows.filter((flow) => wanted.length === 0 || wanted.includes(flow.name));
if (selected.length === 0) {
  console.error(`no flow named ${wanted.join(', ')}; flows: ${flows.map((flow) => flow.name).join(', ')}`);
  process.exit(1);
}

const TIMEOUT_MS = 180_000;
let failed = 0;
for (const flow of selected) {
  const started = Date.now();
  process.stdout.write(`browser flow ${flow.name} … `);
  const findingsBefore = accessibilityFindings.length;
  try {
    await Promise.race([
      flow.run(),
      new Promise((_, reject) => {
        const limit = flow.timeoutMs ?? TIMEOUT_MS;
        setTimeout(() => reject(new Error(`timed out after ${limit / 1000} s`)), limit);
      }),
    ]);
    const findings = accessibilityFindings.slice(findingsBefore);
    if (findings.length > 0) throw new Error(`axe-core found ${findings.length} violation(s):\n    ${findings.join('\n    ')}`);
    console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed += 1;
    console.log(`FAILED (${((Date.now() - started) / 1000).toFixed(1)} s)\n  ${error instanceof Error ? error.stack ?? error.message : error}`);
  }
}
console.log(`browser tests: ${selected.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
