#!/bin/sh
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d):
# lets the compose profile `scale`'s replica stream from this primary, with a password.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
