#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ci.h"
#include "clock.h"
#include "sanitize.h"

static const char *str(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------------ numbers */

static double clean_seconds(double s)
{
	if (!(s >= 0)) /* negative or NaN */
		return 0;
	if (s > 1e12)
		return 1e12;
	return s;
}

/* Seconds with millisecond precision, trailing zeros dropped: "80.5", "242", "0". */
static void add_seconds(struct buf *b, double s)
{
	char tmp[64];
	size_t n;
	snprintf(tmp, sizeof(tmp), "%.3f", clean_seconds(s));
	n = strlen(tmp);
	while (n && tmp[n - 1] == '0')
		n--;
	if (n && tmp[n - 1] == '.')
		n--;
	buf_add(b, tmp, n);
}

void report_format_duration(double seconds, char *buf, size_t size)
{
	long long tenths = (long long)(clean_seconds(seconds) * 10 + 0.5), secs;

	if (!buf || !size)
		return;
	if (tenths < 100) {
		if (tenths % 10)
			snprintf(buf, size, "%lld.%llds", tenths / 10, tenths % 10);
		else
			snprintf(buf, size, "%llds", tenths / 10);
		return;
	}
	secs = (tenths + 5) / 10;
	if (secs < 60)
		snprintf(buf, size, "%llds", secs);
	else if (secs < 3600)
		snprintf(buf, size, "%lldm%llds", secs / 60, secs % 60);
	else
		snprintf(buf, size, "%lldh%lldm%llds", secs / 3600, secs / 60 % 60, secs % 60);
}

static void add_duration(struct buf *b, double seconds)
{
	char tmp[64];
	report_format_duration(seconds, tmp, sizeof(tmp));
	buf_adds(b, tmp);
}

/* ------------------------------------------------------------------ files */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	size_t got = 0;

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	while (got < nbytes) {
		ssize_t k = getrandom(r + got, nbytes - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (got < nbytes) {
		/* No random source: still unique enough for a temporary name, and the
		 * output delimiter is checked against the value anyway. */
		static unsigned counter;
		uint64_t x = (uint64_t)clock_mono_ns() ^ ((uint64_t)getpid() << 12) ^ ++counter;
		for (size_t i = got; i < nbytes; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			r[i] = (unsigned char)(x >> 56);
		}
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int append_file(const char *path, const char *what, const struct buf *b,
                       struct tf_error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return err_set(err, ERR_SYSTEM, "cannot open %s \"%s\": %s", what, path,
		               strerror(errno));
	if (write_all(fd, b->data, b->len) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		               strerror(e));
	}
	if (close(fd) < 0)
		return err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		               strerror(errno));
	return 0;
}

/* Best effort: make the rename durable. */
static void sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)))
	                  : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int report_write_atomic(const char *path, const struct buf *b, mode_t mode, const char *what,
                        struct tf_error *err)
{
	char rnd[17];
	char *tmp = NULL;
	int fd = -1, ret = 0, e;

	for (int tries = 0; tries < 16; tries++) {
		random_hex(rnd, 8);
		free(tmp);
		tmp = xasprintf("%s.tmp-%ld-%s", path, (long)getpid(), rnd);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		ret = err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		              strerror(errno));
		goto out;
	}
	if (write_all(fd, b->data, b->len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		ret = err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		              strerror(e));
		goto out;
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(tmp);
		ret = err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		              strerror(e));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		ret = err_set(err, ERR_SYSTEM, "cannot write %s \"%s\": %s", what, path,
		              strerror(e));
		goto out;
	}
	sync_dir_of(path);
out:
	free(tmp);
	return ret;
}

static int write_stdout(const char *data, size_t len, const char *what, struct tf_error *err)
{
	if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0)
		return err_set(err, ERR_SYSTEM, "cannot write %s to standard output: %s", what,
		               strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------ JSON */

void report_json_string(struct buf *b, const char *s)
{
	buf_add_json_string(b, s, 0);
}

static void json_string_or_null(struct buf *b, const char *s)
{
	if (s && *s)
		report_json_string(b, s);
	else
		buf_adds(b, "null");
}

static void json_key(struct buf *b, const char *indent, const char *key)
{
	buf_adds(b, indent);
	report_json_string(b, key);
	buf_adds(b, ": ");
}

static void report_json(const struct report *r, struct buf *b)
{
	buf_adds(b, "{\n");
	json_key(b, "  ", "version");
	buf_addf(b, "%d,\n", REPORT_JSON_VERSION);
	json_key(b, "  ", "lock");
	report_json_string(b, r->lock_url);
	buf_adds(b, ",\n");
	json_key(b, "  ", "id");
	json_string_or_null(b, r->lock_id);
	buf_adds(b, ",\n");
	json_key(b, "  ", "command");
	report_json_string(b, r->command);
	buf_adds(b, ",\n");
	json_key(b, "  ", "acquired");
	buf_adds(b, r->acquired ? "true,\n" : "false,\n");
	json_key(b, "  ", "took_over");
	buf_adds(b, r->took_over ? "true,\n" : "false,\n");
	json_key(b, "  ", "takeover_reason");
	json_string_or_null(b, r->took_over && r->takeover_why && *r->takeover_why ? r->takeover_why
	                                                                           : NULL);
	buf_adds(b, ",\n");
	json_key(b, "  ", "started");
	if (r->started_utc)
		report_json_string(b, r->started_utc);
	else
		buf_adds(b, "null");
	buf_adds(b, ",\n");
	json_key(b, "  ", "waited_seconds");
	add_seconds(b, r->waited_s);
	buf_adds(b, ",\n");
	json_key(b, "  ", "held_seconds");
	add_seconds(b, r->held_s);
	buf_adds(b, ",\n");
	json_key(b, "  ", "heartbeats");
	buf_addf(b, "%u,\n", r->heartbeats);
	json_key(b, "  ", "heartbeat_failures");
	buf_addf(b, "%u,\n", r->heartbeat_failures);
	json_key(b, "  ", "requests");
	buf_addf(b, "%u,\n", r->requests);
	json_key(b, "  ", "holders_seen");
	if (!r->nholders || !r->holders) {
		buf_adds(b, "[],\n");
	} else {
		buf_adds(b, "[\n");
		for (size_t i = 0; i < r->nholders; i++) {
			const struct report_holder *h = &r->holders[i];
			buf_adds(b, "    {");
			report_json_string(b, "who");
			buf_adds(b, ": ");
			report_json_string(b, h->who);
			buf_adds(b, ", ");
			report_json_string(b, "operation");
			buf_adds(b, ": ");
			report_json_string(b, h->operation);
			buf_adds(b, ", ");
			report_json_string(b, "id");
			buf_adds(b, ": ");
			report_json_string(b, h->id);
			buf_adds(b, i + 1 < r->nholders ? "},\n" : "}\n");
		}
		buf_adds(b, "  ],\n");
	}
	json_key(b, "  ", "child");
	buf_adds(b, "{\n");
	json_key(b, "    ", "ran");
	buf_adds(b, r->child_ran ? "true,\n" : "false,\n");
	json_key(b, "    ", "exit_code");
	if (r->child_ran)
		buf_addf(b, "%d,\n", r->child_status_code);
	else
		buf_adds(b, "null,\n");
	json_key(b, "    ", "signal");
	if (r->child_ran && r->child_signal > 0)
		buf_addf(b, "%d\n", r->child_signal);
	else
		buf_adds(b, "null\n");
	buf_adds(b, "  },\n");
	json_key(b, "  ", "exit_code");
	buf_addf(b, "%d,\n", r->exit_code);
	json_key(b, "  ", "outcome");
	report_json_string(b, r->outcome);
	buf_adds(b, ",\n");
	json_key(b, "  ", "outcome_kind");
	report_json_string(b, r->outcome_kind);
	buf_adds(b, "\n}\n");
}

int report_write_json(const struct report *r, const char *path, struct tf_error *err)
{
	struct buf b = BUF_INIT;
	int ret;

	if (!r || !path || !*path)
		return err_set(err, ERR_INTERNAL, "report_write_json: no report or path");
	report_json(r, &b);
	if (!strcmp(path, "-"))
		ret = write_stdout(b.data, b.len, "the report", err);
	else
		ret = report_write_atomic(path, &b, 0666, "report", err);
	buf_free(&b);
	return ret;
}

/* ------------------------------------------------------------------ GitHub */

/* How the command ended, for the job summary. */
static void add_child_result(struct buf *b, const struct report *r)
{
	if (!r->child_ran)
		buf_adds(b, "did not run");
	else if (r->child_signal > 0)
		buf_addf(b, "was killed by signal %d (exit %d)", r->child_signal,
		         r->child_status_code);
	else
		buf_addf(b, "exited %d", r->child_status_code);
}

/* Markdown table cell text (sanitize_markdown()): one line, no markup of its own.
 * Holder fields are cut to SANITIZE_FIELD_MAX, the rest is tflock's. */
static void add_md(struct buf *b, const char *s)
{
	sanitize_markdown(b, s, 0);
}

static void md_row(struct buf *b, const char *name, const char *value)
{
	buf_adds(b, "| ");
	buf_adds(b, name);
	buf_adds(b, " | ");
	add_md(b, value);
	buf_adds(b, " |\n");
}

#define MD_MAX_HOLDERS 50
#define NOTE_MAX_HOLDERS 5

static void github_summary(const struct report *r, struct buf *b)
{
	struct buf v = BUF_INIT;

	buf_adds(b, "### tflock: ");
	add_md(b, r->outcome_kind && *r->outcome_kind ? r->outcome_kind : "finished");
	buf_adds(b, "\n\n| Item | Value |\n| --- | --- |\n");
	md_row(b, "Lock", r->lock_url);
	md_row(b, "Outcome", r->outcome);
	md_row(b, "Lock ID", r->lock_id && *r->lock_id ? r->lock_id : "(none)");
	md_row(b, "Command", r->command);
	md_row(b, "Started", r->started_utc);

	add_duration(&v, r->waited_s);
	md_row(b, "Waited", v.data);
	buf_reset(&v);
	if (r->acquired)
		add_duration(&v, r->held_s);
	else
		buf_adds(&v, "not acquired");
	md_row(b, "Held", v.data);
	buf_reset(&v);
	buf_addf(&v, "%u (%u failed)", r->heartbeats, r->heartbeat_failures);
	md_row(b, "Heartbeats", v.data);
	buf_reset(&v);
	buf_addf(&v, "%u", r->requests);
	md_row(b, "S3 requests", v.data);
	md_row(b, "Took over a stale lock",
	       !r->took_over                         ? "no"
	       : r->takeover_why && *r->takeover_why ? r->takeover_why
	                                             : "yes");
	buf_reset(&v);
	add_child_result(&v, r);
	md_row(b, "Command result", v.data);
	buf_reset(&v);
	buf_addf(&v, "%d", r->exit_code);
	md_row(b, "tflock exit code", v.data);

	if (r->nholders && r->holders) {
		size_t shown = r->nholders < MD_MAX_HOLDERS ? r->nholders : MD_MAX_HOLDERS;
		buf_adds(b, "\n**Holders waited for**\n\n| Who | Operation | ID |\n| --- | --- | "
		            "--- |\n");
		/* cppcheck-suppress knownConditionTrueFalse ; false positive: 2.10 takes shown for 0 */
		for (size_t i = 0; i < shown; i++) {
			buf_adds(b, "| ");
			sanitize_markdown(b, r->holders[i].who, SANITIZE_FIELD_MAX);
			buf_adds(b, " | ");
			sanitize_markdown(b, r->holders[i].operation, SANITIZE_FIELD_MAX);
			buf_adds(b, " | ");
			sanitize_markdown(b, r->holders[i].id, SANITIZE_FIELD_MAX);
			buf_adds(b, " |\n");
		}
		if (shown < r->nholders)
			buf_addf(b, "| and %zu more | | |\n", r->nholders - shown);
	}
	buf_addc(b, '\n');
	buf_free(&v);
}

/* One step output, always a heredoc whose random delimiter the value lacks. */
static void github_output(struct buf *b, const char *name, const char *value)
{
	char rnd[33];
	do
		random_hex(rnd, 16);
	while (sanitize_heredoc(b, name, value, rnd));
}

static void github_outputs(const struct report *r, struct buf *b)
{
	struct buf v = BUF_INIT;

	github_output(b, "lock-id", r->lock_id);
	add_seconds(&v, r->waited_s);
	github_output(b, "waited-seconds", v.data);
	buf_reset(&v);
	add_seconds(&v, r->held_s);
	github_output(b, "held-seconds", v.data);
	github_output(b, "outcome", r->outcome);
	github_output(b, "outcome-kind", r->outcome_kind);
	buf_free(&v);
}

/* One workflow command; fix (or NULL) follows the message on a line of its own,
 * the runner's %0A. */
static void wf_command(struct buf *b, const char *cmd, const char *title, const char *msg,
                       const char *fix)
{
	buf_addf(b, "::%s title=", cmd);
	sanitize_workflow(b, title, 1);
	buf_adds(b, "::");
	sanitize_workflow(b, msg, 0);
	if (fix) {
		buf_adds(b, "%0AFix: ");
		sanitize_workflow(b, fix, 0);
	}
	buf_addc(b, '\n');
}

/* A holder for an annotation: its fields escaped and cut here, so that the
 * message sanitize_workflow() escapes next is already clean (no-op there). */
static void add_holder(struct buf *b, const struct report_holder *h)
{
	sanitize_text(b, h->who && *h->who ? h->who : "an unknown holder", SANITIZE_FIELD_MAX);
	if ((h->operation && *h->operation) || (h->id && *h->id)) {
		buf_adds(b, " (");
		if (h->operation && *h->operation)
			sanitize_text(b, h->operation, SANITIZE_FIELD_MAX);
		if (h->id && *h->id) {
			buf_adds(b, h->operation && *h->operation ? ", ID " : "ID ");
			sanitize_text(b, h->id, SANITIZE_FIELD_MAX);
		}
		buf_addc(b, ')');
	}
}

/* Every outcome but a plain success (released, re-entered): its level, the
 * title naming the cause, and the fix, one line of what to do next. One table
 * serves GitHub's annotation and GitLab's log section; the message between
 * them is tflock's outcome (note_message()). */
struct exit_note {
	const char *kind, *level, *title, *fix;
};

static const struct exit_note exit_notes[] = {
	{ "usage", "error", "tflock: usage or configuration error",
	  "correct the option, TFLOCK_* variable or backend setting the message names "
	  "(tflock --help lists them)" },
	{ "unavailable", "error", "tflock: the store is unusable",
	  "run tflock doctor with the same settings: it checks credentials, bucket, region "
	  "and permissions and says what to change" },
	{ "refused", "error", "tflock: refused by the pre-apply check",
	  "commit the changes, check out the expected commit or run the newer pipeline; "
	  "--allow-dirty, --allow-older or --git-check off override the check" },
	{ "held", "error", "tflock: not acquired, the lock is held",
	  "wait longer (a larger --timeout, no --no-wait); if the holder's run is gone, "
	  "tflock status shows its ID and tflock unlock ID frees the lock" },
	{ "cancelled", "warning", "tflock: cancelled before the command ran",
	  "nothing to clean up: the command did not run and this run holds no lock; run the "
	  "job again when you want it" },
	{ "lost", "error", "tflock: lock lost",
	  "the command may have stopped halfway: check the state (terraform plan) before "
	  "running again; tflock status shows who holds the lock now" },
	{ "release-failed", "error", "tflock: lock release failed",
	  "the lock expires after its lease; tflock release in the job's cleanup step (or "
	  "tflock unlock with this run's lock ID) frees it sooner" },
	{ "error", "error", "tflock: internal error",
	  "run again with -v to see every request; if the message does not name the cause, "
	  "report it as a tflock bug" },
};

static const struct exit_note *exit_note_of(const char *kind)
{
	for (size_t i = 0; i < sizeof(exit_notes) / sizeof(exit_notes[0]); i++)
		if (!strcmp(str(kind), exit_notes[i].kind))
			return &exit_notes[i];
	return NULL;
}

/* "LOCK: OUTCOME (exit N)", unescaped: each sink escapes it once. */
static void note_message(struct buf *m, const struct report *r, const struct exit_note *n)
{
	if (r->lock_url && *r->lock_url)
		buf_addf(m, "%s: ", r->lock_url);
	buf_adds(m, r->outcome && *r->outcome ? r->outcome : n->title);
	buf_addf(m, " (exit %d)", r->exit_code);
}

static void github_annotations(const struct report *r, struct buf *b)
{
	const struct exit_note *n = exit_note_of(r->outcome_kind);
	const char *url = r->lock_url && *r->lock_url ? r->lock_url : "the lock";
	struct buf m = BUF_INIT;

	if (n) {
		note_message(&m, r, n);
		wf_command(b, n->level, n->title, m.data, n->fix);
	}
	if (r->took_over) {
		buf_reset(&m);
		buf_addf(&m, "%s: took over a stale lock", url);
		if (r->nholders && r->holders) {
			buf_adds(&m, " from ");
			add_holder(&m, &r->holders[r->nholders - 1]);
		}
		if (r->takeover_why && *r->takeover_why) {
			buf_adds(&m, ": ");
			buf_adds(&m, r->takeover_why);
		} else {
			buf_adds(&m, " after it stopped renewing its lease");
		}
		wf_command(b, "warning", "tflock: took over a stale lock", m.data, NULL);
	}
	if (r->nholders && r->holders) {
		size_t shown = r->nholders < NOTE_MAX_HOLDERS ? r->nholders : NOTE_MAX_HOLDERS;
		buf_reset(&m);
		buf_addf(&m, "%s: waited ", url);
		add_duration(&m, r->waited_s);
		buf_adds(&m, " for the lock, held by ");
		/* cppcheck-suppress knownConditionTrueFalse ; false positive, as above */
		for (size_t i = 0; i < shown; i++) {
			if (i)
				buf_adds(&m, "; ");
			add_holder(&m, &r->holders[i]);
		}
		if (shown < r->nholders)
			buf_addf(&m, "; and %zu more", r->nholders - shown);
		wf_command(b, "warning", "tflock: waited for the lock", m.data, NULL);
	}
	buf_free(&m);
}

/* Keep the first failure in err; later ones are dropped. */
static void keep_first(int rc, const struct tf_error *e, int *ret, struct tf_error *err)
{
	if (!rc || *ret)
		return;
	*ret = rc;
	if (err)
		*err = *e;
}

int report_github(const struct report *r, struct tf_error *err)
{
	const char *path;
	struct buf b = BUF_INIT;
	struct tf_error e;
	int ret = 0;

	if (!r)
		return err_set(err, ERR_INTERNAL, "report_github: no report");
	if (!ci_on_github())
		return 0;

	if ((path = ci_github_step_summary())) {
		github_summary(r, &b);
		keep_first(append_file(path, "$GITHUB_STEP_SUMMARY", &b, &e), &e, &ret, err);
		buf_reset(&b);
	}
	if ((path = ci_github_output())) {
		github_outputs(r, &b);
		keep_first(append_file(path, "$GITHUB_OUTPUT", &b, &e), &e, &ret, err);
		buf_reset(&b);
	}
	github_annotations(r, &b);
	if (b.len)
		keep_first(write_stdout(b.data, b.len, "workflow commands", &e), &e, &ret, err);
	buf_free(&b);
	return ret;
}

/* ------------------------------------------------------------------ GitLab */

static void add_section_name(struct buf *b, const char *name)
{
	const char *p = str(name);
	if (!*p) {
		buf_adds(b, "section");
		return;
	}
	for (; *p; p++) {
		char c = *p;
		int okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		buf_addc(b, okc ? c : '_');
	}
}

/* The markers into b; collapsed 0 leaves the section open in the job log. */
static void add_section_start(struct buf *b, const char *name, const char *title, int collapsed,
                              time_t now)
{
	buf_addf(b, "\033[0Ksection_start:%lld:", (long long)now);
	add_section_name(b, name);
	if (collapsed)
		buf_adds(b, "[collapsed=true]");
	buf_adds(b, "\r\033[0K");
	sanitize_text(b, title, SANITIZE_TEXT_MAX);
	buf_addc(b, '\n');
}

static void add_section_end(struct buf *b, const char *name, time_t now)
{
	buf_addf(b, "\033[0Ksection_end:%lld:", (long long)now);
	add_section_name(b, name);
	buf_adds(b, "\r\033[0K\n");
}

static void emit(FILE *out, const struct buf *b)
{
	if (!out)
		out = stdout;
	fwrite(b->data, 1, b->len, out);
	fflush(out);
}

void report_gitlab_section_start_at(const char *name, const char *title, time_t now, FILE *out)
{
	struct buf b = BUF_INIT;
	add_section_start(&b, name, title, 1, now);
	emit(out, &b);
	buf_free(&b);
}

void report_gitlab_section_end_at(const char *name, time_t now, FILE *out)
{
	struct buf b = BUF_INIT;
	add_section_end(&b, name, now);
	emit(out, &b);
	buf_free(&b);
}

void report_gitlab_section_start(const char *name, const char *title, FILE *out)
{
	report_gitlab_section_start_at(name, title, time(NULL), out);
}

void report_gitlab_section_end(const char *name, FILE *out)
{
	report_gitlab_section_end_at(name, time(NULL), out);
}

int report_gitlab_at(const struct report *r, time_t now, FILE *out, struct tf_error *err)
{
	const struct exit_note *n;
	struct buf b = BUF_INIT, m = BUF_INIT, name = BUF_INIT;
	int ret = 0;

	if (!r)
		return err_set(err, ERR_INTERNAL, "report_gitlab: no report");
	if (!(n = exit_note_of(r->outcome_kind)))
		return 0;
	if (!out)
		out = stderr;
	buf_addf(&name, "tflock_%s", n->kind);
	add_section_start(&b, name.data, n->title, strcmp(n->level, "error") != 0, now);
	note_message(&m, r, n);
	sanitize_text(&b, m.data, 0);
	buf_adds(&b, "\nFix: ");
	sanitize_text(&b, n->fix, 0);
	buf_addc(&b, '\n');
	add_section_end(&b, name.data, now);
	if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		ret = err_set(err, ERR_SYSTEM, "cannot write the GitLab log section: %s",
		              strerror(errno));
	buf_free(&name);
	buf_free(&m);
	buf_free(&b);
	return ret;
}

int report_gitlab(const struct report *r, struct tf_error *err)
{
	if (!r)
		return err_set(err, ERR_INTERNAL, "report_gitlab: no report");
	if (!ci_gitlab_sections())
		return 0;
	return report_gitlab_at(r, time(NULL), stderr, err);
}
