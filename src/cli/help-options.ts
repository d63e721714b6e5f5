/**
 * A command's flags from the option table (src/config.ts): short aliases, help groups in the
 * table's order (GROUPS), and every default shown from the table. Commander is given no default
 * values, so a value's source stays "given on the command line" or absent, and the table's
 * resolution (flag > env > config file > default) stays the only place defaults are applied.
 */
import { Option, type Command } from 'commander';
import { GROUPS, type Group, type KeyedSpec } from '../config.ts';

/** The specs by group (GROUPS order, `first` ahead), table order within a group. */
export function inHelpOrder(specs: KeyedSpec[], first: Group[] = []): KeyedSpec[] {
  const order = [...first, ...Object.keys(GROUPS).filter((g) => !first.includes(g as Group))];
  return [...specs].sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group));
}

/** The flag as help shows it: `-a, --agents <n>`, `--no-color`, `--inspect [port]`. */
export function flagSyntax(spec: KeyedSpec): string {
  const long =
    spec.kind === 'bool'
      ? spec.default === true ? `--no-${spec.flag.slice(2)}` : spec.flag
      : spec.kind === 'bool-or-string' ? `${spec.flag} [run-id]` : spec.key === 'inspect' || spec.key === 'web' ? `${spec.flag} [port]` : `${spec.flag} <${valueName(spec)}>`;
  return spec.short ? `${spec.short}, ${long}` : long;
}

function valueName(spec: KeyedSpec): string {
  if (spec.kind === 'int' || spec.kind === 'number') return 'n';
  if (spec.kind === 'duration') return 'time';
  if (spec.kind.endsWith('-url') || spec.key === 'redis') return 'url';
  if (spec.kind === 'date') return 'date';
  if (spec.kind === 'enum') return spec.values?.join('|') ?? 'value';
  if (spec.kind === 'thresholds') return 'expr';
  if (spec.kind === 'size') return 'size';
  if (spec.kind === 'currency') return 'code';
  return /dir$/i.test(spec.key) ? 'dir' : /file|personas|products|from/i.test(spec.key) ? 'file' : 'value';
}

/** What help says about the default: `(default: 42)`; nothing for an off switch or a "not set" the text explains. */
export function defaultText(spec: KeyedSpec): string {
  if (spec.kind === 'bool' || spec.kind === 'bool-or-string') return spec.default === true && spec.key !== 'color' ? ' (default: on)' : '';
  if (Array.isArray(spec.default)) return spec.default.length ? ` (default: ${spec.default.join(', ')})` : ' (default: none)';
  if (spec.default === null) return /default/.test(spec.description) ? '' : ' (default: not set)';
  return ` (default: ${String(spec.default)})`;
}

/** Adds the specs' options to `cmd`, grouped; `env` says which variables to name (serve reads only DATABASE_URL). */
export function addSpecOptions(cmd: Command, specs: KeyedSpec[], options: { env?: (spec: KeyedSpec) => string[]; first?: Group[] } = {}): void {
  for (const spec of inHelpOrder(specs, options.first)) {
    const env = options.env ? options.env(spec) : (spec.env ?? []);
    const envText = env.length ? ` [env: ${env.join(', ')}]` : '';
    const opt = new Option(flagSyntax(spec), `${spec.description}${defaultText(spec)}${envText}`).helpGroup(`${GROUPS[spec.group]}:`);
    // A repeatable flag: every occurrence collected in order.
    if (spec.kind === 'thresholds') opt.argParser((v: string, prev: unknown) => [...(Array.isArray(prev) ? (prev as string[]) : []), v]);
    cmd.addOption(opt);
  }
}
