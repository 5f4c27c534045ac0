#include "target.h"
#include "version.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ddb.h"
#include "log.h"
#include "outcome.h"

void target_init(struct target *t)
{
	memset(t, 0, sizeof(*t));
	backend_init(&t->backend);
}

void target_free(struct target *t)
{
	if (!t)
		return;
	backend_headers_free(&t->put_headers);
	backend_free(&t->backend);
	t->backend_found = 0;
}

/* PROTOCOL A1: the state object for a workspace (Go's path.Join, as Terraform). */
char *target_state_key(const struct target *t, const struct config *c)
{
	if (t->backend_found && c->src[O_KEY] == SRC_BACKEND &&
	    c->src[O_WORKSPACE] <= SRC_BACKEND && c->src[O_WORKSPACE_KEY_PREFIX] <= SRC_BACKEND)
		return xstrdup(t->backend.state_key); /* exactly what terraform computed */
	return backend_state_key(c->key, c->workspace ? c->workspace : "default",
	                         c->workspace_key_prefix ? c->workspace_key_prefix : "env:");
}

char *target_ident(const struct target *t, const struct config *c)
{
	char *key = target_state_key(t, c), *id;
	id = xasprintf("%s|%s|%s|%s%s%s", c->endpoint ? c->endpoint : "aws", c->bucket, key,
	               c->dynamodb_table ? c->dynamodb_table : "",
	               c->dynamodb_table && c->no_file ? "|table-only" : "",
	               c->dynamodb_table && c->dynamodb_endpoint ? c->dynamodb_endpoint : "");
	free(key);
	return id;
}

void target_s3_config(const struct config *c, struct s3_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->endpoint = c->endpoint;
	sc->region = c->region;
	sc->bucket = c->bucket;
	sc->path_style = c->path_style;
	sc->timeout_ms = 10000;
	sc->creds.profile = c->profile;
	sc->creds.region = c->region;
	sc->use_fips = c->use_fips;
	sc->use_dualstack = c->use_dualstack;
	sc->creds.shared_credentials_file = c->shared_credentials_file;
	sc->creds.shared_config_file = c->shared_config_file;
	sc->creds.sts_endpoint = c->sts_endpoint;
	sc->creds.assume_role.role_arn = c->role_arn;
	sc->creds.assume_role.session_name = c->session_name;
	sc->creds.assume_role.external_id = c->external_id;
}

size_t target_held_env(const struct config *c, char **out)
{
	size_t n = 0;
	if (c->endpoint && *c->endpoint)
		out[n++] = xasprintf("TFLOCK_HELD_S3_ENDPOINT=%s", c->endpoint);
	out[n++] = xasprintf("TFLOCK_HELD_REGION=%s",
	                     c->region && *c->region ? c->region : "us-east-1");
	if (c->path_style)
		out[n++] = xstrdup("TFLOCK_HELD_PATH_STYLE=true");
	if (c->dynamodb_table && *c->dynamodb_table) {
		out[n++] = xasprintf("TFLOCK_HELD_DYNAMODB_TABLE=%s", c->dynamodb_table);
		if (c->dynamodb_endpoint && *c->dynamodb_endpoint)
			out[n++] =
			        xasprintf("TFLOCK_HELD_DYNAMODB_ENDPOINT=%s", c->dynamodb_endpoint);
	}
	return n;
}

struct s3_client *target_open_store(const struct config *c)
{
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct tf_error err;
	err_clear(&err);
	target_s3_config(c, &sc);
	if (s3_client_new(&sc, &s3, &err))
		die(outcome_exit_for_error(&err), "%s", err.msg);
	return s3;
}

void target_lock_opts(const struct target *t, const struct config *c, struct lock_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->time_scale = c->time_scale;
	o->lease_s = (long)(c->lease_ms / 1000);
	o->lease_ms = config_scaled(c, c->lease_ms);
	o->timeout_ms = c->timeout_ms >= 0 ? config_scaled(c, c->timeout_ms) : -1;
	o->no_wait = c->no_wait;
	o->queue = !c->no_queue;
	o->poll_ms = c->poll_ms > 0 ? config_scaled(c, c->poll_ms) : 0;
	o->version = "tflock-" PACKAGE_VERSION;
	o->inherited_id = getenv("TFLOCK_HELD_ID");
	o->put_headers = t->put_headers.h;
	o->nput_headers = t->put_headers.n;
	o->no_checksum = c->skip_s3_checksum;
	o->tagging = c->lock_tagging;
}

struct lock *target_lock(struct s3_client *s3, const struct target *t, const struct config *c,
                         const struct lock_opts *o)
{
	struct tf_error err;
	char *key = target_state_key(t, c);
	struct lock_opts oo = *o;
	struct lock *l;
	(void)t;
	err_clear(&err);
	if (c->dynamodb_table && *c->dynamodb_table) { /* PROTOCOL B11, B12 */
		struct ddb_config dc;
		memset(&dc, 0, sizeof(dc));
		dc.table = c->dynamodb_table;
		dc.endpoint = c->dynamodb_endpoint;
		dc.region = c->region;
		dc.use_fips = c->use_fips;
		if (ddb_client_new(&dc, s3, &oo.ddb, &err))
			die(EXIT_USAGE, "%s", err.msg);
		oo.ddb_owned = 1;
		oo.no_file = c->no_file;
	}
	l = lock_new(s3, key, &oo, &err);
	if (!l)
		die(EXIT_USAGE, "%s", err.msg);
	free(key);
	return l;
}

int target_backend_present(const char *chdir)
{
	struct backend b;
	struct tf_error err;
	int ret;
	err_clear(&err);
	backend_init(&b);
	ret = backend_load(chdir, &b, &err);
	backend_free(&b);
	return ret == 0;
}

static void set_from_backend(struct config *c, enum cfg_opt opt, const char *v)
{
	struct tf_error err;
	err_clear(&err);
	if (v && *v && config_set(c, opt, v, SRC_BACKEND, &err))
		die(EXIT_USAGE, "%s", err.msg);
}

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The backend's values below flags and TFLOCK_* variables; the settings that
 * are not options (credentials files, role, FIPS, ...) come from it alone. */
static void use_backend(struct target *t, struct config *c)
{
	const struct backend *b = &t->backend;
	struct tf_error err;
	err_clear(&err);
	set_from_backend(c, O_BUCKET, b->bucket);
	set_from_backend(c, O_KEY, b->key);
	set_from_backend(c, O_REGION, b->region);
	set_from_backend(c, O_ENDPOINT, b->endpoint);
	set_from_backend(c, O_WORKSPACE, b->workspace);
	set_from_backend(c, O_WORKSPACE_KEY_PREFIX, b->workspace_key_prefix);
	set_from_backend(c, O_PROFILE, b->profile);
	set_from_backend(c, O_DYNAMODB_TABLE, b->dynamodb_table);
	set_from_backend(c, O_DYNAMODB_ENDPOINT, b->dynamodb_endpoint);
	if (b->path_style && c->src[O_PATH_STYLE] <= SRC_BACKEND) {
		c->path_style = 1;
		c->src[O_PATH_STYLE] = SRC_BACKEND;
	}
	c->use_fips = b->use_fips;
	c->use_dualstack = b->use_dualstack;
	c->skip_s3_checksum = b->skip_s3_checksum;
	c->shared_credentials_file =
	        b->shared_credentials_file ? xstrdup(b->shared_credentials_file) : NULL;
	c->shared_config_file = b->shared_config_file ? xstrdup(b->shared_config_file) : NULL;
	c->sts_endpoint = b->sts_endpoint ? xstrdup(b->sts_endpoint) : NULL;
	c->role_arn = b->role_arn ? xstrdup(b->role_arn) : NULL;
	c->session_name = b->session_name ? xstrdup(b->session_name) : NULL;
	c->external_id = b->external_id ? xstrdup(b->external_id) : NULL;
	if (backend_put_headers(&t->backend, &t->put_headers, &err))
		die(EXIT_USAGE, "%s", err.msg);
}

/*
 * Zero configuration: read the backend `terraform init` set up (after the
 * wrapped terraform's -chdir) and use it below flags and TFLOCK_* variables.
 * For a terraform child, a --bucket/--key that contradicts it is an error: tflock
 * must lock the very object terraform writes to.
 */
void target_from_backend(struct target *t, struct config *c, unsigned cmd, const struct tfcmd *tf)
{
	const struct backend *b = &t->backend;
	struct tf_error err;
	int ret, explicit_loc = c->bucket || c->key;
	err_clear(&err);
	backend_init(&t->backend);
	ret = backend_load(tf && tf->chdir ? tf->chdir : NULL, &t->backend, &err);
	if (ret == ERR_NOT_FOUND) {
		if (!explicit_loc)
			die(EXIT_USAGE, "%s", err.msg);
		return;
	}
	if (ret) {
		if (!explicit_loc || (tf && tf->is_terraform))
			die(EXIT_USAGE, "%s", err.msg);
		log_verbose("ignoring the terraform backend: %s", err.msg);
		return;
	}
	t->backend_found = 1;
	if (tf && tf->is_terraform && explicit_loc &&
	    ((c->bucket && !same(c->bucket, b->bucket)) || (c->key && !same(c->key, b->key))))
		die(EXIT_USAGE,
		    "--bucket/--key (s3://%s/%s) contradict the backend terraform uses "
		    "(s3://%s/%s, from %s): tflock would lock a different object than terraform "
		    "writes",
		    c->bucket ? c->bucket : b->bucket, c->key ? c->key : b->key, b->bucket, b->key,
		    b->state_file);
	use_backend(t, c);
	log_verbose("terraform backend from %s: s3://%s/%s (workspace %s)", b->state_file,
	            b->bucket, b->state_key, b->workspace ? b->workspace : "default");
	/* PROTOCOL A5, B12: terraform locks what the backend names, and so does tflock:
	 * the file with use_lockfile, the item with dynamodb_table, both with both */
	if (b->dynamodb_table && *b->dynamodb_table) {
		c->no_file = b->use_lockfile != 1;
		log_verbose("terraform locks %s%s", c->no_file ? "" : "the lock file and ",
		            "the DynamoDB item: tflock holds the same");
	} else if ((cmd & (CMD_RUN | CMD_HOLD)) && b->use_lockfile != 1 && !c->no_lockfile_check) {
		die(EXIT_USAGE,
		    "the s3 backend in %s sets neither use_lockfile = true nor dynamodb_table: "
		    "plain terraform runs would not see tflock's lock; add use_lockfile = true to "
		    "the backend and run 'terraform init -reconfigure' (or pass "
		    "--no-lockfile-check to serialise tflock runs only)",
		    b->state_file);
	}
}
