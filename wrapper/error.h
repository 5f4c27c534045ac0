/*
 * error — the error record every module fills (the "inner tier" of errors).
 *
 * Functions return 0 on success or a negative ERR_* kind, and fill a
 * caller-supplied struct tf_error. All strings are fixed-size and truncated, so
 * an error never needs freeing and can be filled in any path. msg is one human
 * line without the "tflock: " prefix (log/die adds it).
 */
#ifndef TFLOCK_ERROR_H
#define TFLOCK_ERROR_H

enum err_kind {
	ERR_NONE = 0,
	ERR_USAGE = -1,       /* bad input from the user: option, config file, environment */
	ERR_INTERNAL = -2,    /* a bug or an impossible state */
	ERR_SYSTEM = -3,      /* a system call failed (msg names it and errno) */
	ERR_CONNECT = -4,     /* could not connect: the request was certainly not sent */
	ERR_TRANSPORT = -5,   /* failed after (possibly) sending: outcome unknown */
	ERR_TIMEOUT = -6,     /* request timed out after sending: outcome unknown */
	ERR_HTTP = -7,        /* the server answered with an error status (http_status, s3_code) */
	ERR_PARSE = -8,       /* a reply or file could not be parsed */
	ERR_CREDENTIALS = -9, /* no credentials could be resolved */
	ERR_NOT_FOUND = -10,  /* 404 / absent file, where callers branch on it */
	ERR_CANCELLED = -11,  /* abandoned because a signal asked us to stop (http_set_abort):
	                         for a write the outcome is unknown */
};

#define ERR_MSG_SIZE 768

struct tf_error {
	int kind;
	long http_status;
	char s3_code[64];
	char message[256]; /* S3 <Message> */
	char request_id[96];
	char msg[ERR_MSG_SIZE]; /* the human line */
};

/* Set kind and format msg; returns kind, so `return err_set(e, ERR_USAGE, ...)`. */
int err_set(struct tf_error *e, int kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void err_clear(struct tf_error *e);
/* Prepend context: "context: old msg". */
void err_prefix(struct tf_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
