/*
 * Unit tests for wrapper/backend: the backend state files `terraform init` and
 * `tofu init` write (the .tfstate files in tests/corpus/backend, copied into throwaway
 * working directories), the data dir and workspace rules, the A1 state key, and
 * the SSE/ACL headers mirrored onto the lock PUT.
 */
#include "backend.h"
#include "tap/basic.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

static char *corpus;
static char tmp[PATH_MAX];

/* the SSE-C keys of the corpus and their MD5s, computed with Python's hashlib */
#define KEY1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY1_MD5 "tP/LI3N87DFaSk0aoqYgzg=="
#define KEY2 "jyiNeqHb1+izRaik5LRT/q7Od9C/q7tVPOi9KCBQRFs="
#define KEY2_MD5 "F+MBjYBMENbszHgOvUYBhA=="

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len);
}

static void put_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		bail("cannot write %s: %s", path, strerror(errno));
	fclose(f);
}

static void mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	if (mkdir(p, 0755) && errno != EEXIST)
		bail("mkdir %s: %s", p, strerror(errno));
	free(p);
}

/* A working directory tmp/name whose data dir (datadir, ".terraform" when NULL)
 * holds the corpus file sample as terraform.tfstate and, when env_sample is
 * set, the corpus file env_sample as "environment". Returns tmp/name. */
static char *workdir(const char *name, const char *datadir, const char *sample,
                     const char *env_sample)
{
	char *dir = xasprintf("%s/%s", tmp, name);
	char *dd = xasprintf("%s/%s", dir, datadir ? datadir : ".terraform");
	char *src, *dst, *data;
	size_t len = 0;

	mkdir_p(dd);
	if (sample) {
		src = xasprintf("%s/%s", corpus, sample);
		data = slurp(src, &len);
		if (!data)
			bail("cannot read corpus file %s", src);
		dst = xasprintf("%s/terraform.tfstate", dd);
		put_file(dst, data, len);
		free(src);
		free(dst);
		free(data);
	}
	if (env_sample) {
		src = xasprintf("%s/%s", corpus, env_sample);
		data = slurp(src, &len);
		if (!data)
			bail("cannot read corpus file %s", src);
		dst = xasprintf("%s/environment", dd);
		put_file(dst, data, len);
		free(src);
		free(dst);
		free(data);
	}
	free(dd);
	return dir;
}

/* A working directory whose backend state file is the given JSON text. */
static char *workdir_json(const char *name, const char *json)
{
	char *dir = workdir(name, NULL, NULL, NULL);
	char *p = xasprintf("%s/.terraform/terraform.tfstate", dir);
	put_file(p, json, strlen(json));
	free(p);
	return dir;
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	if (system(cmd) != 0)
		diag("could not remove %s", path);
	free(cmd);
}

static int contains(const char *hay, const char *needle)
{
	return hay && needle && strstr(hay, needle) != NULL;
}

static void clean_env(void)
{
	unsetenv("TF_DATA_DIR");
	unsetenv("TF_WORKSPACE");
	unsetenv("AWS_SSE_CUSTOMER_KEY");
}

static const char *header(const struct backend_headers *hs, const char *name)
{
	for (size_t i = 0; i < hs->n; i++)
		if (!strcmp(hs->h[i].name, name))
			return hs->h[i].value;
	return NULL;
}

/* ---------------------------------------------------------------- pure helpers */

static void test_path_clean(void)
{
	static const char *cases[][2] = {
		{ "", "." },
		{ "a//b", "a/b" },
		{ "/a/b/", "/a/b" },
		{ "a/./b", "a/b" },
		{ "a/../b", "b" },
		{ "../a", "../a" },
		{ "/../a", "/a" },
		{ "a/b/../../..", ".." },
		{ "./", "." },
		{ "//", "/" },
		{ "env:/prod//network/", "env:/prod/network" },
		{ "abc/def/../../../ghi/jkl/../../../mno", "../../mno" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = backend_path_clean(cases[i][0]);
		is_string(cases[i][1], c, "path.Clean(\"%s\")", cases[i][0]);
		free(c);
	}
}

static void test_state_key(void)
{
	static const struct {
		const char *key, *ws, *prefix, *want;
	} cases[] = {
		{ "terraform.tfstate", "default", NULL, "terraform.tfstate" },
		{ "terraform.tfstate", NULL, NULL, "terraform.tfstate" },
		{ "network/terraform.tfstate", "prod", NULL,
		  "env:/prod/network/terraform.tfstate" },
		{ "apps/web/terraform.tfstate", "prod", "envs/team-a",
		  "envs/team-a/prod/apps/web/terraform.tfstate" },
		{ "k.tfstate", "dev", "envs//nested/", "envs/nested/dev/k.tfstate" },
		{ "platform/terraform.tfstate", "dev", "", "dev/platform/terraform.tfstate" },
		{ "k", "qa", "/lead", "/lead/qa/k" },
		{ "k", "qa", "a/./b/../c", "a/c/qa/k" },
		{ "a/b/c/d.tfstate", "ws-1.2", "env:", "env:/ws-1.2/a/b/c/d.tfstate" },
		/* workspace "default": the key as configured, never cleaned (Go returns it as is) */
		{ "dir//odd/", "default", "x", "dir//odd/" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *k = backend_state_key(cases[i].key, cases[i].ws, cases[i].prefix);
		is_string(cases[i].want, k, "state key: key \"%s\", workspace %s, prefix %s",
		          cases[i].key, cases[i].ws ? cases[i].ws : "(none)",
		          cases[i].prefix ? cases[i].prefix : "(default)");
		free(k);
	}
}

static void test_workspace_names(void)
{
	static const char *good[] = { "prod", "feature-x_1.2", "a~b$c&d+e:f=g@h", "default" };
	static const char *bad[] = { "",    "a/b",         "a b", "a;b", "a,b",
		                     "a?b", "caf\xc3\xa9", "a%b", "a#b" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(backend_valid_workspace_name(good[i]), "workspace name \"%s\" is valid",
		   good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!backend_valid_workspace_name(bad[i]), "workspace name \"%s\" is invalid",
		   bad[i]);
}

static void test_go_duration(void)
{
	static const struct {
		const char *s;
		long want; /* -1: invalid */
	} cases[] = {
		{ "1h", 3600 },     { "1h30m", 5400 }, { "90s", 90 },    { "1.5h", 5400 },
		{ "15m", 900 },     { "0", 0 },        { "12h", 43200 }, { "500ms", 0 },
		{ "2h0m0s", 7200 }, { "", -1 },        { "1", -1 },      { "h", -1 },
		{ "1d", -1 },       { "1h 30m", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long secs = -7;
		int rc = backend_parse_go_duration(cases[i].s, &secs);
		if (cases[i].want < 0)
			is_int(-1, rc, "duration \"%s\" is refused", cases[i].s);
		else
			ok(rc == 0 && secs == cases[i].want,
			   "duration \"%s\" is %ld s (got %d, %ld)", cases[i].s, cases[i].want, rc,
			   secs);
	}
}

/* ---------------------------------------------------------------- loading */

/* For ok_returns: a freed backend freed again, then NULL; still what backend_init makes. */
static int backend_free_again(void *arg)
{
	struct backend *b = arg, fresh;
	backend_free(b);
	backend_free(NULL);
	backend_init(&fresh);
	return memcmp(b, &fresh, sizeof(fresh)) != 0;
}

static void test_minimal(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("minimal", NULL, "tf111-minimal.tfstate", NULL);
	char *want_dd = xasprintf("%s/.terraform", dir);
	char *want_sf = xasprintf("%s/.terraform/terraform.tfstate", dir);

	err_clear(&err);
	if (!is_int(0, backend_load(dir, &b, &err), "minimal: loads (%s)", err.msg))
		return;
	is_string("s3", b.type, "minimal: type s3");
	is_string("acme-tfstate", b.bucket, "minimal: bucket");
	is_string("network/terraform.tfstate", b.key, "minimal: key");
	is_string("eu-west-1", b.region, "minimal: region");
	is_int(1, b.use_lockfile, "minimal: use_lockfile true");
	ok(!b.encrypt && !b.path_style && !b.skip_s3_checksum && !b.use_fips && !b.use_dualstack,
	   "minimal: null bools are false");
	ok(!b.endpoint && !b.sts_endpoint && !b.kms_key_id && !b.acl && !b.profile &&
	           !b.workspace_key_prefix && !b.role_arn && !b.sse_customer_key &&
	           !b.dynamodb_table && !b.shared_credentials_file &&
	           b.n_shared_credentials_files == 0,
	   "minimal: null strings and lists are unset");
	is_string("default", b.workspace, "minimal: no environment file: workspace default");
	is_string("network/terraform.tfstate", b.state_key,
	          "minimal: default workspace: key as is");
	is_string(want_dd, b.data_dir, "minimal: data dir <base>/.terraform");
	is_string(want_sf, b.state_file, "minimal: state file path");
	is_string("1.11.4", b.tf_version, "minimal: terraform_version");
	backend_free(&b);
	ok(b.bucket == NULL && b.state_key == NULL && b.use_lockfile == -1,
	   "backend_free leaves it empty");
	ok_returns(backend_free_again, &b,
	           "backend_free twice and on NULL returns and leaves it as backend_init does");
	free(want_dd);
	free(want_sf);
	free(dir);
}

static void test_full(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("full", NULL, "tf111-full.tfstate", "environment-prod");

	err_clear(&err);
	if (!is_int(0, backend_load(dir, &b, &err), "full: loads (%s)", err.msg))
		return;
	is_string("https://rgw.example.internal:7480", b.endpoint, "full: endpoints.s3");
	is_string("https://sts.example.internal", b.sts_endpoint, "full: endpoints.sts");
	is_string("https://iam.example.internal", b.iam_endpoint, "full: endpoints.iam");
	is_int(1, b.path_style, "full: use_path_style");
	is_string("envs/team-a", b.workspace_key_prefix, "full: workspace_key_prefix");
	is_string("prod", b.workspace, "full: workspace from the environment file");
	is_string("envs/team-a/prod/apps/web/terraform.tfstate", b.state_key,
	          "full: A1 key with a custom prefix and a key in subdirectories");
	is_int(1, b.encrypt, "full: encrypt");
	is_string("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	          b.kms_key_id, "full: kms_key_id");
	is_string("bucket-owner-full-control", b.acl, "full: acl");
	is_string("ci", b.profile, "full: profile");
	is_int(2, (long long)b.n_shared_credentials_files, "full: two shared credentials files");
	is_string("/home/ci/.aws/credentials", b.shared_credentials_file,
	          "full: first shared credentials file");
	is_string("/home/ci/.aws/extra-credentials",
	          b.n_shared_credentials_files > 1 ? b.shared_credentials_files[1] : NULL,
	          "full: second shared credentials file kept");
	is_string("/home/ci/.aws/config", b.shared_config_file, "full: shared config file");
	is_string("arn:aws:iam::123456789012:role/terraform", b.role_arn,
	          "full: assume_role.role_arn");
	is_string("ci-deploy", b.session_name, "full: assume_role.session_name");
	is_string("acme-ext-1", b.external_id, "full: assume_role.external_id");
	is_int(5400, b.assume_role_duration_s, "full: assume_role.duration 1h30m");
	is_string("tf-locks", b.dynamodb_table, "full: dynamodb_table");
	is_int(1, b.skip_s3_checksum, "full: skip_s3_checksum");
	is_int(0, b.use_fips, "full: use_fips_endpoint false");
	is_int(1, b.use_dualstack, "full: use_dualstack_endpoint");
	is_int(1, b.skip_region_validation, "full: skip_region_validation");
	is_int(1, b.skip_credentials_validation, "full: skip_credentials_validation");
	is_string("us-east-2", b.sts_region, "full: sts_region");
	is_int(1, b.use_lockfile, "full: use_lockfile");
	backend_free(&b);
	free(dir);
}

static void test_legacy(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("legacy", NULL, "tf15-legacy.tfstate", NULL);

	err_clear(&err);
	if (!is_int(0, backend_load(dir, &b, &err), "legacy 1.5 shape: loads (%s)", err.msg))
		return;
	is_string("legacy-state", b.bucket, "legacy: bucket");
	is_string("http://127.0.0.1:9000", b.endpoint, "legacy: endpoint");
	is_string("http://127.0.0.1:9001", b.sts_endpoint, "legacy: sts_endpoint");
	is_int(1, b.path_style, "legacy: force_path_style");
	is_string("arn:aws:iam::210987654321:role/legacy", b.role_arn,
	          "legacy: top-level role_arn");
	is_string("legacy-session", b.session_name, "legacy: top-level session_name");
	is_string("legacy-ext", b.external_id, "legacy: top-level external_id");
	is_int(3600, b.assume_role_duration_s, "legacy: assume_role_duration_seconds");
	is_string("/etc/terraform/credentials", b.shared_credentials_file,
	          "legacy: shared_credentials_file");
	is_int(-1, b.use_lockfile, "legacy: no use_lockfile attribute: unset");
	ok(b.tf_version == NULL, "legacy: no terraform_version");
	backend_free(&b);
	free(dir);
}

static void test_tofu(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("tofu", NULL, "tofu110-legacy-role.tfstate", NULL);

	setenv("TF_WORKSPACE", "dev", 1);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "OpenTofu 1.10 file: loads (%s)", err.msg)) {
		is_string("arn:aws:iam::111122223333:role/tofu", b.role_arn,
		          "tofu: legacy role_arn when assume_role is null");
		is_string("tofu-run", b.session_name, "tofu: legacy session_name");
		is_int(900, b.assume_role_duration_s, "tofu: assume_role_duration_seconds");
		is_string("arn:aws:iam::111122223333:role/oidc", b.web_identity_role_arn,
		          "tofu: web identity role");
		is_string("/var/run/secrets/oidc/token", b.web_identity_token_file,
		          "tofu: web identity token file");
		is_int(900, b.web_identity_duration_s, "tofu: web identity duration 15m");
		is_string("", b.workspace_key_prefix, "tofu: empty workspace_key_prefix is kept");
		is_string("dev", b.workspace, "tofu: TF_WORKSPACE");
		is_string("dev/platform/terraform.tfstate", b.state_key,
		          "tofu: empty prefix: workspace/key");
		is_string("1.10.2", b.tf_version, "tofu: terraform_version as tofu writes it");
		backend_free(&b);
	}
	unsetenv("TF_WORKSPACE");
	free(dir);
}

static void test_endpoint_precedence(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir_json(
	        "precedence",
	        "{\"version\":3,\"terraform_version\":\"1.10.5\",\"backend\":{\"type\":\"s3\","
	        "\"config\":{\"bucket\":\"b\",\"key\":\"k\",\"endpoint\":\"http://old\","
	        "\"endpoints\":{\"s3\":\"http://new\",\"sts\":null,\"iam\":null},"
	        "\"sts_endpoint\":\"http://"
	        "old-sts\",\"force_path_style\":true,\"use_path_style\":false,"
	        "\"unknown_future_attribute\":{\"x\":1}},\"hash\":1}}");

	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "precedence: loads (%s)", err.msg)) {
		is_string("http://new", b.endpoint, "endpoints.s3 wins over endpoint");
		is_string("http://old-sts", b.sts_endpoint,
		          "sts_endpoint used when endpoints.sts is null");
		is_int(1, b.path_style,
		       "force_path_style true counts when use_path_style is false");
		backend_free(&b);
	}
	free(dir);
}

static void test_errors(void)
{
	static const struct {
		const char *sample;
		int kind;
		const char *needle1, *needle2;
	} cases[] = {
		{ "gcs.tfstate", ERR_USAGE, "\"gcs\"", "s3" },
		{ "malformed.tfstate", ERR_USAGE, "not valid JSON", "near byte" },
		{ "no-backend.tfstate", ERR_USAGE, "local", "--bucket" },
		{ "version4.tfstate", ERR_USAGE, "version", "54.23.9" },
		{ "wrong-type.tfstate", ERR_USAGE, "backend.config.bucket", "not a string" },
		{ "no-key.tfstate", ERR_USAGE, "no key", "s3 backend" },
		{ "state-store.tfstate", ERR_USAGE, "state_store", "foobar_fs" },
		{ "kms-and-sse-c.tfstate", ERR_USAGE, "kms_key_id", "sse_customer_key" },
		{ "bad-sse-c.tfstate", ERR_USAGE, "sse_customer_key", "44 characters" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct backend b;
		struct tf_error err;
		char name[64];
		char *dir;
		int rc;

		snprintf(name, sizeof(name), "err%zu", i);
		dir = workdir(name, NULL, cases[i].sample, NULL);
		err_clear(&err);
		rc = backend_load(dir, &b, &err);
		is_int(cases[i].kind, rc, "%s: refused with the right kind", cases[i].sample);
		ok(contains(err.msg, cases[i].needle1) && contains(err.msg, cases[i].needle2),
		   "%s: message names \"%s\" and \"%s\" (%s)", cases[i].sample, cases[i].needle1,
		   cases[i].needle2, err.msg);
		ok(contains(err.msg, dir) && contains(err.msg, "/.terraform/terraform.tfstate"),
		   "%s: message names the file", cases[i].sample);
		ok(b.bucket == NULL && b.state_key == NULL && b.data_dir == NULL,
		   "%s: nothing left filled in after the failure", cases[i].sample);
		ok(!contains(err.msg, KEY1) && !contains(err.msg, "not-base64!"),
		   "%s: no secret in the message", cases[i].sample);
		backend_free(&b);
		free(dir);
	}
}

static void test_missing(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("uninitialised", NULL, NULL, NULL);

	err_clear(&err);
	is_int(ERR_NOT_FOUND, backend_load(dir, &b, &err), "no terraform.tfstate: ERR_NOT_FOUND");
	ok(contains(err.msg, "terraform init") && contains(err.msg, "--bucket") &&
	           contains(err.msg, dir),
	   "no terraform.tfstate: says to run terraform init or pass --bucket/--key (%s)", err.msg);
	err_clear(&err);
	is_int(ERR_NOT_FOUND, backend_load("/nonexistent/dir/for/tflock", &b, &err),
	       "missing base dir: ERR_NOT_FOUND");
	backend_free(&b);
	free(dir);
}

/* ---------------------------------------------------------------- workspace, data dir */

static void test_workspace(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("ws-padded", NULL, "tf111-minimal.tfstate", "environment-padded");
	char *path;

	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "padded environment file: loads (%s)",
	           err.msg)) {
		is_string("staging", b.workspace, "environment file content is trimmed");
		is_string("env:/staging/network/terraform.tfstate", b.state_key,
		          "named workspace, default prefix env:");
		backend_free(&b);
	}
	setenv("TF_WORKSPACE", "override", 1);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "TF_WORKSPACE set: loads (%s)", err.msg)) {
		is_string("override", b.workspace, "TF_WORKSPACE beats the environment file");
		backend_free(&b);
	}
	setenv("TF_WORKSPACE", "", 1);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "empty TF_WORKSPACE: loads (%s)", err.msg)) {
		is_string("staging", b.workspace, "empty TF_WORKSPACE is ignored");
		backend_free(&b);
	}
	setenv("TF_WORKSPACE", "bad/name", 1);
	err_clear(&err);
	is_int(ERR_USAGE, backend_load(dir, &b, &err), "invalid TF_WORKSPACE: ERR_USAGE");
	ok(contains(err.msg, "TF_WORKSPACE") && contains(err.msg, "bad/name"),
	   "invalid TF_WORKSPACE: named in the message (%s)", err.msg);
	unsetenv("TF_WORKSPACE");

	path = xasprintf("%s/.terraform/environment", dir);
	put_file(path, "a;b\n", 4);
	err_clear(&err);
	is_int(ERR_USAGE, backend_load(dir, &b, &err),
	       "invalid name in the environment file: ERR_USAGE");
	ok(contains(err.msg, path), "invalid environment file: named (%s)", err.msg);
	put_file(path, " \n\t", 3);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "blank environment file: loads (%s)", err.msg)) {
		is_string("default", b.workspace, "blank environment file: default workspace");
		is_string("network/terraform.tfstate", b.state_key,
		          "blank environment file: key as is");
		backend_free(&b);
	}
	free(path);
	free(dir);
}

static void test_data_dir(void)
{
	struct backend b;
	struct tf_error err;
	char *dir = workdir("datadir", "tfdata", "tf111-minimal.tfstate", "environment-prod");
	char *abs = xasprintf("%s/tfdata", dir);
	char *want, *dd;
	char cwd[PATH_MAX];

	err_clear(&err);
	is_int(ERR_NOT_FOUND, backend_load(dir, &b, &err),
	       "TF_DATA_DIR unset: .terraform is empty");
	setenv("TF_DATA_DIR", "tfdata", 1);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "relative TF_DATA_DIR: loads (%s)", err.msg)) {
		is_string(abs, b.data_dir, "relative TF_DATA_DIR is under the base dir");
		is_string("prod", b.workspace, "environment file read from TF_DATA_DIR");
		is_string("env:/prod/network/terraform.tfstate", b.state_key,
		          "TF_DATA_DIR: A1 key");
		backend_free(&b);
	}
	setenv("TF_DATA_DIR", abs, 1);
	err_clear(&err);
	if (is_int(0, backend_load("/nonexistent-base", &b, &err),
	           "absolute TF_DATA_DIR: the base dir does not matter (%s)", err.msg)) {
		is_string(abs, b.data_dir, "absolute TF_DATA_DIR used as is");
		backend_free(&b);
	}
	setenv("TF_DATA_DIR", "", 1);
	dd = backend_data_dir("some/dir/");
	is_string("some/dir/.terraform", dd, "empty TF_DATA_DIR: .terraform, no double slash");
	free(dd);
	unsetenv("TF_DATA_DIR");

	/* no -chdir: the current directory */
	if (!getcwd(cwd, sizeof(cwd)))
		bail("getcwd: %s", strerror(errno));
	free(dir);
	dir = workdir("chdir-base/sub", NULL, "tf111-full.tfstate", NULL);
	if (chdir(dir))
		bail("chdir %s: %s", dir, strerror(errno));
	err_clear(&err);
	if (is_int(0, backend_load(NULL, &b, &err), "base NULL: the current directory (%s)",
	           err.msg)) {
		is_string(".terraform", b.data_dir, "base NULL: data dir .terraform");
		is_string("tfstate", b.bucket, "base NULL: the right file");
		backend_free(&b);
	}
	if (chdir(".."))
		bail("chdir ..: %s", strerror(errno));
	/* -chdir=sub from the parent, as `terraform -chdir=sub apply` would */
	err_clear(&err);
	if (is_int(0, backend_load("sub", &b, &err), "-chdir base \"sub\": loads (%s)", err.msg)) {
		is_string("sub/.terraform", b.data_dir, "-chdir base: data dir under it");
		backend_free(&b);
	}
	want = xasprintf("%s/chdir-base", tmp);
	err_clear(&err);
	is_int(ERR_NOT_FOUND, backend_load(want, &b, &err),
	       "the parent of the -chdir dir has no backend of its own");
	if (chdir(cwd))
		bail("chdir %s: %s", cwd, strerror(errno));
	free(want);
	free(abs);
	free(dir);
}

/* ---------------------------------------------------------------- headers */

static void test_headers(void)
{
	struct backend b;
	struct backend_headers hs;
	struct tf_error err;
	char *dir;

	/* encrypt unset, no acl: nothing */
	dir = workdir("hdr-min", NULL, "tf111-minimal.tfstate", NULL);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "headers/minimal: loads (%s)", err.msg)) {
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/minimal: built");
		is_int(0, (long long)hs.n, "headers/minimal: no SSE, no ACL headers");
		backend_headers_free(&hs);
		/* encrypt alone: SSE-S3 */
		b.encrypt = 1;
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/AES256: built");
		is_int(1, (long long)hs.n, "headers/AES256: one header");
		is_string("AES256", header(&hs, "x-amz-server-side-encryption"),
		          "headers/AES256: x-amz-server-side-encryption: AES256");
		backend_headers_free(&hs);
		is_int(0, backend_get_headers(&b, &hs, &err), "get headers/AES256: built");
		is_int(0, (long long)hs.n,
		       "get headers/AES256: none (only SSE-C needs GET headers)");
		backend_headers_free(&hs);
		backend_free(&b);
	}
	free(dir);

	/* encrypt + kms_key_id + acl */
	dir = workdir("hdr-kms", NULL, "tf111-full.tfstate", NULL);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "headers/KMS: loads (%s)", err.msg)) {
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/KMS: built");
		is_int(3, (long long)hs.n, "headers/KMS: three headers");
		is_string("aws:kms", header(&hs, "x-amz-server-side-encryption"),
		          "headers/KMS: x-amz-server-side-encryption: aws:kms");
		is_string("arn:aws:kms:us-east-1:123456789012:key/"
		          "1234abcd-12ab-34cd-56ef-1234567890ab",
		          header(&hs, "x-amz-server-side-encryption-aws-kms-key-id"),
		          "headers/KMS: the key id");
		is_string("bucket-owner-full-control", header(&hs, "x-amz-acl"),
		          "headers/KMS: x-amz-acl");
		ok(header(&hs, "x-amz-server-side-encryption-customer-key") == NULL,
		   "headers/KMS: no SSE-C");
		backend_headers_free(&hs);
		ok(hs.n == 0 && hs.nowned == 0, "backend_headers_free empties it");
		/* Terraform mirrors SSE only when encrypt is true; the ACL regardless */
		b.encrypt = 0;
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/KMS without encrypt: built");
		is_int(1, (long long)hs.n, "headers/KMS without encrypt: only the ACL");
		is_string("bucket-owner-full-control", header(&hs, "x-amz-acl"),
		          "headers/KMS without encrypt: x-amz-acl");
		backend_headers_free(&hs);
		backend_free(&b);
	}
	free(dir);

	/* SSE-C from the config */
	dir = workdir("hdr-ssec", NULL, "tf111-sse-c.tfstate", NULL);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "headers/SSE-C: loads (%s)", err.msg)) {
		is_string(KEY1, b.sse_customer_key, "SSE-C: key read from the config");
		is_int(0, b.sse_key_from_env, "SSE-C: not from the environment");
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/SSE-C: built");
		is_int(4, (long long)hs.n, "headers/SSE-C: algorithm, key, MD5, ACL");
		is_string("AES256", header(&hs, "x-amz-server-side-encryption-customer-algorithm"),
		          "headers/SSE-C: algorithm AES256");
		is_string(KEY1, header(&hs, "x-amz-server-side-encryption-customer-key"),
		          "headers/SSE-C: the base64 key");
		is_string(KEY1_MD5, header(&hs, "x-amz-server-side-encryption-customer-key-MD5"),
		          "headers/SSE-C: base64 MD5 of the decoded key");
		ok(header(&hs, "x-amz-server-side-encryption") == NULL,
		   "headers/SSE-C: no x-amz-server-side-encryption");
		is_string("private", header(&hs, "x-amz-acl"), "headers/SSE-C: x-amz-acl private");
		backend_headers_free(&hs);
		is_int(0, backend_get_headers(&b, &hs, &err), "get headers/SSE-C: built");
		is_int(3, (long long)hs.n, "get headers/SSE-C: the three SSE-C headers");
		is_string(KEY1_MD5, header(&hs, "x-amz-server-side-encryption-customer-key-MD5"),
		          "get headers/SSE-C: MD5");
		backend_headers_free(&hs);
		backend_free(&b);
	}
	free(dir);

	/* SSE-C from AWS_SSE_CUSTOMER_KEY when the config has none */
	dir = workdir_json(
	        "hdr-ssec-env",
	        "{\"version\":3,\"terraform_version\":\"1.11.0\",\"backend\":{\"type\":\"s3\","
	        "\"config\":{\"bucket\":\"b\",\"key\":\"k\",\"encrypt\":true,"
	        "\"sse_customer_key\":null},\"hash\":7}}");
	setenv("AWS_SSE_CUSTOMER_KEY", KEY2, 1);
	err_clear(&err);
	if (is_int(0, backend_load(dir, &b, &err), "SSE-C from the environment: loads (%s)",
	           err.msg)) {
		is_int(1, b.sse_key_from_env, "SSE-C: taken from AWS_SSE_CUSTOMER_KEY");
		is_int(0, backend_put_headers(&b, &hs, &err), "headers/SSE-C env: built");
		is_string(KEY2, header(&hs, "x-amz-server-side-encryption-customer-key"),
		          "headers/SSE-C env: the key");
		is_string(KEY2_MD5, header(&hs, "x-amz-server-side-encryption-customer-key-MD5"),
		          "headers/SSE-C env: its MD5");
		backend_headers_free(&hs);
		backend_free(&b);
	}
	setenv("AWS_SSE_CUSTOMER_KEY", "short", 1);
	err_clear(&err);
	is_int(ERR_USAGE, backend_load(dir, &b, &err), "bad AWS_SSE_CUSTOMER_KEY: ERR_USAGE");
	ok(contains(err.msg, "AWS_SSE_CUSTOMER_KEY") && !contains(err.msg, "short"),
	   "bad AWS_SSE_CUSTOMER_KEY: named, value not shown (%s)", err.msg);
	unsetenv("AWS_SSE_CUSTOMER_KEY");
	free(dir);

	/* a key of the right length with a character outside base64 */
	dir = workdir_json(
	        "hdr-ssec-bad",
	        "{\"version\":3,\"backend\":{\"type\":\"s3\",\"config\":{\"bucket\":\"b\","
	        "\"key\":\"k\",\"encrypt\":true,\"sse_customer_key\":"
	        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=\"},\"hash\":7}}");
	err_clear(&err);
	is_int(ERR_USAGE, backend_load(dir, &b, &err), "44 characters, not base64: ERR_USAGE");
	ok(contains(err.msg, "base64") && !contains(err.msg, "GxwdHh"),
	   "not base64: said so without the key (%s)", err.msg);
	free(dir);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	const char *tmpdir = getenv("TMPDIR");

	plan_lazy();
	clean_env();
	if (!top || !*top)
		top = ".";
	if (top[0] == '/') {
		corpus = xasprintf("%s/tests/corpus/backend", top);
	} else { /* the tests chdir: make it absolute */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			bail("getcwd: %s", strerror(errno));
		corpus = xasprintf("%s/%s/tests/corpus/backend", cwd, top);
	}
	snprintf(tmp, sizeof(tmp), "%s/tflock-backend-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tmp))
		bail("mkdtemp: %s", strerror(errno));

	test_path_clean();
	test_state_key();
	test_workspace_names();
	test_go_duration();
	test_minimal();
	test_full();
	test_legacy();
	test_tofu();
	test_endpoint_precedence();
	test_errors();
	test_missing();
	test_workspace();
	test_data_dir();
	test_headers();

	rm_rf(tmp);
	free(corpus);
	return 0;
}
