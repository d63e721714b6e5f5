-- 002_store: the reference store's tables (src/db/store-repository.ts). Accepted by PostgreSQL 15
-- and PGlite (PostgreSQL 18). `products` comes from 001_core. Money is integer cents.

-- One cart per user (the store's user = the simulation's agent id, sent as X-User-Id).
CREATE TABLE IF NOT EXISTS carts (
  user_id     text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cart_items (
  user_id           text NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
  product_id        text NOT NULL REFERENCES products (id),
  quantity          integer NOT NULL CHECK (quantity >= 1),
  -- The price when the item was added (what the shopper saw).
  unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
  added_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT cart_items_pkey PRIMARY KEY (user_id, product_id)
);

-- At most one coupon per cart; its terms are copied from the offer when applied.
CREATE TABLE IF NOT EXISTS cart_coupons (
  user_id           text PRIMARY KEY REFERENCES carts (user_id) ON DELETE CASCADE,
  code              text NOT NULL,
  discount_percent  integer NOT NULL CHECK (discount_percent BETWEEN 0 AND 100),
  min_spend_cents   integer NOT NULL CHECK (min_spend_cents >= 0),
  applied_at        timestamptz NOT NULL DEFAULT now()
);

-- Offer cycles; the current one is the one started last.
CREATE TABLE IF NOT EXISTS offer_cycles (
  offer_cycle  integer PRIMARY KEY CHECK (offer_cycle >= 0),
  starts_at    timestamptz NOT NULL,
  ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
  started_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS offers (
  offer_id          text PRIMARY KEY,
  offer_cycle       integer NOT NULL REFERENCES offer_cycles (offer_cycle) ON DELETE CASCADE,
  code              text NOT NULL,
  description       text NOT NULL,
  discount_percent  integer NOT NULL CHECK (discount_percent BETWEEN 0 AND 100),
  min_spend_cents   integer NOT NULL CHECK (min_spend_cents >= 0),
  valid_from        timestamptz NOT NULL,
  valid_until       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS offers_cycle_idx ON offers (offer_cycle);

-- Which user holds which offer, and whether it was redeemed (by which order).
CREATE TABLE IF NOT EXISTS offer_assignments (
  user_id      text NOT NULL,
  code         text NOT NULL,
  offer_id     text NOT NULL REFERENCES offers (offer_id) ON DELETE CASCADE,
  offer_cycle  integer NOT NULL,
  redeemed_at  timestamptz,
  order_id     text,
  CONSTRAINT offer_assignments_pkey PRIMARY KEY (user_id, code)
);
CREATE INDEX IF NOT EXISTS offer_assignments_cycle_idx ON offer_assignments (offer_cycle, user_id);

CREATE TABLE IF NOT EXISTS orders (
  id               text PRIMARY KEY,
  user_id          text NOT NULL,
  subtotal_cents   bigint NOT NULL CHECK (subtotal_cents >= 0),
  discount_cents   bigint NOT NULL CHECK (discount_cents >= 0),
  total_cents      bigint NOT NULL CHECK (total_cents >= 0),
  items_count      integer NOT NULL CHECK (items_count >= 1),
  coupon_code      text,
  -- The caller's simulated time (X-Sim-Time) and the real time of the checkout.
  simulated_at     timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_user_idx ON orders (user_id);

CREATE TABLE IF NOT EXISTS order_items (
  order_id          text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id        text NOT NULL,
  quantity          integer NOT NULL CHECK (quantity >= 1),
  unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
  CONSTRAINT order_items_pkey PRIMARY KEY (order_id, product_id)
);

-- Checkout idempotency: a replayed (user, key) returns the order of the first checkout.
-- The row is inserted first in the checkout transaction, so a concurrent retry waits for it.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  user_id     text NOT NULL,
  key         text NOT NULL,
  order_id    text REFERENCES orders (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
