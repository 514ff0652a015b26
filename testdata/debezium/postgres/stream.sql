-- PostgreSQL fixture, part 3 of 3: changes made while the connector streams.
-- Every statement commits on its own (autocommit) unless inside BEGIN/COMMIT.
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';

-- all_types: the snapshot rows again, now as streamed inserts (ids 11-20).
INSERT INTO all_types SELECT (jsonb_populate_record(src, jsonb_build_object('id', src.id + 10))).* FROM all_types src ORDER BY id;
-- More intervals with microseconds (see snapshot.sql 6-10), streamed only.
INSERT INTO all_types (id, c_interval) VALUES
  (21, '00:00:00.000001'), (22, '00:00:02.000003'), (23, '2 days 10:00:00'),
  (24, '3 years 1 mon 00:00:00.5'), (25, '-2 years -3 mons -4 days -05:06:07.000089'),
  (26, '123:45:59.999999');
UPDATE all_types SET c_text = 'updated', c_int4 = -1, c_jsonb = '{"updated": true}' WHERE id = 11;
DELETE FROM all_types WHERE id = 12;

INSERT INTO time_precisions SELECT (jsonb_populate_record(src, jsonb_build_object('id', src.id + 10))).* FROM time_precisions src ORDER BY id;

-- TOAST under REPLICA IDENTITY DEFAULT: the first update leaves every big
-- column untouched (all unchanged TOAST), the second changes one of them.
UPDATE toast SET n = 2 WHERE id = 1;
UPDATE toast SET big_text = 'short now' WHERE id = 1;
INSERT INTO toast SELECT 2, n, big_text, big_bytea, big_jsonb, big_arr, big_text_arr FROM toast_full WHERE id = 1;
DELETE FROM toast WHERE id = 2;
-- The same under REPLICA IDENTITY FULL (the old row is logged whole).
UPDATE toast_full SET n = 2 WHERE id = 1;
UPDATE toast_full SET big_text = 'short now' WHERE id = 1;
DELETE FROM toast_full WHERE id = 1;

-- insert, update, primary-key change, delete under DEFAULT and FULL.
INSERT INTO rid_default VALUES (3, 'three', 3);
UPDATE rid_default SET name = 'uno', n = NULL WHERE id = 1;
UPDATE rid_default SET id = 20 WHERE id = 2;
DELETE FROM rid_default WHERE id = 3;
INSERT INTO rid_full VALUES (3, 'three', 3);
UPDATE rid_full SET name = 'uno', n = NULL WHERE id = 1;
UPDATE rid_full SET id = 20 WHERE id = 2;
DELETE FROM rid_full WHERE id = 3;

-- no primary key (REPLICA IDENTITY FULL)
INSERT INTO nopk_full VALUES (3, 'three');
UPDATE nopk_full SET b = 'uno' WHERE a = 1;
DELETE FROM nopk_full WHERE a = 2;

-- composite key (c, a)
INSERT INTO composite VALUES (3, 'b3', 30, 'v3');
UPDATE composite SET v = 'v1 updated' WHERE c = 10 AND a = 1;
UPDATE composite SET c = 21 WHERE c = 20 AND a = 2;
DELETE FROM composite WHERE c = 30 AND a = 3;

-- One transaction over several tables, with a transactional logical message.
BEGIN;
INSERT INTO rid_default VALUES (4, 'four', 4);
UPDATE composite SET v = 'in tx' WHERE c = 10 AND a = 1;
SELECT pg_logical_emit_message(true, 'sluice-tx', 'in a transaction');
DELETE FROM rid_full WHERE id = 1;
INSERT INTO rid_default VALUES (5, 'five', 5);
COMMIT;

-- Non-transactional logical messages (text and binary content).
SELECT pg_logical_emit_message(false, 'sluice-ntx', 'outside a transaction');
SELECT pg_logical_emit_message(false, 'sluice-bin', '\xdeadbeef00ff'::bytea);

-- TRUNCATE: skipped by Debezium's default skipped.operations=t.
TRUNCATE trunc;

-- The end: the recorder stops reading once this row is in Kafka and the
-- topics have then been quiet for a few seconds.
INSERT INTO end_marker VALUES (1);
