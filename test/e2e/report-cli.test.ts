/**
 * `shopsim report` only reads: pointed at a directory with no embedded database, or at a server
 * without shopsim's tables, it says so in one line (exit 2) and creates nothing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { postgresTarget, TEST_DATABASE_URL } from '../db/helpers.ts';
import { scratchDir, shopsim } from './helpers.ts';

describe('shopsim report: read-only', () => {
  it('no embedded database in the directory: one line, exit 2, nothing created', async () => {
    const dir = join(scratchDir('shopsim-report-'), 'pglite');
    for (const args of [['report'], ['report', '--list']]) {
      const r = await shopsim([...args, '--data-dir', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`shopsim: No embedded database in ${dir}: run \`shopsim run\` first, or give --data-dir or --database-url`]);
      expect(r.stdout).toBe('');
      expect(existsSync(dir)).toBe(false);
    }
  });

  describe.skipIf(!TEST_DATABASE_URL)('against TEST_DATABASE_URL', () => {
    it('a database without shopsim tables: one line, exit 2, no table created', async () => {
      const target = postgresTarget();
      await target.setup();
      try {
        const url = target.url() as string;
        const r = await shopsim(['report', '--database-url', url]);
        expect(r.code).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/^shopsim: \S+ has no shopsim tables: run `shopsim run` \(or `shopsim db migrate`\) against it first/);
        const pool = await createPool(url, { maximumPoolSize: 1 });
        try {
          const n = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`
            SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false))`);
          expect(n).toBe(0);
        } finally {
          await pool.end();
        }
      } finally {
        await target.teardown();
      }
    });
  });
});
