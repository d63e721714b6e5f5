/** Small slonik helpers shared by src/db. */
import { sql, type QuerySqlToken } from 'slonik';

/** A trusted SQL text (one statement of a migration file) as a slonik query. */
export function rawSql(text: string): QuerySqlToken {
  // slonik insists on a real template object: an array with a frozen `raw`.
  const strings = Object.freeze(Object.assign([text], { raw: Object.freeze([text]) })) as unknown as TemplateStringsArray;
  return sql.unsafe(strings);
}

/**
 * Splits a SQL script into statements on top-level semicolons, respecting '…' strings,
 * "…" identifiers, $tag$…$tag$ bodies, -- and /* *\/ comments (slonik runs one statement
 * per query). Statements that are only comments are dropped.
 */
export function splitSqlStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let hasCode = false;
  const n = script.length;
  while (i < n) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      hasCode = true;
      let j = i + 1;
      while (j < n) {
        if (script[j] === c) {
          if (script[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i));
      if (m) {
        hasCode = true;
        const end = script.indexOf(m[0], i + m[0].length);
        i = end === -1 ? n : end + m[0].length;
        continue;
      }
    }
    if (c === ';') {
      const stmt = script.slice(start, i).trim();
      if (hasCode && stmt) out.push(stmt);
      start = i + 1;
      hasCode = false;
      i++;
      continue;
    }
    if (!/\s/.test(c)) hasCode = true;
    i++;
  }
  const tail = script.slice(start).trim();
  if (hasCode && tail) out.push(tail);
  return out;
}
