#include "park.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "outcome.h"
#include "report.h"
#include "sanitize.h"

#define HANDLE_MAX 8192 /* bytes: a handle is a few hundred */

void park_handle_free(struct park_handle *h)
{
	if (!h)
		return;
	free(h->lock);
	free(h->id);
	free(h->run);
	for (size_t i = 0; i < h->n; i++)
		free(h->versions[i]);
	memset(h, 0, sizeof(*h));
}

static char *json_str_dup(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(v) && strlen(v->valuestring) < 1024 ? xstrdup(v->valuestring) : NULL;
}

int park_handle_read(const char *path, struct park_handle *h, struct tf_error *err)
{
	struct buf b = BUF_INIT;
	struct tf_error rerr;
	char shown[256];
	const cJSON *vs, *v;
	cJSON *j = NULL;
	int ret = 0;
	memset(h, 0, sizeof(*h));
	err_clear(&rerr);
	sanitize_to(shown, sizeof(shown), path ? path : "", 200);
	if (!path || buf_read_file(&b, path, HANDLE_MAX, &rerr))
		return err_set(err, ERR_USAGE, "cannot read the handle file: %s",
		               path ? rerr.msg : "none given");
	if (!(j = cJSON_ParseWithLength(b.data ? b.data : "", b.len))) {
		ret = err_set(err, ERR_USAGE, "\"%s\" is not a tflock handle (not JSON)", shown);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "v");
	vs = cJSON_GetObjectItemCaseSensitive(j, "versions");
	h->lock = json_str_dup(j, "lock");
	h->id = json_str_dup(j, "id");
	h->run = json_str_dup(j, "run");
	if (!cJSON_IsNumber(v) || v->valuedouble != 1 || !h->lock || !h->id || !*h->id || !h->run ||
	    !cJSON_IsArray(vs) || cJSON_GetArraySize(vs) < 1 ||
	    cJSON_GetArraySize(vs) > PARK_MAX_RECORDS) {
		ret = err_set(err, ERR_USAGE,
		              "\"%s\" is not a tflock handle (v 1 with lock, id, "
		              "versions and run)",
		              shown);
		goto out;
	}
	cJSON_ArrayForEach(v, vs)
	{
		if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= 128) {
			ret = err_set(err, ERR_USAGE, "\"%s\": a version is not a string", shown);
			goto out;
		}
		h->versions[h->n++] = xstrdup(v->valuestring);
	}
out:
	if (ret)
		park_handle_free(h);
	cJSON_Delete(j);
	buf_free(&b);
	return ret;
}

/* The handle's JSON line (what tflock wrote is plain ASCII: URLs, a UUID,
 * versions, digits; escaped anyway) */
static void handle_json(struct lock *l, const char *run, struct buf *b)
{
	buf_adds(b, "{\"v\":1,\"lock\":");
	report_json_string(b, lock_describe_hold(l));
	buf_adds(b, ",\"id\":");
	report_json_string(b, lock_id(l));
	buf_adds(b, ",\"versions\":[");
	for (unsigned i = 0; lock_member(l, i); i++) {
		if (i)
			buf_addc(b, ',');
		report_json_string(b, lock_version(lock_member(l, i)));
	}
	buf_adds(b, "],\"run\":");
	report_json_string(b, run ? run : "");
	buf_adds(b, "}");
}

/* On GitHub Actions, the step output `handle` (not a secret: B14.4) */
static void github_output(const struct buf *json)
{
	const char *out = ci_github_output();
	FILE *f;
	if (!ci_on_github() || !out)
		return;
	f = fopen(out, "a");
	if (!f) {
		log_warn("cannot write the step output 'handle' to $GITHUB_OUTPUT: %s",
		         strerror(errno));
		return;
	}
	fprintf(f, "handle=%s\n", json->data);
	fclose(f);
}

int park_hold(struct lock *l, const struct config *c, const struct ci_identity *ci)
{
	struct lock_park_opts p;
	struct tf_error err;
	struct buf json = BUF_INIT;
	char until[RFC3339_MAX], note[160];
	const char *path = c->handle_file ? c->handle_file : PARK_HANDLE_DEFAULT;
	int ret;
	memset(&p, 0, sizeof(p));
	err_clear(&err);
	p.for_ms = config_scaled(c, c->park_for_ms);
	p.note = c->note;
	p.by = ci->url;
	p.tie = c->tie ? c->tie : "none";
	p.jname = ci_job_name();
	ret = lock_park(l, &p, until, &err);
	if (ret) {
		log_error("not parked: %s", err.msg);
		return outcome_exit_for_lock(ret, c);
	}
	handle_json(l, ci->cj.run, &json);
	buf_addc(&json, '\n');
	if (report_write_atomic(path, &json, 0600, "the handle file", &err)) {
		/* parked, but nobody can resume it: drop the parking at once */
		struct tf_error rerr;
		err_clear(&rerr);
		log_error("%s", err.msg);
		if (lock_unlock_id(l, lock_id(l), &rerr))
			log_error("and the parked lock could not be released: %s (it ends %s)",
			          rerr.msg, until);
		buf_free(&json);
		return EXIT_INTERNAL;
	}
	json.data[--json.len] = '\0';
	github_output(&json);
	sanitize_to(note, sizeof(note), c->note ? c->note : "", 120);
	log_info("parked %s until %s (ID %s%s%s%s); resume it with: tflock run --resume %s -- "
	         "COMMAND",
	         lock_describe_hold(l), until, lock_id(l), *note ? ", note: " : "", note,
	         !strcmp(p.tie, "run") ? ", ends with this CI run" : "", path);
	log_event("park %s id=%s until=%s", lock_url(l), lock_id(l), until);
	buf_free(&json);
	return 0;
}

/* The handle names the lock this run was configured for. */
static int same_lock(struct lock *l, const struct park_handle *h, const char *path,
                     struct tf_error *err)
{
	char shown[256], mine[256];
	if (!strcmp(h->lock, lock_describe_hold(l))) {
		size_t n = 0;
		while (lock_member(l, (unsigned)n))
			n++;
		if (n == h->n)
			return 0;
	}
	sanitize_to(shown, sizeof(shown), h->lock, 200);
	sanitize_to(mine, sizeof(mine), lock_describe_hold(l), 200);
	return err_set(err, ERR_USAGE, "the handle \"%s\" is for %s, not %s", path, shown, mine);
}

int park_resume(struct lock *l, const struct config *c, const struct ci_identity *ci,
                struct tf_error *err)
{
	struct park_handle h;
	int ret;
	if (park_handle_read(c->resume, &h, err) || same_lock(l, &h, c->resume, err)) {
		park_handle_free(&h);
		return LOCK_BAD_INPUT;
	}
	ret = lock_resume(l, h.id, (const char *const *)h.versions, h.n,
	                  ci->cj.run ? ci->cj.run : "", err);
	if (ret == LOCK_OK)
		log_info("resumed %s, parked as ID %s", lock_describe_hold(l), h.id);
	park_handle_free(&h);
	return ret;
}

int park_release(const struct config *c, const struct target *t)
{
	struct s3_client *s3 = target_open_store(c);
	struct lock_opts o;
	struct park_handle h;
	struct tf_error err;
	struct lock *l;
	int ret;
	err_clear(&err);
	target_lock_opts(t, c, &o);
	o.operation = "release";
	o.info = "tflock release --handle-file";
	l = target_lock(s3, t, c, &o);
	ret = park_handle_read(c->handle_file, &h, &err) || same_lock(l, &h, c->handle_file, &err);
	if (ret) {
		ret = EXIT_USAGE;
		log_error("%s", err.msg);
		goto out;
	}
	ret = lock_selftest(l, 0, &err);
	if (!ret)
		ret = lock_release_parked(l, h.id, (const char *const *)h.versions, h.n, &err);
	if (ret == LOCK_OK) {
		log_info("released the parked %s (ID %s)", lock_describe_hold(l), h.id);
	} else {
		log_error("not released: %s", err.msg);
		ret = outcome_exit_for_lock(ret, c);
	}
out:
	park_handle_free(&h);
	lock_free(l);
	s3_client_free(s3);
	return ret;
}
