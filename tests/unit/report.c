/*
 * Tests for wrapper/report: the JSON document (parsed back with cJSON), its
 * atomic replacement, the GitHub Actions summary, outputs and workflow
 * commands (exact bytes, injection attempts), GitLab section markers, and the
 * human summary line.
 */
#include "report.h"
#include "tap/basic.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/t-report-XXXXXX";

/* ------------------------------------------------------------- helpers */

static char *path_in(const char *name)
{
	size_t n = strlen(tmpdir) + strlen(name) + 2;
	char *p = malloc(n);
	if (!p)
		bail("out of memory");
	snprintf(p, n, "%s/%s", tmpdir, name);
	return p;
}

/* Whole file, NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		size_t n;
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap + 1);
			if (!data)
				bail("out of memory");
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	data[len] = '\0';
	if (lenp)
		*lenp = len;
	return data;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		bail("cannot write %s", path);
}

/* stdout redirection around a call: TAP output must not happen in between. */
static int saved_stdout = -1;

static void capture_begin(const char *path)
{
	int fd;
	fflush(stdout);
	saved_stdout = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved_stdout < 0 || fd < 0 || dup2(fd, 1) < 0)
		bail("cannot redirect stdout: %s", strerror(errno));
	close(fd);
	/* as on a CI runner, where stdout is a pipe: fully buffered */
	setvbuf(stdout, NULL, _IOFBF, BUFSIZ);
}

static void capture_end(void)
{
	fflush(stdout);
	if (dup2(saved_stdout, 1) < 0)
		bail("cannot restore stdout: %s", strerror(errno));
	close(saved_stdout);
	saved_stdout = -1;
	setvbuf(stdout, NULL, _IOLBF, BUFSIZ); /* as tap/basic.c set it */
}

/* Temporary files a writer left next to its target. */
static int count_tmp_files(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;
	if (!d)
		bail("cannot list %s", tmpdir);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp-"))
			n++;
	closedir(d);
	return n;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[4096];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * An independent reader of a GitHub environment file, following the runner's
 * rules on Linux: lines end at LF; "name=value" when '=' comes before any
 * "<<"; else "name<<DELIM", then lines up to one equal to DELIM, joined by LF.
 * Returns the number of entries or -1 on a format error.
 */
struct kv {
	char name[64];
	char *value;
};

static const char *next_line(const char *p, const char **line, size_t *len)
{
	const char *nl;
	if (!*p)
		return NULL;
	nl = strchr(p, '\n');
	*line = p;
	*len = nl ? (size_t)(nl - p) : strlen(p);
	return nl ? nl + 1 : p + *len;
}

static int gh_parse(const char *text, struct kv *out, int max)
{
	const char *p = text, *line;
	size_t len;
	int n = 0;

	while ((p = next_line(p, &line, &len))) {
		char *l = strndup(line, len), *eq, *hd;
		if (!len) {
			free(l);
			continue;
		}
		if (n == max) {
			free(l);
			return -1;
		}
		eq = strchr(l, '=');
		hd = strstr(l, "<<");
		if (eq && (!hd || eq < hd)) {
			*eq = '\0';
			snprintf(out[n].name, sizeof(out[n].name), "%s", l);
			out[n].value = strdup(eq + 1);
		} else if (hd) {
			const char *delim = hd + 2, *vstart = p, *vend = p, *q = p;
			int found = 0;
			*hd = '\0';
			if (!*l || !*delim) {
				free(l);
				return -1;
			}
			while ((q = next_line(q, &line, &len))) {
				if (len == strlen(delim) && !memcmp(line, delim, len)) {
					found = 1;
					break;
				}
				vend = line + len;
			}
			if (!found) {
				free(l);
				return -1;
			}
			snprintf(out[n].name, sizeof(out[n].name), "%s", l);
			out[n].value = strndup(vstart, (size_t)(vend > vstart ? vend - vstart : 0));
			p = q;
		} else {
			free(l);
			return -1;
		}
		free(l);
		n++;
	}
	return n;
}

static void kv_free(struct kv *kv, int n)
{
	for (int i = 0; i < n; i++)
		free(kv[i].value);
}

static const char *kv_get(const struct kv *kv, int n, const char *name)
{
	const char *v = NULL;
	for (int i = 0; i < n; i++)
		if (!strcmp(kv[i].name, name))
			v = kv[i].value; /* the runner keeps the last one */
	return v;
}

static int count_char(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* ------------------------------------------------------------- fixtures */

static char who1[] = "alice@laptop", op1[] = "OperationTypeApply",
            id1[] = "11111111-1111-4111-8111-111111111111";
static char who2[] = "bob@ci", op2[] = "OperationTypePlan",
            id2[] = "22222222-2222-4222-8222-222222222222";
static struct report_holder holders2[] = { { who1, op1, id1 }, { who2, op2, id2 } };

static struct report base_report(void)
{
	struct report r;
	memset(&r, 0, sizeof(r));
	r.lock_url = "s3://b/k.tflock";
	r.lock_id = "0f0e0d0c-0b0a-4909-8807-060504030201";
	r.command = "terraform apply";
	r.acquired = 1;
	r.waited_s = 80.25;
	r.held_s = 242;
	r.heartbeats = 9;
	r.heartbeat_failures = 1;
	r.requests = 14;
	r.holders = holders2;
	r.nholders = 2;
	r.child_ran = 1;
	r.outcome = "released";
	r.outcome_kind = "released";
	r.started_utc = "2024-05-01T12:00:00Z";
	return r;
}

/* ------------------------------------------------------------- JSON */

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int is_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = get(o, key);
	return cJSON_IsString(v) && !strcmp(v->valuestring, want);
}

static int is_num(const cJSON *o, const char *key, double want)
{
	const cJSON *v = get(o, key);
	return cJSON_IsNumber(v) && v->valuedouble == want;
}

static void test_json_fields(void)
{
	static const char *const keys[] = { "version",         "lock",         "id",
		                            "command",         "acquired",     "took_over",
		                            "takeover_reason", "started",      "waited_seconds",
		                            "held_seconds",    "heartbeats",   "heartbeat_failures",
		                            "requests",        "holders_seen", "child",
		                            "exit_code",       "outcome",      "outcome_kind" };
	struct report r = base_report();
	struct tf_error err;
	char *path = path_in("report.json"), *text;
	cJSON *j;
	const cJSON *k, *h, *c;
	size_t i = 0;
	int order_ok = 1;

	err_clear(&err);
	is_int(0, report_write_json(&r, path, &err), "json: write succeeds");
	text = slurp(path, NULL);
	ok(text != NULL, "json: file exists");
	j = cJSON_Parse(text ? text : "");
	ok(j != NULL, "json: parses");
	if (!j)
		diag("%s", text ? text : "(no file)");
	for (k = j ? j->child : NULL; k; k = k->next, i++)
		if (i >= sizeof(keys) / sizeof(keys[0]) || strcmp(k->string, keys[i]))
			order_ok = 0;
	ok(order_ok && i == sizeof(keys) / sizeof(keys[0]),
	   "json: exactly the documented keys, in order");
	ok(is_num(j, "version", 1), "json: version 1");
	ok(is_str(j, "lock", "s3://b/k.tflock"), "json: lock");
	ok(is_str(j, "id", "0f0e0d0c-0b0a-4909-8807-060504030201"), "json: id");
	ok(is_str(j, "command", "terraform apply"), "json: command");
	ok(cJSON_IsTrue(get(j, "acquired")), "json: acquired true");
	ok(cJSON_IsFalse(get(j, "took_over")), "json: took_over false");
	ok(is_str(j, "started", "2024-05-01T12:00:00Z"), "json: started");
	ok(is_num(j, "waited_seconds", 80.25), "json: waited_seconds");
	ok(is_num(j, "held_seconds", 242), "json: held_seconds");
	ok(is_num(j, "heartbeats", 9), "json: heartbeats");
	ok(is_num(j, "heartbeat_failures", 1), "json: heartbeat_failures");
	ok(is_num(j, "requests", 14), "json: requests");
	h = get(j, "holders_seen");
	ok(cJSON_IsArray(h) && cJSON_GetArraySize(h) == 2, "json: two holders_seen");
	ok(h && is_str(cJSON_GetArrayItem(h, 0), "who", who1) &&
	           is_str(cJSON_GetArrayItem(h, 0), "operation", op1) &&
	           is_str(cJSON_GetArrayItem(h, 0), "id", id1) &&
	           cJSON_GetArraySize(cJSON_GetArrayItem(h, 0)) == 3,
	   "json: first holder who/operation/id");
	ok(h && is_str(cJSON_GetArrayItem(h, 1), "who", who2) &&
	           is_str(cJSON_GetArrayItem(h, 1), "operation", op2) &&
	           is_str(cJSON_GetArrayItem(h, 1), "id", id2),
	   "json: second holder who/operation/id");
	c = get(j, "child");
	ok(cJSON_IsObject(c) && cJSON_GetArraySize(c) == 3, "json: child has three keys");
	ok(cJSON_IsTrue(get(c, "ran")), "json: child.ran true");
	ok(is_num(c, "exit_code", 0), "json: child.exit_code 0");
	ok(cJSON_IsNull(get(c, "signal")), "json: child.signal null when no signal");
	ok(is_num(j, "exit_code", 0), "json: exit_code");
	ok(is_str(j, "outcome", "released"), "json: outcome");
	ok(is_str(j, "outcome_kind", "released"), "json: outcome_kind");
	ok(text && text[strlen(text) - 1] == '\n', "json: ends with a newline");
	cJSON_Delete(j);
	free(text);

	/* a run that never got the lock, nor ran the command */
	r = base_report();
	r.lock_id = "";
	r.acquired = 0;
	r.held_s = 0;
	r.nholders = 0;
	r.holders = NULL;
	r.child_ran = 0;
	r.child_status_code = 0;
	r.started_utc = NULL;
	r.exit_code = 73;
	r.outcome = "not acquired: held by alice@laptop";
	r.outcome_kind = "held";
	r.waited_s = 1234.5678;
	is_int(0, report_write_json(&r, path, &err), "json: second write over the first");
	text = slurp(path, NULL);
	j = cJSON_Parse(text ? text : "");
	ok(j && cJSON_IsNull(get(j, "id")), "json: id null when never acquired");
	ok(j && cJSON_IsNull(get(j, "started")), "json: started null when unknown");
	ok(j && cJSON_IsArray(get(j, "holders_seen")) &&
	           cJSON_GetArraySize(get(j, "holders_seen")) == 0,
	   "json: holders_seen empty array");
	c = j ? get(j, "child") : NULL;
	ok(c && cJSON_IsFalse(get(c, "ran")) && cJSON_IsNull(get(c, "exit_code")) &&
	           cJSON_IsNull(get(c, "signal")),
	   "json: child that did not run: ran false, exit_code and signal null");
	ok(j && is_num(j, "exit_code", 73) && is_str(j, "outcome_kind", "held"),
	   "json: exit_code and outcome_kind of a held lock");
	ok(text && strstr(text, "\"waited_seconds\": 1234.568,\n"),
	   "json: seconds rounded to milliseconds");
	cJSON_Delete(j);
	free(text);

	/* killed by a signal; hostile numbers */
	r = base_report();
	r.child_status_code = 137;
	r.child_signal = 9;
	r.waited_s = -5;
	r.held_s = NAN;
	is_int(0, report_write_json(&r, path, &err), "json: write a killed child");
	text = slurp(path, NULL);
	j = cJSON_Parse(text ? text : "");
	c = j ? get(j, "child") : NULL;
	ok(c && is_num(c, "exit_code", 137) && is_num(c, "signal", 9),
	   "json: child.exit_code 137 and child.signal 9");
	ok(j && is_num(j, "waited_seconds", 0) && is_num(j, "held_seconds", 0),
	   "json: negative and NaN durations become 0");
	cJSON_Delete(j);
	free(text);
	free(path);
}

static void test_json_escaping(void)
{
	/* quotes, backslash, controls, DEL, U+2028, invalid UTF-8, a valid é */
	static char evil_who[] = "ev\"il\\\n\x01\x7f</script>\xe2\x80\xa8\xff\xc0\xaf\xc3\xa9";
	static char evil_op[] = "\",\"exit_code\": 99, \"x\": \"";
	static char evil_id[] = "\xed\xa0\x80"
	                        "end"; /* an encoded surrogate */
	struct report_holder h[] = { { evil_who, evil_op, evil_id } };
	struct report r = base_report();
	struct tf_error err;
	char *path = path_in("evil.json"), *text;
	const cJSON *hs;
	cJSON *j;
	int clean = 1;

	r.holders = h;
	r.nholders = 1;
	r.outcome = "LOST: \"}\n{\"outcome\": \"released";
	r.command = "terraform apply -var 'a=\\\"b\"'";
	is_int(0, report_write_json(&r, path, &err), "json escaping: write succeeds");
	text = slurp(path, NULL);
	j = cJSON_Parse(text ? text : "");
	ok(j != NULL, "json escaping: still one valid document");
	hs = j ? cJSON_GetArrayItem(get(j, "holders_seen"), 0) : NULL;
	ok(hs && is_str(hs, "who",
	                "ev\"il\\\n\x01\x7f</"
	                "script>\xe2\x80\xa8\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                "\xc3\xa9"),
	   "json escaping: who round-trips, invalid bytes become U+FFFD");
	ok(hs && is_str(hs, "operation", evil_op), "json escaping: quotes cannot add keys");
	ok(hs && is_str(hs, "id",
	                "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                "end"),
	   "json escaping: encoded surrogate replaced");
	ok(j && is_num(j, "exit_code", 0), "json escaping: exit_code unchanged by injection");
	ok(j && is_str(j, "outcome", "LOST: \"}\n{\"outcome\": \"released"),
	   "json escaping: outcome round-trips");
	ok(j && is_str(j, "command", "terraform apply -var 'a=\\\"b\"'"),
	   "json escaping: command round-trips");
	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			clean = 0;
	ok(text && clean, "json escaping: no raw control bytes in the file");
	ok(text && strstr(text, "\\u2028") && strstr(text, "\\u0001") && strstr(text, "\\u007f"),
	   "json escaping: U+2028, U+0001, DEL written as \\u escapes");
	cJSON_Delete(j);
	free(text);
	free(path);
}

static void test_json_atomic(void)
{
	struct report r = base_report(), big = base_report();
	struct report_holder *many;
	struct tf_error err;
	char *path = path_in("atomic.json"), *hardlink = path_in("atomic.link"), *text;
	char *dirpath = path_in("a-directory"), *missing = path_in("no/such/dir/r.json");
	struct stat st;
	int to_child[2], from_child[2];
	pid_t pid;
	unsigned long reads = 0, bad = 0;
	int status = 0, rc;
	char line[128];
	ssize_t n;

	/* the file is replaced, not rewritten in place */
	spit(path, "old contents\n");
	if (link(path, hardlink) != 0)
		bail("link: %s", strerror(errno));
	is_int(0, report_write_json(&r, path, &err), "atomic: write over an existing file");
	text = slurp(hardlink, NULL);
	is_string("old contents\n", text,
	          "atomic: the old inode is untouched (rename, not truncate)");
	free(text);
	text = slurp(path, NULL);
	ok(text && strncmp(text, "{\n", 2) == 0, "atomic: the path holds the new document");
	free(text);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~(mode_t)022),
	   "atomic: mode 0666 & ~umask");
	is_int(0, count_tmp_files(), "atomic: no temporary file left behind");

	/* a reader never sees a partial document */
	many = calloc(2000, sizeof(*many));
	if (!many)
		bail("out of memory");
	for (int i = 0; i < 2000; i++) {
		many[i].who = who1;
		many[i].operation = op1;
		many[i].id = id1;
	}
	big.holders = many;
	big.nholders = 2000;
	if (pipe(to_child) || pipe(from_child))
		bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		struct pollfd pfd = { to_child[0], POLLIN, 0 };
		close(to_child[1]);
		close(from_child[0]);
		for (;;) {
			char *t = slurp(path, NULL);
			cJSON *j = cJSON_Parse(t ? t : "");
			reads++;
			if (!j)
				bad++;
			cJSON_Delete(j);
			free(t);
			if (poll(&pfd, 1, 0) > 0) /* EOF: the writer is done */
				break;
		}
		snprintf(line, sizeof(line), "%lu %lu\n", reads, bad);
		/* the parent's memory, freed so a leak checker has nothing to say */
		free(many);
		free(path);
		free(hardlink);
		free(dirpath);
		free(missing);
		if (write(from_child[1], line, strlen(line)) < 0)
			_exit(2);
		_exit(0);
	}
	close(to_child[0]);
	close(from_child[1]);
	rc = 0;
	for (int i = 0; i < 60 && !rc; i++)
		rc = report_write_json(i % 2 ? &big : &r, path, &err);
	close(to_child[1]);
	n = read(from_child[0], line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	close(from_child[0]);
	waitpid(pid, &status, 0);
	is_int(0, rc, "atomic: 60 rewrites succeed while a reader polls");
	if (sscanf(line, "%lu %lu", &reads, &bad) != 2)
		reads = 0, bad = 1;
	ok(reads > 0, "atomic: the reader read the file (%lu times)", reads);
	is_int(0, (long long)bad, "atomic: every read parsed as a whole document");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "atomic: reader exited cleanly");
	is_int(0, count_tmp_files(), "atomic: still no temporary file left behind");
	free(many);

	/* failures are reported and clean up */
	err_clear(&err);
	rc = report_write_json(&r, missing, &err);
	is_int(ERR_SYSTEM, rc, "atomic: a missing directory is ERR_SYSTEM");
	ok(strstr(err.msg, "cannot write report") && strstr(err.msg, "no/such/dir/r.json") &&
	           strstr(err.msg, strerror(ENOENT)),
	   "atomic: the message names the path and the reason: %s", err.msg);
	if (mkdir(dirpath, 0700) != 0)
		bail("mkdir: %s", strerror(errno));
	err_clear(&err);
	rc = report_write_json(&r, dirpath, &err);
	is_int(ERR_SYSTEM, rc, "atomic: replacing a directory fails");
	is_int(0, count_tmp_files(), "atomic: the temporary file is removed after a failed rename");
	err_clear(&err);
	is_int(ERR_INTERNAL, report_write_json(&r, "", &err), "atomic: an empty path is refused");

	/* "-" is stdout */
	{
		char *cap = path_in("stdout.json"), *want;
		capture_begin(cap);
		rc = report_write_json(&r, "-", &err);
		capture_end();
		is_int(0, rc, "json to stdout: succeeds");
		report_write_json(&r, path, &err);
		want = slurp(path, NULL);
		text = slurp(cap, NULL);
		is_string(want, text, "json to stdout: the same document as the file");
		free(want);
		free(text);
		free(cap);
	}
	free(path);
	free(hardlink);
	free(dirpath);
	free(missing);
}

/* ------------------------------------------------------------- GitHub */

static const char summary_base[] =
        "### tflock: released\n"
        "\n"
        "| Item | Value |\n"
        "| --- | --- |\n"
        "| Lock | s3://b/k.tflock |\n"
        "| Outcome | released |\n"
        "| Lock ID | 0f0e0d0c-0b0a-4909-8807-060504030201 |\n"
        "| Command | terraform apply |\n"
        "| Started | 2024-05-01T12:00:00Z |\n"
        "| Waited | 1m20s |\n"
        "| Held | 4m2s |\n"
        "| Heartbeats | 9 (1 failed) |\n"
        "| S3 requests | 14 |\n"
        "| Took over a stale lock | no |\n"
        "| Command result | exited 0 |\n"
        "| tflock exit code | 0 |\n"
        "\n"
        "**Holders waited for**\n"
        "\n"
        "| Who | Operation | ID |\n"
        "| --- | --- | --- |\n"
        "| alice@laptop | OperationTypeApply | 11111111-1111-4111-8111-111111111111 |\n"
        "| bob@ci | OperationTypePlan | 22222222-2222-4222-8222-222222222222 |\n"
        "\n";

struct gh_files {
	char *summary, *output, *out;
};

static void gh_setup(struct gh_files *f)
{
	f->summary = path_in("step_summary");
	f->output = path_in("output");
	f->out = path_in("stdout");
	unlink(f->summary);
	unlink(f->output);
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_STEP_SUMMARY", f->summary, 1);
	setenv("GITHUB_OUTPUT", f->output, 1);
}

static void gh_teardown(struct gh_files *f)
{
	unsetenv("GITHUB_ACTIONS");
	unsetenv("GITHUB_STEP_SUMMARY");
	unsetenv("GITHUB_OUTPUT");
	free(f->summary);
	free(f->output);
	free(f->out);
}

/* Bytes on stdout before the capture's own flush: what report_github flushed. */
static long long gh_flushed;

static int gh_run(const struct report *r, const struct gh_files *f, struct tf_error *err)
{
	struct stat st;
	int rc;
	err_clear(err);
	capture_begin(f->out);
	rc = report_github(r, err);
	gh_flushed = fstat(1, &st) == 0 ? (long long)st.st_size : -1;
	capture_end();
	return rc;
}

static void test_github_off(void)
{
	struct gh_files f;
	struct report r = base_report();
	struct tf_error err;
	char *out;
	size_t len = 1;
	struct stat st;

	gh_setup(&f);
	unsetenv("GITHUB_ACTIONS");
	is_int(0, gh_run(&r, &f, &err), "github off: returns 0");
	ok(stat(f.summary, &st) != 0 && stat(f.output, &st) != 0,
	   "github off: no summary or output file written");
	out = slurp(f.out, &len);
	is_int(0, (long long)len, "github off: nothing on stdout");
	free(out);
	setenv("GITHUB_ACTIONS", "false", 1);
	r.outcome_kind = "lost";
	gh_run(&r, &f, &err);
	out = slurp(f.out, &len);
	ok(len == 0 && stat(f.summary, &st) != 0, "github off: GITHUB_ACTIONS=false is off too");
	free(out);
	gh_teardown(&f);
}

static void test_github_released(void)
{
	struct gh_files f;
	struct report r = base_report();
	struct tf_error err;
	char *text, want[4096];

	gh_setup(&f);
	spit(f.summary, "previous step text\n");
	spit(f.output, "earlier=1\n");
	is_int(0, gh_run(&r, &f, &err), "github released: returns 0");
	text = slurp(f.summary, NULL);
	snprintf(want, sizeof(want), "previous step text\n%s", summary_base);
	is_string(want, text, "github released: summary table appended, exact bytes");
	free(text);
	text = slurp(f.output, NULL);
	{
		struct kv kv[16];
		int n = gh_parse(text ? text : "", kv, 16);
		is_int(6, n, "github released: five outputs appended after the earlier one");
		ok(n == 6 && !strcmp(kv_get(kv, n, "earlier"), "1") &&
		           !strcmp(kv_get(kv, n, "lock-id"),
		                   "0f0e0d0c-0b0a-4909-8807-060504030201") &&
		           !strcmp(kv_get(kv, n, "waited-seconds"), "80.25") &&
		           !strcmp(kv_get(kv, n, "held-seconds"), "242") &&
		           !strcmp(kv_get(kv, n, "outcome"), "released") &&
		           !strcmp(kv_get(kv, n, "outcome-kind"), "released"),
		   "github released: the values as the runner reads them");
		ok(text && !strncmp(text, "earlier=1\nlock-id<<ghadelimiter_", 32) &&
		           !strstr(text, "outcome=") && count_char(text, '\n') == 1 + 5 * 3,
		   "github released: every output is a heredoc (three lines each)");
		kv_free(kv, n > 0 ? n : 0);
	}
	free(text);
	text = slurp(f.out, NULL);
	is_string("::warning title=tflock%3A waited for the lock::s3://b/k.tflock: waited 1m20s "
	          "for the lock, held by alice@laptop (OperationTypeApply, ID "
	          "11111111-1111-4111-8111-111111111111); bob@ci (OperationTypePlan, ID "
	          "22222222-2222-4222-8222-222222222222)\n",
	          text, "github released: one ::warning:: for the holders waited on");
	is_int(text ? (long long)strlen(text) : -1, gh_flushed,
	       "github released: workflow commands flushed before returning");
	free(text);

	/* nothing to warn about: no workflow command at all */
	r.nholders = 0;
	r.holders = NULL;
	gh_run(&r, &f, &err);
	text = slurp(f.out, NULL);
	is_string("", text, "github released, no holders: stdout stays empty");
	free(text);
	gh_teardown(&f);
}

static void test_github_lost_injection(void)
{
	static char who[] = "mallory\n::warning::fake, with: colons";
	static char op[] = "OperationTypeApply";
	static char id[] = "33333333";
	struct report_holder h[] = { { who, op, id } };
	static const char outcome[] =
	        "LOST: taken over by mallory\n::error::pwned %0A\r::set-output name=x::y";
	struct gh_files f;
	struct report r = base_report();
	struct tf_error err;
	struct kv kv[16];
	char *text, *first_delim = NULL;
	int n;

	gh_setup(&f);
	r.holders = h;
	r.nholders = 1;
	r.outcome = outcome;
	r.outcome_kind = "lost";
	r.exit_code = 75;
	is_int(0, gh_run(&r, &f, &err), "github lost: returns 0");

	text = slurp(f.out, NULL);
	is_string("::error title=tflock%3A lock lost::s3://b/k.tflock: LOST: taken over by "
	          "mallory\\n::error::pwned %250A\\r::set-output name=x::y (exit 75)%0AFix: the "
	          "command may have stopped halfway: check the state (terraform plan) before "
	          "running again; tflock status shows who holds the lock now\n"
	          "::warning title=tflock%3A waited for the lock::s3://b/k.tflock: waited 1m20s "
	          "for the lock, held by mallory\\n::warning::fake, with: colons "
	          "(OperationTypeApply, ID 33333333)\n",
	          text, "github lost: ::error:: and ::warning:: escaped, exact bytes");
	is_int(2, text ? count_char(text, '\n') : -1,
	       "github lost: exactly two lines: no injected command");
	ok(text && !strchr(text, '\r'), "github lost: no raw CR on stdout");
	free(text);

	text = slurp(f.output, NULL);
	n = gh_parse(text ? text : "", kv, 16);
	is_int(5, n, "github lost: the runner's reading finds exactly five outputs");
	is_string("0f0e0d0c-0b0a-4909-8807-060504030201", n > 0 ? kv_get(kv, n, "lock-id") : NULL,
	          "github lost: lock-id intact");
	is_string("LOST: taken over by mallory\\n::error::pwned %0A\\r::set-output name=x::y",
	          n > 0 ? kv_get(kv, n, "outcome") : NULL,
	          "github lost: the outcome is one line, its controls shown escaped");
	is_string("lost", n > 0 ? kv_get(kv, n, "outcome-kind") : NULL,
	          "github lost: outcome-kind");
	{
		const char *p = text ? strstr(text, "\noutcome<<ghadelimiter_") : NULL;
		int hex = 0;
		if (p) {
			p += strlen("\noutcome<<ghadelimiter_");
			while (strchr("0123456789abcdef", *p) && *p)
				p++, hex++;
		}
		ok(p && hex == 32 && *p == '\n',
		   "github lost: heredoc form with a random 128-bit delimiter");
		if (p)
			first_delim = strndup(p - hex, (size_t)hex);
	}
	free(text);
	kv_free(kv, n > 0 ? n : 0);

	text = slurp(f.summary, NULL);
	ok(text && strstr(text, "| Outcome | LOST: taken over by mallory\\\\n::error::pwned %0A"
	                        "\\\\r::set-output name=x::y |\n"),
	   "github lost: outcome row stays one line");
	ok(text && strstr(text, "| mallory\\\\n::warning::fake, with: colons | "
	                        "OperationTypeApply | 33333333 |\n"),
	   "github lost: holder row stays one line");
	ok(text && strstr(text, "### tflock: lost\n") &&
	           strstr(text, "| tflock exit code | 75 |\n"),
	   "github lost: heading and exit code");
	free(text);

	/* a second run: a fresh delimiter; a value that tries to end the heredoc */
	unlink(f.output);
	r.outcome = "LOST: x\nEOF\nlock-id=evil\nghadelimiter_\n";
	gh_run(&r, &f, &err);
	text = slurp(f.output, NULL);
	n = gh_parse(text ? text : "", kv, 16);
	is_int(5, n, "github heredoc: still five outputs");
	is_string("0f0e0d0c-0b0a-4909-8807-060504030201", n > 0 ? kv_get(kv, n, "lock-id") : NULL,
	          "github heredoc: injected lock-id line stays inside the value");
	is_string("LOST: x\\nEOF\\nlock-id=evil\\nghadelimiter_\\n",
	          n > 0 ? kv_get(kv, n, "outcome") : NULL,
	          "github heredoc: a value with newlines stays one line, escaped");
	ok(first_delim && text && !strstr(text, first_delim),
	   "github heredoc: the delimiter differs between runs");
	free(text);
	kv_free(kv, n > 0 ? n : 0);
	free(first_delim);

	/* a CR alone also takes the heredoc form */
	unlink(f.output);
	r.outcome = "LOST: a\rb";
	gh_run(&r, &f, &err);
	text = slurp(f.output, NULL);
	ok(text && strstr(text, "\noutcome<<ghadelimiter_") && !strstr(text, "outcome=LOST"),
	   "github outputs: a value with CR uses the heredoc form");
	n = gh_parse(text ? text : "", kv, 16);
	is_string("LOST: a\\rb", n > 0 ? kv_get(kv, n, "outcome") : NULL,
	          "github outputs: the CR is shown escaped");
	free(text);
	kv_free(kv, n > 0 ? n : 0);
	gh_teardown(&f);
}

static void test_github_markdown_injection(void)
{
	static char who[] =
	        "x|y <img src=x onerror=alert(1)> [a](http://e) `c` *b* _i_ ~s~ &amp; \\";
	static char op[] = "Op\x1b[31m\xe2\x80\xae"
	                   "evil";
	static char id[] = "\xff"
	                   "id";
	struct report_holder h[] = { { who, op, id } };
	struct gh_files f;
	struct report r = base_report();
	struct tf_error err;
	char *text;

	gh_setup(&f);
	r.holders = h;
	r.nholders = 1;
	gh_run(&r, &f, &err);
	text = slurp(f.summary, NULL);
	ok(text && strstr(text, "| x\\|y \\<img src=x onerror=alert(1)\\> \\[a\\](http://e) "
	                        "\\`c\\` \\*b\\* \\_i\\_ \\~s\\~ \\&amp; \\\\ | "
	                        "Op\\\\x1b\\[31m\\\\u202eevil | \\\\xffid |\n"),
	   "github summary: Markdown and HTML escaped, controls and bidi overrides shown "
	   "escaped");
	if (text && !strstr(text, "x\\|y"))
		diag("%s", text);
	free(text);
	gh_teardown(&f);
}

static void test_github_other_kinds(void)
{
	struct gh_files f;
	struct report r = base_report();
	struct tf_error err;
	char *text;

	gh_setup(&f);
	r.nholders = 0;
	r.holders = NULL;
	r.outcome = "release FAILED: 503 SlowDown, lock left to expire";
	r.outcome_kind = "release-failed";
	r.exit_code = 69;
	gh_run(&r, &f, &err);
	text = slurp(f.out, NULL);
	is_string("::error title=tflock%3A lock release failed::s3://b/k.tflock: release FAILED: "
	          "503 SlowDown, lock left to expire (exit 69)%0AFix: the lock expires after its "
	          "lease; tflock release in the job's cleanup step (or tflock unlock with this "
	          "run's lock ID) frees it sooner\n",
	          text, "github release-failed: ::error:: line");
	free(text);

	r = base_report();
	r.took_over = 1;
	gh_run(&r, &f, &err);
	text = slurp(f.out, NULL);
	is_string(
	        "::warning title=tflock%3A took over a stale lock::s3://b/k.tflock: took over a "
	        "stale lock from bob@ci (OperationTypePlan, ID "
	        "22222222-2222-4222-8222-222222222222) after it stopped renewing its lease\n"
	        "::warning title=tflock%3A waited for the lock::s3://b/k.tflock: waited 1m20s for "
	        "the lock, held by alice@laptop (OperationTypeApply, ID "
	        "11111111-1111-4111-8111-111111111111); bob@ci (OperationTypePlan, ID "
	        "22222222-2222-4222-8222-222222222222)\n",
	        text, "github took over: two ::warning:: lines, the last holder taken over");
	free(text);
	text = slurp(f.summary, NULL);
	ok(text && strstr(text, "| Took over a stale lock | yes |\n"),
	   "github took over: the summary says so");
	free(text);

	/* B14.3: a takeover on the CI's word says why, in both */
	r = base_report();
	r.took_over = 1;
	r.takeover_why = "the CI says the holder's job 77 ended 40s ago (completed/cancelled)";
	gh_run(&r, &f, &err);
	text = slurp(f.out, NULL);
	ok(text && strstr(text, "ID 22222222-2222-4222-8222-222222222222): the CI says the "
	                        "holder's job 77 ended 40s ago (completed/cancelled)\n"),
	   "github took over by CI: the ::warning:: line says why");
	free(text);
	text = slurp(f.summary, NULL);
	ok(text && strstr(text, "| Took over a stale lock | the CI says the holder's job 77 ended "
	                        "40s ago (completed/cancelled) |\n"),
	   "github took over by CI: the summary says why");
	free(text);

	/* many holders: the annotation names five, the table fifty */
	{
		struct report_holder *many = calloc(52, sizeof(*many));
		const char *p;
		int rows = 0;
		if (!many)
			bail("out of memory");
		for (int i = 0; i < 52; i++) {
			many[i].who = who2;
			many[i].operation = op2;
			many[i].id = id2;
		}
		r = base_report();
		r.holders = many;
		r.nholders = 52;
		unlink(f.summary);
		gh_run(&r, &f, &err);
		text = slurp(f.out, NULL);
		ok(text && strstr(text,
		                  "(OperationTypePlan, ID 22222222-2222-4222-8222-222222222222); "
		                  "and 47 more\n"),
		   "github many holders: the warning names five and counts the rest");
		free(text);
		text = slurp(f.summary, NULL);
		for (p = text; p && (p = strstr(p, "\n| bob@ci | ")); p++)
			rows++;
		is_int(50, rows, "github many holders: the table lists fifty");
		ok(text && strstr(text, "| and 2 more | | |\n"),
		   "github many holders: and counts the rest");
		free(text);
		free(many);
	}

	/* an output file that cannot be written: the error is reported, the rest done */
	unlink(f.summary);
	setenv("GITHUB_OUTPUT", "/nonexistent-tflock-dir/output", 1);
	r = base_report();
	r.outcome_kind = "lost";
	r.outcome = "LOST: gone";
	is_int(ERR_SYSTEM, gh_run(&r, &f, &err), "github: unwritable $GITHUB_OUTPUT is ERR_SYSTEM");
	ok(strstr(err.msg, "$GITHUB_OUTPUT") && strstr(err.msg, "/nonexistent-tflock-dir/output"),
	   "github: the error names the file: %s", err.msg);
	text = slurp(f.summary, NULL);
	ok(text && strstr(text, "### tflock: lost\n"), "github: the summary was still written");
	free(text);
	text = slurp(f.out, NULL);
	ok(text && !strncmp(text, "::error title=tflock%3A lock lost::", 35),
	   "github: the annotation was still printed");
	free(text);

	/* GITHUB_ACTIONS=1, and an empty GITHUB_OUTPUT is skipped */
	setenv("GITHUB_ACTIONS", "1", 1);
	setenv("GITHUB_OUTPUT", "", 1);
	is_int(0, gh_run(&r, &f, &err),
	       "github: GITHUB_ACTIONS=1 counts; empty GITHUB_OUTPUT skipped");
	gh_teardown(&f);
}

/* ------------------------------------------------------------- GitLab */

static char *run_to_string(void (*fn)(FILE *, const void *), const void *arg, size_t *len)
{
	FILE *f = tmpfile();
	char *data;
	long n;
	if (!f)
		bail("tmpfile: %s", strerror(errno));
	fn(f, arg);
	n = ftell(f);
	data = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	if (!data)
		bail("out of memory");
	rewind(f);
	if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)
		bail("short read");
	fclose(f);
	*len = (size_t)(n > 0 ? n : 0);
	return data;
}

struct sect {
	const char *name, *title;
	time_t when;
};

static void do_start(FILE *f, const void *a)
{
	const struct sect *s = a;
	report_gitlab_section_start_at(s->name, s->title, s->when, f);
}

static void do_end(FILE *f, const void *a)
{
	const struct sect *s = a;
	report_gitlab_section_end_at(s->name, s->when, f);
}

static void do_start_now(FILE *f, const void *a)
{
	const struct sect *s = a;
	report_gitlab_section_start(s->name, s->title, f);
}

static void do_end_now(FILE *f, const void *a)
{
	const struct sect *s = a;
	report_gitlab_section_end(s->name, f);
}

static int blob_is(const char *want, size_t wlen, const char *seen, size_t slen)
{
	return wlen == slen && memcmp(want, seen, wlen) == 0;
}

static void test_gitlab(void)
{
	static const char want_start[] =
	        "\x1b[0Ksection_start:1700000000:tflock-report[collapsed=true]\r\x1b[0K"
	        "tflock: lock report\n";
	static const char want_end[] = "\x1b[0Ksection_end:1700000000:tflock-report\r\x1b[0K\n";
	struct sect s = { "tflock-report", "tflock: lock report", 1700000000 };
	char *got, w0[256], w1[256];
	size_t len;
	time_t t0, t1;

	got = run_to_string(do_start, &s, &len);
	ok(blob_is(want_start, sizeof(want_start) - 1, got, len),
	   "gitlab: section_start exact bytes");
	free(got);
	got = run_to_string(do_end, &s, &len);
	ok(blob_is(want_end, sizeof(want_end) - 1, got, len), "gitlab: section_end exact bytes");
	free(got);

	s.name = "my section:\r\n[x]";
	s.title = "title\r\x1b[0Kfake\nline";
	got = run_to_string(do_start, &s, &len);
	is_string("\x1b[0Ksection_start:1700000000:my_section____x_[collapsed=true]\r\x1b[0K"
	          "title\\r\\x1b[0Kfake\\nline\n",
	          got, "gitlab: name limited to [A-Za-z0-9_.-], title controls shown escaped");
	free(got);
	got = run_to_string(do_end, &s, &len);
	is_string("\x1b[0Ksection_end:1700000000:my_section____x_\r\x1b[0K\n", got,
	          "gitlab: section_end uses the same sanitized name");
	free(got);
	s.name = "";
	s.title = NULL;
	got = run_to_string(do_start, &s, &len);
	is_string("\x1b[0Ksection_start:1700000000:section[collapsed=true]\r\x1b[0K\n", got,
	          "gitlab: empty name and NULL title");
	free(got);

	/* the real clock */
	s.name = "tflock";
	s.title = "T";
	t0 = time(NULL);
	got = run_to_string(do_start_now, &s, &len);
	t1 = time(NULL);
	snprintf(w0, sizeof(w0), "\x1b[0Ksection_start:%lld:tflock[collapsed=true]\r\x1b[0KT\n",
	         (long long)t0);
	snprintf(w1, sizeof(w1), "\x1b[0Ksection_start:%lld:tflock[collapsed=true]\r\x1b[0KT\n",
	         (long long)t1);
	ok(!strcmp(got, w0) || !strcmp(got, w1), "gitlab: section_start stamps the current time");
	free(got);
	t0 = time(NULL);
	got = run_to_string(do_end_now, &s, &len);
	t1 = time(NULL);
	snprintf(w0, sizeof(w0), "\x1b[0Ksection_end:%lld:tflock\r\x1b[0K\n", (long long)t0);
	snprintf(w1, sizeof(w1), "\x1b[0Ksection_end:%lld:tflock\r\x1b[0K\n", (long long)t1);
	ok(!strcmp(got, w0) || !strcmp(got, w1), "gitlab: section_end stamps the current time");
	free(got);

	/* NULL stream is stdout */
	{
		char *cap = path_in("gitlab.out");
		struct stat st;
		long long flushed;
		capture_begin(cap);
		report_gitlab_section_end_at("x", 5, NULL);
		flushed = fstat(1, &st) == 0 ? (long long)st.st_size : -1;
		capture_end();
		got = slurp(cap, NULL);
		is_string("\x1b[0Ksection_end:5:x\r\x1b[0K\n", got,
		          "gitlab: NULL stream writes to stdout");
		is_int(got ? (long long)strlen(got) : -1, flushed, "gitlab: the marker is flushed");
		free(got);
		free(cap);
	}
}

/* ------------------------------------------------------------- GitLab outcomes */

/* report_gitlab_at() into a string; *rc its return. */
static char *gl_run(const struct report *r, time_t now, int *rc, struct tf_error *err)
{
	FILE *f = tmpfile();
	char *data;
	long n;
	if (!f)
		bail("tmpfile: %s", strerror(errno));
	err_clear(err);
	*rc = report_gitlab_at(r, now, f, err);
	n = ftell(f);
	data = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	if (!data)
		bail("out of memory");
	rewind(f);
	if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)
		bail("short read");
	fclose(f);
	return data;
}

/* Line i (from 0) of text, without its newline, into out. */
static const char *line_of(const char *text, int i, char *out, size_t size)
{
	const char *p = text, *e;
	size_t n;
	while (p && i-- > 0)
		p = (p = strchr(p, '\n')) ? p + 1 : NULL;
	if (!p || !*p)
		return NULL;
	e = strchr(p, '\n');
	n = e ? (size_t)(e - p) : strlen(p);
	snprintf(out, size, "%.*s", (int)n, p);
	return out;
}

static const struct {
	const char *kind, *title, *fix_start;
	int collapsed, exit_code;
} gl_cases[] = {
	{ "usage", "tflock: usage or configuration error", "correct the option", 0, 64 },
	{ "unavailable", "tflock: the store is unusable", "run tflock doctor", 0, 69 },
	{ "refused", "tflock: refused by the pre-apply check", "commit the changes", 0, 77 },
	{ "held", "tflock: not acquired, the lock is held", "wait longer", 0, 75 },
	{ "cancelled", "tflock: cancelled before the command ran", "nothing to clean up", 1, 143 },
	{ "lost", "tflock: lock lost", "the command may have stopped halfway", 0, 76 },
	{ "release-failed", "tflock: lock release failed", "the lock expires after its lease", 0,
	  69 },
	{ "error", "tflock: internal error", "run again with -v", 0, 70 },
};

static void test_gitlab_outcomes(void)
{
	struct report r;
	struct tf_error err;
	struct gh_files f;
	char *got, want[1024], line[2048], tail[2100];
	int rc;

	/* one kind, exact bytes: an open section, the outcome, the fix */
	r = base_report();
	r.nholders = 0;
	r.holders = NULL;
	r.acquired = 0;
	r.outcome_kind = "held";
	r.outcome = "not acquired: held by alice@laptop";
	r.exit_code = 75;
	got = gl_run(&r, 1700000000, &rc, &err);
	is_int(0, rc, "gitlab held: returns 0");
	is_string("\x1b[0Ksection_start:1700000000:tflock_held\r\x1b[0K"
	          "tflock: not acquired, the lock is held\n"
	          "s3://b/k.tflock: not acquired: held by alice@laptop (exit 75)\n"
	          "Fix: wait longer (a larger --timeout, no --no-wait); if the holder's run is "
	          "gone, tflock status shows its ID and tflock unlock ID frees the lock\n"
	          "\x1b[0Ksection_end:1700000000:tflock_held\r\x1b[0K\n",
	          got, "gitlab held: exact bytes, the section left open");
	free(got);

	/* every kind: one section, its title, the outcome, the same fix as GitHub's */
	gh_setup(&f);
	for (size_t i = 0; i < sizeof(gl_cases) / sizeof(gl_cases[0]); i++) {
		char *ann;
		const char *fix;
		r.outcome_kind = gl_cases[i].kind;
		r.outcome = "what happened";
		r.exit_code = gl_cases[i].exit_code;
		got = gl_run(&r, 5, &rc, &err);
		is_int(0, rc, "gitlab %s: returns 0", gl_cases[i].kind);
		is_int(4, count_char(got, '\n'), "gitlab %s: four lines", gl_cases[i].kind);
		snprintf(want, sizeof(want), "\x1b[0Ksection_start:5:tflock_%s%s\r\x1b[0K%s",
		         gl_cases[i].kind, gl_cases[i].collapsed ? "[collapsed=true]" : "",
		         gl_cases[i].title);
		is_string(want, line_of(got, 0, line, sizeof(line)),
		          "gitlab %s: section start, %s, titled with the cause", gl_cases[i].kind,
		          gl_cases[i].collapsed ? "collapsed" : "open");
		snprintf(want, sizeof(want), "s3://b/k.tflock: what happened (exit %d)",
		         gl_cases[i].exit_code);
		is_string(want, line_of(got, 1, line, sizeof(line)),
		          "gitlab %s: the lock, the outcome, the exit code", gl_cases[i].kind);
		fix = line_of(got, 2, line, sizeof(line));
		snprintf(want, sizeof(want), "Fix: %s", gl_cases[i].fix_start);
		ok(fix && !strncmp(fix, want, strlen(want)), "gitlab %s: the fix: %s",
		   gl_cases[i].kind, fix ? fix : "(none)");
		snprintf(want, sizeof(want), "\x1b[0Ksection_end:5:tflock_%s\r\x1b[0K",
		         gl_cases[i].kind);
		is_string(want, line_of(got, 3, line, sizeof(line)), "gitlab %s: section end",
		          gl_cases[i].kind);
		/* GitHub: the annotation carries the same fix, after a %0A */
		fix = line_of(got, 2, line, sizeof(line));
		snprintf(tail, sizeof(tail), "(exit %d)%%0A%s\n", gl_cases[i].exit_code,
		         fix ? fix : "(none)");
		snprintf(want, sizeof(want),
		         "::%s title=", gl_cases[i].collapsed ? "warning" : "error");
		gh_run(&r, &f, &err);
		ann = slurp(f.out, NULL);
		ok(ann && !strncmp(ann, want, strlen(want)) && strstr(ann, tail),
		   "github %s: the annotation ends in the same fix", gl_cases[i].kind);
		free(ann);
		free(got);
	}
	gh_teardown(&f);

	/* plain successes: nothing */
	r.outcome = "released";
	r.outcome_kind = "released";
	got = gl_run(&r, 5, &rc, &err);
	ok(rc == 0 && !*got, "gitlab released: no section");
	free(got);
	r.outcome_kind = "re-entered";
	got = gl_run(&r, 5, &rc, &err);
	ok(rc == 0 && !*got, "gitlab re-entered: no section");
	free(got);
	r.outcome_kind = NULL;
	got = gl_run(&r, 5, &rc, &err);
	ok(rc == 0 && !*got, "gitlab no kind: no section");
	free(got);

	/* a hostile holder in the outcome: shown escaped, cannot end or start a section */
	r.outcome_kind = "held";
	r.outcome = "not acquired: held by m\x1b[2J\x1b]0;t\x07\r\n\x1b[0Ksection_end:1:tflock_held"
	            "\r\x1b[0K\nsection_start:1:x\r\n::error::y\xe2\x80\xae\xc2\x9b\xff";
	r.exit_code = 75;
	got = gl_run(&r, 9, &rc, &err);
	is_string("s3://b/k.tflock: not acquired: held by m\\x1b[2J\\x1b]0;t\\x07\\r\\n\\x1b[0K"
	          "section_end:1:tflock_held\\r\\x1b[0K\\nsection_start:1:x\\r\\n::error::y"
	          "\\u202e\\u009b\\xff (exit 75)",
	          line_of(got, 1, line, sizeof(line)), "gitlab hostile: the outcome escaped");
	is_int(4, count_char(got, '\n'), "gitlab hostile: still four lines");
	is_int(2, count_char(got, '\r'), "gitlab hostile: the markers' two CRs only");
	is_int(4, count_char(got, '\x1b'), "gitlab hostile: the markers' four ESCs only");
	ok(!strchr(got, '\x07') && !strstr(got, "\xe2\x80\xae") && !strstr(got, "\xc2\x9b"),
	   "gitlab hostile: no BEL, bidi override or C1 byte");
	free(got);

	/* errors */
	{
		FILE *ro = fopen("/dev/null", "r");
		if (!ro)
			bail("/dev/null: %s", strerror(errno));
		err_clear(&err);
		is_int(ERR_SYSTEM, report_gitlab_at(&r, 9, ro, &err),
		       "gitlab: a stream that cannot be written is ERR_SYSTEM");
		ok(strstr(err.msg, "GitLab") != NULL, "gitlab: the error says what: %s", err.msg);
		fclose(ro);
	}
	err_clear(&err);
	is_int(ERR_INTERNAL, report_gitlab(NULL, &err), "gitlab: no report is ERR_INTERNAL");
}

/* report_gitlab() writes to stderr only when GITLAB_CI is "true". */
static void test_gitlab_env(void)
{
	static const char *values[] = { NULL, "", "false", "1", "TRUE", "true" };
	struct report r = base_report();
	struct tf_error err;
	char *cap = path_in("gitlab-env.err");

	r.outcome_kind = "unavailable";
	r.outcome = "no bucket";
	r.exit_code = 69;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int saved = dup(2), fd, rc;
		char *got;
		if (values[i])
			setenv("GITLAB_CI", values[i], 1);
		else
			unsetenv("GITLAB_CI");
		fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (saved < 0 || fd < 0 || dup2(fd, 2) < 0)
			bail("cannot redirect stderr: %s", strerror(errno));
		close(fd);
		err_clear(&err);
		rc = report_gitlab(&r, &err);
		fflush(stderr);
		if (dup2(saved, 2) < 0)
			bail("cannot restore stderr: %s", strerror(errno));
		close(saved);
		got = slurp(cap, NULL);
		is_int(0, rc, "gitlab env %s: returns 0", values[i] ? values[i] : "(unset)");
		if (values[i] && !strcmp(values[i], "true"))
			ok(got && !strncmp(got, "\x1b[0Ksection_start:", 18) &&
			           strstr(got,
			                  ":tflock_unavailable\r\x1b[0Ktflock: the store is "
			                  "unusable\ns3://b/k.tflock: no bucket (exit 69)\nFix: "),
			   "gitlab env true: the section on stderr");
		else
			is_string("", got, "gitlab env %s: nothing written",
			          values[i] ? values[i] : "(unset)");
		free(got);
	}
	unsetenv("GITLAB_CI");
	free(cap);
}

/* ---------------------------------------------------------------- durations */

static void test_durations(void)
{
	static const struct {
		double s;
		const char *want;
	} cases[] = {
		{ 0, "0s" },        { 0.31, "0.3s" }, { 2, "2s" },
		{ 9.4, "9.4s" },    { 9.96, "10s" },  { 42.4, "42s" },
		{ 59.6, "1m0s" },   { 80, "1m20s" },  { 242, "4m2s" },
		{ 3723, "1h2m3s" }, { -1, "0s" },     { 1e300, "277777777h46m40s" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		report_format_duration(cases[i].s, buf, sizeof(buf));
		is_string(cases[i].want, buf, "duration %g", cases[i].s);
	}
	report_format_duration(NAN, buf, sizeof(buf));
	is_string("0s", buf, "duration NaN");
}

int main(void)
{
	plan_lazy();
	umask(022);
	if (!mkdtemp(tmpdir))
		bail("mkdtemp: %s", strerror(errno));
	unsetenv("GITHUB_ACTIONS");
	unsetenv("GITLAB_CI");

	test_json_fields();
	test_json_escaping();
	test_json_atomic();
	test_github_off();
	test_github_released();
	test_github_lost_injection();
	test_github_markdown_injection();
	test_github_other_kinds();
	test_gitlab();
	test_gitlab_outcomes();
	test_gitlab_env();
	test_durations();

	rm_rf(tmpdir);
	return 0;
}
