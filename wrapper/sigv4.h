/*
 * sigv4 — AWS Signature Version 4 for the Authorization header.
 *
 * sigv4_sign() is a pure function: everything it signs, the clock included,
 * comes in through struct sigv4_params, so tests pin the time and compare the
 * intermediate strings with AWS's published examples.
 *
 * What is signed:
 *   - the method, and the path as the canonical URI. S3 rules (s3_path = 1):
 *     each byte outside A-Za-z0-9-._~ and '/' is percent-encoded once, and the
 *     path is taken as is ("//" and "." segments mean what they say to S3).
 *     General rules (s3_path = 0, every other service): "." and ".." segments
 *     are resolved and empty segments dropped, then each segment is encoded
 *     twice, because the service encodes the path it receives on the wire,
 *     which is the once-encoded raw path ("a b" → "a%2520b").
 *   - the query pairs, encoded (nothing kept but A-Za-z0-9-._~) and sorted by
 *     name then value. A NULL value signs as "name=". Build the URL's query
 *     with sigv4_query_string() so that it matches what was signed.
 *   - the headers host (from params.host), x-amz-date (from params.now),
 *     x-amz-security-token when a session token is given, and every header in
 *     params.headers. Names are lowercased; values are trimmed and each run of
 *     spaces or tabs becomes one space; repeated names are joined with ','
 *     in the order given. The signer owns host, x-amz-date and (with a token)
 *     x-amz-security-token: copies of them in params.headers are ignored, as is
 *     an authorization header. The caller sends x-amz-content-sha256 itself
 *     (S3 requires it) and so passes it in params.headers.
 *   - the payload hash, as given.
 *
 * The caller must send the request with exactly these headers and values:
 * Host, X-Amz-Date (result.amz_date), X-Amz-Security-Token (the token), the
 * passed headers, and Authorization (result.authorization).
 *
 * Memory: struct sigv4_result owns its strings; sigv4_result_free() releases
 * them (NULL-safe, and safe after a failed sigv4_sign(), which leaves every
 * pointer NULL). Nothing from params is kept.
 *
 * Secrets: the secret key only enters the key derivation; the "AWS4"+secret
 * buffer and each derived key are wiped before sigv4_sign() returns. The
 * session token does appear in result.canonical_request (it is a signed
 * header), so do not log that string unredacted; sigv4_result_free() wipes it.
 * Nothing here logs.
 *
 * Errors (sigv4_sign): ERR_INTERNAL for a malformed request (NULL or empty
 * method, host, region or service, a path not starting with '/', a header
 * name that is not an HTTP token, a value with CR/LF or other control bytes,
 * a bad payload hash, a clock outside years 0-9999, or an OpenSSL failure);
 * ERR_CREDENTIALS for a missing or malformed access key or secret key.
 *
 * Allocation failure aborts (buf.h's xmalloc rule). So does an OpenSSL failure
 * in the void helpers sha256_hex() and hmac_sha256(), which cannot report it.
 */
#ifndef TFLOCK_SIGV4_H
#define TFLOCK_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "error.h"
#include "http.h"

struct sigv4_pair {
	const char *name;  /* raw, unencoded */
	const char *value; /* raw, unencoded; NULL is the same as "" */
};

struct sigv4_params {
	const char *method;             /* "GET", "PUT", ... */
	const char *host;               /* Host header value, with ":port" if the URL has one */
	const char *path;               /* raw absolute path, unencoded; NULL or "" means "/" */
	int s3_path;                    /* 1: S3 path rules; 0: general rules (see above) */
	const struct sigv4_pair *query; /* raw pairs; encoded and sorted here */
	size_t nquery;
	const struct http_header *headers; /* extra headers to sign */
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256 of the body, "UNSIGNED-PAYLOAD"
				     or a "STREAMING-..." literal */
	const char *region;       /* "us-east-1" */
	const char *service;      /* "s3", "sts" */
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL or "" = none */
	time_t now;                /* the signing time */
};

struct sigv4_result {
	char amz_date[17]; /* "20130524T000000Z": send as X-Amz-Date */
	char *canonical_request;
	char *string_to_sign;
	char *signed_headers; /* "host;range;x-amz-content-sha256;x-amz-date" */
	char signature[65];   /* lowercase hex */
	char *authorization;  /* the whole Authorization header value */
};

/* Sign; fills *out (which need not be initialised). 0 or a negative ERR_*. */
int sigv4_sign(const struct sigv4_params *p, struct sigv4_result *out, struct tf_error *err);
/* Free and wipe the result's strings and zero it; NULL-safe. */
void sigv4_result_free(struct sigv4_result *r);

/* RFC 3986 percent-encoding of len bytes: A-Za-z0-9-._~ are kept, '/' too when
 * keep_slash, everything else becomes %XX with uppercase hex. malloc'd. */
char *sigv4_uri_encode(const char *s, size_t len, int keep_slash);
/* The URL query "a=1&b=x%20y" for these pairs, byte for byte the canonical
 * query that sigv4_sign() signs for them. malloc'd; "" when n is 0. */
char *sigv4_query_string(const struct sigv4_pair *q, size_t n);

/* Lowercase hex SHA-256 of len bytes. */
void sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 of data under key. */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 unsigned char out[32]);

#endif
