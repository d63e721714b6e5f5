/**
 * Once per `vitest run`, in the main process:
 *  - the notices about skipped variants, printed once (not once per test file);
 *  - a private temporary directory for the whole run (TMPDIR, inherited by the test workers and
 *    the CLI processes they spawn), removed at the end, so the system's temporary directory is
 *    left as it was found; what tests left in it is named, then removed;
 *  - the repository's data/ is compared before and after: a test that wrote into it fails the run.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const DATA = resolve(import.meta.dirname, '../data');

/** Every file under data/ with its size and modification time. */
function snapshot(dir: string, out = new Map<string, string>()): Map<string, string> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      out.set(relative(DATA, p) + '/', 'dir');
      snapshot(p, out);
    } else {
      const s = statSync(p);
      out.set(relative(DATA, p), `${s.size}:${s.mtimeMs}`);
    }
  }
  return out;
}

export default function setup(): () => void {
  if (!process.env['TEST_DATABASE_URL']) {
    console.warn('[test] TEST_DATABASE_URL is not set: the real-PostgreSQL variants are SKIPPED (embedded PGlite only).');
  }
  if (!process.env['TEST_REDIS_URL']) {
    console.warn('[test] TEST_REDIS_URL is not set: the distributed-run tests (BullMQ on Redis) are SKIPPED.');
  }
  const before = snapshot(DATA);
  const systemTmp = tmpdir();
  const privateTmp = mkdtempSync(join(systemTmp, 'shopsim-test-run-'));
  // tsx keeps its compile cache in <tmpdir>/tsx-<uid>: the private directory links to the system's
  // one, so the cache survives (removing the link leaves the cache alone).
  const cache = `tsx-${process.getuid?.() ?? 0}`;
  mkdirSync(join(systemTmp, cache), { recursive: true });
  symlinkSync(join(systemTmp, cache), join(privateTmp, cache));
  process.env['TMPDIR'] = privateTmp;
  process.env['SHOPSIM_TEST_TMPDIR'] = privateTmp;
  return () => {
    process.env['TMPDIR'] = systemTmp;
    const left = readdirSync(privateTmp).filter((n) => n !== cache);
    rmSync(privateTmp, { recursive: true, force: true });
    if (left.length > 0) console.warn(`[test] removed ${left.length} temporary entries tests left behind: ${left.slice(0, 8).join(', ')}${left.length > 8 ? ', …' : ''}`);
    const after = snapshot(DATA);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
    if (changed.length > 0) throw new Error(`tests changed the repository's data/: ${changed.slice(0, 10).join(', ')}`);
  };
}
