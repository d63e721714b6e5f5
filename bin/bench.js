#!/usr/bin/env node
// `npm run bench`: runs every test/bench/*.bench.ts in turn; each prints JSON lines.
// BENCH=engine,checkpoint narrows the set by file-name prefix.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const only = process.env.BENCH ? process.env.BENCH.split(',') : null;
const files = readdirSync('test/bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const f of files) {
  process.stderr.write(`bench: ${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `test/bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${f} exited ${r.status}\n`);
  }
}
process.exit(failed ? 1 : 0);
