/*
 * ddb — DynamoDB's JSON 1.0 API, the few operations the lock item needs
 * (docs/PROTOCOL.md A5, B11): GetItem, PutItem, DeleteItem, DescribeTable; and
 * Scan, for `tflock status --all`.
 *
 * Requests are `POST /` with `X-Amz-Target: DynamoDB_20120810.<Op>` and
 * `Content-Type: application/x-amz-json-1.0`, signed with SigV4 (service
 * "dynamodb") by the s3 client, whose credentials (the backend's chain,
 * assume_role included) and http client they share.
 *
 * ddb_request() returns 0 for a 2xx (reply->json is the parsed body), else a
 * negative ERR_* with err filled: ERR_HTTP carries http_status and, in
 * s3_code, the exception's short name ("ConditionalCheckFailedException");
 * err->msg names the table, the operation and what to do, the server's own
 * message escaped for a terminal. Resends happen only where they cannot
 * change the outcome: every operation after a throttle (DynamoDB rejects a
 * throttled request before executing it, A5) or a request never sent; reads
 * (GetItem, DescribeTable) also after 5xx, timeouts and resets. A write whose
 * outcome is unknown is returned as such: the lock engine reads back (B2).
 *
 * Memory: struct ddb_client owns copies of its settings and borrows the s3
 * client, which must outlive it; ddb_client_free() is NULL-safe. A reply owns
 * its JSON; ddb_reply_free().
 */
#ifndef TFLOCK_DDB_H
#define TFLOCK_DDB_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct s3_client;

struct ddb_config {
	const char *table;
	const char *endpoint; /* NULL: AWS's regional endpoint for region */
	const char *region;   /* NULL: us-east-1 */
	int use_fips;         /* AWS only: dynamodb-fips.REGION */
	long timeout_ms;      /* per request; 0: 10 s */
};

struct ddb_client;

/* ERR_USAGE for an empty table name or an unusable endpoint. */
int ddb_client_new(const struct ddb_config *cfg, struct s3_client *s3, struct ddb_client **out,
                   struct tf_error *err);
void ddb_client_free(struct ddb_client *c);
const char *ddb_client_table(const struct ddb_client *c);
const char *ddb_client_region(const struct ddb_client *c);
/* "http://127.0.0.1:8000 (region us-east-1)" */
const char *ddb_client_describe(const struct ddb_client *c);
int ddb_client_is_aws(const struct ddb_client *c);

struct ddb_call {
	long timeout_ms;     /* per attempt; 0: the client's */
	int64_t deadline_ns; /* CLOCK_BOOTTIME; 0: none beyond the attempts */
	int no_retry;        /* one attempt, whatever happens */
	int abortable;       /* end when a cancelling signal arrives */
};

struct ddb_reply {
	long status;          /* 0: no answer */
	cJSON *json;          /* the 2xx body, parsed */
	int64_t t_first_send; /* CLOCK_BOOTTIME of the first attempt's send */
	int64_t t_recv;
};
void ddb_reply_init(struct ddb_reply *r);
void ddb_reply_free(struct ddb_reply *r);

/* One operation ("GetItem", "PutItem", "DeleteItem", "DescribeTable", "Scan") with a
 * JSON body (its TableName included by the caller). */
int ddb_request(struct ddb_client *c, const char *op, const char *body, const struct ddb_call *call,
                struct ddb_reply *r, struct tf_error *err);

/* Scan: every item whose key_attr begins with prefix (a FilterExpression:
 * DynamoDB still reads, and bills, the whole table), every page
 * (LastEvaluatedKey), consistent reads, only attrs (none: every attribute).
 * 0 with *items a cJSON array of the items (the caller cJSON_Delete()s it), or
 * ddb_request()'s error (an AccessDeniedException names dynamodb:Scan). */
int ddb_scan_prefix(struct ddb_client *c, const char *key_attr, const char *prefix,
                    const char *const *attrs, size_t nattrs, const struct ddb_call *call,
                    cJSON **items, struct tf_error *err);

/* The failure says the table cannot be used as configured: it is missing, has
 * another key schema, the action is denied, the credentials are refused. */
int ddb_error_unusable(const struct tf_error *err);
/* err is DynamoDB's "the condition failed" (the write did not apply). */
int ddb_error_condition(const struct tf_error *err);

#endif
