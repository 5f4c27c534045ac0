/*
 * Unit tests for the lock engine (wrapper/lock.c, wrapper/lock_acquire.c) on
 * the S3 object record (wrapper/record_s3.c): every branch of PROTOCOL B2 on
 * acquire (create, and takeover of a silent holder), renew, release (on a store
 * that honours conditional DELETE, and on RGW's renew-then-DELETE path) and
 * unlock by ID, plus the self-test's verdicts (B6), against canned answers.
 *
 * Every conditional write is answered 2xx with an ETag, 2xx without one, 412,
 * 409, 500 (RGW's answer to a racing If-Match loser), 503 or not at all (the
 * connection closed), and each failure is followed by a read-back finding our
 * ID with the seq just written, with an older seq, with a newer seq, another
 * holder, nothing (404), or failing on every try. 403 and NoSuchBucket end an
 * operation without any read-back. Each case checks the outcome, the lock's
 * state (held, seq, ETag) and the request log on the lock key: methods,
 * If-Match / If-None-Match values and the seq in every PUT body.
 *
 * Set-up: tests/helpers/stub-http answers; the read-back bodies carry the
 * lock's own ID, known only once the lock exists, so the s3 client talks to a
 * relay (fixture.h) whose port is fixed before the stub for each case starts.
 * Where the engine waits for a silent holder, tests/helpers/faultproxy sits in
 * front of the stub and answers the waiting loop's conditional GETs 304, so
 * the stub's own sequence of answers sees only the plain reads (the first read
 * and the read-backs) and stays deterministic however many polls there were.
 *
 * Durations are TFLOCK_TIME_SCALE-style: a 20 s lease scaled by 0.05 (1 s), a
 * silent holder's lease of 100 ms in its body. No check depends on speed:
 * counts and orderings only, and time bounds that hold however slow a run is.
 */
#include "buf.h"
#include "fixture.h"
#include "liveness.h"
#include "lock.h"
#include "lock_int.h" /* white box: our body's seq */
#include "lockinfo.h"
#include "log.h"
#include "s3.h"
#include "tap/basic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define STATE_KEY "k"
#define LOCK_TARGET "/b/k.tflock"
#define LOCK_URL "s3://b/k.tflock"
/* the time scale of the lock under test; TFLOCK_TEST_TIME_SCALE (valgrind.sh sets 5)
 * stretches it for slow runs */
static double scale = 0.05;
#define LEASE_S 20L
#define LEASE_MS 1000L         /* LEASE_S scaled */
#define SILENT_LEASE_MS 100L   /* a silent holder's lease, from its body */
#define LONG_LEASE_MS 3600000L /* a holder nobody takes over within a test */
#define ID_H "11111111-2222-3333-4444-555555555555"
#define ID_H2 "66666666-7777-8888-9999-aaaaaaaaaaaa"
#define WRONG_ETAG "\"0123456789abcdef0123456789abcdef\"" /* the self-test's */

/* ------------------------------------------------------------------------
 * The engine's API, used nowhere else in this file (lock.h is about to become
 * an opaque handle with accessors and one enum of named outcomes).
 */

enum outcome { O_OK, O_HELD, O_LOST, O_CANCELLED, O_UNAVAILABLE, O_FREE, O_BROKEN, O_FAILED };

static const char *outcome_name(enum outcome o)
{
	static const char *const names[] = { "ok",          "held", "lost",   "cancelled",
		                             "unavailable", "free", "broken", "failed" };
	return names[o];
}

struct lock_params {
	int no_wait;
	long long timeout_ms; /* -1: none */
	long lease_s;
};

static struct lock *api_open(struct s3_client *s3, const struct lock_params *p)
{
	struct lock *l;
	struct lock_opts o;
	struct tf_error err;
	memset(&o, 0, sizeof(o));
	o.lease_s = p->lease_s;
	o.lease_ms = (int64_t)(p->lease_s * 1000 * scale);
	o.time_scale = scale;
	o.timeout_ms = p->timeout_ms;
	o.no_wait = p->no_wait;
	o.operation = "OperationTypeApply";
	o.who = "unit@test";
	o.version = "1.11.4";
	err_clear(&err);
	l = lock_new(s3, STATE_KEY, &o, &err);
	if (!l)
		bail("lock_new: %s", err.msg);
	return l;
}

static void api_close(struct lock *l)
{
	lock_free(l);
}

static const char *api_id(const struct lock *l)
{
	return lock_id(l);
}

static int api_held(const struct lock *l)
{
	return lock_is_held(l);
}

static const char *api_etag(const struct lock *l)
{
	return lock_version(l);
}

static unsigned long long api_seq(const struct lock *l)
{
	return l->mine.tf.seq; /* lock_int.h */
}

/* What the self-test learned (B6). */
static void api_store(const struct lock *l, int *known, int *quoted, int *cond_delete)
{
	*known = lock_caps(l)->known;
	*quoted = lock_caps(l)->match_quoted;
	*cond_delete = lock_caps(l)->cond_delete;
}

static enum outcome api_result(int ret, const struct tf_error *err)
{
	(void)err;
	switch (ret) {
	case LOCK_OK:
		return O_OK;
	case LOCK_HELD:
		return O_HELD;
	case LOCK_LOST:
		return O_LOST;
	case LOCK_CANCELLED:
		return O_CANCELLED;
	case LOCK_UNAVAILABLE:
		return O_UNAVAILABLE;
	case LOCK_FREE:
		return O_FREE;
	case LOCK_STORE_BROKEN:
		return O_BROKEN;
	default: /* LOCK_TRANSPORT, LOCK_BAD_INPUT, LOCK_ERROR */
		return O_FAILED;
	}
}

static enum outcome api_acquire(struct lock *l, struct tf_error *err)
{
	return api_result(lock_acquire(l, err), err);
}

static enum outcome api_renew(struct lock *l, struct tf_error *err)
{
	return api_result(lock_renew(l, err), err);
}

static enum outcome api_release(struct lock *l, struct tf_error *err)
{
	return api_result(lock_release(l, err), err);
}

static enum outcome api_unlock(struct lock *l, const char *id, struct tf_error *err)
{
	return api_result(lock_unlock_id(l, id, err), err);
}

static enum outcome api_selftest(struct lock *l, struct tf_error *err)
{
	return api_result(lock_selftest(l, 1, err), err);
}

/* ------------------------------------------------------------------------
 * Canned answers.
 */

/* How a write (PUT, or DELETE on release and unlock) is answered. */
enum wf { WF_OK, WF_NOETAG, WF_412, WF_409, WF_500, WF_503, WF_CLOSE, NWF };
/* What the read-back after a write that was not answered 2xx finds. */
enum rb { RB_APPLIED, RB_OLDER, RB_NEWER, RB_OTHER, RB_ABSENT, RB_FAILING, NRB };

static const char *const wf_name[NWF] = {
	"2xx with ETag", "2xx without ETag", "412", "409", "500 (RGW's racing If-Match loser)",
	"503",           "lost reply"
};
static const char *const rb_name[NRB] = { "our ID, the seq written",
	                                  "our ID, an older seq",
	                                  "our ID, a newer seq",
	                                  "another ID",
	                                  "404",
	                                  "a read that keeps failing" };
/* status in the stub's log */
static const char *const wf_status[NWF] = { "200", "200", "412", "409", "500", "503", "close" };

/* "STATUS BODYFILE" of a failure, written at start-up */
static char fail_answer[NWF][600];
static char ans_403[600], ans_nosuchbucket[600], ans_500[600];

static void answers_init(void)
{
	static const char *const code[NWF] = { NULL,
		                               NULL,
		                               "PreconditionFailed",
		                               "ConditionalRequestConflict",
		                               "InternalError",
		                               "SlowDown",
		                               NULL };
	for (int f = WF_412; f <= WF_503; f++) {
		char name[32], *xml = xasprintf("<?xml version=\"1.0\"?><Error><Code>%s</Code>"
		                                "<Message>canned</Message></Error>",
		                                code[f]);
		snprintf(name, sizeof(name), "err%d.xml", f);
		snprintf(fail_answer[f], sizeof(fail_answer[f]), "%s %s", wf_status[f],
		         wfile(name, xml));
		free(xml);
	}
	snprintf(fail_answer[WF_CLOSE], sizeof(fail_answer[WF_CLOSE]), "close -");
	snprintf(ans_500, sizeof(ans_500), "%s", fail_answer[WF_500]);
	snprintf(
	        ans_403, sizeof(ans_403), "403 %s",
	        wfile("e403.xml", "<Error><Code>AccessDenied</Code><Message>no</Message></Error>"));
	snprintf(ans_nosuchbucket, sizeof(ans_nosuchbucket), "404 %s",
	         wfile("nsb.xml", "<Error><Code>NoSuchBucket</Code><Message>no</Message></Error>"));
}

/* A lock body (B1) in a file of its own; returns its path (path_in's buffer). */
static const char *body_file(const char *id, unsigned long long seq, long lease_ms)
{
	static unsigned n;
	char name[32], *json;
	const char *p;
	/* written as by this process (B14.4: a body is ours only with our ID and
	 * our pid, host, boot and PID namespace); other holders differ by ID */
	char host[256] = "", *boot = liveness_read_boot_id(), *pidns = liveness_read_pidns();
	gethostname(host, sizeof(host) - 1);
	json = xasprintf("{\"ID\":\"%s\",\"Operation\":\"OperationTypeApply\",\"Info\":\"\","
	                 "\"Who\":\"unit@test\",\"Version\":\"1.11.4\",\"Created\":"
	                 "\"2025-01-02T03:04:05Z\",\"Path\":\"b/k\",\"Tflock\":{\"v\":1,"
	                 "\"lease\":20,\"seq\":%llu,\"pid\":%ld,\"host\":\"%s\",\"boot\":\"%s\","
	                 "\"ci\":\"\",\"job\":\"\",\"pidns\":\"%s\",\"lease_ms\":%ld}}",
	                 id, seq, (long)getpid(), host, boot ? boot : "", pidns ? pidns : "",
	                 lease_ms);
	free(boot);
	free(pidns);
	snprintf(name, sizeof(name), "body%u.json", n++);
	p = wfile(name, json);
	free(json);
	return p;
}

/* ------------------------------------------------------------------------
 * One case: a fresh s3 client and lock, a stub (and a faultproxy where the
 * engine waits) with the case's answers, the engine's stderr, and the
 * condensed request log.
 */

static struct relay relay;
static char event_log[512];

struct run {
	struct s3_client *s3;
	struct lock *l;
	struct server stub, proxy;
	int has_proxy;
	struct buf routes;
	struct buf want; /* the expected log on the lock key */
	long long t0;    /* CLOCK_BOOTTIME before the operation */
	size_t ev_off;
	int saved_stderr;
	char *out;             /* the engine's stderr */
	char *events;          /* event log lines of this case */
	char *plog;            /* faultproxy's log */
	struct buf sig, stsig; /* the log on the lock key, on self-test keys */
	long long acc[64];     /* the relay's accept times */
	size_t nacc;
	struct tf_error err;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void run_open(struct run *r, const struct lock_params *p)
{
	struct s3_config sc;
	struct lock_params def = { 1, -1, LEASE_S };
	struct tf_error err;
	memset(r, 0, sizeof(*r));
	buf_init(&r->routes);
	buf_init(&r->want);
	buf_init(&r->sig);
	buf_init(&r->stsig);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = relay.url;
	sc.bucket = "b";
	sc.path_style = 1;
	sc.max_attempts = 1; /* reads too: each answer in the log is one request */
	err_clear(&err);
	if (s3_client_new(&sc, &r->s3, &err))
		bail("s3_client_new: %s", err.msg);
	r->l = api_open(r->s3, p ? p : &def);
	err_clear(&r->err);
}

/* One canned answer on the lock key: "STATUS BODYFILE", with an ETag header
 * when etag is not NULL. */
static void answer(struct run *r, const char *method, const char *ans, const char *etag)
{
	buf_addf(&r->routes, "%s " LOCK_TARGET "$ %s\n", method, ans);
	if (etag)
		buf_addf(&r->routes, "  ETag: \"%s\"\n", etag);
}

/* A GET answered with a lock body. */
static void answer_body(struct run *r, const char *id, unsigned long long seq, long lease_ms,
                        const char *etag)
{
	char ans[600];
	snprintf(ans, sizeof(ans), "200 %s", body_file(id, seq, lease_ms));
	answer(r, "GET", ans, etag);
}

/* A write answered as f (2xx answers carry ETag e-rb unless f is WF_NOETAG). */
static void answer_write(struct run *r, const char *method, enum wf f)
{
	if (f == WF_OK || f == WF_NOETAG)
		answer(r, method, !strcmp(method, "DELETE") ? "204 -" : "200 -",
		       f == WF_OK ? "e-rb" : NULL);
	else
		answer(r, method, fail_answer[f], NULL);
}

/* The read-back of a write that carried seq `wrote`. Ours answer with ETag
 * e-rb, another holder with h2. */
static void answer_readback(struct run *r, enum rb rb, unsigned long long wrote)
{
	switch (rb) {
	case RB_APPLIED:
		answer_body(r, api_id(r->l), wrote, LEASE_MS, "e-rb");
		break;
	case RB_OLDER:
		answer_body(r, api_id(r->l), wrote - 1, LEASE_MS, "e-rb");
		break;
	case RB_NEWER:
		answer_body(r, api_id(r->l), wrote + 1, LEASE_MS, "e-rb");
		break;
	case RB_OTHER:
		answer_body(r, ID_H2, 1, SILENT_LEASE_MS, "h2");
		break;
	case RB_ABSENT:
		answer(r, "GET", "404 -", NULL);
		break;
	default:
		answer(r, "GET", ans_500, NULL);
		break;
	}
}

/* Append a token to the expected log ("+" at its end: once or more). */
static void want(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void want(struct run *r, const char *fmt, ...)
{
	va_list ap;
	if (r->want.len)
		buf_adds(&r->want, " | ");
	va_start(ap, fmt);
	buf_vaddf(&r->want, fmt, ap);
	va_end(ap);
}

/* The expected token of a read-back. */
static void want_readback(struct run *r, enum rb rb)
{
	want(r, rb == RB_ABSENT ? "GET 404" : rb == RB_FAILING ? "GET 500+" : "GET 200");
}

/* the self-test of a store honouring everything, conditional DELETE included,
 * on scratch keys k.<8 hex>.selftest.tflock (quoted ETag: AWS's form) */
static const char selftest_cond_delete[] = "PUT /b/k. 200 -\n"
                                           "  ETag: \"0123\"\n"
                                           "PUT /b/k. 412 -\n"
                                           "PUT /b/k. 412 -\n"
                                           "PUT /b/k. 200 -\n"
                                           "  ETag: \"0123\"\n"
                                           "DELETE /b/k. 412 -\n"
                                           "DELETE /b/k. 204 -\n"
                                           "HEAD /b/k. 200 -\n";

enum { SERVE_PLAIN = 0, SERVE_WAITING = 1 };

/* Start the stand-ins with the answers given so far; the operation follows. */
static void run_serve(struct run *r, int how, const char *extra_routes)
{
	static unsigned n;
	char name[32], *ev;
	size_t evlen;
	if (extra_routes)
		buf_adds(&r->routes, extra_routes);
	snprintf(name, sizeof(name), "stub%u", n);
	stub_start(&r->stub, name, r->routes.data ? r->routes.data : "");
	if (how == SERVE_WAITING) {
		snprintf(name, sizeof(name), "proxy%u", n);
		proxy_start(&r->proxy, name, &r->stub,
		            "GET " LOCK_TARGET " status 304 cond=if-none-match\n");
		r->has_proxy = 1;
	}
	n++;
	relay_to(&relay, r->has_proxy ? &r->proxy : &r->stub);
	ev = slurp(event_log, &evlen);
	free(ev);
	r->ev_off = evlen;
	snprintf(name, sizeof(name), "stderr%u", n);
	r->saved_stderr = fd_to(2, path_in(name));
	r->out = xstrdup(path_in(name));
	r->t0 = now_ns();
}

/* The value of "NAME=" in a header block [h, end), case-insensitively; "" if none. */
static void header_value(const char *h, const char *end, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);
	out[0] = '\0';
	for (const char *p = h; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!strncasecmp(p, name, len) && p[len] == ':') {
			const char *v = p + len + 1;
			size_t vl;
			while (*v == ' ')
				v++;
			vl = (size_t)((nl ? nl : end) - v);
			if (vl && v[vl - 1] == '\r')
				vl--;
			snprintf(out, n, "%.*s", (int)(vl < n ? vl : n - 1), v);
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

/* One logged request as a token: METHOD[ IM=v][ INM=v][ s=SEQ] STATUS. */
static void condense_one(const char *method, const char *h, const char *hend, const char *body,
                         const char *bend, const char *status, struct buf *out)
{
	char im[200], inm[200];
	const char *s;
	header_value(h, hend, "If-Match", im, sizeof(im));
	header_value(h, hend, "If-None-Match", inm, sizeof(inm));
	if (out->len)
		buf_adds(out, " | ");
	buf_adds(out, method);
	if (*im)
		buf_addf(out, " IM=%s", im);
	if (*inm)
		buf_addf(out, " INM=%s", inm);
	s = body < bend ? strstr(body, "\"seq\":") : NULL;
	if (s && s < bend)
		buf_addf(out, " s=%llu", strtoull(s + 6, NULL, 10));
	buf_addf(out, " %s", status);
}

/* The stub's log (its format: tests/helpers/stub-http.c) condensed, requests on
 * the lock key into sig, on self-test scratch keys into stsig. */
static void condense(const char *log, struct buf *sig, struct buf *stsig)
{
	const char *p = log;
	while ((p = strstr(p, "=== ")) != NULL) {
		char method[16], target[1100], endmark[64], status[16];
		const char *h, *hend, *end;
		unsigned long n;
		if (!strncmp(p, "=== end ", 8) ||
		    sscanf(p, "=== %lu %15s %1099s", &n, method, target) != 3) {
			p += 4;
			continue;
		}
		h = strchr(p, '\n');
		snprintf(endmark, sizeof(endmark), "\n=== end %lu ", n);
		end = h ? strstr(h, endmark) : NULL;
		if (!end)
			break;
		h++;
		hend = strstr(h, "\n\n");
		if (!hend || hend > end)
			hend = end;
		if (sscanf(end + strlen(endmark), "%15s", status) != 1)
			status[0] = '\0';
		if (!strcmp(target, LOCK_TARGET))
			condense_one(method, h, hend, hend + 2, end, status, sig);
		else if (strstr(target, ".selftest.tflock"))
			condense_one(method, h, hend, hend + 2, end, status, stsig);
		p = end + 1;
	}
}

/* The operation is over: collect the stderr, the logs and the accept times. */
static void run_done(struct run *r)
{
	char *log, *ev, *path = r->out;
	size_t evlen;
	fd_restore(2, r->saved_stderr);
	r->out = slurp(path, NULL);
	free(path);
	r->nacc = relay_accepts(&relay, r->acc, sizeof(r->acc) / sizeof(r->acc[0]));
	relay_to(&relay, NULL);
	if (r->has_proxy)
		r->plog = server_stop(&r->proxy, NULL);
	log = server_stop(&r->stub, NULL);
	condense(log, &r->sig, &r->stsig);
	free(log);
	ev = slurp(event_log, &evlen);
	r->events = xstrdup(r->ev_off <= evlen ? ev + r->ev_off : "");
	free(ev);
}

static void run_close(struct run *r)
{
	api_close(r->l);
	s3_client_free(r->s3);
	buf_free(&r->routes);
	buf_free(&r->want);
	buf_free(&r->sig);
	buf_free(&r->stsig);
	free(r->out);
	free(r->events);
	free(r->plog);
}

/* ------------------------------------------------------------------------
 * Checks.
 */

/* Does the condensed log match the expected tokens? A wanted token ending in
 * "+" matches one or more equal tokens in a row. */
static int sig_matches(const char *want_s, const char *got_s)
{
	char *w = xstrdup(want_s), *g = xstrdup(got_s), *wt[256], *gt[256];
	size_t nw = 0, ng = 0, j = 0, i;
	int okay = 1;
	for (char *t = w; t && nw < 256;) {
		char *sep = strstr(t, " | ");
		if (sep)
			*sep = '\0';
		if (*t)
			wt[nw++] = t;
		t = sep ? sep + 3 : NULL;
	}
	for (char *t = g; t && ng < 256;) {
		char *sep = strstr(t, " | ");
		if (sep)
			*sep = '\0';
		if (*t)
			gt[ng++] = t;
		t = sep ? sep + 3 : NULL;
	}
	for (i = 0; i < nw && okay; i++) {
		size_t len = strlen(wt[i]);
		int more = len && wt[i][len - 1] == '+';
		if (more)
			wt[i][len - 1] = '\0';
		okay = j < ng && !strcmp(wt[i], gt[j]);
		for (j++; okay && more && j < ng && !strcmp(wt[i], gt[j]);)
			j++;
	}
	okay = okay && j == ng;
	free(w);
	free(g);
	return okay;
}

/* The value of KEY= in the first event line NAME of the case; *ts its time.
 * -1 when there is none. */
static long long event_value(const char *events, const char *name, const char *key, long long *ts)
{
	char pat[64];
	const char *line = events;
	snprintf(pat, sizeof(pat), " %s ", name);
	for (; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *nl = strchr(line, '\n'), *at = strstr(line, pat), *k;
		char kpat[64];
		long pid;
		if (!at || (nl && at > nl))
			continue;
		snprintf(kpat, sizeof(kpat), " %s=", key);
		k = strstr(at, kpat);
		if (!k || (nl && k > nl) || sscanf(line, "%lld %ld", ts, &pid) != 2)
			return -1;
		return strtoll(k + strlen(kpat), NULL, 10);
	}
	return -1;
}

struct expect {
	enum outcome o;
	int held;
	unsigned long long seq; /* 0: not checked */
	const char *etag;       /* NULL: not checked */
	const char *msg;        /* in err.msg, or NULL */
};

/* "WHAT: CHECK" for contains() (a static buffer, valid until the next call) */
static const char *desc_of(const char *what, const char *check)
{
	static char desc[400];
	snprintf(desc, sizeof(desc), "%s: %s", what, check);
	return desc;
}

static struct expect ex(enum outcome o, int held, unsigned long long seq, const char *etag,
                        const char *msg)
{
	struct expect e;
	memset(&e, 0, sizeof(e));
	e.o = o;
	e.held = held;
	e.seq = seq;
	e.etag = etag;
	e.msg = msg;
	return e;
}

static int verdict(int cond, const char *what, const char *check)
{
	return ok(cond, "%s: %s", what, check);
}

static void check(struct run *r, enum outcome got, const struct expect *e, const char *what)
{
	const char *w = r->want.data ? r->want.data : "", *g = r->sig.data ? r->sig.data : "";
	if (!verdict(got == e->o, what, "outcome"))
		diag("wanted: %s\n#   seen: %s (error: %s)", outcome_name(e->o), outcome_name(got),
		     r->err.msg);
	if (!verdict(api_held(r->l) == e->held, what, "held"))
		diag("wanted: %d\n#   seen: %d", e->held, api_held(r->l));
	if (e->seq)
		is_int((long long)e->seq, (long long)api_seq(r->l), "%s: seq", what);
	if (e->etag)
		is_string(e->etag, api_etag(r->l), "%s: ETag", what);
	if (e->msg)
		contains(r->err.msg, e->msg, desc_of(what, "the error says why"));
	if (!verdict(sig_matches(w, g), what, "request log"))
		diag("wanted: %s\n#   seen:   %s", w, g);
}

/* B2: an adopted lock's lease counts from the send of the first write of this
 * acquisition carrying our ID (the adopt event's first_send), which came
 * after the test's start and before `before` (a time the second write of our
 * ID cannot precede). */
static void check_lease_start(struct run *r, long long before, const char *what)
{
	long long ts = 0, first = event_value(r->events, "adopt", "first_send", &ts);
	ok(first >= r->t0 && first < before,
	   "%s: the lease counts from the first write of our ID (adopt event)", what);
	if (!(first >= r->t0 && first < before))
		diag("start %lld, first_send %lld, bound %lld (events: %s)", r->t0, first, before,
		     r->events);
}

/* ------------------------------------------------------------------------
 * The operations.
 */

enum op { OP_ACQUIRE, OP_RENEW, OP_RELEASE, OP_UNLOCK };

/* Run op on the case's lock: the self-test first where asked (a store that
 * honours conditional DELETE), an acquisition first for renew and release.
 * Unlock removes ID_H. */
static enum outcome perform(struct run *r, enum op op, int selftest, const char *what)
{
	enum outcome got;
	if (selftest) {
		int known, quoted, cond_delete;
		is_string("ok", outcome_name(api_selftest(r->l, &r->err)), "%s: self-test", what);
		api_store(r->l, &known, &quoted, &cond_delete);
		ok(known && quoted && cond_delete,
		   "%s: the store honours conditional DELETE, quoted ETag", what);
	}
	if (op == OP_RENEW || op == OP_RELEASE) {
		got = api_acquire(r->l, &r->err);
		is_string("ok", outcome_name(got), "%s: acquired first", what);
	}
	err_clear(&r->err);
	r->t0 = now_ns();
	switch (op) {
	case OP_ACQUIRE:
		return api_acquire(r->l, &r->err);
	case OP_RENEW:
		return api_renew(r->l, &r->err);
	case OP_RELEASE:
		return api_release(r->l, &r->err);
	default:
		return api_unlock(r->l, ID_H, &r->err);
	}
}

/* "OP answered F, read-back: RB" */
static void describe(char *out, size_t n, const char *op, enum wf f, enum rb rb)
{
	snprintf(out, n, "%s answered %s%s%s", op, wf_name[f], f >= WF_412 ? ", read-back: " : "",
	         f >= WF_412 ? rb_name[rb] : "");
}

/* The read-back's branch: a write answered 2xx applied (with an ETag: no
 * read-back at all; without: read back, finding it applied). */
static enum rb effective(enum wf f, enum rb rb)
{
	return f >= WF_412 ? rb : RB_APPLIED;
}

/* ---- acquire: create (PUT If-None-Match: *) ---- */

static void t_create(enum wf f, enum rb rb)
{
	struct lock_params p = { 1, rb == RB_FAILING ? 0 : -1, LEASE_S };
	struct expect e = ex(O_OK, 1, 1, "e-rb", NULL);
	int polls = f >= WF_409; /* after a failing store (not a refused condition) the
	                            engine polls once before it creates again */
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "acquire: create", f, rb);
	run_open(&r, &p);
	answer_write(&r, "PUT", f);
	want(&r, "PUT INM=* s=1 %s", wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
		if (f != WF_OK) {
			answer_readback(&r, RB_APPLIED, 1);
			want(&r, "GET 200");
		}
		break;
	case RB_OLDER:
		/* the first create landed after its own read-back found nothing: the
		 * second create's read-back finds it; adopted, then renewed at once */
		answer(&r, "GET", "404 -", NULL);
		want(&r, polls ? "GET 404 | GET 404" : "GET 404");
		if (polls)
			answer(&r, "GET", "404 -", NULL);
		answer_write(&r, "PUT", f);
		want(&r, "PUT INM=* s=2 %s", wf_status[f]);
		answer_readback(&r, RB_OLDER, 2);
		answer(&r, "PUT", "200 -", "e-renewed");
		want(&r, "GET 200 | PUT IM=e-rb s=3 200");
		e.seq = 3;
		e.etag = "e-renewed";
		break;
	case RB_NEWER:
		answer_readback(&r, RB_NEWER, 1);
		answer(&r, "PUT", "200 -", "e-renewed");
		want(&r, "GET 200 | PUT IM=e-rb s=2 200");
		e.seq = 2;
		e.etag = "e-renewed";
		break;
	case RB_OTHER:
		answer_body(&r, ID_H, 7, LONG_LEASE_MS, "h"); /* --no-wait: held */
		want(&r, polls ? "GET 200 | GET INM=\"h\" 200" : "GET 200");
		e.o = O_HELD;
		e.held = 0;
		e.etag = NULL;
		break;
	case RB_ABSENT:
		answer(&r, "GET", "404 -", NULL);
		answer(&r, "PUT", "200 -", "e-created");
		want(&r, polls ? "GET 404 | GET 404" : "GET 404");
		want(&r, "PUT INM=* s=2 200");
		e.seq = 2;
		e.etag = "e-created";
		break;
	default: /* with --timeout 0: the store, not a holder, kept us out */
		answer_readback(&r, RB_FAILING, 1);
		want(&r, "GET 500+");
		e.o = O_UNAVAILABLE;
		e.held = 0;
		e.etag = NULL;
		e.msg = "cannot read " LOCK_URL " back";
		break;
	}
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_ACQUIRE, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	if (effective(f, rb) == RB_OLDER) /* the second connection: the first read-back */
		check_lease_start(&r, r.nacc > 1 ? r.acc[1] : 0, what);
	run_close(&r);
}

/* An adopted lock whose first renewal fails keeps the lease it was adopted
 * with: from the send of the first create of our ID (B2), which the lease
 * the engine acquires with (the acquired event's renew_send) must be. */
static void t_create_adopt_unrenewed(void)
{
	const char *what = "acquire: adopted, its first renewal fails";
	struct expect e = ex(O_OK, 1, 3, "e-rb", NULL);
	long long ts = 0, first, lease_from;
	enum outcome got;
	struct run r;
	run_open(&r, NULL);
	answer(&r, "PUT", fail_answer[WF_412], NULL);
	answer(&r, "GET", "404 -", NULL);
	answer(&r, "PUT", fail_answer[WF_412], NULL);
	answer_body(&r, api_id(r.l), 1, LEASE_MS, "e-rb");
	answer(&r, "PUT", fail_answer[WF_503], NULL);
	answer(&r, "GET", ans_500, NULL);
	want(&r, "PUT INM=* s=1 412 | GET 404 | PUT INM=* s=2 412 | GET 200 | PUT IM=e-rb s=3 503"
	         " | GET 500+");
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_ACQUIRE, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	check_lease_start(&r, r.nacc > 1 ? r.acc[1] : 0, what);
	first = event_value(r.events, "adopt", "first_send", &ts);
	lease_from = event_value(r.events, "acquired", "renew_send", &ts);
	is_int(first, lease_from, "%s: the lease kept counts from that send", what);
	run_close(&r);
}

/* ---- acquire: take over a silent holder (PUT If-Match: its ETag) ---- */

static void t_takeover(enum wf f, enum rb rb)
{
	struct lock_params p = { 0, -1, LEASE_S };
	struct expect e = ex(O_OK, 1, 2, "e-rb", NULL);
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "acquire: takeover", f, rb);
	run_open(&r, &p);
	answer(&r, "PUT", fail_answer[WF_412], NULL);
	answer_body(&r, ID_H, 3, SILENT_LEASE_MS, "h");
	answer_write(&r, "PUT", f);
	want(&r, "PUT INM=* s=1 412 | GET 200 | PUT IM=h s=2 %s", wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
		if (f != WF_OK) {
			answer_readback(&r, RB_APPLIED, 2);
			want(&r, "GET 200");
		}
		break;
	case RB_OLDER:
	case RB_NEWER: /* ours: adopted, renewed at once */
		answer_readback(&r, rb, 2);
		answer(&r, "PUT", "200 -", "e-renewed");
		want(&r, "GET 200 | PUT IM=e-rb s=3 200");
		e.seq = 3;
		e.etag = "e-renewed";
		break;
	case RB_OTHER: /* another taker won: it is watched for its whole lease, then taken */
		answer_readback(&r, RB_OTHER, 2);
		answer(&r, "PUT", "200 -", "e-taken");
		want(&r, "GET 200 | PUT IM=h2 s=3 200");
		e.seq = 3;
		e.etag = "e-taken";
		break;
	case RB_ABSENT: /* freed meanwhile: created */
		answer_readback(&r, RB_ABSENT, 2);
		answer(&r, "PUT", "200 -", "e-created");
		want(&r, "GET 404 | PUT INM=* s=3 200");
		e.seq = 3;
		e.etag = "e-created";
		break;
	default: /* unknown: the holder is still watched, and taken over again */
		answer_readback(&r, RB_FAILING, 2);
		answer(&r, "PUT", "200 -", "e-taken");
		want(&r, "GET 500+ | PUT IM=h s=3 200");
		e.seq = 3;
		e.etag = "e-taken";
		break;
	}
	run_serve(&r, SERVE_WAITING, NULL);
	got = perform(&r, OP_ACQUIRE, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	ok(count(r.plog, "action=status:304") >= 1, "%s: waited, polling with If-None-Match", what);
	if (effective(f, rb) != RB_ABSENT)
		contains(r.out, "took over " LOCK_URL, desc_of(what, "the takeover is said"));
	if (effective(f, rb) == RB_FAILING)
		contains(r.out, "cannot read " LOCK_URL " back",
		         desc_of(what, "the failed read-back is said"));
	if (effective(f, rb) == RB_OLDER || effective(f, rb) == RB_NEWER) {
		/* the create was the first write of our ID; the takeover came at least
		 * the holder's lease after the answer to the read that showed it */
		long long ts = 0;
		event_value(r.events, "adopt", "first_send", &ts);
		check_lease_start(&r, ts - SILENT_LEASE_MS * 1000000LL, what);
	}
	run_close(&r);
}

/* ---- renew (PUT If-Match: our ETag) ---- */

static void t_renew(enum wf f, enum rb rb)
{
	struct expect e = ex(O_OK, 1, 2, "e-rb", NULL);
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "renew", f, rb);
	run_open(&r, NULL);
	answer(&r, "PUT", "200 -", "e1");
	answer_write(&r, "PUT", f);
	want(&r, "PUT INM=* s=1 200 | PUT IM=e1 s=2 %s", wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
		if (f != WF_OK) {
			answer_readback(&r, RB_APPLIED, 2);
			want(&r, "GET 200");
		}
		break;
	case RB_OLDER:
	case RB_NEWER: /* still ours, not this write: written again with a new seq */
		answer_readback(&r, rb, 2);
		answer(&r, "PUT", "200 -", "e-again");
		want(&r, "GET 200 | PUT IM=e-rb s=3 200");
		e.seq = 3;
		e.etag = "e-again";
		break;
	case RB_OTHER:
		answer_readback(&r, RB_OTHER, 2);
		want(&r, "GET 200");
		e = ex(O_LOST, 0, 2, NULL, "is now held by");
		break;
	case RB_ABSENT:
		answer_readback(&r, RB_ABSENT, 2);
		want(&r, "GET 404");
		e = ex(O_LOST, 0, 2, NULL, "was deleted by someone else");
		break;
	default: /* unknown: still held; the next renewal decides */
		answer_readback(&r, RB_FAILING, 2);
		want(&r, "GET 500+");
		e = ex(O_FAILED, 1, 2, NULL, "cannot read " LOCK_URL " back");
		break;
	}
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_RENEW, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* renew: every read-back finds an older seq (three writes, then give up) */
static void t_renew_never_applied(void)
{
	struct expect e = ex(O_FAILED, 1, 4, NULL, "kept reading back as not applied");
	const char *what = "renew: three writes each read back as not applied";
	enum outcome got;
	struct run r;
	run_open(&r, NULL);
	answer(&r, "PUT", "200 -", "e1");
	answer(&r, "PUT", fail_answer[WF_500], NULL);
	answer_body(&r, api_id(r.l), 1, LEASE_MS, "e-rb");
	want(&r, "PUT INM=* s=1 200 | PUT IM=e1 s=2 500 | GET 200 | PUT IM=e-rb s=3 500 | GET 200"
	         " | PUT IM=e-rb s=4 500 | GET 200");
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_RENEW, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* ---- release on a store honouring conditional DELETE (DELETE If-Match) ---- */

static void t_release_cond(enum wf f, enum rb rb)
{
	struct expect e = ex(O_OK, 0, 1, NULL, NULL);
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "release (conditional DELETE)", f, rb);
	run_open(&r, NULL);
	answer(&r, "PUT", "200 -", "e1");
	answer_write(&r, "DELETE", f);
	want(&r, "PUT INM=* s=1 200 | DELETE IM=\"e1\" %s", f == WF_OK ? "204" : wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
	case RB_OLDER:
	case RB_NEWER: /* still ours: deleted again, on the version read */
		if (f != WF_OK) {
			answer_readback(&r, rb, 1);
			answer(&r, "DELETE", "204 -", NULL);
			want(&r, "GET 200 | DELETE IM=\"e-rb\" 204");
		}
		break;
	case RB_OTHER:
		answer_readback(&r, RB_OTHER, 1);
		want(&r, "GET 200");
		e.o = O_LOST;
		e.msg = "is now held by";
		break;
	case RB_ABSENT: /* the DELETE applied */
		answer_readback(&r, RB_ABSENT, 1);
		want(&r, "GET 404");
		break;
	default:
		answer_readback(&r, RB_FAILING, 1);
		want(&r, "GET 500+");
		e = ex(O_FAILED, 1, 1, NULL, "cannot read " LOCK_URL " back");
		break;
	}
	run_serve(&r, SERVE_PLAIN, selftest_cond_delete);
	got = perform(&r, OP_RELEASE, 1, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* ---- release on RGW (no conditional DELETE): renew, then DELETE at once ---- */

/* the renewal fails */
static void t_release_rgw(enum wf f, enum rb rb)
{
	struct expect e = ex(O_OK, 0, 2, NULL, NULL);
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "release (renew, then DELETE): the renewal", f, rb);
	run_open(&r, NULL);
	answer(&r, "PUT", "200 -", "e1");
	answer_write(&r, "PUT", f);
	answer(&r, "DELETE", "204 -", NULL);
	want(&r, "PUT INM=* s=1 200 | PUT IM=e1 s=2 %s", wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
		if (f != WF_OK) {
			answer_readback(&r, RB_APPLIED, 2);
			want(&r, "GET 200");
		}
		want(&r, "DELETE 204");
		break;
	case RB_OLDER:
	case RB_NEWER:
		answer_readback(&r, rb, 2);
		answer(&r, "PUT", "200 -", "e-again");
		want(&r, "GET 200 | PUT IM=e-rb s=3 200 | DELETE 204");
		e.seq = 3;
		break;
	case RB_OTHER: /* lost: nothing deleted */
		answer_readback(&r, RB_OTHER, 2);
		want(&r, "GET 200");
		e.o = O_LOST;
		e.msg = "is now held by";
		break;
	case RB_ABSENT:
		answer_readback(&r, RB_ABSENT, 2);
		want(&r, "GET 404");
		e.o = O_LOST;
		e.msg = "was deleted by someone else";
		break;
	default: /* unknown: no DELETE; the lease bounds the lock */
		answer_readback(&r, RB_FAILING, 2);
		want(&r, "GET 500+");
		e = ex(O_FAILED, 1, 2, NULL, "cannot read " LOCK_URL " back");
		break;
	}
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_RELEASE, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* the DELETE after the renewal fails: never sent again; a read tells */
static void t_release_rgw_delete(enum wf f, enum rb rb)
{
	struct expect e = ex(O_FAILED, 1, 2, NULL, "FAILED (not retried");
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "release (renew, then DELETE): the DELETE", f, rb);
	run_open(&r, NULL);
	answer(&r, "PUT", "200 -", "e1");
	answer(&r, "PUT", "200 -", "e2");
	answer_write(&r, "DELETE", f);
	want(&r, "PUT INM=* s=1 200 | PUT IM=e1 s=2 200 | DELETE %s", wf_status[f]);
	answer_readback(&r, rb, 2);
	want_readback(&r, rb);
	if (rb == RB_OTHER)
		e = ex(O_LOST, 0, 2, NULL, "is now held by");
	else if (rb == RB_ABSENT)
		e = ex(O_OK, 0, 2, NULL, NULL);
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_RELEASE, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* ---- unlock ID on a store honouring conditional DELETE ---- */

static void t_unlock_cond(enum wf f)
{
	struct expect e = ex(O_FAILED, 0, 0, NULL, NULL);
	const char *status = f == WF_OK ? "204" : wf_status[f];
	enum outcome got;
	struct run r;
	char what[200];
	snprintf(what, sizeof(what), "unlock ID (conditional DELETE) answered %s", wf_name[f]);
	run_open(&r, NULL);
	answer_body(&r, ID_H, 3, LONG_LEASE_MS, "h");
	answer_write(&r, "DELETE", f);
	want(&r, "GET 200 | DELETE IM=\"h\" %s", status);
	if (f == WF_OK)
		e.o = O_OK;
	else if (f == WF_412)
		e = ex(O_HELD, 0, 0, NULL, "changed while unlocking");
	/* anything else: the error, and nothing sent again */
	run_serve(&r, SERVE_PLAIN, selftest_cond_delete);
	got = perform(&r, OP_UNLOCK, 1, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* ---- unlock ID on RGW: take over with If-Match, then release as ours ---- */

static void t_unlock_rgw(enum wf f, enum rb rb)
{
	struct expect e = ex(O_OK, 0, 2, NULL, NULL);
	enum outcome got;
	struct run r;
	char what[200];
	describe(what, sizeof(what), "unlock ID (take over, renew, DELETE)", f, rb);
	run_open(&r, NULL);
	answer_body(&r, ID_H, 3, LONG_LEASE_MS, "h");
	answer_write(&r, "PUT", f);
	want(&r, "GET 200 | PUT IM=h s=1 %s", wf_status[f]);
	switch (effective(f, rb)) {
	case RB_APPLIED:
	case RB_OLDER:
	case RB_NEWER: /* ours now: released (renew, DELETE) */
		if (f != WF_OK) {
			answer_readback(&r, rb, 1);
			want(&r, "GET 200");
		}
		answer(&r, "PUT", "200 -", "e2");
		answer(&r, "DELETE", "204 -", NULL);
		want(&r, "PUT IM=e-rb s=2 200 | DELETE 204");
		break;
	case RB_OTHER:
		answer_readback(&r, RB_OTHER, 1);
		want(&r, "GET 200");
		e = ex(O_HELD, 0, 1, NULL, "changed while unlocking");
		break;
	case RB_ABSENT: /* gone: nothing left to remove */
		answer_readback(&r, RB_ABSENT, 1);
		want(&r, "GET 404");
		e.seq = 1;
		break;
	default:
		answer_readback(&r, RB_FAILING, 1);
		want(&r, "GET 500+");
		e = ex(O_FAILED, 0, 1, NULL, "cannot read " LOCK_URL " back");
		break;
	}
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_UNLOCK, 0, what);
	run_done(&r);
	check(&r, got, &e, what);
	run_close(&r);
}

/* unlock ID: nothing there; held by another ID */
static void t_unlock_other(void)
{
	struct expect e = ex(O_FREE, 0, 0, NULL, "is not locked");
	enum outcome got;
	struct run r;
	run_open(&r, NULL);
	answer(&r, "GET", "404 -", NULL);
	want(&r, "GET 404");
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_UNLOCK, 0, "unlock ID: no lock");
	run_done(&r);
	check(&r, got, &e, "unlock ID: no lock");
	run_close(&r);

	e = ex(O_HELD, 0, 0, NULL, "not by ID " ID_H ": nothing removed");
	run_open(&r, NULL);
	answer_body(&r, ID_H2, 3, LONG_LEASE_MS, "h2");
	want(&r, "GET 200");
	run_serve(&r, SERVE_PLAIN, NULL);
	got = perform(&r, OP_UNLOCK, 0, "unlock ID: held by another ID");
	run_done(&r);
	check(&r, got, &e, "unlock ID: held by another ID");
	run_close(&r);
}

/* ---- 403 and NoSuchBucket: the store is unusable; no read-back ---- */

enum bop {
	B_CREATE,
	B_TAKEOVER,
	B_RENEW,
	B_RELEASE_COND,
	B_RELEASE_RENEW,
	B_RELEASE_DELETE,
	B_UNLOCK_COND,
	B_UNLOCK_RGW,
	NBOP
};

static const char *const bop_name[NBOP] = {
	"acquire: create",
	"acquire: takeover",
	"renew",
	"release: DELETE If-Match",
	"release: the renewal",
	"release: the DELETE",
	"unlock ID: DELETE If-Match",
	"unlock ID: the takeover",
};
static const enum op bop_op[NBOP] = { OP_ACQUIRE, OP_ACQUIRE, OP_RENEW,  OP_RELEASE,
	                              OP_RELEASE, OP_RELEASE, OP_UNLOCK, OP_UNLOCK };

/* The answers before the write that fails, and that write's token (STATUS last). */
static const char *broken_setup(struct run *r, enum bop op)
{
	switch (op) {
	case B_CREATE:
		return "PUT INM=* s=1";
	case B_TAKEOVER:
		answer(r, "PUT", fail_answer[WF_412], NULL);
		answer_body(r, ID_H, 3, SILENT_LEASE_MS, "h");
		return "PUT INM=* s=1 412 | GET 200 | PUT IM=h s=2";
	case B_RENEW:
	case B_RELEASE_RENEW:
		answer(r, "PUT", "200 -", "e1");
		return "PUT INM=* s=1 200 | PUT IM=e1 s=2";
	case B_RELEASE_COND:
		answer(r, "PUT", "200 -", "e1");
		return "PUT INM=* s=1 200 | DELETE IM=\"e1\"";
	case B_RELEASE_DELETE:
		answer(r, "PUT", "200 -", "e1");
		answer(r, "PUT", "200 -", "e2");
		return "PUT INM=* s=1 200 | PUT IM=e1 s=2 200 | DELETE";
	case B_UNLOCK_COND:
		answer_body(r, ID_H, 3, LONG_LEASE_MS, "h");
		return "GET 200 | DELETE IM=\"h\"";
	default:
		answer_body(r, ID_H, 3, LONG_LEASE_MS, "h");
		return "GET 200 | PUT IM=h s=1";
	}
}

/* Where the engine does not (yet) do what the brief of these tests asks. */
static void t_broken(enum bop op, int nosuchbucket)
{
	struct lock_params p = { 0, -1, LEASE_S };
	/* held where the lock was ours: nothing says it is not */
	struct expect e =
	        ex(O_BROKEN, op == B_RENEW || (op >= B_RELEASE_COND && op <= B_RELEASE_DELETE), 0,
	           NULL, NULL);
	int cond = op == B_RELEASE_COND || op == B_UNLOCK_COND;
	const char *method = op == B_RELEASE_COND || op == B_RELEASE_DELETE || op == B_UNLOCK_COND
	                             ? "DELETE"
	                             : "PUT";
	const char *prefix;
	enum outcome got;
	struct run r;
	char what[200];
	snprintf(what, sizeof(what), "%s answered %s", bop_name[op],
	         nosuchbucket ? "404 NoSuchBucket" : "403 AccessDenied");
	run_open(&r, &p);
	prefix = broken_setup(&r, op);
	answer(&r, method, nosuchbucket ? ans_nosuchbucket : ans_403, NULL);
	want(&r, "%s %s", prefix, nosuchbucket ? "404" : "403");
	run_serve(&r, op == B_TAKEOVER ? SERVE_WAITING : SERVE_PLAIN,
	          cond ? selftest_cond_delete : NULL);
	got = perform(&r, bop_op[op], cond, what);
	run_done(&r);
	check(&r, got, &e, what); /* the log ends with the failed write: no read-back */
	run_close(&r);
}

/* ------------------------------------------------------------------------
 * The self-test's verdicts (B6), on scratch keys next to the lock.
 */

struct selftest_case {
	const char *name;
	const char *routes;
	long lease_s;
	enum outcome o;
	int known, quoted, cond_delete;
	const char *msg;
	const char *log; /* on the scratch keys */
};

static void t_selftest(const struct selftest_case *c)
{
	struct lock_params p = { 1, -1, c->lease_s };
	struct tf_error err;
	int known, quoted, cond_delete;
	enum outcome got;
	struct run r;
	run_open(&r, &p);
	run_serve(&r, SERVE_PLAIN, c->routes);
	err_clear(&err);
	got = api_selftest(r.l, &err);
	run_done(&r);
	is_string(outcome_name(c->o), outcome_name(got), "self-test, %s: verdict", c->name);
	if (got != c->o)
		diag("error: %s", err.msg);
	api_store(r.l, &known, &quoted, &cond_delete);
	is_int(c->known, known, "self-test, %s: store known", c->name);
	if (c->known) {
		is_int(c->quoted, quoted, "self-test, %s: If-Match form (1: quoted)", c->name);
		is_int(c->cond_delete, cond_delete, "self-test, %s: conditional DELETE", c->name);
	}
	if (c->msg)
		contains(err.msg, c->msg, desc_of(c->name, "the self-test's error says why"));
	if (!ok(sig_matches(c->log, r.stsig.data ? r.stsig.data : ""), "self-test, %s: requests",
	        c->name))
		diag("wanted: %s\n#   seen:   %s", c->log, r.stsig.data ? r.stsig.data : "");
	run_close(&r);
}

static void t_selftests(void)
{
	static const struct selftest_case cases[] = {
		{ "a store honouring conditions and conditional DELETE (AWS)", selftest_cond_delete,
		  LEASE_S, O_OK, 1, 1, 1, NULL,
		  "PUT INM=* 200 | PUT INM=* 412 | PUT IM=" WRONG_ETAG " 412 | PUT IM=\"0123\" 200"
		  " | PUT IM=0123 200 | DELETE IM=" WRONG_ETAG " 412 | HEAD 200 | DELETE 204" },
		{ "Ceph RGW 16 (unquoted ETag; DELETE ignores If-Match)",
		  "PUT /b/k. 200 -\n  ETag: \"0123\"\nPUT /b/k. 412 -\nPUT /b/k. 412 -\n"
		  "PUT /b/k. 412 -\nPUT /b/k. 200 -\n  ETag: \"0124\"\nDELETE /b/k. 204 -\n",
		  LEASE_S, O_OK, 1, 0, 0, NULL,
		  "PUT INM=* 200 | PUT INM=* 412 | PUT IM=" WRONG_ETAG " 412 | PUT IM=\"0123\" 412"
		  " | PUT IM=0123 200 | DELETE IM=" WRONG_ETAG " 204 | DELETE 204" },
		{ "RGW with a lease below B5's minimum",
		  "PUT /b/k. 200 -\n  ETag: \"0123\"\nPUT /b/k. 412 -\nPUT /b/k. 412 -\n"
		  "PUT /b/k. 412 -\nPUT /b/k. 200 -\n  ETag: \"0124\"\nDELETE /b/k. 204 -\n",
		  10, O_FAILED, 1, 0, 0, "too short for this store",
		  "PUT INM=* 200 | PUT INM=* 412 | PUT IM=" WRONG_ETAG " 412 | PUT IM=\"0123\" 412"
		  " | PUT IM=0123 200 | DELETE IM=" WRONG_ETAG " 204 | DELETE 204" },
		{ "a store ignoring If-None-Match (second create 200)",
		  "PUT /b/k. 200 -\n  ETag: \"0123\"\nPUT /b/k. 200 -\n  ETag: \"0123\"\n"
		  "DELETE /b/k. 204 -\n",
		  LEASE_S, O_BROKEN, 0, 0, 0, "does not enforce If-None-Match",
		  "PUT INM=* 200 | PUT INM=* 200 | DELETE 204" },
		{ "a store ignoring If-Match (wrong ETag 200)",
		  "PUT /b/k. 200 -\n  ETag: \"0123\"\nPUT /b/k. 412 -\nPUT /b/k. 200 -\n"
		  "DELETE /b/k. 204 -\n",
		  LEASE_S, O_BROKEN, 0, 0, 0, "does not enforce If-Match",
		  "PUT INM=* 200 | PUT INM=* 412 | PUT IM=" WRONG_ETAG " 200 | DELETE 204" },
		{ "a store taking neither ETag form",
		  "PUT /b/k. 200 -\n  ETag: \"0123\"\nPUT /b/k. 412 -\nDELETE /b/k. 204 -\n",
		  LEASE_S, O_BROKEN, 0, 0, 0, "does not honour If-Match with the object's own ETag",
		  "PUT INM=* 200 | PUT INM=* 412 | PUT IM=" WRONG_ETAG " 412 | PUT IM=\"0123\" 412"
		  " | PUT IM=0123 412 | DELETE 204" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		t_selftest(&cases[i]);
}

/* ------------------------------------------------------------------------ */

/* the canned bodies are ones the engine takes for tflock locks */
static void t_bodies(void)
{
	struct lockinfo li;
	struct tf_error err;
	char *json = slurp(body_file(ID_H, 5, SILENT_LEASE_MS), NULL);
	lockinfo_init(&li);
	err_clear(&err);
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(json, strlen(json), &li, &err),
	       "canned lock bodies parse as tflock locks");
	is_int(5, (long long)li.tf.seq, "with their seq");
	is_int(SILENT_LEASE_MS, li.tf.lease_ms, "and their lease");
	lockinfo_free(&li);
	free(json);
}

int main(void)
{
	const char *k = getenv("TFLOCK_TEST_TIME_SCALE");
	if (k && atof(k) > 0)
		scale *= atof(k);
	plan_lazy();
	fixture_init("lock");
	fixture_helper("stub-http");
	fixture_helper("faultproxy");
	fixture_static_keys();
	unsetenv("GITLAB_CI");
	snprintf(event_log, sizeof(event_log), "%s", path_in("events.log"));
	setenv("TFLOCK_EVENT_LOG", event_log, 1);
	log_level = 2; /* the store's failures while acquiring are said at -v */
	answers_init();
	relay_start(&relay);

	t_bodies();
	t_selftests();
	for (int f = 0; f < NWF; f++) {
		int nrb = f >= WF_412 ? NRB : 1;
		for (int rb = 0; rb < nrb; rb++) {
			t_create(f, rb);
			t_takeover(f, rb);
			t_renew(f, rb);
			t_release_rgw(f, rb);
			t_unlock_rgw(f, rb);
			if (f != WF_NOETAG) /* a DELETE's answer has no ETag to learn */
				t_release_cond(f, rb);
			if (f >= WF_412)
				t_release_rgw_delete(f, rb);
		}
		if (f != WF_NOETAG)
			t_unlock_cond(f);
	}
	t_create_adopt_unrenewed();
	t_renew_never_applied();
	t_unlock_other();
	for (int op = 0; op < NBOP; op++) {
		t_broken(op, 0);
		t_broken(op, 1);
	}

	relay_stop(&relay);
	fixture_done();
	return 0;
}
