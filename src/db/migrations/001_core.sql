-- 001_core: what the simulation writes. Accepted by PostgreSQL 15 and PGlite (PostgreSQL 18).
-- Run by src/db/migrate.ts inside one transaction; never edit an applied migration, add one.

CREATE TABLE IF NOT EXISTS runs (
  id            text PRIMARY KEY,
  seed          bigint NOT NULL,
  -- The run's configuration, secrets removed (src/db/scrub.ts).
  config        jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz,
  is_replay     boolean NOT NULL DEFAULT false,
  resumed_from  text,
  -- The run's JSON summary, stored by endRun.
  summary       jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS runs_started_at_idx ON runs (started_at DESC);

-- Personas. Shared by runs (the store keys carts by agent id); last_run_id says which run wrote them last.
CREATE TABLE IF NOT EXISTS agents (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  segment      text NOT NULL,
  attributes   jsonb NOT NULL,
  last_run_id  text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
  id           text PRIMARY KEY,
  sku          text NOT NULL,
  name         text NOT NULL,
  category     text NOT NULL,
  price_cents  integer NOT NULL CHECK (price_cents >= 0),
  stock        integer NOT NULL,
  rating       numeric(3, 2) NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_category_idx ON products (category);

-- One row per agent per cycle in which the agent browsed or shopped (id = SessionRecord.sessionId).
CREATE TABLE IF NOT EXISTS shopping_sessions (
  id               text PRIMARY KEY,
  run_id           text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  agent_id         text NOT NULL,
  cycle            integer NOT NULL CHECK (cycle >= 1),
  kind             text NOT NULL CHECK (kind IN ('browse', 'shop')),
  status           text NOT NULL CHECK (status IN ('active', 'completed', 'abandoned', 'failed')),
  is_simulated     boolean NOT NULL DEFAULT true,
  simulated_start  timestamptz NOT NULL,
  simulated_end    timestamptz,
  started_at       timestamptz NOT NULL DEFAULT now(),
  ended_at         timestamptz,
  notes            text CHECK (char_length(notes) <= 500),
  -- Funnel flags and the order, denormalised from the events for the report.
  carted           boolean NOT NULL DEFAULT false,
  coupon_applied   boolean NOT NULL DEFAULT false,
  order_id         text,
  revenue_cents    bigint NOT NULL DEFAULT 0,
  items_count      integer NOT NULL DEFAULT 0,
  event_count      integer NOT NULL DEFAULT 0,
  CONSTRAINT shopping_sessions_run_cycle_agent_key UNIQUE (run_id, cycle, agent_id)
);
CREATE INDEX IF NOT EXISTS shopping_sessions_agent_idx ON shopping_sessions (agent_id);
CREATE INDEX IF NOT EXISTS shopping_sessions_active_idx ON shopping_sessions (run_id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS shopping_sessions_run_start_idx ON shopping_sessions (run_id, simulated_start);

-- The events of a session, in order. (session_id, seq) is the key: one batched insert per session.
CREATE TABLE IF NOT EXISTS shopping_session_events (
  session_id    text NOT NULL REFERENCES shopping_sessions (id) ON DELETE CASCADE,
  seq           integer NOT NULL CHECK (seq >= 1),
  run_id        text NOT NULL,
  agent_id      text NOT NULL,
  cycle         integer NOT NULL,
  type          text NOT NULL CHECK (type <> '' AND char_length(type) <= 64),
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
  simulated_at  timestamptz NOT NULL,
  CONSTRAINT shopping_session_events_pkey PRIMARY KEY (session_id, seq)
);
-- No further index: every write pays for one, and the report reads the sessions' funnel columns.
