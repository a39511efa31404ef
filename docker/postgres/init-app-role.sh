#!/usr/bin/env bash
# Creates the role and database Tekil connects as. The postgres image runs this
# once, from /docker-entrypoint-initdb.d/, when it initialises an empty data
# volume, as the superuser POSTGRES_USER.
#
# The role is no superuser and has no BYPASSRLS: row-level security, which the
# migrations switch on (FORCE ROW LEVEL SECURITY), applies to it. The app refuses
# to start as a role that bypasses RLS. It owns its database, so it may create
# the tables in the public schema when it runs the migrations.
set -eo pipefail  # no -u: the postgres entrypoint sources a script that lost its exec bit

: "${TEKIL_DB_PASSWORD:?TEKIL_DB_PASSWORD must be set for the app role}"
app_role="${TEKIL_DB_USER:-tekil}"
app_db="${TEKIL_DB_NAME:-tekil}"

psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --set=app_role="$app_role" --set=app_db="$app_db" --set=app_password="$TEKIL_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role')
\gexec
ALTER ROLE :"app_role" WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
  PASSWORD :'app_password';

SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db')
\gexec
ALTER DATABASE :"app_db" OWNER TO :"app_role";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
SQL

echo "init-app-role: role ${app_role} (NOSUPERUSER NOBYPASSRLS) owns database ${app_db}"
