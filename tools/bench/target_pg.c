/*
 * target_pg.c - PostgreSQL as the event store a user would compare with:
 * a message-db-style table and write_message() function (advisory lock on
 * the stream, its version, the expected-version check and the insert, in
 * one transaction), called through libpq by every writer thread on its own
 * connection, one round trip and one commit per append. The server must
 * run with synchronous_commit=on (run.sh starts a private cluster).
 * Versions count events (0: the stream is new), as in esfs.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema_sql[] =
    "DROP TABLE IF EXISTS messages;"
    "CREATE TABLE messages ("
    "  global_position bigserial PRIMARY KEY,"
    "  stream_name text NOT NULL,"
    "  position bigint NOT NULL,"
    "  type text NOT NULL,"
    "  data jsonb,"
    "  time timestamptz NOT NULL DEFAULT clock_timestamp(),"
    "  UNIQUE (stream_name, position));"
    "CREATE OR REPLACE FUNCTION write_message(_stream text, _type text, _data jsonb,"
    "                                         _expected bigint DEFAULT NULL)"
    " RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "DECLARE _version bigint;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(hashtextextended(_stream, 0));\n"
    "  SELECT coalesce(max(position), 0) INTO _version FROM messages"
    "   WHERE stream_name = _stream;\n"
    "  IF _expected IS NOT NULL AND _expected <> _version THEN\n"
    "    RAISE EXCEPTION 'Wrong expected version: % (stream: %, stream version: %)',"
    "      _expected, _stream, _version;\n"
    "  END IF;\n"
    "  INSERT INTO messages (stream_name, position, type, data)"
    "   VALUES (_stream, _version + 1, _type, _data);\n"
    "  RETURN _version + 1;\n"
    "END $$;"
    "SELECT pg_stat_reset_shared('wal');";

static PGconn *connect_db(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo ? conninfo : "");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "esfs-bench: PostgreSQL connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "esfs-bench: PostgreSQL: %s", PQerrorMessage(c));
    PQclear(res);
    return ok;
}

static int pg_setup(struct bench_run *r)
{
    PGconn *c = connect_db(r->o->conninfo);
    if (!c)
        return -ECONNREFUSED;
    PGresult *res = PQexec(c, "SHOW synchronous_commit");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "on") != 0)
        fprintf(stderr, "esfs-bench: warning: synchronous_commit is %s, not on\n",
                PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!exec_ok(c, "SET client_min_messages = warning") || !exec_ok(c, schema_sql)) {
        PQfinish(c);
        return -EIO;
    }
    r->shared = c;
    return 0;
}

struct pg_writer {
    PGconn *c;
    char *data; /* the payload, NUL-terminated */
};

static int pg_writer_open(struct bench_writer *w)
{
    struct pg_writer *pw = calloc(1, sizeof(*pw));
    if (!pw)
        return -ENOMEM;
    w->state = pw;
    pw->data = malloc(w->run->o->payload_bytes + 2);
    PGconn *c = pw->c = connect_db(w->run->o->conninfo);
    if (!c || !pw->data)
        return -ECONNREFUSED;
    PGresult *res =
        PQprepare(c, "wm", "SELECT write_message($1, $2, $3::jsonb, $4::bigint)", 4, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "esfs-bench: PostgreSQL prepare: %s", PQerrorMessage(c));
    PQclear(res);
    return ok ? 0 : -EIO;
}

static int pg_append(struct bench_writer *w, size_t k, const char *line, size_t len,
                     int64_t expected)
{
    struct pg_writer *pw = w->state;
    PGconn *c = pw->c;
    char *data = pw->data;
    memcpy(data, line, len - 1);
    data[len - 1] = '\0';
    char ver[32];
    snprintf(ver, sizeof(ver), "%" PRId64, expected);
    const char *params[4] = {w->names[k], "BenchEvent", data, expected >= 0 ? ver : NULL};
    PGresult *res = PQexecPrepared(c, "wm", 4, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (w->n_errors == 0)
            fprintf(stderr, "esfs-bench: write_message: %s", PQerrorMessage(c));
        rc = state && !strcmp(state, "P0001") ? -ECANCELED : -EIO;
    }
    PQclear(res);
    return rc;
}

static void pg_writer_close(struct bench_writer *w)
{
    struct pg_writer *pw = w->state;
    if (!pw)
        return;
    if (pw->c)
        PQfinish(pw->c);
    free(pw->data);
    free(pw);
    w->state = NULL;
}

static void pg_report(struct bench_run *r)
{
    PGresult *res = PQexec(r->shared, "SELECT (SELECT count(*) FROM messages), wal_sync, wal_write"
                                      " FROM pg_stat_wal");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        double rows = strtod(PQgetvalue(res, 0, 0), NULL);
        double syncs = strtod(PQgetvalue(res, 0, 1), NULL);
        printf(" rows=%.0f wal_syncs=%.0f events_per_fsync=%.2f", rows, syncs,
               syncs > 0 ? rows / syncs : 0.0);
    }
    PQclear(res);
}

static int pg_teardown(struct bench_run *r)
{
    PQfinish(r->shared);
    r->shared = NULL;
    return 0;
}

const struct bench_target bench_target_pg = {
    .name = "pg",
    .setup = pg_setup,
    .writer_open = pg_writer_open,
    .append = pg_append,
    .writer_close = pg_writer_close,
    .report = pg_report,
    .teardown = pg_teardown,
};
