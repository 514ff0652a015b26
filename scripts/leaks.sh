#!/usr/bin/env bash
# leaks.sh before FILE | after FILE
#
# Tests must drop what they create: an inactive replication slot pins WAL
# on a real server until its disk fills. `before` records the replication
# slots, publications and orphaned snapshot state rows (public.sluice_state
# rows whose slot is gone) of the test PostgreSQL; `after` fails (exit 1)
# listing every one that exists now but did not before.
# make test runs it around `go test`. The DSN is SLUICE_TEST_PG_DSN.
set -euo pipefail

dsn=${SLUICE_TEST_PG_DSN:?SLUICE_TEST_PG_DSN is not set (eval "\$(scripts/services.sh env)")}
list() {
  local q="SELECT 'slot ' || slot_name FROM pg_replication_slots
           UNION ALL SELECT 'publication ' || pubname FROM pg_publication"
  # Rows of the default snapshot state table whose slot is gone, when the
  # table exists.
  if [ "$(psql "$dsn" -X -A -t -c "SELECT to_regclass('public.sluice_state') IS NOT NULL")" = t ]; then
    q="$q UNION ALL SELECT 'snapshot state of the dropped slot ' || slot FROM public.sluice_state s
           WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots r WHERE r.slot_name = s.slot)"
  fi
  psql "$dsn" -X -A -t -v ON_ERROR_STOP=1 -c "$q" | LC_ALL=C sort
}

case "${1:-}" in
  before) list > "${2:?file}" ;;
  after)
    now=$(list)
    leaked=$(LC_ALL=C comm -13 "${2:?file}" <(printf '%s\n' "$now" | sed '/^$/d'))
    if [ -n "$leaked" ]; then
      echo "leaks.sh: the tests left these behind (each test must drop what it creates):" >&2
      printf '%s\n' "$leaked" | sed 's/^/  /' >&2
      exit 1
    fi
    echo "leaks.sh: no replication slot or publication left behind" ;;
  *) echo "usage: $0 before FILE | after FILE" >&2; exit 2 ;;
esac
