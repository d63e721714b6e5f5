/**
 * What of an actor's context and events goes to the Stately inspector: bounded, whatever the
 * agent count. A context or event value is copied with
 *  - a `persona` reduced to its id ("persona agent_000001") and `personas` to their count,
 *  - arrays longer than MAX_ARRAY (a cohort's ~500 shopper refs, an init input's personas)
 *    shown as "[N items]",
 *  - actor refs as "actor <id>", strings cut at MAX_STRING, objects deeper than MAX_DEPTH or with
 *    more than MAX_KEYS keys summarised,
 * and, as a last bound, a value whose JSON is still over MAX_VALUE_BYTES replaced by a note
 * naming its size and keys. So an init event (whose input carries every persona of the run) is
 * a few hundred bytes at 372 agents as at 100,000.
 */

export const MAX_ARRAY = 20;
export const MAX_STRING = 300;
export const MAX_DEPTH = 5;
export const MAX_KEYS = 40;
export const MAX_VALUE_BYTES = 16_384;

function isActorRef(v: object): v is { id: string } {
  const r = v as { id?: unknown; send?: unknown; getSnapshot?: unknown };
  return typeof r.id === 'string' && typeof r.send === 'function' && typeof r.getSnapshot === 'function';
}

function trim(v: unknown, key: string, depth: number): unknown {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'string' && v.length > MAX_STRING) return `${v.slice(0, MAX_STRING)}…(${v.length} chars)`;
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (typeof v === 'bigint') return v.toString();
    return v;
  }
  if (isActorRef(v)) return `actor ${v.id}`;
  if (key === 'persona' && typeof (v as { id?: unknown }).id === 'string') return `persona ${(v as { id: string }).id}`;
  if (Array.isArray(v)) {
    if (key === 'personas') return `[${v.length} personas]`;
    if (v.length > MAX_ARRAY) return `[${v.length} items]`;
    if (depth >= MAX_DEPTH) return `[${v.length} items]`;
    return v.map((x) => trim(x, '', depth + 1));
  }
  if (v instanceof Date) return v.toISOString();
  const keys = Object.keys(v);
  if (depth >= MAX_DEPTH || keys.length > MAX_KEYS) return `{${keys.length} keys}`;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const t = trim((v as Record<string, unknown>)[k], k, depth + 1);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/** A bounded copy of `value` (a context or an event) for the inspector. */
export function trimForInspector<T>(value: T): T {
  const t = trim(value, '', 0);
  if (t === null || typeof t !== 'object') return t as T;
  const json = JSON.stringify(t);
  if (json.length <= MAX_VALUE_BYTES) return t as T;
  const keys = Object.keys(t as object);
  const type = (t as { type?: unknown }).type;
  return { ...(typeof type === 'string' ? { type } : {}), _trimmed: `${json.length} bytes: ${keys.slice(0, 20).join(', ')}` } as T;
}

/** Children of a snapshot kept for the inspector (a cohort has one per shopper, the orchestrator one per cohort). */
export const MAX_CHILDREN = 20;

/**
 * The last step before a message goes out (the inspector's `serialize` option): the snapshot of
 * an announcement or a snapshot message as plain data, its context and output already trimmed,
 * its children cut to MAX_CHILDREN (with a count of the rest), and no other field of the actor.
 */
export function serializeForInspector(message: object): object {
  const m = message as { type?: string; snapshot?: unknown };
  if ((m.type !== '@xstate.actor' && m.type !== '@xstate.snapshot') || !m.snapshot || typeof m.snapshot !== 'object') return message;
  const s = m.snapshot as Record<string, unknown>;
  const out: Record<string, unknown> = { status: s['status'] ?? 'active' };
  for (const k of ['value', 'context', 'tags', 'historyValue', 'output', 'error'] as const) {
    if (s[k] !== undefined) out[k] = k === 'context' ? s[k] : trimForInspector(s[k]);
  }
  const children = s['children'];
  if (children && typeof children === 'object') {
    const entries = Object.entries(children as Record<string, unknown>);
    const kept: Record<string, unknown> = {};
    for (const [id] of entries.slice(0, MAX_CHILDREN)) kept[id] = { id, xstate$$type: 1 };
    if (entries.length > MAX_CHILDREN) kept['…'] = { id: `${entries.length - MAX_CHILDREN} more`, xstate$$type: 1 };
    out['children'] = kept;
  }
  return { ...message, snapshot: out };
}
