/*
 * Unit tests for wrapper/lockinfo: the exact bytes we write, what we read back, the
 * time format, and the classification of every body in tests/corpus/lockinfo/.
 */
#include "lockinfo.h"
#include "tap/basic.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *classname(int c)
{
	return c == LOCKINFO_TFLOCK      ? "TFLOCK"
	       : c == LOCKINFO_FOREIGN   ? "FOREIGN"
	       : c == LOCKINFO_MALFORMED ? "MALFORMED"
	                                 : "?";
}

static void fill(struct lockinfo *li)
{
	lockinfo_init(li);
	li->id = xstrdup("8a0b2c4d-1e2f-3a4b-5c6d-7e8f9a0b1c2d");
	li->operation = xstrdup("OperationTypeApply");
	li->info = xstrdup("");
	li->who = xstrdup("alice@laptop");
	li->version = xstrdup("1.11.4");
	li->created = xstrdup("2025-03-04T12:34:56.789012345Z");
	li->path = xstrdup("bucket/env:/prod/terraform.tfstate");
}

static void fill_tflock(struct lockinfo *li)
{
	li->has_tflock = 1;
	li->tf.v = 1;
	li->tf.lease = 120;
	li->tf.seq = 7;
	li->tf.pid = 123;
	li->tf.host = xstrdup("build-7");
	li->tf.boot_id = xstrdup("3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718");
	li->tf.ci = xstrdup("https://ci.example.com/g/p/-/jobs/991");
	li->tf.ci_job = xstrdup("991");
	li->tf.pidns = xstrdup("pid:[4026531836]");
}

static void test_to_json(void)
{
	struct lockinfo li;
	struct buf out;
	int rc;

	buf_init(&out);
	fill(&li);
	rc = lockinfo_to_json(&li, &out);
	is_int(0, rc, "to_json: plain Terraform body written");
	is_string("{\"ID\":\"8a0b2c4d-1e2f-3a4b-5c6d-7e8f9a0b1c2d\",\"Operation\":"
	          "\"OperationTypeApply\","
	          "\"Info\":\"\",\"Who\":\"alice@laptop\",\"Version\":\"1.11.4\","
	          "\"Created\":\"2025-03-04T12:34:56.789012345Z\","
	          "\"Path\":\"bucket/env:/prod/terraform.tfstate\"}",
	          out.data, "to_json: Terraform's seven keys, its order, compact");

	fill_tflock(&li);
	rc = lockinfo_to_json(&li, &out);
	is_int(0, rc, "to_json: body with Tflock written");
	is_string("{\"ID\":\"8a0b2c4d-1e2f-3a4b-5c6d-7e8f9a0b1c2d\",\"Operation\":"
	          "\"OperationTypeApply\","
	          "\"Info\":\"\",\"Who\":\"alice@laptop\",\"Version\":\"1.11.4\","
	          "\"Created\":\"2025-03-04T12:34:56.789012345Z\","
	          "\"Path\":\"bucket/env:/prod/terraform.tfstate\","
	          "\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":123,\"host\":\"build-7\","
	          "\"boot\":\"3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718\","
	          "\"ci\":\"https://ci.example.com/g/p/-/jobs/991\",\"job\":\"991\","
	          "\"pidns\":\"pid:[4026531836]\"}}",
	          out.data, "to_json: Tflock last, keys v lease seq pid host boot ci job pidns");
	ok(!strchr(out.data, '\n') && !strchr(out.data, ' '), "to_json: no space, no newline");

	/* Go's escaping, byte by byte */
	free(li.info);
	li.info = xstrdup("q\" b\\ n\n r\r t\t b\b f\f c\x01\x1f del\x7f <a href=x>&amp; "
	                  "\xe2\x80\xa8\xe2\x80\xa9 \xc3\xa9 \xf0\x9f\x98\x80 /");
	free(li.who);
	li.who = xstrdup("bad\xff\xfe|\xe2\x82|\xed\xa0\x80|\xc0\x80|\xf4\x90\x80\x80|end");
	li.has_tflock = 0;
	lockinfo_to_json(&li, &out);
	is_string("{\"ID\":\"8a0b2c4d-1e2f-3a4b-5c6d-7e8f9a0b1c2d\",\"Operation\":"
	          "\"OperationTypeApply\","
	          "\"Info\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f c\\u0001\\u001f del\x7f "
	          "\\u003ca href=x\\u003e\\u0026amp; \\u2028\\u2029 \xc3\xa9 \xf0\x9f\x98\x80 /\","
	          "\"Who\":\"bad\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
	          "\\ufffd\\ufffd\\ufffd\\ufffd|end\","
	          "\"Version\":\"1.11.4\",\"Created\":\"2025-03-04T12:34:56.789012345Z\","
	          "\"Path\":\"bucket/env:/prod/terraform.tfstate\"}",
	          out.data, "to_json: escapes exactly as Go's encoding/json");

	/* NULL strings are "", refusals leave out empty */
	lockinfo_free(&li);
	li.id = xstrdup("x");
	li.created = xstrdup("2025-03-04T12:34:56Z");
	rc = lockinfo_to_json(&li, &out);
	is_int(0, rc, "to_json: NULL strings accepted");
	is_string("{\"ID\":\"x\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\",\"Version\":\"\","
	          "\"Created\":\"2025-03-04T12:34:56Z\",\"Path\":\"\"}",
	          out.data, "to_json: NULL strings written as \"\"");
	free(li.id);
	li.id = xstrdup("");
	rc = lockinfo_to_json(&li, &out);
	is_int(ERR_INTERNAL, rc, "to_json: refuses an empty ID (Terraform could not use it)");
	is_int(0, (long long)out.len, "to_json: out left empty on refusal");
	free(li.id);
	li.id = xstrdup("x");
	free(li.created);
	li.created = xstrdup("2025-03-04 12:34:56");
	is_int(ERR_INTERNAL, lockinfo_to_json(&li, &out), "to_json: refuses a bad Created");
	free(li.created);
	li.created = NULL;
	is_int(ERR_INTERNAL, lockinfo_to_json(&li, &out), "to_json: refuses a missing Created");
	lockinfo_free(&li);
	lockinfo_free(NULL);
	buf_free(&out);
}

static int same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int li_equal(const struct lockinfo *a, const struct lockinfo *b)
{
	return same(a->id, b->id) && same(a->operation, b->operation) && same(a->info, b->info) &&
	       same(a->who, b->who) && same(a->version, b->version) &&
	       same(a->created, b->created) && same(a->path, b->path) &&
	       a->has_tflock == b->has_tflock &&
	       (!a->has_tflock ||
	        (a->tf.v == b->tf.v && a->tf.lease == b->tf.lease && a->tf.seq == b->tf.seq &&
	         a->tf.pid == b->tf.pid && same(a->tf.host, b->tf.host) &&
	         same(a->tf.boot_id, b->tf.boot_id) && same(a->tf.ci, b->tf.ci) &&
	         same(a->tf.ci_job, b->tf.ci_job) && same(a->tf.pidns, b->tf.pidns)));
}

/* A random valid UTF-8 string without NUL: ASCII (controls and HTML characters
 * included), 2-, 3- and 4-byte characters, U+2028/9 and U+FFFD. */
static char *random_utf8(unsigned *seed)
{
	struct buf b;
	int n = rand_r(seed) % 24;
	buf_init(&b);
	for (int i = 0; i < n; i++) {
		unsigned cp;
		switch (rand_r(seed) % 6) {
		case 0:
			cp = 1 + (unsigned)rand_r(seed) % 0x7F;
			break;
		case 1:
			cp = "\"\\<>&\n\t\b\f\x7f/"[rand_r(seed) % 11];
			break;
		case 2:
			cp = 0x80 + (unsigned)rand_r(seed) % 0x780;
			break;
		case 3:
			cp = 0x800 + (unsigned)rand_r(seed) % 0xF800;
			break;
		case 4:
			cp = 0x10000 + (unsigned)rand_r(seed) % 0x100000;
			break;
		default:
			cp = (unsigned[]){ 0x2028, 0x2029, 0xFFFD, 0x2029 }[rand_r(seed) % 4];
		}
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xE000;
		if (cp < 0x80) {
			buf_addc(&b, (char)cp);
		} else if (cp < 0x800) {
			buf_addc(&b, (char)(0xC0 | (cp >> 6)));
			buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
		} else if (cp < 0x10000) {
			buf_addc(&b, (char)(0xE0 | (cp >> 12)));
			buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
			buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
		} else {
			buf_addc(&b, (char)(0xF0 | (cp >> 18)));
			buf_addc(&b, (char)(0x80 | ((cp >> 12) & 0x3F)));
			buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
			buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
		}
	}
	return buf_detach(&b, NULL);
}

static void test_round_trip(void)
{
	struct lockinfo a, b;
	struct buf out;
	struct tf_error err;
	unsigned seed = 20250304;
	int bad = 0;

	buf_init(&out);
	lockinfo_init(&b);
	fill(&a);
	fill_tflock(&a);
	lockinfo_to_json(&a, &out);
	is_string(classname(LOCKINFO_TFLOCK),
	          classname(lockinfo_parse(out.data, out.len, &b, &err)),
	          "round trip: our body is TFLOCK");
	is_string("", err.msg, "round trip: no message for TFLOCK");
	ok(li_equal(&a, &b), "round trip: every field back as written");

	a.tf.seq = 18446744073709551615ULL;
	a.tf.lease = 3600;
	a.tf.pid = 2147483647;
	lockinfo_to_json(&a, &out);
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(out.data, out.len, &b, &err),
	       "round trip: largest seq, lease and pid");
	ok(b.tf.seq == 18446744073709551615ULL && b.tf.lease == 3600 && b.tf.pid == 2147483647,
	   "round trip: largest values read exactly");

	for (int i = 0; i < 500; i++) {
		char **f[] = { &a.operation, &a.info,       &a.who,   &a.version,   &a.path,
			       &a.tf.host,   &a.tf.boot_id, &a.tf.ci, &a.tf.ci_job, &a.tf.pidns };
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
			free(*f[k]);
			*f[k] = random_utf8(&seed);
		}
		a.tf.seq = (unsigned long long)rand_r(&seed) * 65536ULL;
		if (lockinfo_to_json(&a, &out) != 0 ||
		    lockinfo_parse(out.data, out.len, &b, &err) != LOCKINFO_TFLOCK ||
		    !li_equal(&a, &b)) {
			if (!bad)
				diag("first mismatch: %s (%s)", out.data, err.msg);
			bad++;
		}
	}
	is_int(0, bad, "round trip: 500 random UTF-8 bodies read back unchanged");

	/* invalid UTF-8 is written as \ufffd, which reads back as U+FFFD */
	free(a.who);
	a.who = xstrdup("x\xffy");
	lockinfo_to_json(&a, &out);
	lockinfo_parse(out.data, out.len, &b, &err);
	is_string("x\xef\xbf\xbdy", b.who, "round trip: invalid UTF-8 comes back as U+FFFD");

	lockinfo_free(&a);
	lockinfo_free(&b);
	buf_free(&out);
}

static void test_format_created(void)
{
	static const struct {
		long long sec;
		long nsec;
		const char *want;
	} cases[] = {
		{ 1741091696, 789012345, "2025-03-04T12:34:56.789012345Z" },
		{ 1741091696, 0, "2025-03-04T12:34:56Z" },
		{ 1741091696, 500000000, "2025-03-04T12:34:56.5Z" },
		{ 1741091696, 120000000, "2025-03-04T12:34:56.12Z" },
		{ 1741091696, 1, "2025-03-04T12:34:56.000000001Z" },
		{ 1741091696, 10, "2025-03-04T12:34:56.00000001Z" },
		{ 1741091696, 999999999, "2025-03-04T12:34:56.999999999Z" },
		{ 1741091696, 1000000000, "2025-03-04T12:34:57Z" },
		{ 1741091696, -1, "2025-03-04T12:34:55.999999999Z" },
		{ 0, 0, "1970-01-01T00:00:00Z" },
		{ 1709251199, 0, "2024-02-29T23:59:59Z" },
		{ 951868800, 0, "2000-03-01T00:00:00Z" },
		{ 253402300799LL, 0, "9999-12-31T23:59:59Z" },
		{ -62135596800LL, 0, "0001-01-01T00:00:00Z" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timespec ts = { (time_t)cases[i].sec, cases[i].nsec };
		char out[48];
		lockinfo_format_created(&ts, out);
		is_string(cases[i].want, out, "format_created %lld.%09ld", cases[i].sec,
		          cases[i].nsec);
	}

	/* format then parse gives the same instant */
	unsigned seed = 7;
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		struct timespec ts, back;
		char out[48];
		ts.tv_sec = (time_t)((long long)rand_r(&seed) * 37 % 4102444800LL);
		ts.tv_nsec = rand_r(&seed) % 4 ? rand_r(&seed) % 1000000000L : 0;
		lockinfo_format_created(&ts, out);
		if (lockinfo_parse_time(out, &back) != 0 || back.tv_sec != ts.tv_sec ||
		    back.tv_nsec != ts.tv_nsec) {
			if (!bad)
				diag("mismatch for %s", out);
			bad++;
		}
	}
	is_int(0, bad, "format_created then parse_time: 2000 instants come back exactly");
}

static void test_parse_time(void)
{
	static const struct {
		const char *s;
		long long sec;
		long nsec;
	} good[] = {
		{ "2025-03-04T12:34:56Z", 1741091696, 0 },
		{ "2025-03-04T12:34:56.789012345Z", 1741091696, 789012345 },
		{ "2025-03-04T12:34:56.5Z", 1741091696, 500000000 },
		{ "2025-03-04T12:34:56.000000001Z", 1741091696, 1 },
		{ "2025-03-04T12:34:56.1234567899Z", 1741091696,
		  123456789 }, /* Go drops digit 10+ */
		{ "2025-03-04T14:34:56+02:00", 1741091696, 0 },
		{ "2025-03-04T07:04:56-05:30", 1741091696, 0 },
		{ "2025-03-04T12:34:56.25-00:00", 1741091696, 250000000 },
		{ "2025-03-05T12:33:56+23:59", 1741091696, 0 },
		{ "2024-02-29T23:59:59Z", 1709251199, 0 },
		{ "2000-02-29T00:00:00Z", 951782400, 0 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
		{ "0001-01-01T00:00:00Z", -62135596800LL, 0 },
		{ "9999-12-31T23:59:59Z", 253402300799LL, 0 },
		{ "0000-01-01T00:00:00Z", -62167219200LL, 0 },
	};
	static const char *bad[] = {
		"",
		"2025",
		"2025-03-04",
		"2025-03-04T12:34Z",
		"2025-03-04T12:34:56",
		"2025-03-04T12:34:56+02",
		"2025-03-04T12:34:56+0200",
		"2025-03-04T12:34:56 Z",
		"2025-03-04T12:34:56Z ",
		" 2025-03-04T12:34:56Z",
		"2025-03-04t12:34:56Z",
		"2025-03-04T12:34:56z",
		"2025-03-04 12:34:56Z",
		"2025-13-04T12:34:56Z",
		"2025-00-04T12:34:56Z",
		"2025-03-00T12:34:56Z",
		"2025-03-32T12:34:56Z",
		"2025-02-29T12:34:56Z",
		"1900-02-29T12:34:56Z",
		"2025-04-31T12:34:56Z",
		"2025-03-04T24:00:00Z",
		"2025-03-04T12:60:56Z",
		"2025-03-04T12:34:60Z",
		"2025-03-04T2:34:56Z",
		"2025-3-04T12:34:56Z",
		"25-03-04T12:34:56Z",
		"+2025-03-04T12:34:56Z",
		"2025-03-04T12:34:56,5Z",
		"2025-03-04T12:34:56.Z",
		"2025-03-04T12:34:56.5",
		"2025-03-04T12:34:56+24:00",
		"2025-03-04T12:34:56+01:60",
		"2025-03-04T12:34:56*01:00",
		"2025-03-04T12:34:56+01:00Z",
		"2025-03-04T12:34:56ZZ",
		"2025/03/04T12:34:56Z",
		"2025-03-04T12-34-56Z",
		"2025-03-04T12:34:56.5.5Z",
		"2025-03-04T12:34:56\\u005a",
		"abcd-ef-ghTij:kl:mnZ",
		"2025-03-04T12:34:56UTC",
		"2025-03-04T12:34:56.-5Z",
		"2025-03-04T12:34:56.5 Z",
		"2025-03-04T1a:34:56Z",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct timespec ts = { 12345, 6789 };
		int rc = lockinfo_parse_time(good[i].s, &ts);
		ok(rc == 0 && ts.tv_sec == (time_t)good[i].sec && ts.tv_nsec == good[i].nsec,
		   "parse_time accepts %s (%lld.%09ld)", good[i].s, (long long)ts.tv_sec,
		   (long)ts.tv_nsec);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(-1, lockinfo_parse_time(bad[i], NULL), "parse_time rejects \"%s\"", bad[i]);
	is_int(-1, lockinfo_parse_time(NULL, NULL), "parse_time rejects NULL");
}

static void test_new_id(void)
{
	char id[37], prev[37] = "";
	int shape_bad = 0, dup = 0, nibble[16] = { 0 }, variety = 0;

	for (int i = 0; i < 2000; i++) {
		lockinfo_new_id(id);
		if (strlen(id) != 36)
			shape_bad++;
		for (int k = 0; k < 36 && id[k]; k++) {
			int dash = k == 8 || k == 13 || k == 18 || k == 23;
			if (dash ? id[k] != '-' : !strchr("0123456789abcdef", id[k]))
				shape_bad++;
		}
		if (!strcmp(id, prev))
			dup++;
		strcpy(prev, id);
		nibble[strchr("0123456789abcdef", id[14])
		               ? strchr("0123456789abcdef", id[14]) - "0123456789abcdef"
		               : 0]++;
	}
	for (int k = 0; k < 16; k++)
		variety += nibble[k] > 0;
	is_int(0, shape_bad, "new_id: lowercase hex 8-4-4-4-12");
	is_int(0, dup, "new_id: consecutive IDs differ");
	ok(variety >= 12, "new_id: no UUID version bits (%d values seen at the version digit)",
	   variety);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len);
}

static int printable_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
			return 0;
	return 1;
}

static int all_strings_set(const struct lockinfo *li)
{
	return li->id && li->operation && li->info && li->who && li->version && li->created &&
	       li->path && li->tf.host && li->tf.boot_id && li->tf.ci && li->tf.ci_job &&
	       li->tf.pidns;
}

static void test_corpus(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[512];
	FILE *f;
	int files = 0, nontflock = 0, classes[3] = { 0 };
	struct lockinfo li;

	if (!top || !*top)
		top = ".";
	snprintf(path, sizeof(path), "%s/tests/corpus/lockinfo/EXPECTED", top);
	f = fopen(path, "r");
	if (!ok(f != NULL, "corpus: %s readable", path))
		return;
	lockinfo_init(&li);
	while (fgets(line, sizeof(line), f)) {
		char name[256], want[32];
		struct tf_error err;
		size_t len = 0;
		char *data;
		int cls;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%255s %31s", name, want) != 2) {
			ok(0, "corpus: EXPECTED line \"%.60s\" is \"file class\"", line);
			continue;
		}
		snprintf(path, sizeof(path), "%s/tests/corpus/lockinfo/%s", top, name);
		data = read_file(path, &len);
		if (!ok(data != NULL, "corpus: %s readable", name))
			continue;
		memset(&err, 'x', sizeof(err));
		cls = lockinfo_parse(data, len, &li, &err);
		files++;
		if (cls >= 0 && cls <= 2)
			classes[cls]++;
		if (cls != LOCKINFO_TFLOCK)
			nontflock++;
		is_string(want, classname(cls), "corpus: %s is %s (%s)", name, want, err.msg);
		ok(cls == LOCKINFO_TFLOCK    ? err.msg[0] == '\0' && err.kind == 0
		   : cls == LOCKINFO_FOREIGN ? err.msg[0] != '\0' && err.kind == 0
		                             : err.msg[0] != '\0' && err.kind == ERR_PARSE,
		   "corpus: %s: message and kind fit the class", name);
		ok(printable_line(err.msg) && all_strings_set(&li),
		   "corpus: %s: message printable, every string set", name);
		/* the same bytes without a NUL after them: no read past len */
		char *exact = xmalloc(len ? len : 1);
		memcpy(exact, data, len);
		is_int(cls, lockinfo_parse(exact, len, &li, NULL),
		       "corpus: %s: same class with err NULL, unterminated", name);
		free(exact);
		free(data);
	}
	fclose(f);
	lockinfo_free(&li);
	ok(nontflock >= 25, "corpus: %d foreign or malformed bodies (at least 25)", nontflock);
	ok(classes[0] && classes[1] && classes[2],
	   "corpus: all three classes present (%d/%d/%d of %d)", classes[0], classes[1], classes[2],
	   files);
}

static int parse_str(const char *s, struct lockinfo *li, struct tf_error *err)
{
	return lockinfo_parse(s, strlen(s), li, err);
}

#define BODY_HEAD                                                                                  \
	"{\"ID\":\"abc\",\"Operation\":\"OperationTypePlan\",\"Created\":\"2025-03-04T12:34:56Z\""
#define TF_OK "\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9}"

static void test_details(void)
{
	struct lockinfo li;
	struct tf_error err;
	struct buf big;
	int cls;

	lockinfo_init(&li);
	cls = parse_str(BODY_HEAD ",\"Who\":\"a@b\"," TF_OK "}", &li, &err);
	is_int(LOCKINFO_TFLOCK, cls, "details: minimal tflock body");
	ok(li.tf.v == 1 && li.tf.lease == 120 && li.tf.seq == 7 && li.tf.pid == 9 &&
	           !strcmp(li.who, "a@b") && !strcmp(li.path, "") && !strcmp(li.tf.host, ""),
	   "details: values read, absent strings are \"\"");

	cls = parse_str("{\"id\":\"one\",\"iD\":\"two\",\"created\":\"2025-03-04T12:34:56Z\","
	                "\"WHO\":\"w\",\"pAtH\":\"p\",\"tflock\":{\"V\":1,\"LEASE\":60,\"Seq\":1,"
	                "\"PID\":2}}",
	                &li, &err);
	is_int(LOCKINFO_TFLOCK, cls, "details: keys matched case-insensitively");
	ok(!strcmp(li.id, "two") && !strcmp(li.who, "w") && !strcmp(li.path, "p") &&
	           li.tf.lease == 60,
	   "details: last duplicate wins (ID two)");

	cls = parse_str("{\"\\u0049D\":\"esc\",\"Created\":\"2025-03-04T12:34:56Z\"}", &li, &err);
	is_string("esc", li.id, "details: escaped key \\u0049D matches ID");
	is_int(LOCKINFO_FOREIGN, cls, "details: plain body without Tflock is FOREIGN");
	is_string("no Tflock part: a plain Terraform or OpenTofu lock", err.msg,
	          "details: message for a plain Terraform lock");

	cls = parse_str(
	        "{\"ID\":\"k\",\"Ver\xc5\xbfion\":\"1.2.3\",\"Created\":\"2025-03-04T12:34:56Z\","
	        "\"Tfloc\xe2\x84\xaa\":{\"v\":1,\"lea\xc5\xbf"
	        "e\":60,\"\xc5\xbf\x65q\":3,\"pid\":4}}",
	        &li, &err);
	is_int(LOCKINFO_TFLOCK, cls, "details: keys with U+017F and U+212A (Kelvin) match");
	ok(!strcmp(li.version, "1.2.3") && li.tf.lease == 60 && li.tf.seq == 3,
	   "details: Ver\u017fion is Version, Tfloc\u212a is Tflock, lea\u017fe is lease");

	cls = parse_str(
	        "{\"I\xc4\xb1\":\"dotless\",\"ID\":\"real\",\"Created\":\"2025-03-04T12:34:56Z\"}",
	        &li, &err);
	is_string("real", li.id, "details: dotless i does not fold to I (Go's folding)");

	cls = parse_str(BODY_HEAD ",\"Tflock\":{\"v\":7,\"lease\":120,\"seq\":7,\"pid\":9}}", &li,
	                &err);
	is_int(LOCKINFO_FOREIGN, cls, "details: v 7 is FOREIGN");
	is_string("unknown tflock protocol version 7", err.msg,
	          "details: message names the version");
	is_int(0, err.kind, "details: FOREIGN leaves err->kind 0");

	cls = parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":999999,\"seq\":7,\"pid\":9}}",
	                &li, &err);
	is_string("tflock lease 999999 s is out of range (5 to 3600 s)", err.msg,
	          "details: message for an absurd lease");
	ok(cls == LOCKINFO_FOREIGN && li.tf.lease == 999999, "details: absurd lease still shown");

	cls = parse_str(BODY_HEAD ",\"ID\":5}", &li, &err);
	is_int(LOCKINFO_MALFORMED, cls, "details: ID 5 is MALFORMED");
	is_string("ID is a number, not a string", err.msg,
	          "details: message names the field and type");
	is_int(ERR_PARSE, err.kind, "details: MALFORMED sets err->kind ERR_PARSE");
	is_string("abc", li.id, "details: the string ID before it is kept for display");

	cls = parse_str("{\"ID\":\"kept\",\"Who\":\"w@h\",\"Operation\":\"OperationTy", &li, &err);
	is_int(LOCKINFO_MALFORMED, cls, "details: truncated body is MALFORMED");
	ok(!strcmp(li.id, "kept") && !strcmp(li.who, "w@h"),
	   "details: fields before the truncation are filled");
	ok(strstr(err.msg, "unexpected end of JSON input") != NULL, "details: says truncated: %s",
	   err.msg);

	cls = parse_str(BODY_HEAD ",\"Who\":\"\x1b[31mred\"}", &li, &err);
	is_int(LOCKINFO_MALFORMED, cls, "details: raw ESC in a string is MALFORMED");
	is_string("invalid character 0x1b in string literal at byte 84, not JSON", err.msg,
	          "details: binary shown as hex, with its offset");

	cls = parse_str(BODY_HEAD ",\"Created\":\"2025-03-04\\n\x7f\"}", &li, &err);
	is_string("Created \"2025-03-04\\x5cn\\x7f\" is not an RFC 3339 time", err.msg,
	          "details: bad Created quoted safely");

	cls = lockinfo_parse("{\"ID\":\"a\0b\"}", 12, &li, &err);
	is_int(LOCKINFO_MALFORMED, cls, "details: NUL byte is MALFORMED");
	is_string("NUL byte at byte 8, not JSON", err.msg, "details: NUL byte message");

	/* size limit: exactly 64 KiB is read, one more byte is not */
	buf_init(&big);
	buf_adds(&big, BODY_HEAD "," TF_OK ",\"Info\":\"");
	while (big.len < LOCKINFO_MAX_BODY - 2)
		buf_addc(&big, 'x');
	buf_adds(&big, "\"}");
	is_int(LOCKINFO_MAX_BODY, (long long)big.len, "details: built a body of exactly 64 KiB");
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(big.data, big.len, &li, &err),
	       "details: a 64 KiB body is read");
	buf_reset(&big);
	buf_adds(&big, BODY_HEAD "," TF_OK ",\"Info\":\"");
	while (big.len < LOCKINFO_MAX_BODY - 1)
		buf_addc(&big, 'x');
	buf_adds(&big, "\"}");
	is_int(LOCKINFO_MALFORMED, lockinfo_parse(big.data, big.len, &li, &err),
	       "details: a body of 64 KiB + 1 is MALFORMED");
	is_string("lock body is 65537 bytes, more than the 65536 bytes a lock body may have",
	          err.msg, "details: size message");

	/* nesting at Go's limit: 10000 open containers pass, 10001 do not */
	buf_reset(&big);
	buf_adds(&big, "{\"ID\":\"d\",\"Created\":\"2025-03-04T12:34:56Z\",\"x\":");
	for (int i = 0; i < 9999; i++)
		buf_addc(&big, '[');
	for (int i = 0; i < 9999; i++)
		buf_addc(&big, ']');
	buf_addc(&big, '}');
	is_int(LOCKINFO_FOREIGN, lockinfo_parse(big.data, big.len, &li, &err),
	       "details: depth 10000 accepted as Go does");
	buf_reset(&big);
	buf_adds(&big, "{\"ID\":\"d\",\"Created\":\"2025-03-04T12:34:56Z\",\"x\":");
	for (int i = 0; i < 10000; i++)
		buf_adds(&big, "{\"a\":");
	buf_adds(&big, "1");
	for (int i = 0; i < 10000; i++)
		buf_addc(&big, '}');
	buf_addc(&big, '}');
	is_int(LOCKINFO_MALFORMED, lockinfo_parse(big.data, big.len, &li, &err),
	       "details: depth 10001 rejected as Go does");
	ok(strstr(err.msg, "deeper than 10000") != NULL, "details: depth message: %s", err.msg);
	buf_free(&big);

	/* reuse without freeing in between must not leak (valgrind checks) */
	for (int i = 0; i < 3; i++)
		parse_str(BODY_HEAD
		          ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,\"host\":\"h\","
		          "\"boot\":\"b\",\"ci\":\"c\",\"job\":\"j\"},\"Tflock\":{\"v\":1,\"host\":"
		          "\"h2\"}}",
		          &li, NULL);
	is_string("h2", li.tf.host, "details: a later Tflock replaces the earlier one entirely");
	is_int(0, li.tf.lease, "details: ... so the earlier lease is gone");

	cls = lockinfo_parse(NULL, 0, &li, &err);
	is_int(LOCKINFO_MALFORMED, cls, "details: NULL data is MALFORMED (empty)");
	lockinfo_free(&li);
	lockinfo_free(&li);
}

/* The PID namespace key (PROTOCOL B1, B8): written, read back, and optional, so
 * that bodies of older tflock versions stay TFLOCK with pidns "". */
static void test_pidns(void)
{
	struct lockinfo a, b;
	struct tf_error err;
	struct buf out;
	const char *old =
	        "{\"ID\":\"abc\",\"Operation\":\"OperationTypeApply\",\"Info\":\"\","
	        "\"Who\":\"w\",\"Version\":\"1\",\"Created\":\"2025-03-04T12:34:56Z\","
	        "\"Path\":\"b/k\",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":3,"
	        "\"pid\":12345,\"host\":\"h\",\"boot\":\"bb\",\"ci\":\"\",\"job\":\"77\"}}";

	buf_init(&out);
	lockinfo_init(&b);
	fill(&a);
	fill_tflock(&a);
	is_int(0, lockinfo_to_json(&a, &out), "pidns: body written");
	ok(strstr(out.data, ",\"pidns\":\"pid:[4026531836]\"}}") != NULL,
	   "pidns: written as the Tflock part's last key");
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(out.data, out.len, &b, &err),
	       "pidns: round trip is TFLOCK");
	is_string("pid:[4026531836]", b.tf.pidns, "pidns: read back as written");

	is_int(LOCKINFO_TFLOCK, parse_str(old, &b, &err),
	       "pidns: an older tflock's body without pidns is still TFLOCK");
	is_string("", b.tf.pidns, "pidns: absent key reads as \"\"");
	is_string("77", b.tf.ci_job, "pidns: the other fields of the older body are read");
	ok(b.tf.pid == 12345 && !strcmp(b.tf.boot_id, "bb"), "pidns: pid and boot read");

	/* rewriting the older body keeps Terraform's seven keys byte for byte */
	is_int(0, lockinfo_to_json(&b, &out), "pidns: older body written again");
	ok(strstr(out.data, ",\"Tflock\"") - out.data == strstr(old, ",\"Tflock\"") - old &&
	           !strncmp(out.data, old, (size_t)(strstr(old, ",\"Tflock\"") - old)),
	   "pidns: the seven LockInfo keys unchanged");

	is_int(LOCKINFO_TFLOCK,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"PIDNS\":\"pid:[1]\",\"pidns\":\"pid:[2]\"}}",
	                 &b, &err),
	       "pidns: key matched case-insensitively");
	is_string("pid:[2]", b.tf.pidns, "pidns: the last duplicate wins");
	is_int(LOCKINFO_TFLOCK,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"pidns\":null}}",
	                 &b, &err),
	       "pidns: null is as absent");
	is_string("", b.tf.pidns, "pidns: null reads as \"\"");
	is_int(LOCKINFO_FOREIGN,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"pidns\":4026531836}}",
	                 &b, &err),
	       "pidns: a number is FOREIGN, as for the other strings");
	is_string("tflock pidns is a number, not a string", err.msg, "pidns: message says why");
	lockinfo_free(&a);
	lockinfo_free(&b);
	buf_free(&out);
}

/* lease_ms (PROTOCOL B1): the lease a scaled holder really keeps, written only
 * when set, read back, and a bad value makes the body FOREIGN. */
static void test_lease_ms(void)
{
	struct lockinfo a, b;
	struct tf_error err;
	struct buf out;

	buf_init(&out);
	lockinfo_init(&b);
	fill(&a);
	fill_tflock(&a);
	is_int(0, lockinfo_to_json(&a, &out), "lease_ms: body without it written");
	ok(strstr(out.data, "lease_ms") == NULL, "lease_ms: not written when 0 (unscaled)");
	a.tf.lease_ms = 2000;
	is_int(0, lockinfo_to_json(&a, &out), "lease_ms: body with it written");
	ok(strstr(out.data, ",\"lease_ms\":2000}}") != NULL, "lease_ms: written last: %s",
	   out.data);
	is_int(LOCKINFO_TFLOCK, lockinfo_parse(out.data, out.len, &b, &err),
	       "lease_ms: round trip is TFLOCK");
	ok(b.tf.lease_ms == 2000 && b.tf.lease == a.tf.lease,
	   "lease_ms: read back beside the declared lease");
	is_int(LOCKINFO_FOREIGN,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"lease_ms\":0}}",
	                 &b, &err),
	       "lease_ms: 0 is FOREIGN (never taken over)");
	is_int(LOCKINFO_FOREIGN,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"lease_ms\":1.5}}",
	                 &b, &err),
	       "lease_ms: a fraction is FOREIGN");
	is_int(LOCKINFO_FOREIGN,
	       parse_str(BODY_HEAD ",\"Tflock\":{\"v\":1,\"lease\":120,\"seq\":7,\"pid\":9,"
	                           "\"lease_ms\":\"2000\"}}",
	                 &b, &err),
	       "lease_ms: a string is FOREIGN");
	lockinfo_free(&a);
	lockinfo_free(&b);
	buf_free(&out);
}

/* B14.4: a v 2 body is parked only with a valid park; else FOREIGN */
static void test_park(void)
{
	static const char head[] = "{\"ID\":\"a\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\","
	                           "\"Version\":\"\",\"Created\":\"2026-01-01T00:00:00Z\","
	                           "\"Path\":\"\",\"Tflock\":{\"lease\":120,\"seq\":1,\"pid\":1,";
	static const struct {
		const char *tail;
		int klass, parked;
		const char *what;
	} c[] = {
		{ "\"v\":2,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":3600000,"
		  "\"tie\":\"none\",\"note\":\"n\"}}}",
		  LOCKINFO_TFLOCK, 1, "v 2 with a valid park" },
		{ "\"v\":2,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":3600000,"
		  "\"tie\":\"run\"}}}",
		  LOCKINFO_TFLOCK, 1, "tie run" },
		{ "\"v\":2}}", LOCKINFO_FOREIGN, 0, "v 2 without park" },
		{ "\"v\":2,\"park\":\"x\"}}", LOCKINFO_FOREIGN, 0, "park not an object" },
		{ "\"v\":2,\"park\":{\"until\":\"tomorrow\",\"for_ms\":1,\"tie\":\"none\"}}}",
		  LOCKINFO_FOREIGN, 0, "until not RFC 3339" },
		{ "\"v\":2,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":0,"
		  "\"tie\":\"none\"}}}",
		  LOCKINFO_FOREIGN, 0, "for_ms 0" },
		{ "\"v\":2,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":99999999999,"
		  "\"tie\":\"none\"}}}",
		  LOCKINFO_FOREIGN, 0, "for_ms over 25 h" },
		{ "\"v\":2,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":1,"
		  "\"tie\":\"job\"}}}",
		  LOCKINFO_FOREIGN, 0, "an unknown tie" },
		{ "\"v\":1,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":1,"
		  "\"tie\":\"none\"}}}",
		  LOCKINFO_TFLOCK, 0, "a park in a v 1 body is ignored: live" },
		{ "\"v\":3,\"park\":{\"until\":\"2026-01-01T01:00:00Z\",\"for_ms\":1,"
		  "\"tie\":\"none\"}}}",
		  LOCKINFO_FOREIGN, 0, "v 3: unknown" },
	};
	struct lockinfo li, back;
	struct tf_error err;
	struct buf b = BUF_INIT;
	lockinfo_init(&li);
	lockinfo_init(&back);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *body = NULL;
		if (asprintf(&body, "%s%s", head, c[i].tail) < 0)
			bail("out of memory");
		is_int(c[i].klass, lockinfo_parse(body, strlen(body), &li, &err), "park: %s (%s)",
		       c[i].what, err.msg);
		is_int(c[i].parked, li.tf.park.parked, "park: %s: parked", c[i].what);
		free(body);
	}
	/* written back exactly: v 2, then the park object */
	{
		static const char body[] =
		        "{\"ID\":\"a\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\",\"Version\":"
		        "\"\","
		        "\"Created\":\"2026-01-01T00:00:00Z\",\"Path\":\"\",\"Tflock\":{\"v\":2,"
		        "\"lease\":120,\"seq\":1,\"pid\":1,\"host\":\"\",\"boot\":\"\",\"ci\":\"\","
		        "\"job\":\"\",\"pidns\":\"\",\"park\":{\"until\":\"2026-01-01T01:00:00Z\","
		        "\"for_ms\":3600000,\"note\":\"\\u003cok\\u003e\",\"by\":\"\",\"tie\":"
		        "\"run\","
		        "\"jname\":\"plan\"}}}";
		is_int(LOCKINFO_TFLOCK, lockinfo_parse(body, sizeof(body) - 1, &li, &err),
		       "park: the written form reads (%s)", err.msg);
		is_string("<ok>", li.tf.park.note, "park: the note decoded");
		lockinfo_copy(&back, &li);
		is_string("plan", back.tf.park.jname, "park: copied");
		is_int(0, lockinfo_to_json(&back, &b), "park: written");
		is_string(body, b.data, "park: the same bytes back");
	}
	buf_free(&b);
	lockinfo_free(&li);
	lockinfo_free(&back);
}

int main(void)
{
	plan_lazy();
	test_park();
	test_lease_ms();
	test_to_json();
	test_round_trip();
	test_format_created();
	test_parse_time();
	test_new_id();
	test_details();
	test_pidns();
	test_corpus();
	return 0;
}
