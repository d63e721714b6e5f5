/** shopsim's version, from package.json (two levels up from src/ and from dist/src/… alike). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'shopsim' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next
    }
  }
  return '0.0.0';
}
