-- 015_database_identity: one row naming this database, so a resumed run can tell that it writes
-- to the database its run was written to (src/db/identity.ts; the checkpoint's
-- simulation_config.database_id). Created once; never changed. Accepted by PostgreSQL 15 and PGlite.
CREATE TABLE IF NOT EXISTS shopsim_meta (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  database_id  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO shopsim_meta (database_id) VALUES (gen_random_uuid()::text) ON CONFLICT (singleton) DO NOTHING;
