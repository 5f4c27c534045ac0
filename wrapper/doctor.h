/*
 * doctor — check a lock store and its setup, one line per check:
 *   PASS / WARN / FAIL / UNKNOWN  what: detail [— fix]
 * What a store cannot answer (Ceph RGW lacks some bucket APIs) is UNKNOWN,
 * never PASS. doctor_run() returns the number of FAILs.
 */
#ifndef TFLOCK_DOCTOR_H
#define TFLOCK_DOCTOR_H

#include "lock.h"
#include "s3.h"

struct doctor_input {
	struct s3_client *s3;       /* NULL when credentials did not resolve */
	const char *creds_error;    /* why, when s3 is NULL */
	struct lock *lock;          /* for the self-test */
	int backend_found;          /* a .terraform backend was read */
	int use_lockfile;           /* -1 unknown */
	const char *dynamodb_table; /* NULL/"" none */
	const char *lock_tags;      /* --lock-tags "k=v,..." (validated), or NULL */
};

int doctor_run(const struct doctor_input *in);

#endif
