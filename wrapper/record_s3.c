/*
 * record_s3 — the lock record as an S3 object (KEY.tflock), record.h's first
 * kind. Conditional writes are S3's conditional PUT (If-None-Match: *, If-Match:
 * ETag); versions are normalised ETags. The self-test (docs/PROTOCOL.md B6)
 * learns what the store does with conditions on scratch objects next to the
 * lock (KEY-without-.tflock + ".<8 hex>.selftest.tflock").
 */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"
#include "dur.h"
#include "lockinfo.h"
#include "log.h"
#include "rfc3339.h"
#include "s3.h"
#include "s3err.h"
#include "sigv4.h"
#include "xml.h"

struct rs3 {
	struct s3_client *s3;
	char *key;
	struct record_s3_opts o;
};

static struct rs3 *impl(const struct record *r)
{
	return r->impl;
}

/* Is this 404 the object's absence (S3's NoSuchKey, or a HEAD without a body),
 * rather than a proxy's or a misrouted server's page? */
static int absent_404(const struct s3_reply *r, const struct tf_error *err)
{
	return r->status == 404 && (!strcmp(err->s3_code, "NoSuchKey") || r->body.len == 0);
}

static const char *match_value(const struct record *r, const char *version, char *tmp, size_t n)
{
	snprintf(tmp, n, r->caps.match_quoted ? "\"%s\"" : "%s", version);
	return tmp;
}

/* One request; the reply's times and version copied out. */
static int send(struct record *r, struct s3_request *req, const struct record_call *c,
                struct s3_reply *sr, struct record_reply *out, struct tf_error *err)
{
	int ret;
	req->key = impl(r)->key;
	req->timeout_ms = c->timeout_ms;
	req->deadline_ns = c->deadline_ns;
	req->no_retry = c->no_retry;
	req->abortable = c->abortable;
	r->requests++;
	ret = s3_request(impl(r)->s3, req, sr, err);
	out->t_first_send = sr->t_first_send;
	out->t_recv = sr->t_recv;
	snprintf(out->version, sizeof(out->version), "%s", sr->etag);
	if (ret < 0)
		out->broken = s3err_store_unusable(err);
	return ret;
}

/* Reads and listings are never answered from a cache between us and the store
 * (B3, B13). */
static const struct http_header no_cache = { "Cache-Control", "no-cache" };

/* A bodiless request (GET, DELETE) with at most one condition header (cond
 * NULL: none); sr must be initialised. */
static int send_cond(struct record *r, const char *method, const char *cond, const char *cond_val,
                     const struct record_call *c, struct s3_reply *sr, struct record_reply *out,
                     struct tf_error *err)
{
	struct s3_request req;
	struct http_header h[2] = { no_cache, { cond, cond_val } };
	int get = !strcmp(method, "GET");
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.headers = get ? h : h + 1;
	req.nheaders = (size_t)get + (cond ? 1 : 0);
	if (!req.nheaders)
		req.headers = NULL;
	return send(r, &req, c, sr, out, err);
}

static int rs3_read(struct record *r, const char *if_changed, const struct record_call *c,
                    struct record_reply *out, struct tf_error *err)
{
	struct s3_reply sr;
	char q[RECORD_VERSION_MAX + 2] = "";
	int ret;
	if (if_changed) /* If-None-Match takes the quoted ETag on every store */
		snprintf(q, sizeof(q), "\"%s\"", if_changed);
	s3_reply_init(&sr);
	ret = send_cond(r, "GET", if_changed ? "If-None-Match" : NULL, q, c, &sr, out, err);
	if (ret == 0 && sr.status == 304) {
		snprintf(out->version, sizeof(out->version), "%s", if_changed);
		ret = REC_UNCHANGED;
	} else if (ret == 0) {
		buf_free(&out->body);
		out->body = sr.body;
		buf_init(&sr.body);
	} else if (ret == ERR_HTTP && absent_404(&sr, err)) {
		err_clear(err);
		out->broken = 0;
		ret = REC_ABSENT;
	}
	s3_reply_free(&sr);
	return ret;
}

static int put(struct record *r, const char *cond, const char *cond_val, const struct buf *body,
               const struct record_call *c, struct record_reply *out, struct tf_error *err)
{
	const struct record_s3_opts *o = &impl(r)->o;
	struct http_header h[20];
	struct s3_request req;
	struct s3_reply sr;
	char sum[64];
	size_t n = 0;
	int ret;
	h[n].name = "Content-Type";
	h[n++].value = "application/json";
	h[n].name = cond;
	h[n++].value = cond_val;
	if (!o->no_checksum) {
		s3_checksum_sha256_b64(body->data, body->len, sum);
		h[n].name = "x-amz-checksum-sha256";
		h[n++].value = sum;
	}
	for (size_t i = 0; i < o->nput_headers && n < 15; i++)
		h[n++] = o->put_headers[i];
	if (o->tagging) { /* a write replaces the object, tags included: every write */
		h[n].name = "x-amz-tagging";
		h[n++].value = o->tagging;
	}
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.headers = h;
	req.nheaders = n;
	req.body = body->data;
	req.body_len = body->len;
	s3_reply_init(&sr);
	ret = send(r, &req, c, &sr, out, err);
	if (ret == ERR_HTTP && sr.status == 412) {
		out->broken = 0;
		ret = REC_PRECONDITION;
	}
	s3_reply_free(&sr);
	return ret;
}

static int rs3_create(struct record *r, const struct buf *body, const struct record_call *c,
                      struct record_reply *out, struct tf_error *err)
{
	return put(r, "If-None-Match", "*", body, c, out, err);
}

static int rs3_replace(struct record *r, const char *version, const struct buf *body,
                       const struct record_call *c, struct record_reply *out, struct tf_error *err)
{
	char q[RECORD_VERSION_MAX + 2];
	return put(r, "If-Match", match_value(r, version, q, sizeof(q)), body, c, out, err);
}

static int rs3_remove(struct record *r, const char *version, const struct record_call *c,
                      struct record_reply *out, struct tf_error *err)
{
	struct s3_reply sr;
	char q[RECORD_VERSION_MAX + 2];
	int ret;
	s3_reply_init(&sr);
	ret = send_cond(r, "DELETE", version ? "If-Match" : NULL,
	                version ? match_value(r, version, q, sizeof(q)) : NULL, c, &sr, out, err);
	if (ret == ERR_HTTP && absent_404(&sr, err))
		ret = REC_ABSENT; /* err kept: callers that care say why */
	else if (ret == ERR_HTTP && sr.status == 412)
		ret = REC_PRECONDITION;
	if (ret > 0)
		out->broken = 0;
	s3_reply_free(&sr);
	return ret;
}

/* ---- self-test (B6) ---- */

static int aborting(const void *arg)
{
	(void)arg;
	return http_aborting();
}

/* Sleep, cut short by a cancelling signal (http_set_abort). */
static void nap_ms(int64_t ms)
{
	clock_sleep_ms_unless(ms, aborting, NULL);
}

struct probe {
	struct record *r;
	const char *key;
	long timeout_ms;
	struct s3_reply sr;
	int broken;
};

static int probe_put(struct probe *p, const char *cond_name, const char *cond_val, const char *body,
                     struct tf_error *err)
{
	struct http_header h[2];
	struct s3_request req;
	size_t n = 0;
	h[n].name = "Content-Type";
	h[n++].value = "application/json";
	if (cond_name) {
		h[n].name = cond_name;
		h[n++].value = cond_val;
	}
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.key = p->key;
	req.headers = h;
	req.nheaders = n;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = p->timeout_ms;
	req.abortable = 1;
	s3_reply_free(&p->sr);
	p->r->requests++;
	return s3_request(impl(p->r)->s3, &req, &p->sr, err); /* resent only when never sent */
}

/* A probe's answer that says nothing about the store's conditions: a failure of
 * the store or the network (5xx, 429, timeouts, resets, a lost reply). The round
 * is abandoned and a new one started on a fresh key. */
static int probe_transient(int ret, const struct s3_reply *r, const struct tf_error *err)
{
	if (ret == 0)
		return 0;
	if (ret == ERR_HTTP)
		return r->status >= 500 || r->status == 429 || r->status == 408 ||
		       (r->status == 404 && !strcmp(err->s3_code, "") && r->body.len);
	/* not a proxy refusing the tunnel (its answer in http_status): configuration */
	if (ret == ERR_CONNECT)
		return err->http_status == 0;
	return ret == ERR_TIMEOUT || ret == ERR_TRANSPORT;
}

enum { PROBE_OK = 0, PROBE_AGAIN = 1 };

/* A probe failed: PROBE_AGAIN when transient, else the error. err says
 * "store self-test: <before> KEY<after> failed". */
static int probe_failed(struct probe *p, int ret, const struct tf_error *e, struct tf_error *err,
                        const char *before, const char *after)
{
	*err = *e;
	err_prefix(err, "store self-test: %s %s%s failed", before, p->key, after);
	return probe_transient(ret, &p->sr, e) ? PROBE_AGAIN : ret;
}

/* The store answered, but not as a lock store must: unusable (exit 69). */
static int probe_refused(struct probe *p, struct tf_error *err, long status)
{
	err->kind = ERR_HTTP;
	err->http_status = status;
	p->broken = 1;
	return ERR_HTTP;
}

/* B6's conditional PUTs on a fresh key: If-None-Match enforced, If-Match
 * enforced, and which ETag form If-Match takes. */
static int probe_puts(struct probe *p, int *created, struct tf_error *err)
{
	char quoted[160], etag[128];
	struct tf_error e;
	int ret, quoted_ok = 0, unquoted_ok = 0;
	err_clear(&e);
	ret = probe_put(p, "If-None-Match", "*", "{\"selftest\":1}", err);
	/* a create never sent, or refused by the store, left nothing to remove */
	*created = !(ret == ERR_CONNECT || ret == ERR_CREDENTIALS || ret == ERR_USAGE ||
	             (ret == ERR_HTTP && p->sr.status >= 400 && p->sr.status < 500));
	if (ret) {
		err_prefix(err, "store self-test: creating %s failed", p->key);
		return probe_transient(ret, &p->sr, err) ? PROBE_AGAIN : ret;
	}
	snprintf(etag, sizeof(etag), "%s", p->sr.etag);
	ret = probe_put(p, "If-None-Match", "*", "{\"selftest\":2}", &e);
	if (ret && p->sr.status != 412)
		return probe_failed(p, ret, &e, err, "the second create of", "");
	if (ret == 0) {
		err_set(err, ERR_HTTP,
		        "store does not enforce If-None-Match (a second create of %s succeeded, "
		        "not 412): versioned or Object Lock bucket on Ceph RGW? Such a store "
		        "gives no mutual exclusion",
		        p->key);
		return probe_refused(p, err, 412);
	}
	ret = probe_put(p, "If-Match", "\"0123456789abcdef0123456789abcdef\"", "{\"selftest\":3}",
	                &e);
	if (ret && p->sr.status != 412 && p->sr.status != 409)
		return probe_failed(p, ret, &e, err, "a PUT of", " with a wrong ETag");
	if (ret == 0) {
		err_set(err, ERR_HTTP,
		        "store does not enforce If-Match (a PUT with a wrong ETag succeeded, not "
		        "412)");
		return probe_refused(p, err, err->http_status);
	}
	snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
	ret = probe_put(p, "If-Match", quoted, "{\"selftest\":4}", &e);
	if (ret == 0) {
		quoted_ok = 1;
		snprintf(etag, sizeof(etag), "%s", p->sr.etag);
	} else if (p->sr.status != 412) {
		return probe_failed(p, ret, &e, err, "a PUT of", " with its quoted ETag");
	}
	ret = probe_put(p, "If-Match", etag, "{\"selftest\":5}", &e);
	if (ret == 0)
		unquoted_ok = 1;
	else if (p->sr.status != 412)
		return probe_failed(p, ret, &e, err, "a PUT of", " with its unquoted ETag");
	if (!quoted_ok && !unquoted_ok) {
		err_set(err, ERR_HTTP,
		        "store does not honour If-Match with the object's own ETag (quoted or "
		        "not)");
		return probe_refused(p, err, err->http_status);
	}
	p->r->caps.match_quoted = quoted_ok;
	return PROBE_OK;
}

/* B6's last probe: does DELETE honour If-Match? */
static int probe_delete(struct probe *p, struct tf_error *err)
{
	struct s3_request req;
	struct http_header h = { "If-Match", "\"0123456789abcdef0123456789abcdef\"" };
	struct s3_reply g;
	struct tf_error e;
	int ret;
	err_clear(&e);
	memset(&req, 0, sizeof(req));
	req.method = "DELETE";
	req.key = p->key;
	req.headers = &h;
	req.nheaders = 1;
	req.abortable = 1;
	req.timeout_ms = p->timeout_ms;
	p->r->requests++;
	ret = s3_request(impl(p->r)->s3, &req, &p->sr, &e);
	if (ret == 0) {
		p->r->caps.cond_delete = 0; /* deleted despite the wrong ETag */
		return PROBE_OK;
	}
	if (p->sr.status != 412) {
		*err = e;
		err_prefix(err, "store self-test: a DELETE of %s with a wrong ETag failed", p->key);
		return probe_transient(ret, &p->sr, &e) ? PROBE_AGAIN : ret;
	}
	s3_reply_init(&g);
	p->r->requests++;
	ret = s3_head(impl(p->r)->s3, p->key, NULL, &g, &e);
	p->r->caps.cond_delete = ret == 0 && g.status == 200;
	if (ret && !(ret == ERR_HTTP && g.status == 404)) {
		*err = e;
		err_prefix(err, "store self-test: reading %s failed", p->key);
		ret = probe_transient(ret, &g, &e) ? PROBE_AGAIN : ret;
	} else {
		ret = PROBE_OK;
	}
	s3_reply_free(&g);
	return ret;
}

/* One round of B6 on `key`: PROBE_OK with caps filled, PROBE_AGAIN (err says
 * what failed) when an answer was a transient failure, or a negative error when
 * the store answered and is unusable (broken: a refused condition, 403, NoSuchBucket…). */
static int probe_round(struct record *r, const char *key, long timeout_ms, int *created,
                       int *broken, struct tf_error *err)
{
	struct probe p;
	int ret;
	memset(&p, 0, sizeof(p));
	p.r = r;
	p.key = key;
	p.timeout_ms = timeout_ms;
	s3_reply_init(&p.sr);
	ret = probe_puts(&p, created, err);
	if (ret == PROBE_OK)
		ret = probe_delete(&p, err);
	if (ret < 0 && !p.broken)
		p.broken = s3err_store_unusable(err);
	*broken = p.broken;
	s3_reply_free(&p.sr);
	return ret;
}

/* The scratch key: P.<8 hex>.selftest.tflock (P: the lock key without .tflock),
 * P cut at a UTF-8 boundary so the key stays within S3's 1024 bytes when the
 * lock key itself is near the limit. */
static char *scratch_key(const char *lock_key, const char *rnd)
{
	size_t n = strlen(lock_key), max = 1024 - 25;
	if (n >= 7 && !strcmp(lock_key + n - 7, ".tflock"))
		n -= 7;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)lock_key[n] & 0xC0) == 0x80)
			n--;
	}
	return xasprintf("%.*s.%s.selftest.tflock", (int)n, lock_key, rnd);
}

static int64_t scaled(double scale, int64_t ms)
{
	double v = (double)ms * scale;
	return v < 1 ? 1 : (int64_t)v;
}

/* Scratch objects, also those of abandoned rounds (a lost reply may have created
 * one): unconditional, each key is ours alone. */
static void remove_scratch(struct record *r, char **keys, const int *created, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct s3_reply sr;
		struct tf_error e;
		s3_reply_init(&sr);
		err_clear(&e);
		if (created[i]) {
			r->requests++;
			s3_delete(impl(r)->s3, keys[i], NULL, &sr, &e);
		}
		s3_reply_free(&sr);
		free(keys[i]);
	}
}

static int rs3_probe(struct record *r, struct record_probe *pb, struct tf_error *err)
{
	char rnd[37];
	char *keys[8];
	int created[8];
	unsigned nkeys = 0, round;
	int64_t start = clock_boot_ns(), last_print = 0;
	int ret = 0;

	pb->broken = 0;
	/* Rounds on fresh keys until one gets answers that speak about the store's
	 * conditions; a lost reply makes a probe's effect unknown, so its round is
	 * never continued. Bounded by the patience budget and 8 rounds. */
	for (round = 0;; round++) {
		lockinfo_new_id(rnd);
		rnd[8] = '\0';
		keys[nkeys] = scratch_key(impl(r)->key, rnd);
		ret = probe_round(r, keys[nkeys], pb->timeout_ms, &created[nkeys], &pb->broken,
		                  err);
		nkeys++;
		if (ret != PROBE_AGAIN)
			break;
		pb->broken = 0;
		if (http_aborting()) {
			err_prefix(err, "interrupted");
			ret = ERR_CANCELLED;
			break;
		}
		if (nkeys >= 8 || clock_boot_ns() - start >= pb->patience_ms * NS_PER_MS) {
			char d[32];
			dur_format((clock_boot_ns() - start) / NS_PER_MS, d, sizeof(d));
			err_prefix(err, "store unusable: self-test failed %u times in %s", nkeys,
			           d);
			err->kind = ERR_CONNECT;
			ret = ERR_CONNECT;
			break;
		}
		if (!last_print ||
		    clock_boot_ns() - last_print >= scaled(pb->scale, 5000) * NS_PER_MS) {
			log_warn("%s; retrying", err->msg);
			last_print = clock_boot_ns();
		}
		nap_ms(scaled(pb->scale, 200) + backoff_full_jitter(round, scaled(pb->scale, 200),
		                                                    scaled(pb->scale, 5000),
		                                                    rand_u64_default, NULL));
	}
	if (ret == PROBE_OK) {
		r->caps.known = 1;
		log_verbose("store self-test passed: If-Match takes the %s ETag; conditional "
		            "DELETE %s",
		            r->caps.match_quoted ? "quoted" : "unquoted",
		            r->caps.cond_delete ? "honoured" : "ignored (release renews first)");
	}
	remove_scratch(r, keys, created, nkeys);
	return ret;
}

/* At most this many listing pages (1000 keys each) for the queue: a queue is
 * never that long. */
#define LIST_MAX_PAGES 20

/* A key of a listing asked with encoding-type=url, decoded in place: %XX is the
 * byte XX, '+' a space (AWS writes spaces as '+' and '+' as %2B; RGW writes %20
 * and %2B). A '%' not followed by two hex digits, or %00, is kept as it is. */
static void url_key_decode(char *s)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		int hi = *p == '%' ? hex_value(p[1]) : -1, lo = hi >= 0 ? hex_value(p[2]) : -1;
		if (lo >= 0 && (hi || lo)) {
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*w++ = *p == '+' ? ' ' : *p;
		}
	}
	*w = '\0';
}

/* LastModified (2026-01-02T03:04:05.678Z) in ms since the epoch, or -1. */
static int64_t modified_ms(const char *s)
{
	struct timespec ts;
	if (!s || rfc3339_parse(s, RFC3339_AWS, &ts))
		return -1;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_add(struct record_list *out, char *key, const char *etag, const char *size,
                     const char *modified)
{
	char norm[RECORD_VERSION_MAX];
	s3_etag_normalise(etag ? etag : "", norm, sizeof(norm));
	out->names = xrealloc(out->names, (out->n + 1) * sizeof(*out->names));
	out->versions = xrealloc(out->versions, (out->n + 1) * sizeof(*out->versions));
	out->sizes = xrealloc(out->sizes, (out->n + 1) * sizeof(*out->sizes));
	out->modified_ms = xrealloc(out->modified_ms, (out->n + 1) * sizeof(*out->modified_ms));
	out->names[out->n] = key;
	out->sizes[out->n] = size && *size ? strtoll(size, NULL, 10) : -1;
	out->modified_ms[out->n] = modified_ms(modified);
	out->versions[out->n++] = xstrdup(norm);
}

int record_s3_list_page(const char *xml, size_t len, struct record_list *out, char **token,
                        struct tf_error *err)
{
	const char *p = xml, *end = xml + len, *c, *ce;
	char *trunc = xml_text(p, end, "IsTruncated"), *enc = xml_text(p, end, "EncodingType");
	int url = enc && !strcmp(enc, "url");
	free(enc);
	*token = NULL;
	if (trunc && !strcmp(trunc, "true")) {
		*token = xml_text(p, end, "NextContinuationToken");
		if (!*token || !**token) {
			free(trunc);
			free(*token);
			*token = NULL;
			return err_set(err, ERR_PARSE, "a truncated listing without a token");
		}
	}
	free(trunc);
	while (xml_find(p, end, "Contents", &c, &ce) && ce) {
		char *key = xml_text(c, ce, "Key"), *etag = xml_text(c, ce, "ETag");
		char *size = xml_text(c, ce, "Size"), *mod = xml_text(c, ce, "LastModified");
		if (key) {
			if (url)
				url_key_decode(key);
			list_add(out, key, etag, size, mod);
		}
		free(etag);
		free(size);
		free(mod);
		p = ce + 1;
	}
	return 0;
}

/* Keys a page of a listing asks for: TFLOCK_LIST_PAGE_KEYS (a test setting,
 * 1..1000), else the store's default (1000); NULL for the default. */
static const char *page_keys(void)
{
	const char *v = getenv("TFLOCK_LIST_PAGE_KEYS");
	char *end;
	long n;
	if (!v || !*v)
		return NULL;
	n = strtol(v, &end, 10);
	return *end || n < 1 || n > 1000 ? NULL : v;
}

int record_s3_list_all(struct record *r, const char *prefix, const struct record_call *c,
                       unsigned max_pages, struct record_list *out, struct tf_error *err)
{
	char *token = NULL;
	const char *keys = page_keys();
	int ret = 0;
	unsigned page;
	memset(out, 0, sizeof(*out));
	for (page = 0; !max_pages || page < max_pages; page++) {
		struct sigv4_pair q[5] = { { "list-type", "2" },
			                   { "encoding-type", "url" },
			                   { "prefix", prefix } };
		struct s3_request req;
		struct s3_reply sr;
		size_t nq = 3;
		if (keys)
			q[nq++] = (struct sigv4_pair){ "max-keys", keys };
		if (token)
			q[nq++] = (struct sigv4_pair){ "continuation-token", token };
		memset(&req, 0, sizeof(req));
		req.method = "GET";
		req.headers = &no_cache;
		req.nheaders = 1;
		req.query = q;
		req.nquery = nq;
		req.timeout_ms = c->timeout_ms;
		req.deadline_ns = c->deadline_ns;
		req.no_retry = c->no_retry;
		req.abortable = c->abortable;
		r->requests++;
		s3_reply_init(&sr);
		ret = s3_request(impl(r)->s3, &req, &sr, err);
		free(token);
		token = NULL;
		out->t_recv = sr.t_recv;
		if (!ret)
			ret = record_s3_list_page(sr.body.data ? sr.body.data : "", sr.body.len,
			                          out, &token, err);
		else
			out->t_recv = 0;
		s3_reply_free(&sr);
		if (ret || !token)
			break;
	}
	if (!ret && token)
		ret = err_set(err, ERR_PARSE, "listing %s: more than %u pages", prefix, max_pages);
	free(token);
	if (ret)
		record_list_free(out);
	return ret;
}

/* ListObjectsV2 of the prefix, every page (B13). */
static int rs3_list(struct record *r, const char *prefix, const struct record_call *c,
                    struct record_list *out, struct tf_error *err)
{
	return record_s3_list_all(r, prefix, c, LIST_MAX_PAGES, out, err);
}

static const char *rs3_describe_store(const struct record *r)
{
	return s3_client_describe(impl(r)->s3);
}

static void rs3_free(struct record *r)
{
	struct rs3 *s = impl(r);
	if (s)
		free(s->key);
	free(s);
}

static const struct record_ops s3_ops = {
	.kind = "s3-object",
	.read = rs3_read,
	.create = rs3_create,
	.replace = rs3_replace,
	.remove = rs3_remove,
	.list = rs3_list,
	.probe = rs3_probe,
	.describe_store = rs3_describe_store,
	.free = rs3_free,
};

struct record *record_s3_new(struct s3_client *s3, const char *key, const struct record_s3_opts *o)
{
	struct record *r = xcalloc(1, sizeof(*r));
	struct rs3 *s = xcalloc(1, sizeof(*s));
	s->s3 = s3;
	s->key = xstrdup(key);
	if (o)
		s->o = *o;
	r->ops = &s3_ops;
	r->impl = s;
	r->name = xasprintf("s3://%s/%s", s3_client_bucket(s3), key);
	r->caps.not_modified = 1;
	if (s3_client_is_aws(s3)) {
		r->caps.known = 1;
		r->caps.match_quoted = 1;
		r->caps.cond_delete = 1;
	}
	return r;
}
