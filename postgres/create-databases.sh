#!/usr/bin/env bash
# Creates the databases named in $POSTGRES_DBS (comma- and/or space-separated;
# default "pamps pamps_test"), as in the pamps workshop's compose setup.
# The image runs this hook only when the data volume is empty: after changing
# POSTGRES_DBS, recreate the volume (docker-compose down -v).
set -euo pipefail

IFS=', ' read -ra dbs <<<"${POSTGRES_DBS:-pamps pamps_test}"
for db in "${dbs[@]}"; do
  [[ -n $db ]] || continue  # "a,,b"
  echo "create-databases: ensuring database \"$db\""
  # CREATE DATABASE has no IF NOT EXISTS: generate it only when missing (\gexec),
  # and let %I quote the name so no value of POSTGRES_DBS can inject SQL.
  psql -v ON_ERROR_STOP=1 -v db="$db" --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
done
