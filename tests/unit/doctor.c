/*
 * Unit tests for wrapper/doctor.c: the verdict of every check from canned
 * store answers (tests/helpers/stub-http standing in for the store), so the
 * answers the local gateway cannot give are covered too: conditional DELETE
 * honoured, versioning on with the self-test passing, default encryption
 * configured, public access block on, lifecycle rules filtered by lock tags,
 * a skewed clock, an API answered 501. The real gateway is checked by
 * tests/integration/doctor.sh.
 */
#include "doctor.h"
#include "fixture.h"
#include "lock.h"
#include "s3.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOSED "http://127.0.0.1:9" /* discard port: nothing listens */

/* the bucket answers, then the self-test: create 200, create again 412, wrong
 * If-Match 412, right ETag 200 (quoted and unquoted), conditional DELETE 412
 * with the object still there (HEAD 200), then the clean-up DELETE */
static const char selftest_routes[] = "PUT /b/k/ 200 -\n"
                                      "  ETag: \"0123\"\n"
                                      "PUT /b/k/ 412 -\n"
                                      "PUT /b/k/ 412 -\n"
                                      "PUT /b/k/ 200 -\n"
                                      "  ETag: \"0123\"\n"
                                      "DELETE /b/k/ 412 -\n"
                                      "DELETE /b/k/ 204 -\n"
                                      "HEAD /b/k/ 200 -\n";

struct answers {
	const char *date;          /* Date header of the bucket HEAD */
	const char *versioning;    /* GET ?versioning: "STATUS FILE" */
	const char *encryption;    /* GET ?encryption */
	const char *pab;           /* GET ?publicAccessBlock */
	const char *lifecycle;     /* GET ?lifecycle */
	const char *lock_tags;     /* --lock-tags */
	int backend, use_lockfile; /* the Terraform side */
	const char *dynamodb;
};

/* run doctor against a stub answering a; returns its output (malloc'd), *fails set */
static char *run_doctor(const char *name, const struct answers *a, int *fails)
{
	struct server s;
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct lock *l;
	struct lock_opts o;
	struct doctor_input in;
	struct tf_error err;
	char routes[8192], outname[128], *out;
	int saved;

	snprintf(routes, sizeof(routes),
	         "HEAD /b/$ 200 -\n  Date: %s\n%s"
	         "GET /b/?versioning %s\nGET /b/?encryption %s\nGET /b/?publicAccessBlock %s\n"
	         "GET /b/?lifecycle %s\n",
	         a->date, selftest_routes, a->versioning, a->encryption, a->pab, a->lifecycle);
	stub_start(&s, name, routes);

	memset(&sc, 0, sizeof(sc));
	sc.endpoint = s.url;
	sc.bucket = "b";
	sc.path_style = 1;
	err_clear(&err);
	if (s3_client_new(&sc, &s3, &err))
		bail("s3_client_new: %s", err.msg);
	memset(&o, 0, sizeof(o));
	o.lease_ms = 120000;
	o.lease_s = 120;
	o.time_scale = 1;
	o.timeout_ms = -1;
	o.operation = "doctor";
	l = lock_new(s3, "k/terraform.tfstate", &o, &err);
	if (!l)
		bail("lock_new: %s", err.msg);

	memset(&in, 0, sizeof(in));
	in.s3 = s3;
	in.lock = l;
	in.backend_found = a->backend;
	in.use_lockfile = a->use_lockfile;
	in.dynamodb_table = a->dynamodb;
	in.lock_tags = a->lock_tags;
	snprintf(outname, sizeof(outname), "%s.out", name);
	saved = fd_to(1, path_in(outname));
	*fails = doctor_run(&in);
	fd_restore(1, saved);
	out = slurp(path_in(outname), NULL);

	lock_free(l);
	s3_client_free(s3);
	free(server_stop(&s, NULL));
	return out;
}

static char *file(const char *name, const char *content)
{
	return wfile(name, content);
}

static void http_date(time_t t, char *buf, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int main(void)
{
	char now[64], old[64], ver[600], enc[600], pab[600], lc[1200], nolc[600], skew[64];
	struct answers a;
	int fails;
	char *out;

	plan_lazy();
	fixture_init("doctor");
	fixture_helper("stub-http");
	fixture_static_keys();
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL"); /* no STS to ask */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", CLOSED, 1);

	http_date(time(NULL), now, sizeof(now));
	http_date(time(NULL) - 1200, old, sizeof(old));
	http_date(time(NULL) - 120, skew, sizeof(skew));
	snprintf(ver, sizeof(ver), "200 %s",
	         file("ver.xml", "<VersioningConfiguration><Status>Enabled</Status>"
	                         "</VersioningConfiguration>"));
	snprintf(enc, sizeof(enc), "200 %s",
	         file("enc.xml", "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncry"
	                         "ptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServ"
	                         "erSideEncryptionByDefault></Rule></ServerSideEncryptionConfigu"
	                         "ration>"));
	snprintf(pab, sizeof(pab), "200 %s",
	         file("pab.xml", "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPu"
	                         "blicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublic"
	                         "Policy>true</BlockPublicPolicy><RestrictPublicBuckets>true</Re"
	                         "strictPublicBuckets></PublicAccessBlockConfiguration>"));
	snprintf(lc, sizeof(lc), "200 %s",
	         file("lc.xml", "<LifecycleConfiguration><Rule><ID>state</ID><Filter><Tag><Key>"
	                        "expire</Key><Value>state</Value></Tag></Filter><Status>Enabled"
	                        "</Status><Expiration><Days>9</Days></Expiration></Rule><Rule>"
	                        "<ID>locks</ID><Filter><And><Tag><Key>expire</Key><Value>lock"
	                        "</Value></Tag></And></Filter><Status>Enabled</Status><Noncurre"
	                        "ntVersionExpiration><NoncurrentDays>1</NoncurrentDays></Noncur"
	                        "rentVersionExpiration></Rule></LifecycleConfiguration>"));
	snprintf(nolc, sizeof(nolc), "404 %s",
	         file("nolc.xml", "<Error><Code>NoSuchLifecycleConfiguration</Code><Message>no"
	                          "</Message></Error>"));

	/* everything a well-kept bucket on an S3 that honours conditional DELETE answers */
	memset(&a, 0, sizeof(a));
	a.date = now;
	a.versioning = ver;
	a.encryption = enc;
	a.pab = pab;
	a.lifecycle = lc;
	a.lock_tags = "team=infra,expire=lock";
	a.backend = 1;
	a.use_lockfile = 1;
	out = run_doctor("good", &a, &fails);
	is_int(0, fails, "a well-kept bucket: no failed check");
	contains(out, "PASS    credentials: from environment",
	         "credentials pass, naming the source");
	contains(out, "UNKNOWN identity: not on AWS and no STS endpoint",
	         "no STS to ask: identity UNKNOWN");
	contains(out, "PASS    bucket: 'b' at ", "the bucket answers");
	contains(out, "PASS    clock: this machine's clock is ", "the clock is compared");
	contains(out,
	         "PASS    store self-test: conditional writes enforced; If-Match takes the quoted "
	         "ETag; conditional DELETE honoured",
	         "the self-test finds conditional DELETE honoured");
	contains(out,
	         "PASS    versioning: enabled, and the store still enforces conditional writes",
	         "versioning on where the self-test passes");
	contains(out, "PASS    default encryption: configured", "default encryption configured");
	contains(out, "PASS    public access block: all four settings on", "public access block");
	contains(
	        out,
	        "PASS    lifecycle: a rule filtered by the lock tag expire=lock expires noncurrent "
	        "versions",
	        "the lifecycle rule filtered by a lock tag (inside <And>) is found");
	contains(out, "PASS    use_lockfile: true", "use_lockfile true");
	lacks(out, "dynamodb_table", "no DynamoDB line without a table");
	free(out);

	/* the same lifecycle without matching tags; a tag only on a rule without
	 * noncurrent expiry does not count */
	a.lock_tags = "expire=state";
	out = run_doctor("tag-elsewhere", &a, &fails);
	contains(out, "PASS    lifecycle: expires noncurrent versions",
	         "a tag on a rule that does not expire noncurrent versions is not the lock rule");
	lacks(out, "filtered by the lock tag", "and is not reported as such");
	free(out);

	/* versioned, no lifecycle, tags given: WARN whose fix names the tag */
	a.lifecycle = nolc;
	a.lock_tags = "purpose=tflock";
	out = run_doctor("nolc", &a, &fails);
	is_int(0, fails, "a missing lifecycle is a warning, not a failure");
	contains(out,
	         "WARN    lifecycle: no rules — add a lifecycle rule filtered by the lock tag "
	         "purpose=tflock expiring noncurrent versions",
	         "the fix names the lock tag to filter on");
	free(out);

	/* APIs the store does not have: UNKNOWN, never PASS; a clock 20 min off fails */
	a.date = old;
	a.versioning = "501 -";
	a.encryption = "501 -";
	a.pab = "501 -";
	a.lifecycle = "501 -";
	a.backend = 1;
	a.use_lockfile = 0;
	a.dynamodb = "tf-locks";
	out = run_doctor("bare", &a, &fails);
	is_int(1, fails,
	       "one failed check: the clock (a table-only backend passes: tflock holds the item)");
	contains(out, "FAIL    clock: this machine's clock is 1", "a clock 20 minutes off fails");
	contains(out, " s ahead of the store's — fix the clock (NTP)",
	         "saying which way, with the fix");
	contains(out, "UNKNOWN versioning:", "versioning unanswered: UNKNOWN");
	contains(out, "UNKNOWN default encryption: the store does not answer this API",
	         "encryption unanswered: UNKNOWN");
	contains(out, "UNKNOWN public access block: the store does not answer this API",
	         "public access block unanswered: UNKNOWN");
	contains(out, "UNKNOWN lifecycle: the store does not answer this API",
	         "lifecycle unanswered: UNKNOWN");
	contains(out,
	         "PASS    dynamodb_table: tf-locks: tflock holds Terraform's DynamoDB lock item",
	         "use_lockfile false with a table: the item is held, and said so");
	contains(out, "WARN    dynamodb_table: deprecated by Terraform 1.11",
	         "the table's deprecation is named, with the migration path");
	lacks(out, "PASS    versioning", "nothing unanswered passes");
	free(out);

	/* a clock 2 minutes off warns */
	a.date = skew;
	a.use_lockfile = 1;
	a.dynamodb = NULL;
	out = run_doctor("skew", &a, &fails);
	is_int(0, fails, "2 minutes of skew is not a failure");
	contains(out, "WARN    clock: this machine's clock is ", "but a warning");
	free(out);

	fixture_done();
	return 0;
}
