/*
 * s3err — read an S3 error reply and say it in one human line.
 *
 * s3err_parse() looks for the first <Error> element (AWS, Ceph RGW, MinIO; also the
 * <ErrorResponse><Error> form) in at most S3ERR_SCAN_MAX bytes of body and copies its
 * <Code>, <Message>, <RequestId>, <Region> and <Endpoint> children. It is a small
 * hand-written scanner, not an XML parser: elements are matched by exact name
 * (attributes allowed, "<Code/>" is empty), the first occurrence of each child wins,
 * XML comments are skipped, the five predefined entities and numeric character
 * references (&#65; &#x41;) are decoded, anything else is kept as text. A value with
 * no closing tag (truncated body) is left empty. Values are cleaned for a terminal
 * and a log line: control characters (C0, DEL, C1), bidi controls and invalid UTF-8
 * become one space / '?', runs of whitespace collapse to one space, leading and
 * trailing space is dropped, and the result is cut to the field (never inside a UTF-8
 * character). Nothing here allocates; any input is safe (empty, binary, HTML, huge).
 *
 * The x-amz-bucket-region header is not in the body: callers that have it copy it
 * into region when region is empty.
 */
#ifndef TFLOCK_S3ERR_H
#define TFLOCK_S3ERR_H

#include <stddef.h>

#define S3ERR_SCAN_MAX 65536

struct s3err {
	char code[64];
	char message[256];
	char request_id[96];
	char region[64];    /* from <Region>, or the caller from x-amz-bucket-region */
	char endpoint[128]; /* from <Endpoint> (PermanentRedirect, TemporaryRedirect) */
};

/*
 * Fill out (always cleared first; NULL body is allowed with len 0). Returns 0 when
 * an <Error> element with a non-empty <Code> was found, -1 otherwise (out may still
 * hold a message or request id read before giving up).
 */
int s3err_parse(const char *body, size_t len, struct s3err *out);

/*
 * One line for a person: what happened, then the details, e.g.
 *   "access denied (403 AccessDenied: Access Denied, request id tx00...)"
 *   "the bucket is in another region, eu-west-1 (301 PermanentRedirect: ...)"
 *   "HTTP 502 Bad Gateway"
 * e may be NULL or have an empty code (then the HTTP status and its reason phrase
 * lead). Writes at most size bytes (NUL included) into buf and returns buf.
 */
const char *s3err_describe(long http_status, const struct s3err *e, char *buf, size_t size);

/* Does this error say the store is unusable as configured (credentials,
 * permissions, bucket, region, method): no retry or read-back helps, exit 69?
 * The one classifier: the S3 record (record_s3.c) and the exit codes
 * (outcome.c) use it. */
struct tf_error;
int s3err_store_unusable(const struct tf_error *err);

#endif
