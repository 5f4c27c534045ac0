/*
 * s3 — signed S3 requests: addressing, signing, credential refresh, errors and
 * retries.
 *
 * struct s3_client owns an http client, the resolved credentials and copies of
 * its configuration; s3_client_free() wipes and frees it (NULL-safe).
 *
 * s3_request() returns 0 when the server answered 2xx or 304, else a negative
 * ERR_* kind with err filled: ERR_HTTP carries http_status, s3_code, message and
 * request id, and reply->status is set too, so callers branch on 404 / 412 / 409
 * without parsing strings. Retries (backoff with full jitter, bounded by
 * attempts and the call's deadline) happen only where repeating cannot change
 * the outcome: reads (GET/HEAD) on 5xx, 429/SlowDown, transport errors and
 * timeouts; writes only when the request was certainly never sent (connect
 * failure). A write whose outcome is unknown (timeout, reset, 5xx, lost reply)
 * is returned to the caller as such (err_outcome_unknown()), never repeated
 * blindly: the lock engine resolves it by reading the lock back (PROTOCOL B2).
 */
#ifndef TFLOCK_S3_H
#define TFLOCK_S3_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "creds.h"
#include "error.h"
#include "http.h"

struct s3_config {
	const char *endpoint; /* custom endpoint URL (MinIO, Ceph, ...); NULL: AWS */
	const char *region;   /* NULL: us-east-1 */
	const char *bucket;
	int path_style;    /* force path-style addressing */
	int use_fips;      /* AWS only */
	int use_dualstack; /* AWS only */
	long timeout_ms;   /* per request; 0: 10 s */
	int max_attempts;  /* for retried reads; 0: 4 */
	struct creds_config creds;
};

struct s3_client;
struct sigv4_pair;

struct s3_reply {
	long status;
	char etag[128]; /* normalised: quotes and W/ stripped */
	struct buf body;
	int64_t t_send;       /* CLOCK_BOOTTIME ns of the last attempt's send */
	int64_t t_first_send; /* of the first attempt's: a write that applied was sent
	                         no earlier (PROTOCOL B4 counts a lease from it) */
	int64_t t_recv;
	const char *date; /* server Date header (owned by the reply) */
	struct http_response http;
};

/* What S3 accepts, checked before any request. Each returns 0, or ERR_USAGE
 * with a message naming the value and the rule it breaks (callers prefix where
 * the value came from).
 *   endpoint  http:// or https://, a host, a port (when given) in 1..65535, no
 *             user information, query or fragment
 *   bucket    S3's naming rules: 3..63 lowercase letters, digits, '.' and '-',
 *             starting and ending with a letter or digit, no "..", not an IPv4
 *             address (dots are fine: RGW and MinIO users have such buckets)
 *   region    a host label, as the AWS SDKs require: letters, digits and '-',
 *             1..63, starting and ending with a letter or digit ("us-east-1",
 *             also custom stores' "default" or "garage")
 *   key       at most S3_MAX_KEY bytes */
#define S3_MAX_KEY 1024
int s3_check_endpoint(const char *url, struct tf_error *err);
int s3_check_bucket(const char *name, struct tf_error *err);
int s3_check_region(const char *region, struct tf_error *err);
int s3_check_key(const char *key, struct tf_error *err);

/* Creates the client and resolves credentials (ERR_CREDENTIALS etc.). */
int s3_client_new(const struct s3_config *cfg, struct s3_client **out, struct tf_error *err);
void s3_client_free(struct s3_client *c);
/* Human description of where requests go: "http://127.0.0.1:7480 (path style)". */
const char *s3_client_describe(const struct s3_client *c);
int s3_client_is_aws(const struct s3_client *c);
const char *s3_client_bucket(const struct s3_client *c);
const char *s3_client_creds_source(const struct s3_client *c);
/* True when STS is AWS's (the client talks to AWS) or an STS endpoint was set
 * explicitly (backend sts endpoint, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL):
 * asking it who the credentials belong to then means something. */
int s3_client_has_sts(const struct s3_client *c);
/* STS GetCallerIdentity with the client's credentials (see creds.h). */
int s3_client_caller_identity(struct s3_client *c, struct creds_identity *out,
                              struct tf_error *err);

/*
 * A signed request to another AWS service (DynamoDB, for the lock item) with
 * this client's credentials (refreshed as for S3), its http client and its
 * timeout: one attempt, general SigV4 path rules, the payload hash signed but
 * no x-amz-content-sha256 header (S3's alone). url must be https?://HOST[:PORT]PATH
 * with HOST[:PORT] in host and the raw PATH in path. 0 when the server answered
 * (any status: resp->status says), else ERR_CONNECT (never sent), ERR_TIMEOUT,
 * ERR_TRANSPORT, ERR_CANCELLED, ERR_CREDENTIALS.
 */
struct s3_service_request {
	const char *url, *host, *path;
	const char *service, *region;
	const struct http_header *headers; /* at most 8, all signed */
	size_t nheaders;
	const void *body;
	size_t body_len;
	long timeout_ms;     /* 0: the client's */
	int64_t deadline_ns; /* CLOCK_BOOTTIME; 0: none */
	int abortable;
};
int s3_client_send_signed(struct s3_client *c, const struct s3_service_request *req,
                          struct http_response *resp, struct tf_error *err);
const struct creds_config *s3_client_creds_config(const struct s3_client *c);

void s3_reply_init(struct s3_reply *r);
void s3_reply_free(struct s3_reply *r);

struct s3_request {
	const char *method;
	const char *key;                /* NULL: the bucket itself */
	const char *subresource;        /* "versioning", "lifecycle", ... or NULL */
	const struct sigv4_pair *query; /* query pairs (a listing), or NULL; not
	                                   with subresource */
	size_t nquery;
	const struct http_header *headers; /* extra headers (all signed) */
	size_t nheaders;
	const void *body;
	size_t body_len;
	int64_t deadline_ns; /* CLOCK_BOOTTIME; 0: none beyond attempts */
	long timeout_ms;     /* 0: the client's */
	int no_retry;        /* one attempt, whatever happens */
	int abortable;       /* stop when a signal asks us to (http_set_abort) */
};

int s3_request(struct s3_client *c, const struct s3_request *req, struct s3_reply *reply,
               struct tf_error *err);

/* Convenience wrappers. etag arguments are unquoted; NULL means unconditional. */
int s3_get(struct s3_client *c, const char *key, const char *if_none_match, struct s3_reply *r,
           struct tf_error *err);
int s3_head(struct s3_client *c, const char *key, const char *if_none_match, struct s3_reply *r,
            struct tf_error *err);
int s3_delete(struct s3_client *c, const char *key, const char *if_match, struct s3_reply *r,
              struct tf_error *err);

/* Strip surrounding quotes and a W/ prefix into out. */
void s3_etag_normalise(const char *in, char *out, size_t size);
/* base64(SHA-256(data)) for x-amz-checksum-sha256. */
void s3_checksum_sha256_b64(const void *data, size_t len, char out[64]);
/* Build the request URL and the canonical path (for tests). malloc'd. */
char *s3_url_for(const struct s3_client *c, const char *key, const char *subresource,
                 char **host_out, char **path_out);

#endif
