/*
 * fixture — what unit tests that talk to loopback stand-ins share: a scratch
 * directory, files in it, and helper servers from tests/helpers (stub-http,
 * faultproxy) started and stopped around a test. Helpers are found through
 * $top_builddir (set by make check). Failures to set up bail out (TAP).
 */
#ifndef TFLOCK_TEST_FIXTURE_H
#define TFLOCK_TEST_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

struct server {
	pid_t pid;
	int port;
	char url[64];  /* http://127.0.0.1:PORT */
	char log[512]; /* its request log */
};

/* Make the scratch directory /tmp/tflock-NAME-XXXXXX; ignore SIGPIPE. */
void fixture_init(const char *name);
/* The scratch directory. */
const char *fixture_dir(void);
/* Remove the scratch directory. */
void fixture_done(void);
/* The path of a built helper (tests/helpers/NAME); bails when it is not built. */
const char *fixture_helper(const char *name);

/* Static AWS keys for signing requests to loopback stand-ins, no session token
 * or profile, and instance metadata disabled: a test's client never asks
 * anything off the machine for credentials. */
void fixture_static_keys(void);

/* NAME inside the scratch directory (one of 8 rotating static buffers). */
char *path_in(const char *name);
/* Write a file in the scratch directory; returns its path (as path_in). */
char *wblob(const char *name, const void *data, size_t len);
char *wfile(const char *name, const char *content);
/* A whole file, malloc'd and NUL-terminated ("" when unreadable); *len its size. */
char *slurp(const char *path, size_t *len);

/* Send fd (1 or 2) to a file (truncated); returns what fd_restore() needs. */
int fd_to(int fd, const char *path);
void fd_restore(int fd, int saved);

/* How often needle occurs in hay. */
int count(const char *hay, const char *needle);
/* TAP checks that hay holds / lacks needle, with a diagnostic when not. */
int contains(const char *hay, const char *needle, const char *desc);
int lacks(const char *hay, const char *needle, const char *desc);

/* stub-http answering ROUTES (its route syntax), logging to the scratch dir. */
void stub_start(struct server *s, const char *name, const char *routes);
/* faultproxy in front of upstream with the given rules. */
void proxy_start(struct server *s, const char *name, const struct server *upstream,
                 const char *rules);
/* SIGTERM, wait, and return its log (malloc'd); *len its size when len. */
char *server_stop(struct server *s, size_t *len);

/* relay — a loopback TCP forwarder on a port that stays the same while the
 * server behind it changes: for a client whose endpoint is fixed before the
 * canned answers can be written (they may depend on what the client itself
 * generates, such as a lock's ID). A thread accepts connections and joins
 * each to the current target for its whole life, byte for byte both ways;
 * when either side closes, both are closed. Each accepted connection's time
 * (CLOCK_BOOTTIME, ns, taken right after accept()) is kept, in order: a client
 * that sends one request per connection and waits for each answer sent
 * request i + 1 after connection i was accepted. */
struct relay {
	int port;
	char url[64]; /* http://127.0.0.1:PORT */
	/* private to fixture.c */
	int lfd, wake[2];
	void *impl;
};

/* Listen on 127.0.0.1:0 and start the thread; bails on failure. */
void relay_start(struct relay *r);
/* Send new connections to s (or refuse them while s is NULL); closes the
 * connections to the previous target and forgets their accept times. */
void relay_to(struct relay *r, const struct server *s);
/* Accept times since the last relay_to(), up to max; returns how many. */
size_t relay_accepts(struct relay *r, long long *out, size_t max);
/* Stop the thread and close everything. */
void relay_stop(struct relay *r);

#endif
