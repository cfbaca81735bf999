/* migration.h: numbered SQL migrations, embedded into the binary at build time from
 * migrations/<backend>/NNNN_name.sql by cmake/embed_migrations.cmake. */
#ifndef BH_STORE_MIGRATION_H
#define BH_STORE_MIGRATION_H

typedef struct migration_s {
    int version;      /* NNNN from the file name; strictly increasing */
    const char *name; /* file name without .sql */
    const char *sql;  /* one or more statements */
} migration_t;

/* Sorted by version, terminated by an entry whose name is NULL. */
extern const migration_t migrations_sqlite[];
/* migrations/postgres/, the same versions (builds with WITH_POSTGRES only). */
extern const migration_t migrations_postgres[];

#endif
