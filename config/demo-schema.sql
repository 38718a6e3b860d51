-- The demo's schema and seed data (scripts/demo loads it; safe to load again).
-- Three keyspaces in config/readthru.yaml read these tables.
CREATE TABLE IF NOT EXISTS users (
  id         int PRIMARY KEY,
  name       text NOT NULL,
  email      text,
  plan       text NOT NULL DEFAULT 'free',
  settings   jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS products (
  sku    text PRIMARY KEY,
  title  text NOT NULL,
  price  numeric(10, 2) NOT NULL,
  stock  int NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  id      int PRIMARY KEY,
  user_id int NOT NULL REFERENCES users (id),
  sku     text NOT NULL REFERENCES products (sku),
  qty     int NOT NULL,
  placed  timestamptz NOT NULL
);
-- readthru's change stream maps an order to its user's key (user_id is not in the primary
-- key): deletes and updates must carry the whole old row.
ALTER TABLE orders REPLICA IDENTITY FULL;

INSERT INTO users (id, name, email, plan, settings, created_at)
SELECT i, 'User ' || i, 'user' || i || '@example.com',
       (ARRAY['free', 'pro', 'team'])[1 + i % 3],
       jsonb_build_object('theme', CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(1, 10000) AS i
ON CONFLICT (id) DO NOTHING;

INSERT INTO products (sku, title, price, stock)
SELECT 'sku-' || i, 'Product ' || i, round((i * 1.37)::numeric, 2), i % 50
FROM generate_series(1, 1000) AS i
ON CONFLICT (sku) DO NOTHING;

INSERT INTO orders (id, user_id, sku, qty, placed)
SELECT i, 1 + i % 10000, 'sku-' || (1 + i % 1000), 1 + i % 3,
       timestamptz '2024-06-01 00:00:00+00' + i * interval '1 minute'
FROM generate_series(1, 30000) AS i
ON CONFLICT (id) DO NOTHING;

ANALYZE users, products, orders;
