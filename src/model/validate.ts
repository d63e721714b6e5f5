/**
 * Small validators for the data files. Each failure is one line naming the file, the
 * record index and the field: `data/personas.json: record 12 (agent_000013): field "x" must be …`.
 */
import { ShopsimError } from '../errors.ts';

export interface RecordLocation {
  file: string;
  index: number;
  id?: string | undefined;
}

export function validationError(at: RecordLocation, field: string, problem: string): ShopsimError {
  const who = at.id ? ` (${at.id})` : '';
  return new ShopsimError('E_INPUT', `${at.file}: record ${at.index}${who}: field "${field}" ${problem}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export function expectRecordArray(data: unknown, file: string, what: string): Record<string, unknown>[] {
  if (!Array.isArray(data)) throw new ShopsimError('E_INPUT', `${file}: expected a JSON array of ${what}, got ${describe(data)}`);
  if (data.length === 0) throw new ShopsimError('E_INPUT', `${file}: expected at least one of ${what}, got an empty array`);
  data.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      throw new ShopsimError('E_INPUT', `${file}: record ${i}: expected an object, got ${describe(r)}`);
    }
  });
  return data as Record<string, unknown>[];
}

export function expectString(r: Record<string, unknown>, field: string, at: RecordLocation): string {
  const v = r[field];
  if (typeof v !== 'string' || v.length === 0) throw validationError(at, field, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

export function expectNumber(r: Record<string, unknown>, field: string, at: RecordLocation, min: number, max: number): number {
  const v = r[field];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw validationError(at, field, `must be a number in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function expectInt(r: Record<string, unknown>, field: string, at: RecordLocation, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = r[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw validationError(at, field, `must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}, got ${describe(v)}`);
  }
  return v;
}

export function expectUnitArray(r: Record<string, unknown>, field: string, at: RecordLocation, length: number): number[] {
  const v = r[field];
  if (!Array.isArray(v) || v.length !== length) throw validationError(at, field, `must be an array of ${length} numbers in [0, 1], got ${describe(v)}`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1) {
      throw validationError(at, `${field}[${i}]`, `must be a number in [0, 1], got ${describe(x)}`);
    }
  });
  return v as number[];
}

export function expectStringArray(r: Record<string, unknown>, field: string, at: RecordLocation): string[] {
  const v = r[field];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x.length === 0)) {
    throw validationError(at, field, `must be a non-empty array of strings, got ${describe(v)}`);
  }
  return v as string[];
}

/**
 * Runs `check` on every record with its location, after checking its `id` is a unique
 * non-empty string (the first field every data file's records share).
 */
export function checkRecordsWithIds(records: Record<string, unknown>[], file: string, check: (r: Record<string, unknown>, at: RecordLocation) => void): void {
  const ids = new Set<string>();
  records.forEach((r, i) => {
    const at = { file, index: i, id: typeof r['id'] === 'string' ? (r['id'] as string) : undefined };
    const id = expectString(r, 'id', at);
    if (ids.has(id)) throw validationError(at, 'id', `must be unique, "${id}" appears twice`);
    ids.add(id);
    check(r, at);
  });
}
