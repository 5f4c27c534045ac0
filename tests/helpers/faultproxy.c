/*
 * faultproxy — a fault-injecting HTTP/1.1 proxy between tflock and the local
 * S3 server (or the DynamoDB test server), for integration tests. Loopback
 * only.
 *
 * Usage:
 *   faultproxy --upstream 127.0.0.1:PORT --port-file FILE --log FILE
 *              --rules FILE [--idle-exit SECONDS]
 *
 *   --upstream   the S3 server; must be 127.0.0.1:PORT (an "http://" prefix
 *                and a trailing "/" are accepted, so $TFLOCK_TEST_S3_ENDPOINT
 *                can be passed as it is)
 *   --port-file  once listening on 127.0.0.1:0, the chosen port and a newline
 *                are written to FILE.tmp, which is then renamed to FILE, so a
 *                reader never sees a partial file
 *   --log        request log, appended to (format below)
 *   --rules      fault rules, re-read on every request (format below); must
 *                exist and parse at start-up, or faultproxy exits 2
 *   --idle-exit  exit 0 after SECONDS (1..86400, default 900) during which no
 *                request was received or in progress
 *
 * Exits 0 on SIGTERM, SIGINT or SIGHUP (at once, whatever is in flight),
 * 2 on a usage error, 1 when it cannot set up. There is no parent-death
 * signal on purpose: tests start it from subshells; --idle-exit bounds its
 * life instead.
 *
 * Proxying: each client connection gets a thread and may carry any number of
 * requests (HTTP/1.1 keep-alive; HTTP/1.0 clients and "Connection: close"
 * get one). Every request is sent to the upstream on a fresh connection: the
 * request line, the headers (Host included: the client's SigV4 signature
 * covers it) and the Content-Length body are forwarded byte for byte, with
 * one exception: a request target in absolute form ("GET http://HOST/path
 * HTTP/1.1", what a client configured with faultproxy as its forward proxy,
 * http_proxy=..., sends) goes to the upstream in origin form ("GET /path"),
 * whatever HOST it names; the rules and the log see the target as sent. A
 * request with Transfer-Encoding gets 501; one that cannot be parsed gets 400;
 * a head over 64 KiB gets 431; a body over 64 MiB gets 413 (all then close the
 * connection). "Expect: 100-continue" is answered by faultproxy itself, and
 * interim 1xx responses from the upstream are skipped. The upstream's response
 * is read whole, then relayed: status line and headers verbatim, except
 * Connection and Keep-Alive (faultproxy manages the client connection) and,
 * when the upstream sent a chunked body, Transfer-Encoding, which is replaced
 * by a Content-Length for the decoded body. HEAD, 204 and 304 responses have
 * no body (a HEAD's Content-Length is relayed unchanged). When the upstream
 * cannot be reached or answers garbage the client gets 502; when it does not
 * answer within 120 s, 504. Every answer faultproxy makes up itself is an S3
 * error, or DynamoDB's for a request with an X-Amz-Target (see status N).
 *
 * Rules: one per line; blank lines and everything from a word starting with
 * '#' are ignored.
 *
 *   METHOD PATTERN ACTION [ARG] [count=N] [after=M] [cond=C] [target=OP]
 *          [err=NAME]
 *
 *   METHOD   GET, PUT, DELETE, HEAD, POST...; ANY (or *) matches every method
 *   PATTERN  a substring the request target (path and query, as sent) must
 *            contain; * matches every target
 *   ACTION   pass            forward and relay (the default when no rule
 *                            matches)
 *            drop            read the request, close the client connection,
 *                            forward nothing: the server never sees it
 *            drop-after      forward, read the server's whole response (it
 *                            committed), then close the client connection
 *                            without answering: the response is lost
 *            garbage-after   forward, let the server commit, then answer a
 *                            line that is not HTTP ("XTTP/1.1 200 OK" and a
 *                            blank line) and close: a garbled reply to a
 *                            request that applied
 *            status N        answer N (200..599) without forwarding, with
 *                            the body <Error><Code>C</Code><Message>injected
 *                            by faultproxy</Message></Error> where C is
 *                            ConditionalRequestConflict for 409, SlowDown for
 *                            503, InternalError for 500, InjectedN otherwise
 *                            (no body for 204, 304 and HEAD). A request with
 *                            an X-Amz-Target header (DynamoDB's JSON 1.0
 *                            protocol) gets DynamoDB's form instead:
 *                            Content-Type application/x-amz-json-1.0, the
 *                            body {"__type":"com.amazonaws.dynamodb.v20120810#C",
 *                            "message":"injected by faultproxy"} where C is
 *                            InternalServerError for 500, ServiceUnavailable
 *                            for 503, InjectedN otherwise
 *            status-after N  forward, let the server commit, then answer N
 *                            as above instead of the server's response
 *            reset           send a TCP RST (SO_LINGER 0, close) without
 *                            forwarding
 *            stall MS        wait MS milliseconds, then forward (even when
 *                            the client gave up meanwhile: a delayed write)
 *            stall-after MS  forward, then hold the response MS ms before
 *                            relaying it
 *            hang            forward nothing and keep the connection open
 *                            until the client closes it or 600 s pass
 *            cond-delete     make the upstream honour If-Match on DELETE, as
 *                            AWS S3 does and Ceph RGW 16 does not: faultproxy
 *                            reads the object's ETag with a HEAD it signs
 *                            itself (SigV4 with AWS_ACCESS_KEY_ID,
 *                            AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from
 *                            its environment,
 *                            region AWS_REGION or us-east-1), answers 404
 *                            NoSuchKey when the object is absent and 412
 *                            PreconditionFailed when the ETag differs (quotes
 *                            ignored, "*" matches any), and forwards the
 *                            DELETE only when it matches. The check and the
 *                            DELETE run under a lock that every PUT and
 *                            DELETE forwarded by faultproxy also takes, so
 *                            against writes through faultproxy the
 *                            conditional DELETE is atomic. A DELETE without
 *                            If-Match, or any other method, is passed.
 *   count=N  apply to the next N requests that reach this rule, then the rule
 *            is used up
 *   after=M  let the first M requests that reach this rule go on to the next
 *            rules before it starts applying
 *   tag=T    nothing but a different text: a rule written again with a new
 *            tag starts with fresh counters (count=N applies anew)
 *   cond=C   match only requests with (C = if-match or if-none-match) or
 *            without (C = none) that conditional header, e.g. a holder's
 *            conditional GETs but not its plain reads of the same key
 *   target=OP  match only requests whose X-Amz-Target header names the
 *            operation OP (the part after its last '.', or the whole value):
 *            DynamoDB's requests are all "POST /", so "POST * drop-after
 *            target=PutItem" loses the reply of every PutItem
 *   err=NAME the code C of the error that status N or status-after N
 *            answers, for any N (letters, digits and _ . # : -): S3's
 *            <Code>, or DynamoDB's __type, prefixed as above unless NAME has
 *            a '#' (err=com.amazon.coral.service#ThrottlingException is sent
 *            as it is), e.g. "POST * status 400
 *            err=ProvisionedThroughputExceededException target=PutItem"
 *
 * The first rule that matches the method and the pattern and is neither used
 * up nor still skipping decides. A request "reaches" a rule when no earlier
 * rule decided it and method and pattern match; only then is the rule's
 * counter advanced. Counters survive re-reading: they are keyed by the rule's
 * text (its words joined by single spaces, comment excluded) and its
 * occurrence number among identical lines, so rewriting the file (atomically,
 * with mv) with the same rule keeps its state, and a changed rule starts
 * afresh. A bad line at run time is reported on stderr and ignored; a rules
 * file that cannot be read at run time means "pass everything".
 *
 * Log: one line per request, appended with a single write() when the request
 * is finished (so lines are whole and in the order requests finished):
 *
 *   <ns> <conn> <METHOD> <target> if-match=<v> if-none-match=<v>
 *        action=<action> upstream=<u> client=<c> [target=<op>]
 *
 *   ns        CLOCK_BOOTTIME in nanoseconds, increasing down the file
 *   conn      the client connection's number, from 1
 *   target    request target as sent; bytes <= 0x20 or >= 0x7f, and '%',
 *             are written as %XX (so are header values below)
 *   v         the request header's value, "-" when absent
 *   action    pass, drop, drop-after, reset, hang, status:N, status-after:N,
 *             stall:MS, stall-after:MS, cond-delete; "reject" for a request faultproxy
 *             refused itself (400, 413, 431, 501; METHOD and target are "-"
 *             when the request line could not be read)
 *   u         the upstream's status, "-" when not forwarded, "error" when it
 *             could not be reached or answered garbage, "timeout"
 *   c         the status the client was sent, or dropped, reset, hung, or
 *             gone (the client closed its end before the answer: it timed
 *             out, or vanished mid-request). Clients must not half-close.
 *   op        the operation the request's X-Amz-Target names (as target=
 *             matches it, escaped as above); the field is there only when the
 *             request has that header, so an S3 request's line has nine
 *
 * A connection that closes before a complete request head is not logged.
 */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "s3.h"
#include "sigv4.h"

#define HEAD_MAX (64 * 1024)
#define RD_CAP (HEAD_MAX + 16 * 1024)
#define BODY_MAX (64L * 1024 * 1024)
#define LINE_MAX_CHUNK 4096
#define REQUEST_TIMEOUT_MS 60000   /* rest of a request once its first byte came */
#define SEND_TIMEOUT_MS 60000      /* writing a response to the client */
#define CONNECT_TIMEOUT_MS 5000    /* connecting to the upstream */
#define UPSTREAM_TIMEOUT_MS 120000 /* a whole upstream exchange */
#define HANG_MS 600000
#define MAX_CONNS 1000
#define THREAD_STACK (256 * 1024)
#define ERR_NAME_MAX 100 /* err=NAME */
#define DDB_ERR_PREFIX "com.amazonaws.dynamodb.v20120810#"

/* rd_* results */
#define RD_OK 0
#define RD_EOF (-1)     /* clean end of stream before any byte of a message */
#define RD_ERR (-2)     /* socket error */
#define RD_TIMEOUT (-3) /* deadline passed */
#define RD_TOOBIG (-4)  /* head or line over its bound */
#define RD_PARTIAL (-5) /* end of stream inside a message */

enum action {
	A_PASS,
	A_DROP,
	A_DROP_AFTER,
	A_STATUS,
	A_STATUS_AFTER,
	A_RESET,
	A_STALL,
	A_STALL_AFTER,
	A_HANG,
	A_COND_DELETE,
	A_GARBAGE_AFTER,
};

static const struct {
	const char *name;
	enum action act;
	int has_arg;
	long min, max;
} actions[] = {
	{ "pass", A_PASS, 0, 0, 0 },
	{ "drop", A_DROP, 0, 0, 0 },
	{ "drop-after", A_DROP_AFTER, 0, 0, 0 },
	{ "status", A_STATUS, 1, 200, 599 },
	{ "status-after", A_STATUS_AFTER, 1, 200, 599 },
	{ "reset", A_RESET, 0, 0, 0 },
	{ "stall", A_STALL, 1, 0, 3600000 },
	{ "stall-after", A_STALL_AFTER, 1, 0, 3600000 },
	{ "hang", A_HANG, 0, 0, 0 },
	{ "cond-delete", A_COND_DELETE, 0, 0, 0 },
	{ "garbage-after", A_GARBAGE_AFTER, 0, 0, 0 },
};

struct rule {
	char *key; /* normalised text, the counter's key */
	char *method;
	char *pattern;
	size_t action; /* index into actions[] */
	long arg;
	long count; /* 0: unlimited */
	long after;
	int cond;  /* 0 any, 1 If-Match, 2 If-None-Match, 3 neither */
	char *op;  /* target=: the X-Amz-Target operation, or NULL */
	char *err; /* err=: the injected error's code, or NULL */
};

/* counters of rules, kept across re-reads */
struct rule_state {
	char *key;
	unsigned occurrence;
	unsigned long hits;
	struct rule_state *next;
};

struct decision {
	enum action act;
	long arg;
	char label[48];
	char err[ERR_NAME_MAX + 1]; /* the rule's err=, "" when none */
};

/* growable byte buffer */
struct sb {
	char *p;
	size_t len, cap;
};

/* buffered reader on a non-blocking socket */
struct rd {
	int fd;
	char *buf;
	size_t start, end;
};

struct req {
	char *head; /* raw head, NUL-terminated, forwarded verbatim */
	size_t head_len;
	char *method;
	char *target;
	int keep_alive;
	int expect_continue;
	long long clen;
	char *if_match;
	char *if_none_match;
	char *amz_target; /* X-Amz-Target, NULL when absent */
	char *body;
	size_t body_len;
};

struct resp {
	char *head;
	size_t head_len;
	int status;
	int no_body;
	int chunked;
	struct sb body;
};

struct conn {
	int fd;
	unsigned long id;
};

struct logrec {
	const char *method;
	const char *target;
	const char *if_match;
	const char *if_none_match;
	const char *op; /* the X-Amz-Target operation; also makes error answers JSON */
	char action[48];
	char upstream[16];
	char client[16];
};

static struct sockaddr_in upstream_addr;
static const char *rules_path;
static int log_fd = -1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rule_state *rule_states;
static pthread_mutex_t act_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_activity_ns;
static int active_requests;
static int open_conns;
static unsigned long next_conn_id;
/* held by every forwarded PUT and DELETE and by a whole cond-delete */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- small utilities ---- */

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("faultproxy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(code);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	char msg[1024] = "faultproxy: ";
	size_t pre = strlen(msg);
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(msg + pre, sizeof(msg) - pre - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += (int)pre;
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	/* one write per message, so threads do not interleave */
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		return;
}

/* xrealloc, xstrdup and xstrndup (die on out of memory) come from buf.h */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_in(long ms)
{
	return now_ns() + (int64_t)ms * 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void sb_add(struct sb *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(struct sb *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void sb_free(struct sb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* parse a whole decimal number in [min, max] */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- activity, for --idle-exit ---- */

static void activity_begin(void)
{
	pthread_mutex_lock(&act_mu);
	active_requests++;
	last_activity_ns = now_ns();
	pthread_mutex_unlock(&act_mu);
}

static void activity_end(void)
{
	pthread_mutex_lock(&act_mu);
	active_requests--;
	last_activity_ns = now_ns();
	pthread_mutex_unlock(&act_mu);
}

/* ---- socket I/O with deadlines (0: none) ---- */

/* 1 when fd is ready for events (or has an error to report), 0 on timeout, -1 on error */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = -1, n;
		if (deadline) {
			int64_t left = deadline - now_ns();
			if (left <= 0)
				return 0;
			ms = (int)((left + 999999) / 1000000);
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n == 0)
			continue; /* re-check the deadline */
		if (errno != EINTR)
			return -1;
	}
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(fd, POLLOUT, deadline);
			if (w == 0)
				return RD_TIMEOUT;
			if (w < 0)
				return RD_ERR;
			continue;
		}
		return RD_ERR;
	}
	return RD_OK;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void rd_init(struct rd *r, int fd)
{
	r->fd = fd;
	r->buf = xrealloc(NULL, RD_CAP);
	r->start = r->end = 0;
}

static void rd_free(struct rd *r)
{
	free(r->buf);
	r->buf = NULL;
}

static size_t rd_avail(const struct rd *r)
{
	return r->end - r->start;
}

/* read more bytes into the buffer: RD_OK, RD_EOF, RD_ERR, RD_TIMEOUT, RD_TOOBIG */
static int rd_fill(struct rd *r, int64_t deadline)
{
	if (r->start == r->end) {
		r->start = r->end = 0;
	} else if (r->end == RD_CAP && r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == RD_CAP)
		return RD_TOOBIG;
	for (;;) {
		ssize_t n = recv(r->fd, r->buf + r->end, RD_CAP - r->end, 0);
		if (n > 0) {
			r->end += (size_t)n;
			return RD_OK;
		}
		if (n == 0)
			return RD_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return RD_ERR;
		n = wait_fd(r->fd, POLLIN, deadline);
		if (n == 0)
			return RD_TIMEOUT;
		if (n < 0)
			return RD_ERR;
	}
}

/* length of the head at p (through its blank line), 0 when not complete */
static size_t head_end(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * Read one message head into a malloc'd NUL-terminated copy. first_deadline
 * bounds the wait for its first byte (0: forever); once a byte came the rest
 * must arrive within rest_ms (0: first_deadline still applies).
 */
static int rd_head(struct rd *r, int64_t first_deadline, long rest_ms, char **head, size_t *len)
{
	int64_t deadline = first_deadline;
	int started = 0;
	for (;;) {
		size_t n;
		int rc;
		/* blank lines before a start line are allowed (RFC 9112 2.2) */
		while (!started && r->start < r->end &&
		       (r->buf[r->start] == '\r' || r->buf[r->start] == '\n'))
			r->start++;
		if (!started && rd_avail(r)) {
			started = 1;
			if (rest_ms)
				deadline = deadline_in(rest_ms);
		}
		n = head_end(r->buf + r->start, rd_avail(r));
		if (n) {
			if (n > HEAD_MAX)
				return RD_TOOBIG;
			*head = xstrndup(r->buf + r->start, n);
			*len = n;
			r->start += n;
			return RD_OK;
		}
		if (rd_avail(r) >= HEAD_MAX)
			return RD_TOOBIG;
		rc = rd_fill(r, deadline);
		if (rc == RD_EOF)
			return started ? RD_PARTIAL : RD_EOF;
		if (rc != RD_OK)
			return rc;
	}
}

/* read exactly n bytes into out */
static int rd_take(struct rd *r, char *out, size_t n, int64_t deadline)
{
	while (n) {
		size_t k = rd_avail(r);
		int rc;
		if (k) {
			if (k > n)
				k = n;
			memcpy(out, r->buf + r->start, k);
			r->start += k;
			out += k;
			n -= k;
			continue;
		}
		rc = rd_fill(r, deadline);
		if (rc == RD_EOF)
			return RD_PARTIAL;
		if (rc != RD_OK)
			return rc;
	}
	return RD_OK;
}

/* one line (without its end), as a NUL-terminated copy in line[linecap] */
static int rd_line(struct rd *r, char *line, size_t linecap, int64_t deadline)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', rd_avail(r));
		int rc;
		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->start));
			size_t k = n;
			if (k && r->buf[r->start + k - 1] == '\r')
				k--;
			if (k >= linecap)
				return RD_TOOBIG;
			memcpy(line, r->buf + r->start, k);
			line[k] = '\0';
			r->start += n + 1;
			return RD_OK;
		}
		if (rd_avail(r) >= linecap)
			return RD_TOOBIG;
		rc = rd_fill(r, deadline);
		if (rc == RD_EOF)
			return RD_PARTIAL;
		if (rc != RD_OK)
			return rc;
	}
}

/* ---- message heads ---- */

/* the next header of a NUL-terminated head: 1 got one, 0 end, -1 malformed */
static int hdr_next(const char **pp, const char **name, size_t *nlen, const char **val,
                    size_t *vlen)
{
	const char *p = *pp, *eol = strchr(p, '\n'), *end, *colon;
	if (!eol)
		return 0;
	end = eol;
	if (end > p && end[-1] == '\r')
		end--;
	*pp = eol + 1;
	if (end == p)
		return 0;
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon == p)
		return -1;
	for (const char *q = p; q < colon; q++)
		if (*q <= ' ' || *q == 0x7f)
			return -1; /* no whitespace in names, no obsolete line folding */
	*name = p;
	*nlen = (size_t)(colon - p);
	p = colon + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*val = p;
	*vlen = (size_t)(end - p);
	return 1;
}

static int name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && !strncasecmp(name, want, nlen);
}

/* does a comma-separated header value hold token (case-insensitive)? */
static int has_token(const char *val, size_t vlen, const char *token)
{
	size_t tl = strlen(token), i = 0;
	while (i < vlen) {
		size_t s, e;
		while (i < vlen && (val[i] == ' ' || val[i] == '\t' || val[i] == ','))
			i++;
		s = i;
		while (i < vlen && val[i] != ',')
			i++;
		e = i;
		while (e > s && (val[e - 1] == ' ' || val[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(val + s, token, tl))
			return 1;
	}
	return 0;
}

/* parse the request line p..end (without its line end) into rq: 0, or 400 */
static int req_parse_line(struct req *rq, const char *p, const char *end)
{
	const char *sp1, *sp2;
	sp1 = memchr(p, ' ', (size_t)(end - p));
	if (!sp1 || sp1 == p || sp1 - p > 31)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return 400;
	for (const char *q = p; q < sp1; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= '0' && *q <= '9') || (*q && strchr("!#$%&'*+-.^_`|~", *q))))
			return 400;
	for (const char *q = sp1 + 1; q < sp2; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return 400;
	if (end - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '0' || sp2[8] > '9')
		return 400;
	rq->method = xstrndup(p, (size_t)(sp1 - p));
	rq->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	rq->keep_alive = sp2[8] >= '1';
	return 0;
}

/* for the log of a head too big to read: the request line, when it came whole */
static void req_parse_partial(struct req *rq, const char *buf, size_t n)
{
	const char *eol = memchr(buf, '\n', n), *end;
	if (!eol || memchr(buf, '\0', (size_t)(eol - buf)))
		return;
	end = eol;
	if (end > buf && end[-1] == '\r')
		end--;
	(void)req_parse_line(rq, buf, end); /* sets nothing when it fails */
}

/*
 * A target in absolute form ("GET http://host:port/path HTTP/1.1", what a
 * client sends to a forward proxy): forward the request line with the path
 * alone; everything after the target is kept byte for byte.
 */
static void req_origin_form(struct req *rq)
{
	const char *t = rq->target, *path, *after_method, *after_target;
	struct sb h = { 0 };
	if (strncasecmp(t, "http://", 7))
		return;
	path = t + 7 + strcspn(t + 7, "/?");
	after_method = strchr(rq->head, ' ') + 1;
	after_target = strchr(after_method, ' ');
	sb_add(&h, rq->head, (size_t)(after_method - rq->head));
	if (*path != '/')
		sb_adds(&h, "/");
	sb_adds(&h, path);
	sb_add(&h, after_target, rq->head_len - (size_t)(after_target - rq->head));
	free(rq->head);
	rq->head = h.p;
	rq->head_len = h.len;
}

/* parse a request head: 0, or the status to refuse it with */
static int req_parse(struct req *rq)
{
	const char *p = rq->head, *eol, *end, *name, *val;
	size_t nlen, vlen;
	int rc, te = 0, seen_clen = 0;

	if (memchr(rq->head, '\0', rq->head_len))
		return 400;
	eol = strchr(p, '\n');
	end = eol;
	if (end > p && end[-1] == '\r')
		end--;
	if (req_parse_line(rq, p, end))
		return 400;
	rq->clen = 0;

	p = eol + 1;
	while ((rc = hdr_next(&p, &name, &nlen, &val, &vlen)) > 0) {
		if (name_is(name, nlen, "Content-Length")) {
			long long v = 0;
			if (!vlen || vlen > 18)
				return 400;
			for (size_t i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9')
					return 400;
				v = v * 10 + (val[i] - '0');
			}
			if (seen_clen && rq->clen != v)
				return 400;
			rq->clen = v;
			seen_clen = 1;
		} else if (name_is(name, nlen, "Transfer-Encoding")) {
			te = 1;
		} else if (name_is(name, nlen, "Connection")) {
			if (has_token(val, vlen, "close"))
				rq->keep_alive = 0;
		} else if (name_is(name, nlen, "Expect")) {
			if (has_token(val, vlen, "100-continue"))
				rq->expect_continue = 1;
		} else if (name_is(name, nlen, "If-Match")) {
			if (!rq->if_match)
				rq->if_match = xstrndup(val, vlen);
		} else if (name_is(name, nlen, "If-None-Match")) {
			if (!rq->if_none_match)
				rq->if_none_match = xstrndup(val, vlen);
		} else if (name_is(name, nlen, "X-Amz-Target")) {
			if (!rq->amz_target)
				rq->amz_target = xstrndup(val, vlen);
		}
	}
	if (rc < 0)
		return 400;
	if (te)
		return 501;
	if (rq->clen > BODY_MAX)
		return 413;
	req_origin_form(rq);
	return 0;
}

static void req_free(struct req *rq)
{
	free(rq->head);
	free(rq->method);
	free(rq->target);
	free(rq->if_match);
	free(rq->if_none_match);
	free(rq->amz_target);
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

/* the operation an X-Amz-Target names ("DynamoDB_20120810.PutItem": "PutItem"), or NULL */
static const char *amz_op(const char *amz_target)
{
	const char *dot;
	if (!amz_target)
		return NULL;
	dot = strrchr(amz_target, '.');
	return dot ? dot + 1 : amz_target;
}

static void resp_free(struct resp *rs)
{
	free(rs->head);
	sb_free(&rs->body);
	memset(rs, 0, sizeof(*rs));
}

/* ---- rules ---- */

static void rule_free(struct rule *ru)
{
	free(ru->key);
	free(ru->method);
	free(ru->pattern);
	free(ru->op);
	free(ru->err);
	memset(ru, 0, sizeof(*ru));
}

/* a word of nothing but characters from set, 1..max of them */
static int word_of(const char *w, const char *set, size_t max)
{
	size_t n = strlen(w);
	return n >= 1 && n <= max && strspn(w, set) == n;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

/* one option word after the action into ru: 0, or -1 (in err) */
static int rule_option(struct rule *ru, const char *w, char *err, size_t errlen)
{
	if (!strncmp(w, "count=", 6)) {
		if (parse_long(w + 6, 1, LONG_MAX, &ru->count) == 0)
			return 0;
		snprintf(err, errlen, "bad \"%s\" (count=N, N >= 1)", w);
	} else if (!strncmp(w, "after=", 6)) {
		if (parse_long(w + 6, 0, LONG_MAX, &ru->after) == 0)
			return 0;
		snprintf(err, errlen, "bad \"%s\" (after=M, M >= 0)", w);
	} else if (!strncmp(w, "tag=", 4)) {
		return 0; /* part of the rule's text (its counters' key), nothing more */
	} else if (!strncmp(w, "cond=", 5)) {
		const char *c = w + 5;
		ru->cond = !strcmp(c, "if-match")        ? 1
		           : !strcmp(c, "if-none-match") ? 2
		           : !strcmp(c, "none")          ? 3
		                                         : -1;
		if (ru->cond >= 0)
			return 0;
		snprintf(err, errlen, "bad \"%s\" (cond=if-match, if-none-match or none)", w);
	} else if (!strncmp(w, "target=", 7)) {
		if (!ru->op && word_of(w + 7, NAME_CHARS ".", 64)) {
			ru->op = xstrdup(w + 7);
			return 0;
		}
		snprintf(err, errlen, "bad \"%s\" (target=OPERATION, once)", w);
	} else if (!strncmp(w, "err=", 4)) {
		if (!ru->err && word_of(w + 4, NAME_CHARS ".#:-", ERR_NAME_MAX)) {
			ru->err = xstrdup(w + 4);
			return 0;
		}
		snprintf(err, errlen, "bad \"%s\" (err=NAME: letters, digits, _.#:-, once)", w);
	} else {
		snprintf(err, errlen, "unexpected \"%s\"", w);
	}
	return -1;
}

/* parse one line: 1 a rule, 0 nothing (blank or comment), -1 error (in err) */
static int rule_parse(const char *text, struct rule *ru, char *err, size_t errlen)
{
	char *copy = xstrdup(text), *save = NULL, *tok;
	char *words[16];
	size_t n = 0, i;
	struct sb key = { 0 };
	int rc = -1;

	memset(ru, 0, sizeof(*ru));
	for (tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (tok[0] == '#')
			break;
		if (n == sizeof(words) / sizeof(words[0])) {
			snprintf(err, errlen, "too many words");
			goto out;
		}
		words[n++] = tok;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	if (n < 3) {
		snprintf(err, errlen,
		         "want METHOD PATTERN ACTION [ARG] [count=N] [after=M] "
		         "[cond=C] [target=OP] [err=NAME]");
		goto out;
	}
	for (const char *q = words[0]; *q; q++)
		if (!((*q >= 'A' && *q <= 'Z') || *q == '*' || *q == '-')) {
			snprintf(err, errlen, "bad method \"%s\" (uppercase, or ANY)", words[0]);
			goto out;
		}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(words[2], actions[i].name))
			break;
	if (i == sizeof(actions) / sizeof(actions[0])) {
		snprintf(err, errlen, "unknown action \"%s\"", words[2]);
		goto out;
	}
	ru->action = i;
	i = 3;
	if (actions[ru->action].has_arg) {
		if (n < 4 || parse_long(words[3], actions[ru->action].min, actions[ru->action].max,
		                        &ru->arg)) {
			snprintf(err, errlen, "action \"%s\" wants a number in %ld..%ld", words[2],
			         actions[ru->action].min, actions[ru->action].max);
			goto out;
		}
		i = 4;
	}
	for (; i < n; i++)
		if (rule_option(ru, words[i], err, errlen) < 0)
			goto out;
	for (i = 0; i < n; i++) {
		if (i)
			sb_adds(&key, " ");
		sb_adds(&key, words[i]);
	}
	ru->key = key.p;
	key.p = NULL;
	ru->method = xstrdup(words[0]);
	ru->pattern = xstrdup(words[1]);
	rc = 1;
out:
	if (rc < 0)
		rule_free(ru); /* what the options took */
	sb_free(&key);
	free(copy);
	return rc;
}

static int rule_matches(const struct rule *ru, const struct req *rq)
{
	if (strcmp(ru->method, "ANY") && strcmp(ru->method, "*") && strcmp(ru->method, rq->method))
		return 0;
	if ((ru->cond == 1 && !rq->if_match) || (ru->cond == 2 && !rq->if_none_match) ||
	    (ru->cond == 3 && (rq->if_match || rq->if_none_match)))
		return 0;
	/* target=OP: the header's operation, or the whole header value */
	if (ru->op && (!rq->amz_target ||
	               (strcmp(ru->op, amz_op(rq->amz_target)) && strcmp(ru->op, rq->amz_target))))
		return 0;
	return !strcmp(ru->pattern, "*") || strstr(rq->target, ru->pattern);
}

/* the counter of the occurrence-th line whose text is key (rules_mu held) */
static struct rule_state *rule_state_get(const char *key, unsigned occurrence)
{
	struct rule_state *st;
	for (st = rule_states; st; st = st->next)
		if (st->occurrence == occurrence && !strcmp(st->key, key))
			return st;
	st = xrealloc(NULL, sizeof(*st));
	st->key = xstrdup(key);
	st->occurrence = occurrence;
	st->hits = 0;
	st->next = rule_states;
	rule_states = st;
	return st;
}

/* check the whole rules file at start-up; exits 2 on any error */
static void rules_check(void)
{
	FILE *f = fopen(rules_path, "r");
	char *line = NULL, err[256];
	size_t cap = 0;
	unsigned lineno = 0;
	if (!f)
		die(2, "cannot read rules \"%s\": %s", rules_path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		struct rule ru;
		lineno++;
		if (rule_parse(line, &ru, err, sizeof(err)) < 0)
			die(2, "%s:%u: %s", rules_path, lineno, err);
		rule_free(&ru);
	}
	free(line);
	fclose(f);
}

/* read the rules afresh and decide what to do with a request */
static void rules_decide(const struct req *rq, struct decision *d)
{
	FILE *f;
	char *line = NULL, err[256];
	size_t cap = 0;
	unsigned lineno = 0;
	char **seen = NULL; /* keys of the rules read so far, for occurrence numbers */
	size_t nseen = 0;

	d->act = A_PASS;
	d->arg = 0;
	d->err[0] = '\0';
	pthread_mutex_lock(&rules_mu);
	f = fopen(rules_path, "r");
	if (!f) {
		warn("cannot read rules \"%s\": %s; passing", rules_path, strerror(errno));
		goto out;
	}
	while (getline(&line, &cap, f) >= 0) {
		struct rule ru;
		struct rule_state *st;
		unsigned occurrence = 0;
		int rc = rule_parse(line, &ru, err, sizeof(err));
		lineno++;
		if (rc < 0)
			warn("%s:%u: %s; line ignored", rules_path, lineno, err);
		if (rc <= 0)
			continue;
		for (size_t i = 0; i < nseen; i++)
			if (!strcmp(seen[i], ru.key))
				occurrence++;
		seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
		seen[nseen++] = xstrdup(ru.key);
		if (!rule_matches(&ru, rq)) {
			rule_free(&ru);
			continue;
		}
		st = rule_state_get(ru.key, occurrence);
		st->hits++;
		if (st->hits <= (unsigned long)ru.after ||
		    (ru.count && st->hits - (unsigned long)ru.after > (unsigned long)ru.count)) {
			rule_free(&ru);
			continue;
		}
		d->act = actions[ru.action].act;
		d->arg = ru.arg;
		if (ru.err)
			snprintf(d->err, sizeof(d->err), "%s", ru.err);
		if (actions[ru.action].has_arg)
			snprintf(d->label, sizeof(d->label), "%s:%ld", actions[ru.action].name,
			         ru.arg);
		else
			snprintf(d->label, sizeof(d->label), "%s", actions[ru.action].name);
		rule_free(&ru);
		goto out;
	}
out:
	if (d->act == A_PASS)
		snprintf(d->label, sizeof(d->label), "pass");
	pthread_mutex_unlock(&rules_mu);
	if (f)
		fclose(f);
	free(line);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

/* ---- the log ---- */

static void log_field(struct sb *b, const char *s)
{
	if (!s) {
		sb_adds(b, "-");
		return;
	}
	if (!*s) {
		sb_adds(b, "%00"); /* present but empty; never a real header byte */
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%')
			sb_addf(b, "%%%02X", *p);
		else
			sb_add(b, p, 1);
	}
}

static void log_request(unsigned long conn_id, const struct logrec *lr)
{
	struct sb b = { 0 };
	sb_addf(&b, " %lu ", conn_id);
	log_field(&b, lr->method);
	sb_adds(&b, " ");
	log_field(&b, lr->target);
	sb_adds(&b, " if-match=");
	log_field(&b, lr->if_match);
	sb_adds(&b, " if-none-match=");
	log_field(&b, lr->if_none_match);
	sb_addf(&b, " action=%s upstream=%s client=%s", lr->action, lr->upstream, lr->client);
	if (lr->op) { /* only then: S3 requests' lines keep their nine fields */
		sb_adds(&b, " target=");
		log_field(&b, lr->op);
	}
	sb_adds(&b, "\n");

	pthread_mutex_lock(&log_mu);
	{
		/* stamped under the lock, so times increase down the file */
		char ts[32];
		int n = snprintf(ts, sizeof(ts), "%lld", (long long)now_ns());
		struct sb line = { 0 };
		sb_add(&line, ts, (size_t)n);
		sb_add(&line, b.p, b.len);
		if (write(log_fd, line.p, line.len) != (ssize_t)line.len)
			warn("cannot write the log: %s", strerror(errno));
		sb_free(&line);
	}
	pthread_mutex_unlock(&log_mu);
	sb_free(&b);
}

/* ---- responses to the client ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

/* the code of an injected error: the rule's err=, else S3's or DynamoDB's for the status */
static const char *injected_code(int status, const char *err, int ddb, char *buf, size_t len)
{
	if (err && *err)
		return err;
	switch (status) {
	case 409:
		if (!ddb)
			return "ConditionalRequestConflict";
		break;
	case 500:
		return ddb ? "InternalServerError" : "InternalError";
	case 503:
		return ddb ? "ServiceUnavailable" : "SlowDown";
	default:
		break;
	}
	snprintf(buf, len, "Injected%d", status);
	return buf;
}

/* the peer closed its end (or the socket failed): the answer would be lost */
static int client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return 1;
	return 0;
}

/* send a whole response; fills lr->client with the status or "gone" */
static int client_send(int fd, const struct sb *out, int status, struct logrec *lr)
{
	if (client_gone(fd) ||
	    send_all(fd, out->p, out->len, deadline_in(SEND_TIMEOUT_MS)) != RD_OK) {
		snprintf(lr->client, sizeof(lr->client), "gone");
		return -1;
	}
	snprintf(lr->client, sizeof(lr->client), "%d", status);
	return 0;
}

/*
 * An error answer made up by faultproxy: S3's XML, or DynamoDB's JSON 1.0 for
 * a request with an X-Amz-Target (lr->op), its __type the code, prefixed with
 * DynamoDB's namespace unless the code has a '#' of its own. code and message
 * are faultproxy's own text or a checked err= (nothing to escape).
 */
static int send_error(int fd, int status, const char *code, const char *message, int is_head,
                      int keep, struct logrec *lr)
{
	struct sb out = { 0 }, body = { 0 };
	int rc;
	if (lr->op)
		sb_addf(&body, "{\"__type\":\"%s%s\",\"message\":\"%s\"}",
		        strchr(code, '#') ? "" : DDB_ERR_PREFIX, code, message);
	else
		sb_addf(&body, "<Error><Code>%s</Code><Message>%s</Message></Error>", code,
		        message);
	sb_addf(&out, "HTTP/1.1 %d %s\r\n", status, reason(status));
	sb_adds(&out,
	        lr->op ? "x-amzn-RequestId: faultproxy\r\n" : "x-amz-request-id: faultproxy\r\n");
	if (status != 204 && status != 304) {
		sb_adds(&out, lr->op ? "Content-Type: application/x-amz-json-1.0\r\n"
		                     : "Content-Type: application/xml\r\n");
		sb_addf(&out, "Content-Length: %zu\r\n", body.len);
	}
	if (!keep)
		sb_adds(&out, "Connection: close\r\n");
	sb_adds(&out, "\r\n");
	if (!is_head && status != 204 && status != 304)
		sb_add(&out, body.p, body.len);
	rc = client_send(fd, &out, status, lr);
	sb_free(&out);
	sb_free(&body);
	return rc;
}

static int send_injected(int fd, int status, const char *err, int is_head, int keep,
                         struct logrec *lr)
{
	char buf[32];
	return send_error(fd, status, injected_code(status, err, lr->op != NULL, buf, sizeof(buf)),
	                  "injected by faultproxy", is_head, keep, lr);
}

/* relay the upstream's response */
static int send_relayed(int fd, const struct resp *rs, int keep, struct logrec *lr)
{
	struct sb out = { 0 };
	const char *p = strchr(rs->head, '\n') + 1, *name, *val, *line = p;
	size_t nlen, vlen;
	int rc;

	sb_add(&out, rs->head, (size_t)(p - rs->head));
	while (hdr_next(&p, &name, &nlen, &val, &vlen) > 0) {
		int skip = name_is(name, nlen, "Connection") || name_is(name, nlen, "Keep-Alive") ||
		           name_is(name, nlen, "Transfer-Encoding") ||
		           (!rs->no_body && name_is(name, nlen, "Content-Length"));
		if (!skip)
			sb_add(&out, line, (size_t)(p - line));
		line = p;
	}
	if (!rs->no_body)
		sb_addf(&out, "Content-Length: %zu\r\n", rs->body.len);
	if (!keep)
		sb_adds(&out, "Connection: close\r\n");
	sb_adds(&out, "\r\n");
	if (!rs->no_body)
		sb_add(&out, rs->body.p ? rs->body.p : "", rs->body.len);
	rc = client_send(fd, &out, rs->status, lr);
	sb_free(&out);
	return rc;
}

/* ---- the upstream ---- */

static int upstream_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t len = sizeof(err);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&upstream_addr, sizeof(upstream_addr)) == 0)
		return fd;
	if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline_in(CONNECT_TIMEOUT_MS)) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		close(fd);
		return -1;
	}
	return fd;
}

/* parse "HTTP/1.x NNN ...": the status, or -1 */
static int status_parse(const char *head)
{
	if (strncmp(head, "HTTP/1.", 7) || head[7] < '0' || head[7] > '9' || head[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (head[i] < '0' || head[i] > '9')
			return -1;
	if (head[12] != ' ' && head[12] != '\r' && head[12] != '\n')
		return -1;
	return (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
}

/* read a chunked body into rs->body */
static int read_chunked(struct rd *r, struct resp *rs, int64_t deadline)
{
	char line[LINE_MAX_CHUNK];
	for (;;) {
		unsigned long long size = 0;
		const char *q = line;
		int rc = rd_line(r, line, sizeof(line), deadline);
		if (rc != RD_OK)
			return rc;
		if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
		      (*q >= 'A' && *q <= 'F')))
			return RD_ERR;
		for (; *q && *q != ';' && *q != ' ' && *q != '\t'; q++) {
			int v;
			if (*q >= '0' && *q <= '9')
				v = *q - '0';
			else if (*q >= 'a' && *q <= 'f')
				v = *q - 'a' + 10;
			else if (*q >= 'A' && *q <= 'F')
				v = *q - 'A' + 10;
			else
				return RD_ERR;
			size = size * 16 + (unsigned)v;
			if (size > (unsigned long long)BODY_MAX)
				return RD_TOOBIG;
		}
		if (size == 0)
			break;
		if (rs->body.len + size > (unsigned long long)BODY_MAX)
			return RD_TOOBIG;
		{
			char *tmp = xrealloc(NULL, size);
			rc = rd_take(r, tmp, size, deadline);
			if (rc == RD_OK)
				sb_add(&rs->body, tmp, size);
			free(tmp);
		}
		if (rc != RD_OK)
			return rc;
		rc = rd_line(r, line, sizeof(line), deadline);
		if (rc != RD_OK)
			return rc;
		if (line[0])
			return RD_ERR;
	}
	for (;;) { /* trailer fields, dropped */
		int rc = rd_line(r, line, sizeof(line), deadline);
		if (rc != RD_OK)
			return rc;
		if (!line[0])
			return RD_OK;
	}
}

/* forward rq and read the whole response into rs: 0, or the status to answer (502, 504) */
static int upstream_exchange(const struct req *rq, struct resp *rs)
{
	int64_t deadline = deadline_in(UPSTREAM_TIMEOUT_MS);
	struct rd r = { .fd = -1 };
	const char *p, *name, *val;
	size_t nlen, vlen;
	long long clen = -1;
	int fd, rc, status = 502;

	memset(rs, 0, sizeof(*rs));
	fd = upstream_connect();
	if (fd < 0)
		return 502;
	rd_init(&r, fd);
	/* a server may answer and close before taking the whole body: read its answer anyway */
	rc = send_all(fd, rq->head, rq->head_len, deadline);
	if (rc == RD_OK && rq->body_len)
		rc = send_all(fd, rq->body, rq->body_len, deadline);
	if (rc == RD_TIMEOUT)
		goto fail;
	for (;;) {
		rc = rd_head(&r, deadline, 0, &rs->head, &rs->head_len);
		if (rc != RD_OK)
			goto fail;
		if (memchr(rs->head, '\0', rs->head_len))
			goto bad;
		rs->status = status_parse(rs->head);
		if (rs->status < 100 || rs->status == 101) {
			rc = RD_ERR;
			goto fail;
		}
		if (rs->status >= 200)
			break;
		free(rs->head); /* interim response, e.g. 100 Continue */
		rs->head = NULL;
	}
	p = strchr(rs->head, '\n') + 1;
	while ((rc = hdr_next(&p, &name, &nlen, &val, &vlen)) > 0) {
		if (name_is(name, nlen, "Transfer-Encoding") && has_token(val, vlen, "chunked")) {
			rs->chunked = 1;
		} else if (name_is(name, nlen, "Content-Length")) {
			long long v = 0;
			if (!vlen || vlen > 18)
				goto bad;
			for (size_t i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9')
					goto bad;
				v = v * 10 + (val[i] - '0');
			}
			clen = v;
		}
	}
	if (rc < 0)
		goto bad;
	rs->no_body = !strcmp(rq->method, "HEAD") || rs->status == 204 || rs->status == 304;
	if (rs->no_body) {
		rc = RD_OK;
	} else if (rs->chunked) {
		rc = read_chunked(&r, rs, deadline);
	} else if (clen >= 0) {
		if (clen > BODY_MAX)
			goto bad;
		rs->body.p = xrealloc(NULL, (size_t)clen + 1);
		rs->body.cap = (size_t)clen + 1;
		rc = rd_take(&r, rs->body.p, (size_t)clen, deadline);
		rs->body.len = (size_t)clen;
		rs->body.p[clen] = '\0';
	} else { /* delimited by the end of the connection */
		for (;;) {
			if (rd_avail(&r)) {
				if (rs->body.len + rd_avail(&r) > (size_t)BODY_MAX)
					goto bad;
				sb_add(&rs->body, r.buf + r.start, rd_avail(&r));
				r.start = r.end;
			}
			rc = rd_fill(&r, deadline);
			if (rc == RD_EOF) {
				rc = RD_OK;
				break;
			}
			if (rc != RD_OK)
				break;
		}
	}
	if (rc != RD_OK)
		goto fail;
	status = 0;
	goto out;
bad:
	rc = RD_ERR;
fail:
	status = rc == RD_TIMEOUT ? 504 : 502;
	resp_free(rs);
out:
	rd_free(&r);
	close(fd);
	return status;
}

/* ---- cond-delete: a conditional DELETE the upstream does not honour itself ---- */

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* a fresh copy of the first header called want in a raw head, or NULL */
static char *head_header(const char *head, const char *want)
{
	const char *p = strchr(head, '\n'), *name, *val;
	size_t nlen, vlen;
	if (!p)
		return NULL;
	p++;
	while (hdr_next(&p, &name, &nlen, &val, &vlen) > 0)
		if (name_is(name, nlen, want))
			return xstrndup(val, vlen);
	return NULL;
}

/* percent-decode n bytes (an invalid escape is kept as it is) */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xrealloc(NULL, n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_value((unsigned char)s[i + 1]) >= 0 &&
		    hex_value((unsigned char)s[i + 2]) >= 0) {
			out[j++] = (char)(hex_value((unsigned char)s[i + 1]) * 16 +
			                  hex_value((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* HEAD the object a request names, signed with faultproxy's own credentials:
 * 0 with *rs filled, or 502/504 */
static int signed_head(const struct req *rq, struct resp *rs)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *region = getenv("AWS_REGION"), *token = getenv("AWS_SESSION_TOKEN");
	/* the target as forwarded: origin form, even when the client sent absolute form */
	const char *tb = strchr(rq->head, ' ') + 1;
	size_t plen = strcspn(tb, "? ");
	char *host = head_header(rq->head, "Host"), *path;
	struct http_header h = { "x-amz-content-sha256", EMPTY_SHA256 };
	struct sigv4_params sp;
	struct sigv4_result sr;
	struct tf_error err;
	struct req hr = { 0 };
	struct sb head = { 0 };
	char hm[] = "HEAD";
	int st;

	memset(rs, 0, sizeof(*rs));
	if (!ak || !*ak || !sk || !*sk || !host) {
		warn("cond-delete: %s", host ? "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY unset"
		                             : "request without Host");
		free(host);
		return 502;
	}
	path = pct_decode(tb, plen);
	memset(&sp, 0, sizeof(sp));
	memset(&err, 0, sizeof(err));
	sp.method = "HEAD";
	sp.host = host;
	sp.path = path;
	sp.s3_path = 1;
	sp.headers = &h;
	sp.nheaders = 1;
	sp.payload_hash = EMPTY_SHA256;
	sp.region = region && *region ? region : "us-east-1";
	sp.service = "s3";
	sp.access_key = ak;
	sp.secret_key = sk;
	sp.session_token = token && *token ? token : NULL;
	sp.now = time(NULL);
	if (sigv4_sign(&sp, &sr, &err)) {
		warn("cond-delete: cannot sign: %s", err.msg);
		free(host);
		free(path);
		return 502;
	}
	sb_adds(&head, "HEAD ");
	sb_add(&head, tb, plen);
	sb_adds(&head, " HTTP/1.1\r\nHost: ");
	sb_adds(&head, host);
	sb_adds(&head, "\r\nx-amz-content-sha256: " EMPTY_SHA256 "\r\nx-amz-date: ");
	sb_adds(&head, sr.amz_date);
	if (sp.session_token) {
		sb_adds(&head, "\r\nx-amz-security-token: ");
		sb_adds(&head, sp.session_token);
	}
	sb_adds(&head, "\r\nAuthorization: ");
	sb_adds(&head, sr.authorization);
	sb_adds(&head, "\r\nConnection: close\r\n\r\n");
	hr.head = head.p;
	hr.head_len = head.len;
	hr.method = hm;
	st = upstream_exchange(&hr, rs);
	sigv4_result_free(&sr);
	sb_free(&head);
	free(host);
	free(path);
	return st;
}

/* answer a DELETE with If-Match as a store honouring it would; returns keep */
static int cond_delete(struct conn *c, const struct req *rq, int keep, struct logrec *lr)
{
	struct resp hs = { 0 }, rs = { 0 };
	int st, answer = 0;

	pthread_mutex_lock(&write_mu);
	st = signed_head(rq, &hs);
	if (st == 0 && hs.status == 404) {
		answer = 404;
	} else if (st == 0 && hs.status == 200) {
		char *have = head_header(hs.head, "ETag"), h[256], w[256];
		s3_etag_normalise(have, h, sizeof(h));
		s3_etag_normalise(rq->if_match, w, sizeof(w));
		if (strcmp(w, "*") && (!have || strcmp(h, w)))
			answer = 412;
		free(have);
	} else if (st == 0) {
		warn("cond-delete: HEAD %s got %d", rq->target, hs.status);
		st = 502;
	}
	resp_free(&hs);
	if (st || answer) {
		pthread_mutex_unlock(&write_mu);
		if (st) {
			snprintf(lr->upstream, sizeof(lr->upstream), "%s",
			         st == 504 ? "timeout" : "error");
			send_error(c->fd, st, st == 504 ? "GatewayTimeout" : "BadGateway",
			           "faultproxy: cond-delete could not read the object", 0, 0, lr);
			return 0;
		}
		if (answer == 404)
			return send_error(c->fd, 404, "NoSuchKey",
			                  "The specified key does not exist.", 0, keep, lr) == 0 &&
			       keep;
		return send_error(c->fd, 412, "PreconditionFailed",
		                  "At least one of the pre-conditions you specified did not hold",
		                  0, keep, lr) == 0 &&
		       keep;
	}
	st = upstream_exchange(rq, &rs);
	pthread_mutex_unlock(&write_mu);
	if (st) {
		snprintf(lr->upstream, sizeof(lr->upstream), "%s", st == 504 ? "timeout" : "error");
		send_error(c->fd, st, st == 504 ? "GatewayTimeout" : "BadGateway",
		           "faultproxy: no usable answer from the upstream", 0, 0, lr);
		return 0;
	}
	snprintf(lr->upstream, sizeof(lr->upstream), "%d", rs.status);
	keep = send_relayed(c->fd, &rs, keep, lr) == 0 && keep;
	resp_free(&rs);
	return keep;
}

/* ---- one client connection ---- */

static void close_reset(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
}

static void close_clean(struct conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
}

/* keep the connection open, forwarding nothing, until the client leaves or HANG_MS pass */
static void hang(struct conn *c)
{
	int64_t deadline = deadline_in(HANG_MS);
	char buf[4096];
	for (;;) {
		ssize_t n;
		if (wait_fd(c->fd, POLLIN | POLLRDHUP, deadline) != 1)
			return;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			return;
	}
}

/* read the request body, answering 100-continue when asked: 0, or -1 when the client went away */
static int read_body(struct conn *c, struct rd *r, struct req *rq)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	int64_t deadline = deadline_in(REQUEST_TIMEOUT_MS);
	if (!rq->clen)
		return 0;
	if (rq->expect_continue && !rd_avail(r) &&
	    send_all(c->fd, cont, sizeof(cont) - 1, deadline) != RD_OK)
		return -1;
	rq->body = xrealloc(NULL, (size_t)rq->clen);
	rq->body_len = (size_t)rq->clen;
	return rd_take(r, rq->body, rq->body_len, deadline) == RD_OK ? 0 : -1;
}

/* act on one parsed request; returns 1 to keep the connection for another */
static int handle(struct conn *c, struct rd *r, struct req *rq, const struct decision *d,
                  struct logrec *lr)
{
	struct resp rs = { 0 };
	int is_head = !strcmp(rq->method, "HEAD");
	int keep = rq->keep_alive, st, writes;

	if (d->act == A_RESET) {
		close_reset(c);
		snprintf(lr->client, sizeof(lr->client), "reset");
		return 0;
	}
	if (d->act == A_HANG) {
		hang(c);
		snprintf(lr->client, sizeof(lr->client), "hung");
		return 0;
	}
	if (read_body(c, r, rq) < 0) {
		snprintf(lr->client, sizeof(lr->client), "gone");
		return 0;
	}
	switch (d->act) {
	case A_DROP:
		close_clean(c);
		snprintf(lr->client, sizeof(lr->client), "dropped");
		return 0;
	case A_STATUS:
		return send_injected(c->fd, (int)d->arg, d->err, is_head, keep, lr) == 0 && keep;
	case A_STALL:
		sleep_ms(d->arg);
		break;
	default:
		break;
	}

	if (d->act == A_COND_DELETE && !strcmp(rq->method, "DELETE") && rq->if_match)
		return cond_delete(c, rq, keep, lr);
	writes = !strcmp(rq->method, "PUT") || !strcmp(rq->method, "DELETE");
	if (writes)
		pthread_mutex_lock(&write_mu);
	st = upstream_exchange(rq, &rs);
	if (writes)
		pthread_mutex_unlock(&write_mu);
	if (st) {
		snprintf(lr->upstream, sizeof(lr->upstream), "%s", st == 504 ? "timeout" : "error");
		send_error(c->fd, st, st == 504 ? "GatewayTimeout" : "BadGateway",
		           "faultproxy: no usable answer from the upstream", is_head, 0, lr);
		return 0;
	}
	snprintf(lr->upstream, sizeof(lr->upstream), "%d", rs.status);
	switch (d->act) {
	case A_DROP_AFTER:
		close_clean(c);
		snprintf(lr->client, sizeof(lr->client), "dropped");
		keep = 0;
		break;
	case A_STATUS_AFTER:
		keep = send_injected(c->fd, (int)d->arg, d->err, is_head, keep, lr) == 0 && keep;
		break;
	case A_GARBAGE_AFTER: {
		static const char junk[] = "XTTP/1.1 200 OK\r\n\r\n";
		send_all(c->fd, junk, sizeof(junk) - 1, deadline_in(SEND_TIMEOUT_MS));
		close_clean(c);
		snprintf(lr->client, sizeof(lr->client), "garbage");
		keep = 0;
		break;
	}
	case A_STALL_AFTER:
		sleep_ms(d->arg);
		/* fall through */
	default:
		keep = send_relayed(c->fd, &rs, keep, lr) == 0 && keep;
		break;
	}
	resp_free(&rs);
	return keep;
}

/* the answers to requests faultproxy refuses itself: 400, 431, 413, 501 */
static const struct {
	const char *code, *message;
} refusals[] = {
	{ "BadRequest", "faultproxy: cannot parse the request" },
	{ "RequestHeaderFieldsTooLarge", "faultproxy: request head over 64 KiB" },
	{ "EntityTooLarge", "faultproxy: request body over 64 MiB" },
	{ "NotImplemented", "faultproxy: Transfer-Encoding is not supported" },
};

/*
 * Close after our last answer without destroying it: stop sending, then read
 * and discard what the client still sends (bounded), so unread input does not
 * make the kernel answer with a reset that could overtake the answer.
 */
static void close_lingering(struct conn *c)
{
	int64_t deadline = deadline_in(2000);
	char buf[4096];
	size_t total = 0;
	shutdown(c->fd, SHUT_WR);
	while (total < 1024 * 1024 && wait_fd(c->fd, POLLIN, deadline) == 1) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		if (n > 0)
			total += (size_t)n;
	}
	close(c->fd);
	c->fd = -1;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct rd r;

	rd_init(&r, c->fd);
	for (;;) {
		struct req rq = { 0 };
		struct logrec lr = { 0 };
		struct decision d = { 0 };
		int rc = rd_head(&r, 0, REQUEST_TIMEOUT_MS, &rq.head, &rq.head_len);
		int st, keep;

		if (rc != RD_OK && rc != RD_TOOBIG)
			break; /* closed, vanished or stuck before a whole head: nothing to log */
		activity_begin();
		snprintf(lr.upstream, sizeof(lr.upstream), "-");
		snprintf(lr.action, sizeof(lr.action), "reject");
		if (rc == RD_TOOBIG) {
			req_parse_partial(&rq, r.buf + r.start, rd_avail(&r));
			st = 431;
		} else {
			st = req_parse(&rq);
		}
		lr.method = rq.method;
		lr.target = rq.target;
		lr.if_match = rq.if_match;
		lr.if_none_match = rq.if_none_match;
		lr.op = amz_op(rq.amz_target);
		if (st) {
			int i = st == 431 ? 1 : st == 413 ? 2 : st == 501 ? 3 : 0;
			send_error(c->fd, st, refusals[i].code, refusals[i].message,
			           rq.method && !strcmp(rq.method, "HEAD"), 0, &lr);
			keep = 0;
		} else {
			rules_decide(&rq, &d);
			snprintf(lr.action, sizeof(lr.action), "%s", d.label);
			keep = handle(c, &r, &rq, &d, &lr);
		}
		log_request(c->id, &lr);
		activity_end();
		req_free(&rq);
		if (!keep)
			break;
	}
	rd_free(&r);
	if (c->fd >= 0)
		close_lingering(c);
	free(c);
	pthread_mutex_lock(&act_mu);
	open_conns--;
	pthread_mutex_unlock(&act_mu);
	return NULL;
}

/* ---- start-up ---- */

static void usage(FILE *f)
{
	fputs("usage: faultproxy --upstream 127.0.0.1:PORT --port-file FILE --log FILE --rules "
	      "FILE\n"
	      "                  [--idle-exit SECONDS]\n"
	      "Rules: METHOD PATTERN ACTION [ARG] [count=N] [after=M] [cond=C] [target=OP] "
	      "[err=NAME],\none per line; actions: pass, drop,\n"
	      "drop-after, garbage-after, status N, status-after N, reset, stall MS, stall-after "
	      "MS, hang,\n"
	      "cond-delete.\n",
	      f);
}

static void parse_upstream(const char *arg)
{
	const char *p = arg;
	char *copy;
	size_t n;
	long port;
	if (!strncmp(p, "http://", 7))
		p += 7;
	if (strncmp(p, "127.0.0.1:", 10))
		die(2, "upstream \"%s\" is not 127.0.0.1:PORT (loopback only)", arg);
	p += 10;
	n = strlen(p);
	if (n && p[n - 1] == '/')
		n--;
	copy = xstrndup(p, n);
	if (parse_long(copy, 1, 65535, &port))
		die(2, "bad upstream port in \"%s\"", arg);
	free(copy);
	memset(&upstream_addr, 0, sizeof(upstream_addr));
	upstream_addr.sin_family = AF_INET;
	upstream_addr.sin_port = htons((uint16_t)port);
	upstream_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void write_port_file(const char *path, unsigned port)
{
	size_t n = strlen(path);
	char *tmp = xrealloc(NULL, n + 5);
	FILE *f;
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp", 5);
	f = fopen(tmp, "w");
	if (!f)
		die(1, "cannot write \"%s\": %s", tmp, strerror(errno));
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		die(1, "cannot write \"%s\": %s", tmp, strerror(errno));
	if (rename(tmp, path) < 0)
		die(1, "cannot rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
	free(tmp);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "rules", required_argument, NULL, 'r' },
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *upstream = NULL, *port_file = NULL, *log_path = NULL;
	long idle_exit = 900;
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	pthread_attr_t attr;
	sigset_t sigs;
	int lfd, sfd, opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			upstream = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'r':
			rules_path = optarg;
			break;
		case 'i':
			if (parse_long(optarg, 1, 86400, &idle_exit))
				die(2, "bad --idle-exit \"%s\": want seconds in 1..86400", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !upstream || !port_file || !log_path || !rules_path) {
		usage(stderr);
		return 2;
	}
	parse_upstream(upstream);
	rules_check();
	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0)
		die(1, "cannot open log \"%s\": %s", log_path, strerror(errno));

	/* signals become events on a signalfd; every thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
		die(1, "cannot block signals");
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die(1, "signalfd: %s", strerror(errno));

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die(1, "socket: %s", strerror(errno));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		die(1, "cannot listen on 127.0.0.1: %s", strerror(errno));
	write_port_file(port_file, ntohs(addr.sin_port));

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	last_activity_ns = now_ns();

	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
			               { .fd = sfd, .events = POLLIN } };
		int n = poll(p, 2, 1000);
		if (n < 0 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		if (n > 0 && p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				_exit(0);
		}
		if (n > 0 && p[0].revents) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				struct conn *c;
				pthread_t t;
				int full;
				pthread_mutex_lock(&act_mu);
				full = open_conns >= MAX_CONNS;
				if (!full)
					open_conns++;
				pthread_mutex_unlock(&act_mu);
				if (full) {
					warn("too many connections; refusing one");
					close(fd);
					continue;
				}
				set_nonblock(fd);
				c = xrealloc(NULL, sizeof(*c));
				c->fd = fd;
				c->id = ++next_conn_id;
				if (pthread_create(&t, &attr, conn_main, c) != 0) {
					warn("cannot start a thread; refusing a connection");
					close(fd);
					free(c);
					pthread_mutex_lock(&act_mu);
					open_conns--;
					pthread_mutex_unlock(&act_mu);
				}
			} else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			           errno == ENOMEM) {
				sleep_ms(50);
			}
		}
		pthread_mutex_lock(&act_mu);
		n = active_requests == 0 &&
		    now_ns() - last_activity_ns >= (int64_t)idle_exit * 1000000000;
		pthread_mutex_unlock(&act_mu);
		if (n) {
			warn("no request for %ld s, exiting", idle_exit);
			_exit(0);
		}
	}
}
