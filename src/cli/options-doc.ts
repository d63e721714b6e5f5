/**
 * The options table of docs/cli.md, rendered from the option table (src/config.ts) so the two
 * cannot drift: test/docs.test.ts checks that the document holds exactly this text. Regenerate
 * with `node --import tsx -e "import('./src/cli/options-doc.ts').then((m) => console.log(m.optionsMarkdown('run')))"`
 * (and `'serve'` for the serve table).
 */
import { GROUPS, specsFor, type CommandName, type Group } from '../config.ts';
import { defaultText, flagSyntax, inHelpOrder } from './help-options.ts';

const RESUME = { 'must-match': 'must match', carry: 'carried; may change', 'same-data': 'carried; same data' } as const;

const code = (s: string) => `\`${s}\``;

/** The table of a command's options, grouped as its --help groups them (run: the resume column too). */
export function optionsMarkdown(command: CommandName, first: Group[] = command === 'serve' ? ['server', 'faults'] : []): string {
  let group = '';
  const rows = inHelpOrder(specsFor(command), first).map((s) =>
    [
      (group !== s.group ? ((group = s.group), `*${GROUPS[s.group]}*`) : ''),
      code(flagSyntax(s)),
      (s.env ?? []).map(code).join(', '),
      (s.yaml ?? []).map(code).join(', '),
      s.default === null ? (defaultText(s) ? '—' : 'see meaning') : Array.isArray(s.default) && s.default.length === 0 ? 'none' : code(String(s.default)),
      s.resume ? RESUME[s.resume] : '',
      s.description,
    ].join(' | '),
  );
  return ['| group | flag | environment | config file key | default | on resume | meaning |', '|---|---|---|---|---|---|---|', ...rows.map((r) => `| ${r} |`)].join('\n');
}
