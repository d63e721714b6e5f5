/** What of a run's configuration may be stored: no passwords, no credentials in URLs. */
import { redactUrl } from '../url.ts';

const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|credential/i;
const URL_KEY = /url|dsn|uri/i;

/** A deep copy of `value` with secret keys dropped and URL-ish keys reduced to scheme, host, port and path. */
export function scrubConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrubConfig);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k)) continue;
      if (URL_KEY.test(k) && typeof v === 'string') {
        out[k] = redactUrl(v);
        continue;
      }
      out[k] = scrubConfig(v);
    }
    return out;
  }
  return value;
}
