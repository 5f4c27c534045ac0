/*
 * backend — the initialised S3 backend of a working directory. See backend.h.
 *
 * The facts come from Terraform's internal/command/workdir (backend state file,
 * data dir), internal/command/meta.go (workspace), and
 * internal/backend/remote-state/s3 (attribute names, defaults, path joining,
 * the headers on the lock PutObject); OpenTofu's copies agree except where noted.
 */
#include "backend.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "buf.h"
#include "json.h"

#define STATE_FILE_MAX (16u << 20) /* a backend state file is a few KiB */
#define ENV_FILE_MAX 4096

/* ---------------------------------------------------------------- memory */

static void free_list(char ***list, size_t *n)
{
	for (size_t i = 0; *list && i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

void backend_init(struct backend *b)
{
	memset(b, 0, sizeof(*b));
	b->use_lockfile = -1;
}

void backend_free(struct backend *b)
{
	if (!b)
		return;
	secure_free_str(b->sse_customer_key);
	secure_free_str(b->web_identity_token);
	free(b->type);
	free(b->bucket);
	free(b->key);
	free(b->region);
	free(b->endpoint);
	free(b->sts_endpoint);
	free(b->iam_endpoint);
	free(b->dynamodb_endpoint);
	free(b->sts_region);
	free(b->workspace);
	free(b->workspace_key_prefix);
	free(b->kms_key_id);
	free(b->acl);
	free(b->profile);
	free(b->shared_credentials_file);
	free(b->shared_config_file);
	free_list(&b->shared_credentials_files, &b->n_shared_credentials_files);
	free_list(&b->shared_config_files, &b->n_shared_config_files);
	free(b->role_arn);
	free(b->session_name);
	free(b->external_id);
	free(b->web_identity_role_arn);
	free(b->web_identity_session_name);
	free(b->web_identity_token_file);
	free(b->dynamodb_table);
	free(b->data_dir);
	free(b->state_file);
	free(b->tf_version);
	free(b->state_key);
	backend_init(b);
}

/* ---------------------------------------------------------------- paths */

char *backend_path_clean(const char *s)
{
	/* Go's path.Clean: collapse slashes, drop ".", resolve ".." lexically,
	 * keep a leading "/", drop a trailing one; "" becomes ".". */
	size_t n = strlen(s), r = 0, w = 0, dotdot = 0;
	int rooted = n > 0 && s[0] == '/';
	char *out;

	if (n == 0)
		return xstrdup(".");
	out = xmalloc(n + 2);
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && s[r] != '/'; r++)
				out[w++] = s[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

char *backend_state_key(const char *key, const char *workspace, const char *prefix)
{
	struct buf b = BUF_INIT;
	const char *parts[3];
	char *joined, *clean;
	int any = 0;

	if (!key)
		key = "";
	if (!workspace || !*workspace || !strcmp(workspace, "default"))
		return xstrdup(key);
	parts[0] = prefix ? prefix : "env:";
	parts[1] = workspace;
	parts[2] = key;
	/* path.Join: the non-empty elements joined by "/", then cleaned */
	for (int i = 0; i < 3; i++) {
		if (!*parts[i])
			continue;
		if (any)
			buf_addc(&b, '/');
		buf_adds(&b, parts[i]);
		any = 1;
	}
	if (!any)
		return xstrdup("");
	joined = buf_detach(&b, NULL);
	clean = backend_path_clean(joined);
	free(joined);
	return clean;
}

char *backend_data_dir(const char *base_dir)
{
	const char *dd = getenv_nonempty("TF_DATA_DIR");
	int base_is_dot = !base_dir || !*base_dir || !strcmp(base_dir, ".");

	if (!dd)
		dd = ".terraform";
	if (dd[0] == '/' || base_is_dot)
		return xstrdup(dd);
	if (base_dir[strlen(base_dir) - 1] == '/')
		return xasprintf("%s%s", base_dir, dd);
	return xasprintf("%s/%s", base_dir, dd);
}

int backend_valid_workspace_name(const char *name)
{
	/* url.PathEscape leaves unreserved characters and $ & + : = @ alone and
	 * escapes everything else (including "/", ";", ",", "?" and non-ASCII). */
	if (!name || !*name)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (isalnum(*p) && *p < 0x80)
			continue;
		if (strchr("-_.~$&+:=@", *p))
			continue;
		return 0;
	}
	return 1;
}

int backend_parse_go_duration(const char *s, long *secs)
{
	/* time.ParseDuration: [sign] (decimal unit)+, or "0"; units ns us µs ms s m h */
	static const struct {
		const char *u;
		double ns;
	} units[] = {
		{ "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		{ "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },        { "h", 3600e9 },
	};
	double total = 0;
	int neg = 0;

	if (!s || !*s)
		return -1;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*secs = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		double v = 0, frac = 0, scale = 1;
		int digits = 0;
		size_t best = 0, bi = 0;

		for (; isdigit((unsigned char)*s); s++, digits++)
			v = v * 10 + (*s - '0');
		if (*s == '.') {
			for (s++; isdigit((unsigned char)*s); s++, digits++) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
		}
		if (!digits)
			return -1;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (!strncmp(s, units[i].u, l) && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return -1;
		s += best;
		total += (v + frac) * units[bi].ns;
		if (total > 9.2e18) /* Go: overflow of int64 nanoseconds */
			return -1;
	}
	*secs = (long)(total / 1e9) * (neg ? -1 : 1);
	return 0;
}

/* ---------------------------------------------------------------- JSON values */

/* A string attribute: 0 and *out set (NULL when absent or null), or ERR_USAGE. */
static int get_str(const cJSON *obj, const char *name, const char *where, char **out,
                   const struct backend *b, struct tf_error *err)
{
	const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

	free(*out);
	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return err_set(err, ERR_USAGE, "\"%s\": %s%s is not a string", b->state_file, where,
		               name);
	*out = xstrdup(v->valuestring);
	return 0;
}

/* A bool attribute: 0 and *out = -1 (absent/null), 0 or 1, or ERR_USAGE. */
static int get_bool(const cJSON *obj, const char *name, int *out, const struct backend *b,
                    struct tf_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = -1;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return err_set(err, ERR_USAGE, "\"%s\": backend.config.%s is not true or false",
		               b->state_file, name);
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

/* A list (set) of strings: 0 and *list, *n (empty when absent or null), or ERR_USAGE. */
static int get_list(const cJSON *obj, const char *name, char ***list, size_t *n,
                    const struct backend *b, struct tf_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name), *e;
	size_t i = 0;

	free_list(list, n);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v))
		return err_set(err, ERR_USAGE, "\"%s\": backend.config.%s is not a list",
		               b->state_file, name);
	*list = xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e) || !e->valuestring) {
			*n = i;
			free_list(list, n);
			return err_set(
			        err, ERR_USAGE,
			        "\"%s\": backend.config.%s holds something other than strings",
			        b->state_file, name);
		}
		(*list)[i++] = xstrdup(e->valuestring);
	}
	*n = i;
	return 0;
}

/* A nested object attribute: 0 and *out (NULL when absent/null), or ERR_USAGE. */
static int get_obj(const cJSON *obj, const char *name, const cJSON **out, const struct backend *b,
                   struct tf_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v))
		return err_set(err, ERR_USAGE, "\"%s\": backend.config.%s is not an object",
		               b->state_file, name);
	*out = v;
	return 0;
}

/* A duration string attribute of a nested object, in seconds (0 when unset). */
static int get_duration(const cJSON *obj, const char *name, const char *where, long *secs,
                        const struct backend *b, struct tf_error *err)
{
	char *s = NULL;
	int ret;

	*secs = 0;
	if ((ret = get_str(obj, name, where, &s, b, err)))
		return ret;
	if (s && (backend_parse_go_duration(s, secs) || *secs < 0))
		ret = err_set(err, ERR_USAGE,
		              "\"%s\": %s%s \"%.40s\" is not a duration like \"1h\" or \"900s\"",
		              b->state_file, where, name, s);
	free(s);
	return ret;
}

/* ---------------------------------------------------------------- base64, SSE-C */

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard padded base64 (Go's base64.StdEncoding): decoded length, or -1. */
static long b64_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s), w = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = s[i + j];
			if (c == '=' && i + 4 == n && j >= 2) {
				pad++;
				v[j] = 0;
				continue;
			}
			if (pad || (v[j] = b64_value((unsigned char)c)) < 0)
				return -1;
		}
		if (w + 3 - (size_t)pad > cap)
			return -1;
		out[w++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[w++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[w++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	return (long)w;
}

static char *b64_encode(const unsigned char *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Terraform: sse_customer_key (and AWS_SSE_CUSTOMER_KEY) must be 44 characters
 * of base64. Raw key in raw (caller wipes), length in *rawlen. */
static int sse_c_decode(const struct backend *b, unsigned char raw[48], size_t *rawlen,
                        struct tf_error *err)
{
	const char *what = b->sse_key_from_env ? "AWS_SSE_CUSTOMER_KEY" : "sse_customer_key";
	long n;

	if (strlen(b->sse_customer_key) != 44)
		return err_set(err, ERR_USAGE, "%s must be 44 characters of base64 (a 256-bit key)",
		               what);
	n = b64_decode(b->sse_customer_key, raw, 48);
	if (n < 0)
		return err_set(err, ERR_USAGE, "%s is not valid base64", what);
	*rawlen = (size_t)n;
	return 0;
}

static void hs_add(struct backend_headers *hs, const char *name, char *owned_value)
{
	hs->owned[hs->nowned++] = owned_value;
	hs->h[hs->n].name = name;
	hs->h[hs->n].value = owned_value;
	hs->n++;
}

static int add_sse_c(const struct backend *b, struct backend_headers *hs, struct tf_error *err)
{
	unsigned char raw[48], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t rawlen = 0;
	int ret;

	if ((ret = sse_c_decode(b, raw, &rawlen, err)))
		goto out;
	if (!EVP_Digest(raw, rawlen, md, &mdlen, EVP_md5(), NULL)) {
		ret = err_set(err, ERR_INTERNAL, "MD5 of the SSE-C key failed");
		goto out;
	}
	hs_add(hs, "x-amz-server-side-encryption-customer-algorithm", xstrdup("AES256"));
	/* Terraform sends the key re-encoded from its decoded bytes */
	hs_add(hs, "x-amz-server-side-encryption-customer-key", b64_encode(raw, rawlen));
	hs_add(hs, "x-amz-server-side-encryption-customer-key-MD5", b64_encode(md, mdlen));
out:
	secure_zero(raw, sizeof(raw));
	return ret;
}

static void hs_init(struct backend_headers *hs)
{
	memset(hs, 0, sizeof(*hs));
}

void backend_headers_free(struct backend_headers *hs)
{
	if (!hs)
		return;
	for (size_t i = 0; i < hs->nowned; i++)
		secure_free_str(hs->owned[i]);
	hs_init(hs);
}

int backend_put_headers(const struct backend *b, struct backend_headers *out, struct tf_error *err)
{
	int ret = 0;

	hs_init(out);
	if (b->encrypt == 1) {
		if (b->kms_key_id && *b->kms_key_id) {
			hs_add(out, "x-amz-server-side-encryption", xstrdup("aws:kms"));
			hs_add(out, "x-amz-server-side-encryption-aws-kms-key-id",
			       xstrdup(b->kms_key_id));
		} else if (b->sse_customer_key && *b->sse_customer_key) {
			ret = add_sse_c(b, out, err);
		} else {
			hs_add(out, "x-amz-server-side-encryption", xstrdup("AES256"));
		}
	}
	if (!ret && b->acl && *b->acl)
		hs_add(out, "x-amz-acl", xstrdup(b->acl));
	if (ret)
		backend_headers_free(out);
	return ret;
}

int backend_get_headers(const struct backend *b, struct backend_headers *out, struct tf_error *err)
{
	int ret = 0;

	hs_init(out);
	if (b->encrypt == 1 && b->sse_customer_key && *b->sse_customer_key)
		ret = add_sse_c(b, out, err);
	if (ret)
		backend_headers_free(out);
	return ret;
}

/* ---------------------------------------------------------------- workspace */

static int load_workspace(struct backend *b, struct tf_error *err)
{
	const char *env = getenv_nonempty("TF_WORKSPACE");
	struct buf data = BUF_INIT;
	size_t s = 0, e;
	char *path;
	int ret;

	if (env) {
		if (!backend_valid_workspace_name(env))
			return err_set(err, ERR_USAGE,
			               "invalid workspace name \"%.100s\" set using TF_WORKSPACE",
			               env);
		b->workspace = xstrdup(env);
		return 0;
	}
	path = xasprintf("%s/environment", b->data_dir);
	ret = buf_read_file(&data, path, ENV_FILE_MAX, err);
	if (ret == ERR_NOT_FOUND) {
		err_clear(err);
		b->workspace = xstrdup("default");
		free(path);
		return 0;
	}
	if (ret) {
		free(path);
		return ret;
	}
	e = data.len;
	while (s < e && isspace((unsigned char)data.data[s]))
		s++;
	while (e > s && isspace((unsigned char)data.data[e - 1]))
		e--;
	if (s == e) {
		b->workspace = xstrdup("default");
	} else {
		b->workspace = xstrndup(data.data + s, e - s);
		if (memchr(data.data + s, '\0', e - s) ||
		    !backend_valid_workspace_name(b->workspace))
			ret = err_set(
			        err, ERR_USAGE,
			        "\"%s\" names an invalid workspace \"%.100s\": select a valid one "
			        "with 'terraform workspace select'",
			        path, b->workspace);
	}
	buf_free(&data);
	free(path);
	return ret;
}

/* ---------------------------------------------------------------- the config */

/* A bool attribute that defaults to false. */
static int get_flag(const cJSON *cfg, const char *name, int *out, const struct backend *b,
                    struct tf_error *err)
{
	int ret = get_bool(cfg, name, out, b, err);
	if (*out < 0)
		*out = 0;
	return ret;
}

/* A deprecated top-level string used only when the preferred value is unset. */
static int get_legacy(const cJSON *cfg, const char *name, char **field, const struct backend *b,
                      struct tf_error *err)
{
	char *v = NULL;
	int ret = get_str(cfg, name, "backend.config.", &v, b, err);
	if (!ret && v && !*field)
		*field = v;
	else
		free(v);
	return ret;
}

static int load_assume_role(struct backend *b, const cJSON *cfg, struct tf_error *err)
{
	const cJSON *o;
	int ret;

	/* assume_role { ... } (Terraform >= 1.6, OpenTofu), else the legacy
	 * top-level attributes (Terraform < 1.8, OpenTofu: deprecated) */
	if ((ret = get_obj(cfg, "assume_role", &o, b, err)))
		return ret;
	if (o) {
		const char *w = "backend.config.assume_role.";
		if ((ret = get_str(o, "role_arn", w, &b->role_arn, b, err)) ||
		    (ret = get_str(o, "session_name", w, &b->session_name, b, err)) ||
		    (ret = get_str(o, "external_id", w, &b->external_id, b, err)) ||
		    (ret = get_duration(o, "duration", w, &b->assume_role_duration_s, b, err)))
			return ret;
	} else {
		const char *top = "backend.config.";
		const cJSON *d;
		if ((ret = get_str(cfg, "role_arn", top, &b->role_arn, b, err)) ||
		    (ret = get_str(cfg, "session_name", top, &b->session_name, b, err)) ||
		    (ret = get_str(cfg, "external_id", top, &b->external_id, b, err)))
			return ret;
		d = cJSON_GetObjectItemCaseSensitive(cfg, "assume_role_duration_seconds");
		if (d && !cJSON_IsNull(d)) {
			if (!cJSON_IsNumber(d) || d->valuedouble < 0 ||
			    d->valuedouble > 86400.0 * 366)
				return err_set(
				        err, ERR_USAGE,
				        "\"%s\": backend.config.assume_role_duration_seconds is "
				        "not a number of seconds",
				        b->state_file);
			b->assume_role_duration_s = (long)d->valuedouble;
		}
	}
	if ((ret = get_obj(cfg, "assume_role_with_web_identity", &o, b, err)))
		return ret;
	if (o) {
		const char *w = "backend.config.assume_role_with_web_identity.";
		if ((ret = get_str(o, "role_arn", w, &b->web_identity_role_arn, b, err)) ||
		    (ret = get_str(o, "session_name", w, &b->web_identity_session_name, b, err)) ||
		    (ret = get_str(o, "web_identity_token_file", w, &b->web_identity_token_file, b,
		                   err)) ||
		    (ret = get_str(o, "web_identity_token", w, &b->web_identity_token, b, err)) ||
		    (ret = get_duration(o, "duration", w, &b->web_identity_duration_s, b, err)))
			return ret;
	}
	return 0;
}

/* Terraform's Configure: the SSE-C key from the config, else AWS_SSE_CUSTOMER_KEY;
 * 44 characters of base64; not together with kms_key_id. */
static int load_sse_c(struct backend *b, struct tf_error *err)
{
	unsigned char raw[48];
	size_t rawlen;
	int ret;

	if (!b->sse_customer_key || !*b->sse_customer_key) {
		const char *k = getenv_nonempty("AWS_SSE_CUSTOMER_KEY");
		secure_free_str(b->sse_customer_key);
		b->sse_customer_key = NULL;
		if (!k)
			return 0;
		b->sse_customer_key = xstrdup(k);
		b->sse_key_from_env = 1;
	}
	ret = sse_c_decode(b, raw, &rawlen, err);
	secure_zero(raw, sizeof(raw));
	if (ret) {
		err_prefix(err, "\"%s\"", b->state_file);
		return ret;
	}
	if (b->kms_key_id && *b->kms_key_id)
		return err_set(err, ERR_USAGE, "\"%s\": kms_key_id and %s cannot both be set",
		               b->state_file,
		               b->sse_key_from_env ? "AWS_SSE_CUSTOMER_KEY" : "sse_customer_key");
	return 0;
}

static int load_config(struct backend *b, const cJSON *cfg, struct tf_error *err)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "region", offsetof(struct backend, region) },
		{ "sts_region", offsetof(struct backend, sts_region) },
		{ "workspace_key_prefix", offsetof(struct backend, workspace_key_prefix) },
		{ "kms_key_id", offsetof(struct backend, kms_key_id) },
		{ "sse_customer_key", offsetof(struct backend, sse_customer_key) },
		{ "acl", offsetof(struct backend, acl) },
		{ "profile", offsetof(struct backend, profile) },
		{ "dynamodb_table", offsetof(struct backend, dynamodb_table) },
		{ "shared_credentials_file", offsetof(struct backend, shared_credentials_file) },
	};
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {
		{ "encrypt", offsetof(struct backend, encrypt) },
		{ "skip_s3_checksum", offsetof(struct backend, skip_s3_checksum) },
		{ "use_fips_endpoint", offsetof(struct backend, use_fips) },
		{ "use_dualstack_endpoint", offsetof(struct backend, use_dualstack) },
		{ "skip_region_validation", offsetof(struct backend, skip_region_validation) },
		{ "skip_credentials_validation",
		  offsetof(struct backend, skip_credentials_validation) },
	};
	const char *top = "backend.config.", *ep = "backend.config.endpoints.";
	const cJSON *o;
	int force = 0, ret;

	if ((ret = get_str(cfg, "bucket", top, &b->bucket, b, err)) ||
	    (ret = get_str(cfg, "key", top, &b->key, b, err)))
		return ret;
	if (!b->bucket || !*b->bucket)
		return err_set(err, ERR_USAGE, "\"%s\": the s3 backend has no bucket",
		               b->state_file);
	if (!b->key || !*b->key)
		return err_set(err, ERR_USAGE, "\"%s\": the s3 backend has no key", b->state_file);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((ret = get_str(cfg, strs[i].name, top, (char **)((char *)b + strs[i].off), b,
		                   err)))
			return ret;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if ((ret = get_flag(cfg, flags[i].name, (int *)((char *)b + flags[i].off), b, err)))
			return ret;
	if ((ret = get_bool(cfg, "use_lockfile", &b->use_lockfile, b, err)))
		return ret;
	/* use_path_style, or the deprecated force_path_style */
	if ((ret = get_flag(cfg, "use_path_style", &b->path_style, b, err)) ||
	    (ret = get_flag(cfg, "force_path_style", &force, b, err)))
		return ret;
	b->path_style = b->path_style || force;

	/* endpoints { s3, sts, iam, ... } win over the deprecated top-level ones */
	if ((ret = get_obj(cfg, "endpoints", &o, b, err)))
		return ret;
	if ((ret = get_str(o, "s3", ep, &b->endpoint, b, err)) ||
	    (ret = get_str(o, "sts", ep, &b->sts_endpoint, b, err)) ||
	    (ret = get_str(o, "iam", ep, &b->iam_endpoint, b, err)) ||
	    (ret = get_legacy(cfg, "endpoint", &b->endpoint, b, err)) ||
	    (ret = get_legacy(cfg, "sts_endpoint", &b->sts_endpoint, b, err)) ||
	    (ret = get_legacy(cfg, "iam_endpoint", &b->iam_endpoint, b, err)) ||
	    (ret = get_str(o, "dynamodb", ep, &b->dynamodb_endpoint, b, err)) ||
	    (ret = get_legacy(cfg, "dynamodb_endpoint", &b->dynamodb_endpoint, b, err)))
		return ret;

	if ((ret = get_list(cfg, "shared_credentials_files", &b->shared_credentials_files,
	                    &b->n_shared_credentials_files, b, err)) ||
	    (ret = get_list(cfg, "shared_config_files", &b->shared_config_files,
	                    &b->n_shared_config_files, b, err)))
		return ret;
	if (!b->shared_credentials_file && b->n_shared_credentials_files)
		b->shared_credentials_file = xstrdup(b->shared_credentials_files[0]);
	if (b->n_shared_config_files)
		b->shared_config_file = xstrdup(b->shared_config_files[0]);

	if ((ret = load_assume_role(b, cfg, err)))
		return ret;
	return load_sse_c(b, err);
}

/* ---------------------------------------------------------------- load */

/* The backend state file's JSON: an object of format version 3. */
static int parse_state(struct backend *b, const char *data, size_t len, cJSON **root,
                       struct tf_error *err)
{
	const cJSON *ver, *tfv;
	const char *end = NULL;
	/* the length includes the NUL buf_read_file() adds: cJSON wants to see it */
	*root = strlen(data) == len ? cJSON_ParseWithLengthOpts(data, len + 1, &end, 1) : NULL;
	if (!*root) {
		size_t at = end && end >= data ? (size_t)(end - data) : 0;
		return err_set(err, ERR_USAGE, "\"%s\" is not valid JSON (near byte %zu)",
		               b->state_file, at);
	}
	if (!cJSON_IsObject(*root))
		return err_set(err, ERR_USAGE, "\"%s\" is not a JSON object", b->state_file);
	tfv = cJSON_GetObjectItemCaseSensitive(*root, "terraform_version");
	if (cJSON_IsString(tfv) && tfv->valuestring)
		b->tf_version = xstrdup(tfv->valuestring);
	ver = cJSON_GetObjectItemCaseSensitive(*root, "version");
	if (!ver || cJSON_IsNull(ver) || (cJSON_IsNumber(ver) && ver->valuedouble == 0))
		return err_set(err, ERR_USAGE, "\"%s\" has no format version number",
		               b->state_file);
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 3)
		return err_set(err, ERR_USAGE,
		               "\"%s\" has an unsupported backend state version (only 3 is "
		               "known)%s%s",
		               b->state_file, b->tf_version ? "; it was written by Terraform " : "",
		               b->tf_version ? b->tf_version : "");
	return 0;
}

/* The recorded backend, which must be s3 (not local state, legacy remote state,
 * a state_store or another backend): its "config" object to *cfg. */
static int find_s3_backend(struct backend *b, const cJSON *root, const cJSON **cfg,
                           struct tf_error *err)
{
	const cJSON *be = cJSON_GetObjectItemCaseSensitive(root, "backend");
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(root, "state_store"), *type;
	if (ss && !cJSON_IsNull(ss)) {
		const cJSON *st =
		        cJSON_IsObject(ss) ? cJSON_GetObjectItemCaseSensitive(ss, "type") : NULL;
		return err_set(err, ERR_USAGE,
		               "\"%s\": the working directory uses a state_store (\"%s\"), not an "
		               "s3 backend; tflock locks only the s3 backend",
		               b->state_file,
		               cJSON_IsString(st) && st->valuestring ? st->valuestring : "?");
	}
	if (!be || cJSON_IsNull(be)) {
		if (cJSON_GetObjectItemCaseSensitive(root, "remote"))
			return err_set(err, ERR_USAGE,
			               "\"%s\" uses legacy remote state (Terraform 0.8), not an s3 "
			               "backend",
			               b->state_file);
		return err_set(err, ERR_USAGE,
		               "\"%s\" records no backend (the working directory uses local "
		               "state); tflock needs an s3 backend, or pass --bucket and --key",
		               b->state_file);
	}
	if (!cJSON_IsObject(be))
		return err_set(err, ERR_USAGE, "\"%s\": \"backend\" is not an object",
		               b->state_file);
	type = cJSON_GetObjectItemCaseSensitive(be, "type");
	if (type && !cJSON_IsNull(type) && !cJSON_IsString(type))
		return err_set(err, ERR_USAGE, "\"%s\": backend.type is not a string",
		               b->state_file);
	if (!type || cJSON_IsNull(type) || !*type->valuestring)
		return err_set(err, ERR_USAGE,
		               "\"%s\" records no backend type (local state); tflock needs an s3 "
		               "backend, or pass --bucket and --key",
		               b->state_file);
	if (strcmp(type->valuestring, "s3"))
		return err_set(err, ERR_USAGE,
		               "the working directory uses the \"%.64s\" backend (\"%s\"); tflock "
		               "locks only the s3 backend",
		               type->valuestring, b->state_file);
	b->type = xstrdup("s3");
	*cfg = cJSON_GetObjectItemCaseSensitive(be, "config");
	if (!cJSON_IsObject(*cfg))
		return err_set(err, ERR_USAGE, "\"%s\": backend.config is %s", b->state_file,
		               *cfg && !cJSON_IsNull(*cfg) ? "not an object" : "missing");
	return 0;
}

int backend_load(const char *base_dir, struct backend *b, struct tf_error *err)
{
	struct buf data = BUF_INIT;
	cJSON *root = NULL;
	const cJSON *cfg = NULL;
	int ret;

	backend_init(b);
	b->data_dir = backend_data_dir(base_dir);
	b->state_file = xasprintf("%s/terraform.tfstate", b->data_dir);

	ret = buf_read_file(&data, b->state_file, STATE_FILE_MAX, err);
	if (ret == ERR_NOT_FOUND)
		ret = err_set(err, ERR_NOT_FOUND,
		              "no initialised backend: \"%s\" does not exist; run 'terraform init' "
		              "or pass --bucket and --key",
		              b->state_file);
	if (ret == 0)
		ret = parse_state(b, data.data, data.len, &root, err);
	if (ret == 0)
		ret = find_s3_backend(b, root, &cfg, err);
	if (ret == 0)
		ret = load_config(b, cfg, err);
	if (ret == 0)
		ret = load_workspace(b, err);
	if (ret == 0)
		b->state_key = backend_state_key(b->key, b->workspace, b->workspace_key_prefix);
	/* the file may hold sse_customer_key, secret_key, a web identity token */
	json_delete_wiped(root);
	buf_wipe(&data);
	if (ret)
		backend_free(b);
	return ret;
}
