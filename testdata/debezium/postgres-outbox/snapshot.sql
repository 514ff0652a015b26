-- PostgreSQL outbox fixture, part 2 of 3: rows present before the connector
-- starts (snapshot reads, op r).
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';

INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000001', 'order', '1', 'OrderCreated', '{"id": 1, "customer": "alice", "total": 12.5}', 'acme');
INSERT INTO outbox VALUES ('00000000-0000-4000-8000-000000000002', 'customer', 'alice', 'CustomerCreated', '{"name": "alice", "email": "alice@example.com"}', 'acme');
