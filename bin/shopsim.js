#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (`npm run build`; the `prepare` script builds it on
// `npm ci` / `npm install` in a checkout). When dist/ is missing, or older than any file under
// src/ or machines/ (a development checkout edited since its last build), the TypeScript sources
// run through tsx instead: always current, about a second slower to start. SHOPSIM_FROM_SOURCE=1
// forces the sources. See docs/cli.md, "Start-up".
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

// `shopsim --version` answers without loading the program.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).version}\n`);
  process.exit(0);
}

/** Newest modification time (ms) of the files under `dir`, 0 when it does not exist. */
function newest(dir) {
  let max = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const url = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    max = Math.max(max, e.isDirectory() ? newest(url) : statSync(url).mtimeMs);
  }
  return max;
}

const compiled = new URL('dist/src/cli/main.js', root);
const current =
  process.env.SHOPSIM_FROM_SOURCE !== '1' &&
  existsSync(compiled) &&
  statSync(compiled).mtimeMs >= Math.max(newest(new URL('src/', root)), newest(new URL('machines/', root)));

if (current) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/main.ts', root).href);
}
