-- MariaDB fixture, part 3 of 3: changes made while the connector streams.
-- Every statement commits on its own (autocommit) unless inside BEGIN/COMMIT.
-- Same session settings as snapshot.sql.
SET NAMES utf8mb4;
SET SESSION sql_mode = '';
SET SESSION time_zone = '+05:00';

-- all_types: the snapshot rows again, now as streamed inserts (ids 11-14).
INSERT INTO all_types SELECT id + 10, ti, tiu, b1, si, siu, mi, miu, i, iu, bi, biu, d, dneg, d0, dbig, f, dbl, bit1, bit12, bit64,
  c, vc, t, tt, mt, lt, lat, cyr, emoji, bn, vb, bl, tb, mb, lb, e, st, j, dt, dtnn, tm, dtm, dtmnn, ts, y, g, pt, ls, poly, mpt, gc
  FROM all_types ORDER BY id;
-- YEAR 0 (and the zero dates again), only streamed: see snapshot.sql.
INSERT INTO all_types (id, dt, dtnn, tm, dtm, dtmnn, ts, y)
VALUES (15, '0000-00-00', '0000-00-00', '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', 0);
UPDATE all_types SET vc = 'updated', i = -1, j = '{"updated": true}' WHERE id = 11;
DELETE FROM all_types WHERE id = 12;

INSERT INTO time_precisions SELECT id + 10, t0, t1, t2, t3, t4, t5, t6, dt0, dt1, dt2, dt3, dt4, dt5, dt6, ts0, ts1, ts2, ts3, ts4, ts5, ts6
  FROM time_precisions ORDER BY id;

-- BIGINT UNSIGNED key: update, key change above 2^63, delete.
INSERT INTO unsigned_key VALUES (18446744073709551614, 'max-1');
UPDATE unsigned_key SET v = 'MAX' WHERE id = 18446744073709551615;
UPDATE unsigned_key SET id = 9223372036854775809 WHERE id = 9223372036854775808;
DELETE FROM unsigned_key WHERE id = 18446744073709551614;

-- insert, update, primary-key change, delete.
INSERT INTO rid VALUES (3, 'three', 3);
UPDATE rid SET name = 'uno', n = NULL WHERE id = 1;
UPDATE rid SET id = 20 WHERE id = 2;
DELETE FROM rid WHERE id = 3;

-- no primary key
INSERT INTO nopk VALUES (3, 'three');
UPDATE nopk SET b = 'uno' WHERE a = 1;
DELETE FROM nopk WHERE a = 2;

-- composite key (c, a)
INSERT INTO composite VALUES (3, 'b3', 30, 'v3');
UPDATE composite SET v = 'v1 updated' WHERE c = 10 AND a = 1;
UPDATE composite SET c = 21 WHERE c = 20 AND a = 2;
DELETE FROM composite WHERE c = 30 AND a = 3;

-- One transaction over several tables.
BEGIN;
INSERT INTO rid VALUES (4, 'four', 4);
UPDATE composite SET v = 'in tx' WHERE c = 10 AND a = 1;
DELETE FROM unsigned_key WHERE id = 0;
INSERT INTO rid VALUES (5, 'five', 5);
COMMIT;

-- TRUNCATE: skipped by Debezium's default skipped.operations=t.
TRUNCATE trunc;

-- DDL while streaming: schema-change events, and rows after each change.
ALTER TABLE rid ADD COLUMN note varchar(20) DEFAULT 'x';
INSERT INTO rid VALUES (6, 'six', 6, 'noted');
ALTER TABLE rid DROP COLUMN n;
INSERT INTO rid VALUES (7, 'seven', 'no n');
ALTER TABLE rid CHANGE name title varchar(30);
UPDATE rid SET title = 'renamed' WHERE id = 7;
CREATE TABLE created_later (id int PRIMARY KEY, v varchar(10));
DROP TABLE created_later;

-- The end: the recorder stops reading once this row is in Kafka and the
-- topics have then been quiet for a few seconds.
INSERT INTO end_marker VALUES (1);
