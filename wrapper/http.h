/*
 * http — one reusable libcurl easy handle per thread, with bounded timeouts.
 *
 * http_do() performs exactly one request: it never retries and never lets
 * libcurl silently resend (a write whose outcome is unknown is reported as such,
 * PROTOCOL.md B2): writes (PUT, DELETE, POST) always use a fresh connection,
 * on which libcurl never retries by itself; reads reuse kept-alive ones. Results:
 *   0              a response arrived (any status: the caller interprets it)
 *   ERR_CONNECT    nothing was sent (DNS, refused, TLS setup, a proxy refusing
 *                  the tunnel, whose answer is then in err->http_status): safe to
 *                  retry
 *   ERR_TIMEOUT    timed out, possibly after sending: outcome unknown
 *   ERR_TRANSPORT  failed after possibly sending (reset, short or garbled reply):
 *                  unknown; also a 2xx reply whose body is over HTTP_MAX_BODY (the
 *                  message says "more than HTTP_MAX_BODY bytes"). Other replies
 *                  keep the first HTTP_MAX_BODY bytes of their body, body_over_cap set.
 *   ERR_CANCELLED  an abortable request given up because the abort flag was set
 *                  (http_set_abort): outcome unknown for a write
 * "Nothing was sent" is decided by whether libcurl got as far as writing the
 * request (CURLINFO_PRETRANSFER_TIME_T), not by the error's name alone: a garbled
 * reply to a request that went out is ERR_TRANSPORT, however libcurl names it,
 * and a TLS handshake that timed out before the request was written is
 * ERR_CONNECT.
 * The path of the URL is sent exactly as given ("." and ".." segments are not
 * removed), as it was signed.
 * The response owns its memory; http_response_free() releases it (NULL-safe).
 * Header names in responses are lowercased; values trimmed.
 * Request timestamps are CLOCK_BOOTTIME nanoseconds (clock_boot_ns(), clock.h):
 * t_send is taken just before the transfer starts, t_recv when the response is
 * complete.
 */
#ifndef TFLOCK_HTTP_H
#define TFLOCK_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct http_header { /* a request header; the caller owns the strings */
	const char *name;
	const char *value;
};

struct http_field { /* a response header, owned by the response */
	char *name;
	char *value;
};

struct http_request {
	const char *method; /* "GET", "PUT", "HEAD", "DELETE", "POST" */
	const char *url;
	const struct http_header *headers; /* sent as given; "Name: value" */
	size_t nheaders;
	const void *body;
	size_t body_len;
	long timeout_ms;         /* total; 0 = default (10 s) */
	long connect_timeout_ms; /* 0 = default (min(timeout, 3 s)) */
	int no_proxy;            /* for instance metadata: never through a proxy */
	int abortable;           /* give up at once when the abort flag is set */
};

struct http_response {
	long status;
	struct buf body;
	struct http_field *headers;
	size_t nheaders;
	int64_t t_send; /* CLOCK_BOOTTIME ns */
	int64_t t_recv;
	int body_over_cap; /* the body was longer than HTTP_MAX_BODY: cut there */
};

#define HTTP_MAX_BODY (1024 * 1024) /* replies are small; bytes of a body kept */

struct http_client;

struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);
/* Global verbosity hook: when set, request/response lines are logged with
 * secrets redacted. */
void http_set_trace(int on);
/* The abort flag: a signal handler sets *flag; an abortable request in progress
 * then ends within about a second with ERR_CANCELLED (libcurl's progress
 * callback), and one not yet started is not sent. NULL (the default) disables
 * aborting. http_aborting() tells whether the flag is set now. */
void http_set_abort(volatile sig_atomic_t *flag);
int http_aborting(void);

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
            struct tf_error *err);
void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* Case-insensitive lookup; NULL when absent. */
const char *http_response_header(const struct http_response *r, const char *name);

/* The CA bundles searched, in this order, when no variable names one
 * (AWS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE) and libcurl has no CA bundle
 * or path of its own (a static build): the first readable file is used, else
 * SSL_CERT_DIR; with none of them an https request fails with ERR_CONNECT,
 * naming the files tried. NULL-terminated. */
extern const char *const http_ca_files[];
/* The index in http_ca_files of the first one that is a readable file under
 * root ("" or NULL: /), or -1. Exposed for tests. */
int http_ca_search(const char *root);

#endif
