#!/usr/bin/env bash
# leaks.sh before FILE | after FILE
#
# Tests must drop what they create: an inactive replication slot pins WAL
# on a real server until its disk fills. `before` records the replication
# slots and publications of the test PostgreSQL; `after` fails (exit 1)
# listing every slot or publication that exists now but did not before.
# make test runs it around `go test`. The DSN is SLUICE_TEST_PG_DSN.
set -euo pipefail

dsn=${SLUICE_TEST_PG_DSN:?SLUICE_TEST_PG_DSN is not set (eval "\$(scripts/services.sh env)")}
list() {
  psql "$dsn" -X -A -t -v ON_ERROR_STOP=1 -c \
    "SELECT 'slot ' || slot_name FROM pg_replication_slots
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication" | LC_ALL=C sort
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
