#!/usr/bin/env bash
# demo.sh — the quickstart behind `make demo`.
#
# Starts local PostgreSQL and Kafka (services.sh up), creates a small
# legacy "shop" schema with two customers, runs sluice with
# testdata/config/shop.yaml (which snapshots the existing rows), makes a
# few changes the way the shop's own application would, and shows the
# change events arriving: sluice's stdout sink prints them, then the same
# records are read back from Kafka. sluice is stopped with SIGTERM at the
# end; DEMO_FOLLOW=1 keeps it running until Ctrl-C instead.
#
# DEMO=transforms runs testdata/config/shop-event-and-state.yaml instead:
# the same changes (and an outbox row) as an event topic, a compacted
# state topic (unwrap) and an outbox event, read back side by side.
#
# DEMO=join runs testdata/config/shop-join.yaml: orders enriched with
# their customer into Kafka and into an Elasticsearch index of orders;
# the customer who moves has their orders re-emitted.
#
# DEMO=index runs testdata/config/shop-capture-and-index.yaml: pipeline
# capture writes the shop's changes to Kafka, pipeline index reads those
# topics (a kafka source, consumer group sluice-index) into Elasticsearch
# indexes of customers and orders.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SLUICE_BIN:-bin/sluice}
CONFIG=testdata/config/shop.yaml
[ "${DEMO:-}" = transforms ] && CONFIG=testdata/config/shop-event-and-state.yaml
[ "${DEMO:-}" = join ] && CONFIG=testdata/config/shop-join.yaml
[ "${DEMO:-}" = index ] && CONFIG=testdata/config/shop-capture-and-index.yaml
SLOT=sluice_shop
[ "${DEMO:-}" = index ] && SLOT=sluice_capture
ES=http://127.0.0.1:${SLUICE_ES_PORT:-59200}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "postgres://sluice:sluice@127.0.0.1:${SLUICE_PG_PORT:-55432}/sluice")
BROKER=127.0.0.1:${SLUICE_KAFKA_PORT:-59092}

[ -x "$BIN" ] || CGO_ENABLED=0 go build -o "$BIN" ./cmd/sluice
scripts/postgres.sh start && scripts/kafka.sh start   # the demo needs no Elasticsearch
if [ "${DEMO:-}" = join ]; then                        # but the join demo's index of orders does
  scripts/elasticsearch.sh start
  curl -fs -X DELETE "$ES/shop.public.orders" >/dev/null 2>&1 || true
fi
if [ "${DEMO:-}" = index ]; then                       # a fresh index from fresh topics
  scripts/elasticsearch.sh start
  curl -fs -X DELETE "$ES/shop.public.customers,shop.public.orders" >/dev/null 2>&1 || true
  scripts/kafka.sh tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$BROKER" \
    --delete --group sluice-index >/dev/null 2>&1 || true
  for t in shop.public.customers shop.public.orders; do
    scripts/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --delete --if-exists --topic "$t" >/dev/null 2>&1 || true
  done
fi

echo "== creating the shop schema"
"${PSQL[@]}" <<'SQL'
\o /dev/null
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('sluice_shop', 'sluice_capture') AND NOT active;
\o
SET client_min_messages = warning;
DROP PUBLICATION IF EXISTS sluice_shop;
DROP PUBLICATION IF EXISTS sluice_capture;
DROP TABLE IF EXISTS orders, customers, outbox, sluice_signal;
CREATE TABLE customers (id int PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, zip text, city text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric(10,2) NOT NULL,
                     ordered_at timestamptz NOT NULL DEFAULT now());
INSERT INTO customers VALUES (11, 'Peter', 'Muster', '3010', 'Berne');
INSERT INTO customers VALUES (12, 'Paul', 'Steffen', '8001', 'Zurich');
-- Debezium's outbox table: the application writes its events here, in the
-- transaction of the change they describe.
CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                     type text NOT NULL, payload jsonb);
SQL
rm -f sluice-state/shop.postgres.json sluice-state/capture.postgres.json   # a fresh demo: snapshot the existing rows again
rm -rf sluice-state/join/shop-customer  # and fill the join's customers again
"$BIN" validate --config "$CONFIG"

echo "== starting sluice: it snapshots the existing customers (op r), then streams (events print as JSON lines)"
"$BIN" run --config "$CONFIG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -fs http://127.0.0.1:9187/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
for _ in $(seq 100); do
  [ "$("${PSQL[@]}" -tAc "SELECT count(*) FROM pg_replication_slots WHERE slot_name='$SLOT' AND active")" = 1 ] && break
  sleep 0.2
done

sleep 1
echo "== the shop application writes"
"${PSQL[@]}" <<'SQL'
BEGIN;
INSERT INTO orders (customer_id, amount) VALUES (11, 129.90), (12, 15.50);
UPDATE customers SET city = 'Bern' WHERE id = 11;
INSERT INTO outbox VALUES (gen_random_uuid(), 'order', '11', 'OrderCreated', '{"customer": 11, "amount": 129.90}');
COMMIT;
DELETE FROM orders WHERE customer_id = 12;
DELETE FROM customers WHERE id = 12;
SQL
sleep 2

if [ "${DEMO_FOLLOW:-0}" = 1 ]; then
  echo "== sluice keeps running; press Ctrl-C to stop"
  wait $PID
  exit 0
fi

# show TOPIC N: the last N records of TOPIC, key => value (null: a tombstone).
show() {
  scripts/kafka.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BROKER" \
    --topic "$1" --from-beginning --timeout-ms 5000 \
    --property print.key=true --property key.separator=' => ' 2>/dev/null | tail -n "$2"
}
if [ "${DEMO:-}" = join ]; then
  echo "== event topic shop.public.orders: each order with its customer as of the order's commit; customer 11's"
  echo "   move to Bern re-emits order 1 (op u, header sluice.join.cause); the delete of order 2 has only its key (last 5)"
  show shop.public.orders 5
  echo "== state topic shop.public.orders.state: the enriched rows per order key (last 3)"
  show shop.public.orders.state 3
  echo "== Elasticsearch index shop.public.orders: the orders with their customers now"
  curl -fs "$ES/shop.public.orders/_search?q=*&_source_includes=id,customer_id,customer" | python3 -c \
    'import json,sys; [print(json.dumps(h["_source"], sort_keys=True)) for h in json.load(sys.stdin)["hits"]["hits"]]'
elif [ "${DEMO:-}" = index ]; then
  echo "== Elasticsearch indexes shop.public.customers and shop.public.orders, fed from the Kafka topics by pipeline index"
  for i in shop.public.customers shop.public.orders; do
    for _ in $(seq 150); do  # the index pipeline finds the new topics at its next metadata refresh (5s)
      [ "$(curl -fs "$ES/$i/_count?q=*" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)" -ge 1 ] 2>/dev/null && break
      sleep 0.2
    done
    echo "-- $i"
    curl -fs "$ES/$i/_search?q=*&sort=id" | python3 -c \
      'import json,sys; [print(json.dumps(h["_source"], sort_keys=True)) for h in json.load(sys.stdin)["hits"]["hits"]]'
  done
elif [ "${DEMO:-}" = transforms ]; then
  echo "== event topic shop.public.customers: every change, as Debezium's envelope (last 5)"
  show shop.public.customers 5
  echo "== state topic shop.public.customers.state: the row itself per key, compacted; the delete of 12 is a tombstone (last 4)"
  show shop.public.customers.state 4
  echo "== outbox event on outbox.event.order: key aggregateid, value the payload"
  show outbox.event.order 1
else
  echo "== the same events, read back from Kafka topic shop.public.customers"
  show shop.public.customers 6
fi

echo "== stopping sluice (SIGTERM: drain, confirm, exit 0)"
kill -TERM $PID
wait $PID
trap - EXIT
echo "== done; services keep running (scripts/services.sh down stops them)"
