/**
 * The options table of docs/cli.md, rendered from the option table (src/config.ts) so the two
 * cannot drift: test/docs.test.ts checks that the document holds exactly this text. Regenerate
 * with `node --import tsx -e "import('./src/cli/options-doc.ts').then((m) => console.log(m.optionsMarkdown('run')))"`.
 */
import { specsFor, type CommandName, type KeyedSpec } from '../config.ts';

const RESUME = { 'must-match': 'must match', carry: 'carried; may change', 'same-data': 'carried; same data' } as const;

function flagOf(spec: KeyedSpec): string {
  if (spec.kind === 'bool') return spec.default === true ? `--no-${spec.flag.slice(2)}` : spec.flag;
  return spec.key === 'inspect' ? `${spec.flag} [port]` : `${spec.flag} <v>`;
}

const code = (s: string) => `\`${s}\``;

export function optionsMarkdown(command: CommandName): string {
  const rows = specsFor(command).map((s) =>
    [
      code(flagOf(s)),
      (s.env ?? []).map(code).join(', '),
      (s.yaml ?? []).map(code).join(', '),
      s.default === null ? '—' : code(String(s.default)),
      s.resume ? RESUME[s.resume] : '',
      s.description,
    ].join(' | '),
  );
  return ['| flag | environment | config file key | default | on resume | meaning |', '|---|---|---|---|---|---|', ...rows.map((r) => `| ${r} |`)].join('\n');
}
