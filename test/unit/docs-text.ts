// The shipped documentation as text, for the drift tests (test/unit/cli/docs.test.ts, test/unit/options/drift.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');
export const read = (path: string) => readFileSync(join(root, path), 'utf8');
// roff writes a literal hyphen as \- ; compare against plain text.
export const manText = read('man/vmig.1')
  .replace(/\\-/g, '-')
  .replace(/\\f[BIRP]/g, '');
export const scripts = {
  bash: read('completions/vmig.bash'),
  zsh: read('completions/vmig.zsh'),
  fish: read('completions/vmig.fish'),
};

/** Whether `token` occurs in `text` as a word of its own (not inside a longer flag). */
export const word = (text: string, token: string) =>
  new RegExp(`(^|[^A-Za-z0-9-])${token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9-])`, 'm').test(text);

/** The man page section of command `name`: from its .SS line to the next .SS or .SH ('' if none). */
export function manSection(name: string): string {
  const start = manText.search(new RegExp(`^\\.SS "${name}( |")`, 'm'));
  if (start < 0) return '';
  const rest = manText.slice(start + 1);
  const end = rest.search(/^\.S[SH] /m);
  return rest.slice(0, end < 0 ? undefined : end);
}

/** The options a man section documents as items, in order: `.TP` then `.B --flag` or `.BI --flag " value"`. */
export const manItems = (section: string): string[] =>
  [...section.matchAll(/^\.TP\n\.BI? (--[a-z0-9-]+)/gm)].map((match) => match[1]!);
