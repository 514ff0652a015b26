-- PostgreSQL outbox fixture, part 3 of 3: changes made while the connector
-- streams. Every statement commits on its own (autocommit) unless inside
-- BEGIN/COMMIT. Ids are fixed (not gen_random_uuid()) so recordings compare.
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';

-- Two aggregate types (topics outbox.event.order and outbox.event.customer).
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000011', 'order', '2', 'OrderCreated', '{"id": 2, "customer": "bob", "total": 99.99, "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}', 'acme');
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000012', 'customer', 'bob', 'CustomerCreated', '{"name": "bob", "email": null, "vip": true, "address": {"city": "Zürich", "zip": "8001"}}', 'globex');
-- Two events in one transaction; the tenant (header) is NULL on the second.
BEGIN;
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000013', 'order', '2', 'OrderPaid', '{"id": 2, "paid": true}', 'acme');
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000014', 'order', '3', 'OrderCreated', '{"id": 3, "customer": "carol", "total": 0, "lines": []}', NULL);
COMMIT;
-- An event with a NULL payload (route.tombstone.on.empty.payload is false by default).
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000015', 'customer', 'carol', 'CustomerDeleted', NULL, 'acme');

-- An update and a delete of outbox rows: the router expects inserts only
-- (it warns about the update and ignores the delete and its tombstone).
UPDATE outbox SET type = 'OrderCreatedV2', payload = '{"id": 2, "updated": true}' WHERE id = '00000000-0000-4000-8000-000000000011';
DELETE FROM outbox WHERE id = '00000000-0000-4000-8000-000000000012';

-- The end: an outbox event of its own aggregate type (topic
-- outbox.event.end_marker); the recorder stops reading once it is in Kafka
-- and the topics have then been quiet for a few seconds.
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-0000000000ff', 'end_marker', 'end', 'End', '{}', NULL);
