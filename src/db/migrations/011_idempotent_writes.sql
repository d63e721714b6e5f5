-- 011_idempotent_writes: an agent-cycle's write can be sent again safely (src/db/pg-recorder.ts).
-- Accepted by PostgreSQL 15 and PGlite (PostgreSQL 18).
--
-- A session's id is derived from (run, agent, cycle), so the same agent-cycle always has the same
-- id. When a commit's answer is lost (a timeout, a connection that dies), the statement may or
-- may not have reached the server; the recorder sends it again. This version skips a session row
-- that is already there (ON CONFLICT DO NOTHING) and writes events only for the session rows this
-- call inserted, so a repeated write neither fails nor duplicates anything, and a write that had
-- landed is then known to be in the database. Returns the number of events written by this call.
CREATE OR REPLACE FUNCTION shopsim_write_sessions(batch jsonb) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  written integer;
BEGIN
  WITH inserted AS (
    INSERT INTO shopping_sessions (
      id, run_id, agent_id, cycle, kind, status, is_simulated, simulated_start, simulated_end,
      started_at, ended_at, notes, carted, coupon_applied, order_id, revenue_cents, items_count, event_count)
    SELECT s.id, s.run_id, s.agent_id, s.cycle, s.kind, s.status, true, s.simulated_start, s.simulated_end,
      now(), now(), left(s.notes, 500), s.carted, s.coupon_applied, s.order_id, s.revenue_cents, s.items_count,
      coalesce(jsonb_array_length(s.events), 0)
    FROM jsonb_to_recordset(batch) AS s (
      id text, run_id text, agent_id text, cycle integer, kind text, status text,
      simulated_start timestamptz, simulated_end timestamptz, notes text, carted boolean,
      coupon_applied boolean, order_id text, revenue_cents bigint, items_count integer, events jsonb)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )
  INSERT INTO shopping_session_events (session_id, seq, run_id, agent_id, cycle, type, payload, simulated_at)
  SELECT b->>'id', e.seq, b->>'run_id', b->>'agent_id', (b->>'cycle')::integer, e.type, e.payload, e.at
  FROM jsonb_array_elements(batch) AS b
    JOIN inserted ON inserted.id = b->>'id',
    jsonb_to_recordset(b->'events') AS e (seq integer, type text, at timestamptz, payload jsonb);
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$fn$;
