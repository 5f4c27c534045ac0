#include "doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "sanitize.h"
#include "xml.h"

enum verdict { V_PASS, V_WARN, V_FAIL, V_UNKNOWN };
static const char *const vname[] = { "PASS", "WARN", "FAIL", "UNKNOWN" };

static int fails;

/* detail and fix may quote the store (error text, caller identity): escaped */
static void line(enum verdict v, const char *what, const char *detail, const char *fix)
{
	struct buf d = BUF_INIT, f = BUF_INIT;
	sanitize_text(&d, detail ? detail : "", SANITIZE_TEXT_MAX);
	sanitize_text(&f, fix ? fix : "", SANITIZE_TEXT_MAX);
	printf("%-7s %s: %s%s%s\n", vname[v], what, d.data ? d.data : "", f.len ? " — " : "",
	       f.data ? f.data : "");
	buf_free(&d);
	buf_free(&f);
	if (v == V_FAIL)
		fails++;
}

/* GET a bucket subresource; returns the HTTP status (0 when no answer). */
static long get_sub(struct s3_client *s3, const char *sub, struct s3_reply *r, struct tf_error *err)
{
	struct s3_request req;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.subresource = sub;
	s3_reply_free(r);
	s3_request(s3, &req, r, err);
	return r->status;
}

static int unsupported(long status, const struct tf_error *err)
{
	return status == 501 || status == 405 || !strcmp(err->s3_code, "NotImplemented") ||
	       !strcmp(err->s3_code, "MethodNotAllowed") || status == 0;
}

static void check_skew(const struct s3_reply *r)
{
	time_t date;
	char d[128];
	long skew;
	if (clock_parse_http_date(r->date, &date)) {
		line(V_UNKNOWN, "clock", "the store sent no Date header", NULL);
		return;
	}
	skew = (long)(time(NULL) - date);
	snprintf(d, sizeof(d), "this machine's clock is %ld s %s the store's", labs(skew),
	         skew >= 0 ? "ahead of" : "behind");
	if (labs(skew) < 60)
		line(V_PASS, "clock", d, NULL);
	else if (labs(skew) < 300)
		line(V_WARN, "clock", d, "fix the clock (NTP): S3 refuses requests 15 minutes off");
	else
		line(V_FAIL, "clock", d, "fix the clock (NTP): S3 refuses requests 15 minutes off");
}

/* The content of the first element name in body (NULL: none) as [*c, *ce),
 * running to the end of body when it is not closed: 1, or 0 without one. */
static int element(const char *body, const char *name, const char **c, const char **ce)
{
	const char *end = body ? body + strlen(body) : NULL;
	if (!xml_find(body, end, name, c, ce))
		return 0;
	if (!*ce)
		*ce = end;
	return 1;
}

/* Whether the first element name in [p, end) is closed and its text (trimmed,
 * decoded) is the n bytes of want. */
static int text_is(const char *p, const char *end, const char *name, const char *want, size_t n)
{
	char *t = xml_text(p, end, name);
	int r = t && strlen(t) == n && !memcmp(t, want, n);
	free(t);
	return r;
}

/* Whether a <Tag> in the rule [p, end) has the key and value given. */
static int rule_has_tag(const char *p, const char *end, const char *k, size_t klen, const char *v,
                        size_t vlen)
{
	const char *tb, *te;
	for (; xml_find(p, end, "Tag", &tb, &te) && te; p = te)
		if (text_is(tb, te, "Key", k, klen) && text_is(tb, te, "Value", v, vlen))
			return 1;
	return 0;
}

/* Whether one enabled <Rule> of a lifecycle configuration's content [p, end)
 * expires noncurrent versions and filters on the tag k=v. */
static int lifecycle_has_rule(const char *p, const char *end, const char *k, size_t klen,
                              const char *v, size_t vlen)
{
	const char *rb, *re, *nb, *ne;
	for (; xml_find(p, end, "Rule", &rb, &re) && re; p = re)
		if (text_is(rb, re, "Status", "Enabled", 7) &&
		    xml_find(rb, re, "NoncurrentVersionExpiration", &nb, &ne) &&
		    rule_has_tag(rb, re, k, klen, v, vlen))
			return 1;
	return 0;
}

/* Whether one <Rule> of a lifecycle configuration's content [p, end) both
 * expires noncurrent versions and filters on one of the lock tags
 * ("k=v,..."); that tag to out. */
static int lifecycle_tag_rule(const char *p, const char *end, const char *tags, char *out, size_t n)
{
	for (const char *t = tags; t && *t;) {
		size_t len = strcspn(t, ","), klen = strcspn(t, "=");
		if (klen < len &&
		    lifecycle_has_rule(p, end, t, klen, t + klen + 1, len - klen - 1)) {
			snprintf(out, n, "%.*s", (int)len, t);
			return 1;
		}
		t += len;
		if (*t)
			t++;
	}
	return 0;
}

/* who the credentials belong to: STS GetCallerIdentity, where there is an STS */
static void check_identity(struct s3_client *s3)
{
	struct creds_identity id;
	struct tf_error err;

	if (!s3_client_has_sts(s3)) {
		line(V_UNKNOWN, "identity",
		     "not on AWS and no STS endpoint set (AWS_ENDPOINT_URL_STS): nothing to ask",
		     NULL);
		return;
	}
	err_clear(&err);
	if (s3_client_caller_identity(s3, &id, &err) == 0) {
		char d[1024];
		snprintf(d, sizeof(d), "%s (account %s)", id.arn, id.account ? id.account : "?");
		line(V_PASS, "identity", d, NULL);
		creds_identity_free(&id);
		return;
	}
	/* STS refused these credentials; anything else (no such API on this STS,
	 * STS disabled in the region, no answer) leaves it open */
	{
		static const char *const refusals[] = {
			"InvalidClientTokenId", "SignatureDoesNotMatch",
			"IncompleteSignature",  "ExpiredToken",
			"AccessDenied",         "UnrecognizedClientException"
		};
		int refused = 0;
		for (size_t i = 0;
		     err.kind == ERR_HTTP && i < sizeof(refusals) / sizeof(refusals[0]); i++)
			refused |= !strcmp(err.s3_code, refusals[i]);
		if (refused)
			line(V_FAIL, "identity", err.msg,
			     "STS refuses these credentials: check the keys, the profile or the "
			     "role");
		else
			line(V_UNKNOWN, "identity", err.msg, NULL);
	}
}

/* What later checks need to know from earlier ones. */
struct doctor_state {
	int selftest_ok, versioned;
	struct s3_reply r;
	struct tf_error err;
};

/* The bucket is reachable in the right region; also the clock, from its reply.
 * 0, or -1 when nothing else can be checked. */
static int check_bucket(const struct doctor_input *in, struct doctor_state *ds)
{
	struct s3_request req;
	long st;
	memset(&req, 0, sizeof(req));
	req.method = "HEAD";
	/* success or not, the reply's status decides (an HTTP error sets it too) */
	(void)s3_request(in->s3, &req, &ds->r, &ds->err);
	st = ds->r.status;
	if (st == 200) {
		char d[2048];
		snprintf(d, sizeof(d), "'%s' at %s", s3_client_bucket(in->s3),
		         s3_client_describe(in->s3));
		line(V_PASS, "bucket", d, NULL);
		check_skew(&ds->r);
		return 0;
	}
	/* a HEAD reply has no body: a GET of the lock names the S3 error */
	if (st == 403 || st == 400) {
		struct lock_view v;
		lock_view_init(&v);
		err_clear(&ds->err);
		lock_read(in->lock, &v, &ds->err);
		lock_view_free(&v);
	}
	line(V_FAIL, "bucket", ds->err.msg[0] ? ds->err.msg : "no answer",
	     st == 404   ? "create it, or fix --bucket"
	     : st == 403 ? "grant s3:ListBucket and the object permissions (examples/iam)"
	                 : NULL);
	return -1;
}

/* the store self-test (B6) */
static void check_selftest(const struct doctor_input *in, struct doctor_state *ds)
{
	char d[512];
	err_clear(&ds->err);
	if (lock_selftest(in->lock, 1, &ds->err)) {
		line(V_FAIL, "store self-test", ds->err.msg,
		     "use a store that enforces If-None-Match/If-Match (on Ceph RGW 16: a "
		     "non-versioned bucket)");
		return;
	}
	ds->selftest_ok = 1;
	for (unsigned i = 0; lock_member(in->lock, i); i++) {
		struct lock *m = lock_member(in->lock, i);
		if (!strncmp(lock_url(m), "dynamodb://", 11)) { /* PROTOCOL B11 */
			snprintf(d, sizeof(d),
			         "%s at %s: key LockID (S), conditional PutItem and DeleteItem "
			         "enforced",
			         lock_url(m), lock_store_describe(m));
			line(V_PASS, "dynamodb self-test", d, NULL);
			if (lock_caps(m)->read_units > 0 && lock_caps(m)->read_units < 10) {
				snprintf(d, sizeof(d),
				         "%ld read capacity units provisioned: each waiting run "
				         "reads "
				         "the item once a second (strongly consistent), so a few "
				         "waiters throttle the table",
				         lock_caps(m)->read_units);
				line(V_WARN, "dynamodb capacity", d,
				     "use on-demand billing (PAY_PER_REQUEST), or provision more "
				     "read "
				     "capacity than runs that may wait at once");
			}
			if (lock_caps(m)->replicated)
				line(V_WARN, "dynamodb global table",
				     "the table has replicas in other regions: writes in different "
				     "regions do not exclude each other",
				     "lock through one region only (every client's backend names "
				     "the "
				     "same region), or use the lock file (use_lockfile = true)");
			continue;
		}
		snprintf(d, sizeof(d),
		         "conditional writes enforced; If-Match takes the %s ETag; conditional "
		         "DELETE %s",
		         lock_caps(m)->match_quoted ? "quoted" : "unquoted",
		         lock_caps(m)->cond_delete ? "honoured"
		                                   : "ignored (release renews, then deletes once)");
		line(V_PASS, "store self-test", d, NULL);
	}
}

static void check_versioning(const struct doctor_input *in, struct doctor_state *ds)
{
	const char *c, *ce;
	long st;
	int selftest_ok = ds->selftest_ok;
	err_clear(&ds->err);
	st = get_sub(in->s3, "versioning", &ds->r, &ds->err);
	if (st != 200) {
		line(V_UNKNOWN, "versioning", ds->err.msg[0] ? ds->err.msg : "no answer", NULL);
		return;
	}
	if (!element(ds->r.body.data, "VersioningConfiguration", &c, &ce)) {
		line(V_UNKNOWN, "versioning", "the store does not answer this API", NULL);
		return;
	}
	ds->versioned = text_is(c, ce, "Status", "Enabled", 7);
	if (s3_client_is_aws(in->s3))
		line(ds->versioned ? V_PASS : V_WARN, "versioning",
		     ds->versioned ? "enabled" : "not enabled",
		     ds->versioned ? NULL : "enable it: a bad state write can then be undone");
	else if (ds->versioned)
		line(selftest_ok ? V_PASS : V_FAIL, "versioning",
		     selftest_ok ? "enabled, and the store still enforces conditional writes"
		                 : "enabled, and this store then ignores conditional writes",
		     selftest_ok ? NULL : "suspend versioning on this bucket or use another store");
	else
		line(V_PASS, "versioning",
		     "not enabled (not recommended on this store: Ceph RGW 16 ignores conditional "
		     "writes in versioned buckets)",
		     NULL);
}

static void check_encryption(const struct doctor_input *in, struct doctor_state *ds)
{
	const char *c, *ce;
	long st;
	err_clear(&ds->err);
	st = get_sub(in->s3, "encryption", &ds->r, &ds->err);
	/* some stores answer an unknown subresource with a bucket listing */
	if (st == 200 && !element(ds->r.body.data, "ServerSideEncryptionConfiguration", &c, &ce))
		line(V_UNKNOWN, "default encryption", "the store does not answer this API", NULL);
	else if (st == 200)
		line(V_PASS, "default encryption", "configured", NULL);
	else if (st == 404 && strstr(ds->err.s3_code, "ServerSideEncryptionConfigurationNotFound"))
		line(V_WARN, "default encryption", "not configured",
		     "enable default encryption (SSE-S3 or SSE-KMS), see examples/bootstrap");
	else
		line(V_UNKNOWN, "default encryption",
		     unsupported(st, &ds->err) ? "the store does not answer this API" : ds->err.msg,
		     NULL);
}

static void check_public_access(const struct doctor_input *in, struct doctor_state *ds)
{
	static const char *const settings[] = { "BlockPublicAcls", "IgnorePublicAcls",
		                                "BlockPublicPolicy", "RestrictPublicBuckets" };
	const char *c, *ce;
	long st;
	int all = 1;
	err_clear(&ds->err);
	st = get_sub(in->s3, "publicAccessBlock", &ds->r, &ds->err);
	if (st == 404 && strstr(ds->err.s3_code, "NoSuchPublicAccessBlockConfiguration")) {
		line(V_WARN, "public access block", "none",
		     "turn on all four public access block settings");
		return;
	}
	if (st != 200) {
		line(V_UNKNOWN, "public access block",
		     unsupported(st, &ds->err) || st == 404 ? "the store does not answer this API"
		                                            : ds->err.msg,
		     NULL);
		return;
	}
	if (!element(ds->r.body.data, "PublicAccessBlockConfiguration", &c, &ce)) {
		line(V_UNKNOWN, "public access block", "the store does not answer this API", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		all &= text_is(c, ce, settings[i], "true", 4);
	line(all ? V_PASS : V_WARN, "public access block",
	     all ? "all four settings on" : "not all on",
	     all ? NULL : "turn on all four public access block settings");
}

/* lifecycle for noncurrent lock versions, best filtered by a lock tag */
static void check_lifecycle(const struct doctor_input *in, struct doctor_state *ds)
{
	char d[2048], fix[2048], tag[1600] = "";
	const char *c, *ce, *nb, *ne;
	long st;
	int nc, tagged;
	err_clear(&ds->err);
	st = get_sub(in->s3, "lifecycle", &ds->r, &ds->err);
	if (in->lock_tags && *in->lock_tags)
		snprintf(fix, sizeof(fix),
		         "add a lifecycle rule filtered by the lock tag %.*s expiring noncurrent "
		         "versions (every heartbeat writes one)",
		         (int)strcspn(in->lock_tags, ","), in->lock_tags);
	else
		snprintf(fix, sizeof(fix),
		         "add a lifecycle rule expiring noncurrent versions of *.tflock (every "
		         "heartbeat writes one; --lock-tags lets a rule pick them; see "
		         "examples/bootstrap)");
	if (st == 404 && strstr(ds->err.s3_code, "NoSuchLifecycleConfiguration")) {
		line(ds->versioned ? V_WARN : V_PASS, "lifecycle", "no rules",
		     ds->versioned ? fix : NULL);
		return;
	}
	if (st != 200) {
		line(V_UNKNOWN, "lifecycle",
		     unsupported(st, &ds->err) ? "the store does not answer this API" : ds->err.msg,
		     NULL);
		return;
	}
	if (!element(ds->r.body.data, "LifecycleConfiguration", &c, &ce)) {
		line(V_UNKNOWN, "lifecycle", "the store does not answer this API", NULL);
		return;
	}
	nc = xml_find(c, ce, "NoncurrentVersionExpiration", &nb, &ne);
	tagged = nc && lifecycle_tag_rule(c, ce, in->lock_tags, tag, sizeof(tag));
	if (tagged)
		snprintf(d, sizeof(d),
		         "a rule filtered by the lock tag %s expires noncurrent versions", tag);
	else
		snprintf(d, sizeof(d), "%s",
		         nc ? "expires noncurrent versions" : "no rule for noncurrent versions");
	line(nc ? V_PASS : (ds->versioned ? V_WARN : V_PASS), "lifecycle", d,
	     nc || !ds->versioned ? NULL : fix);
}

/* the Terraform side */
static void check_backend(const struct doctor_input *in)
{
	if (!in->backend_found)
		line(V_UNKNOWN, "terraform backend", "no initialised backend here (.terraform)",
		     "run doctor where 'terraform init' ran to check use_lockfile");
	else if (in->use_lockfile == 1)
		line(V_PASS, "use_lockfile",
		     "true: plain terraform runs and tflock exclude each other", NULL);
	else if (!in->dynamodb_table || !*in->dynamodb_table)
		line(V_FAIL, "use_lockfile",
		     "not true: plain terraform runs do not see tflock's lock",
		     "set use_lockfile = true in the s3 backend and run 'terraform init "
		     "-reconfigure'");
	if (in->backend_found && in->dynamodb_table && *in->dynamodb_table) {
		char d[512];
		snprintf(d, sizeof(d),
		         "%s: tflock holds Terraform's DynamoDB lock item%s (PROTOCOL B11, B12)",
		         in->dynamodb_table, in->use_lockfile == 1 ? " and the lock file" : "");
		line(V_PASS, "dynamodb_table", d, NULL);
		line(V_WARN, "dynamodb_table", "deprecated by Terraform 1.11",
		     "migrate: set use_lockfile = true next to dynamodb_table (tflock holds both), "
		     "then remove dynamodb_table once every client uses the lock file "
		     "(examples/backend/migrate-from-dynamodb)");
	}
}

int doctor_run(const struct doctor_input *in)
{
	struct doctor_state ds;
	char d[2048];

	fails = 0;
	memset(&ds, 0, sizeof(ds));
	s3_reply_init(&ds.r);
	err_clear(&ds.err);
	if (!in->s3) {
		line(V_FAIL, "credentials", in->creds_error ? in->creds_error : "none resolved",
		     "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or web identity");
		return fails;
	}
	snprintf(d, sizeof(d), "from %s", s3_client_creds_source(in->s3));
	line(V_PASS, "credentials", d, NULL);
	check_identity(in->s3);
	if (check_bucket(in, &ds) == 0) {
		check_selftest(in, &ds);
		check_versioning(in, &ds);
		check_encryption(in, &ds);
		check_public_access(in, &ds);
		check_lifecycle(in, &ds);
		check_backend(in);
	}
	s3_reply_free(&ds.r);
	return fails;
}
