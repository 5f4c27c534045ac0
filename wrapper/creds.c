/*
 * creds — the resolver: the chain of credential sources in the order creds.h
 * gives, and the helpers the sources share (creds_impl.h). Each source is a
 * file of its own: creds_profile.c, creds_sts.c, creds_sso.c,
 * creds_container.c, creds_imds.c, creds_process.c.
 */
#include "creds.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "creds_impl.h"
#include "log.h"
#include "rfc3339.h"

#define REASON_MAX 240 /* bytes of one "source: why" */

/* ------------------------------------------------------------------ basics */

const char *creds_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int creds_is_true(const char *v)
{
	return v && !strcasecmp(v, "true");
}

void creds_init(struct creds *c)
{
	memset(c, 0, sizeof(*c));
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	secure_free_str(c->access_key);
	secure_free_str(c->secret_key);
	secure_free_str(c->session_token);
	creds_init(c);
}

int creds_expiring(const struct creds *c, time_t now, long margin_s)
{
	if (!c || !c->expires)
		return 0;
	return (long long)c->expires - (long long)now <= (long long)margin_s;
}

void creds_set(struct creds *c, const char *ak, const char *sk, const char *token, time_t expires)
{
	creds_free(c);
	c->access_key = xstrdup(ak);
	c->secret_key = xstrdup(sk);
	c->session_token = token && *token ? xstrdup(token) : NULL;
	c->expires = expires;
}

void creds_label(struct creds *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->source, sizeof(c->source), fmt, ap);
	va_end(ap);
}

void creds_move(struct creds *a, struct creds *b)
{
	creds_free(a);
	*a = *b;
	creds_init(b);
}

/* Zero every string of a parsed JSON tree, then delete it. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			secure_zero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

void creds_json_free(cJSON *j)
{
	json_wipe(j);
	cJSON_Delete(j);
}

const char *creds_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

void creds_trim(struct buf *b)
{
	while (b->len && isspace((unsigned char)b->data[b->len - 1]))
		b->data[--b->len] = '\0';
}

char *creds_home_dir(void)
{
	const char *h = creds_env("HOME");
	if (!h) {
		struct passwd *pw = getpwuid(getuid());
		h = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
	}
	return h ? xstrdup(h) : NULL;
}

/* ------------------------------------------------------------------ time */

int creds_parse_time(const char *s, time_t *out)
{
	struct timespec ts;
	if (rfc3339_parse(s, RFC3339_AWS, &ts))
		return -1;
	*out = ts.tv_sec;
	return 0;
}

/* ------------------------------------------------------------------ resolver */

void creds_note(struct resolver *r, const char *fmt, ...)
{
	char line[REASON_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->tried.len)
		buf_adds(&r->tried, "; ");
	buf_adds(&r->tried, line);
	log_debug("credentials: %s", line);
}

static struct http_client *client(struct resolver *r, struct tf_error *err)
{
	if (!r->http)
		r->http = http_client_new();
	if (!r->http)
		err_set(err, ERR_INTERNAL, "cannot create an HTTP client (curl_easy_init failed)");
	return r->http;
}

const char *creds_path_or(const char *p)
{
	return p ? p : "(no home directory)";
}

/* ------------------------------------------------------------------ HTTP */

void creds_hdr_add(struct creds_hdrs *hs, const char *name, const char *value)
{
	if (hs->n >= sizeof(hs->h) / sizeof(hs->h[0]))
		abort(); /* a bug: the lists here are fixed and short */
	hs->owned[2 * hs->n] = xstrdup(name);
	hs->owned[2 * hs->n + 1] = xstrdup(value);
	hs->h[hs->n].name = hs->owned[2 * hs->n];
	hs->h[hs->n].value = hs->owned[2 * hs->n + 1];
	hs->n++;
}

void creds_hdrs_free(struct creds_hdrs *hs)
{
	for (size_t i = 0; i < 2 * hs->n; i++) {
		secure_free_str(hs->owned[i]);
		hs->owned[i] = NULL;
	}
	hs->n = 0;
}

int creds_http(struct resolver *r, const struct http_request *req, struct http_response *resp,
               int retry_connect, struct tf_error *err)
{
	struct http_client *c = client(r, err);
	int rc = ERR_INTERNAL;
	if (!c)
		return ERR_INTERNAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		/* http_do() frees an earlier body without wiping it: wipe it here */
		buf_wipe(&resp->body);
		if (attempt)
			log_verbose("retrying %s %s", req->method, req->url);
		rc = http_do(c, req, resp, err);
		if (rc == 0 && resp->status < 500)
			return 0;
		if (rc == ERR_CONNECT && !retry_connect)
			return rc;
	}
	return rc;
}

void creds_resp_free(struct http_response *resp)
{
	buf_wipe(&resp->body);
	http_response_free(resp);
}

int creds_url_split(const char *url, char **host, char **path)
{
	const char *s = strstr(url, "://"), *a, *ae, *at;
	int https;
	*host = *path = NULL;
	if (!s)
		return -1;
	https = (size_t)(s - url) == 5 && !strncasecmp(url, "https", 5);
	a = s + 3;
	ae = a + strcspn(a, "/?#");
	at = memchr(a, '@', (size_t)(ae - a));
	if (at)
		a = at + 1;
	if (ae == a)
		return -1;
	{
		size_t len = (size_t)(ae - a);
		const char *dflt = https ? ":443" : ":80";
		size_t dl = strlen(dflt);
		if (len > dl && !memcmp(ae - dl, dflt, dl)) {
			/* only a port separator: after "]" for an IPv6 literal, else the only ':' */
			const char *colon = ae - dl;
			if (a[0] == '[' ? colon[-1] == ']' : !memchr(a, ':', (size_t)(colon - a)))
				len -= dl;
		}
		*host = xstrndup(a, len);
	}
	if (*ae == '/') {
		const char *pe = ae + strcspn(ae, "?#");
		*path = xstrndup(ae, (size_t)(pe - ae));
	} else {
		*path = xstrdup("/");
	}
	return 0;
}

char *creds_url_hostname(const char *url)
{
	char *host = NULL, *path = NULL, *r;
	if (creds_url_split(url, &host, &path))
		return NULL;
	free(path);
	if (host[0] == '[') {
		char *close = strchr(host, ']');
		r = close ? xstrndup(host + 1, (size_t)(close - host - 1)) : NULL;
	} else {
		r = xstrndup(host, strcspn(host, ":"));
	}
	free(host);
	return r;
}

char *creds_strip_slash(const char *u)
{
	size_t n = strlen(u);
	while (n && u[n - 1] == '/')
		n--;
	return xstrndup(u, n);
}

/* ------------------------------------------------------------------ JSON replies */

int creds_json_creds(const char *text, size_t len, const char *token_key, int want_version,
                     struct creds *out, const char *what, struct tf_error *err)
{
	cJSON *j = cJSON_ParseWithLength(text, len);
	const char *ak, *sk, *tok, *exp, *code;
	time_t t = 0;
	int rc = 0;
	if (!cJSON_IsObject(j)) {
		rc = err_set(err, ERR_PARSE, "%s: the reply is not a JSON object", what);
		goto out;
	}
	if (want_version) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Version");
		if (!cJSON_IsNumber(v)) {
			rc = err_set(err, ERR_PARSE, "%s: no \"Version\" in the output (want 1)",
			             what);
			goto out;
		}
		if (v->valuedouble != 1) {
			rc = err_set(err, ERR_PARSE, "%s: unsupported \"Version\": %g (want 1)",
			             what, v->valuedouble);
			goto out;
		}
	}
	code = creds_json_str(j, "Code");
	if (code && strcmp(code, "Success")) {
		rc = err_set(err, ERR_CREDENTIALS, "%s: \"Code\" is \"%.60s\", not \"Success\"",
		             what, code);
		goto out;
	}
	ak = creds_json_str(j, "AccessKeyId");
	sk = creds_json_str(j, "SecretAccessKey");
	tok = creds_json_str(j, token_key);
	exp = creds_json_str(j, "Expiration");
	if (!ak || !*ak || !sk || !*sk) {
		rc = err_set(err, ERR_PARSE, "%s: no AccessKeyId or SecretAccessKey in the reply",
		             what);
		goto out;
	}
	if (exp && *exp && creds_parse_time(exp, &t)) {
		rc = err_set(err, ERR_PARSE, "%s: bad Expiration \"%.40s\"", what, exp);
		goto out;
	}
	creds_set(out, ak, sk, tok, t);
out:
	creds_json_free(j);
	return rc;
}

int creds_json_fail(const struct http_response *resp, const char *what, struct tf_error *err)
{
	cJSON *j = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	const char *code = NULL, *msg = NULL;
	int rc;
	if (cJSON_IsObject(j)) {
		code = creds_json_str(j, "code");
		if (!code)
			code = creds_json_str(j, "Code");
		msg = creds_json_str(j, "message");
		if (!msg)
			msg = creds_json_str(j, "Message");
	}
	rc = err_set(err, ERR_HTTP, "%s: HTTP %ld%s%s%s%s", what, resp->status, code ? ": " : "",
	             code ? code : "", msg ? ": " : "", msg ? msg : "");
	if (err) {
		err->http_status = resp->status;
		snprintf(err->s3_code, sizeof(err->s3_code), "%s", code ? code : "");
		snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
	}
	creds_json_free(j);
	return rc;
}

/* ------------------------------------------------------------------ chain */

void creds_env_keys(const char **ak, const char **sk)
{
	*ak = creds_env("AWS_ACCESS_KEY_ID");
	*sk = creds_env("AWS_SECRET_ACCESS_KEY");
	if (!*ak)
		*ak = creds_env("AWS_ACCESS_KEY");
	if (!*sk)
		*sk = creds_env("AWS_SECRET_KEY");
}

void creds_resolver_init(struct resolver *r, const struct creds_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	buf_init(&r->tried);
	ini_init(&r->conf);
	ini_init(&r->cred);
	r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CREDS_DEFAULT_TIMEOUT_MS;
	r->profile = cfg->profile && *cfg->profile ? cfg->profile : NULL;
	r->profile_explicit = r->profile != NULL;
	if (!r->profile)
		r->profile = creds_env("AWS_PROFILE");
	r->profile_named = r->profile != NULL;
	if (!r->profile)
		r->profile = "default";
}

void creds_resolver_region(struct resolver *r)
{
	const char *reg =
	        r->cfg->region && *r->cfg->region ? r->cfg->region : creds_env("AWS_REGION");
	if (!reg)
		reg = creds_env("AWS_DEFAULT_REGION");
	if (!reg && r->have_top)
		reg = creds_prof_val(&r->top, "region");
	snprintf(r->region, sizeof(r->region), "%s", reg ? reg : "us-east-1");
}

void creds_resolver_free(struct resolver *r)
{
	creds_prof_free(&r->top);
	ini_free(&r->conf);
	ini_free(&r->cred);
	free(r->conf_path);
	free(r->cred_path);
	buf_free(&r->tried);
	http_client_free(r->http);
}

static int env_keys(struct resolver *r, struct creds *out)
{
	const char *ak, *sk;
	creds_env_keys(&ak, &sk);
	if (ak && sk) {
		creds_set(out, ak, sk, creds_env("AWS_SESSION_TOKEN"), 0);
		creds_label(out, "environment");
		return 0;
	}
	if (ak)
		creds_note(
		        r,
		        "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	else if (sk)
		creds_note(
		        r,
		        "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
	else
		creds_note(r, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
	return CREDS_NOT_CONFIGURED;
}

/* Steps 1 and 2: the environment's keys, then its web identity. */
static int resolve_env(struct resolver *r, struct creds *base, struct tf_error *err)
{
	const char *wit, *role;
	int rc = env_keys(r, base);
	if (rc != CREDS_NOT_CONFIGURED)
		return rc;
	wit = creds_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	if (!wit) {
		creds_note(r, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set");
		return CREDS_NOT_CONFIGURED;
	}
	role = creds_env("AWS_ROLE_ARN");
	if (!role)
		return err_set(err, ERR_USAGE,
		               "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
	rc = creds_sts_web_identity(r, wit, role, creds_env("AWS_ROLE_SESSION_NAME"),
	                            "AWS_WEB_IDENTITY_TOKEN_FILE", base, err);
	if (!rc)
		creds_label(base, "web identity (%s)", role);
	return rc;
}

int creds_resolve_tail(struct resolver *r, struct creds *out, struct tf_error *err)
{
	int rc = creds_container_fetch(r, out, err);
	if (rc <= 0) {
		if (!rc)
			creds_label(out, "container credentials");
		return rc;
	}
	creds_note(r, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set");
	rc = creds_imds_fetch(r, out, err);
	if (!rc)
		return 0;
	if (rc == CREDS_NOT_CONFIGURED)
		creds_note(r, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
	else
		creds_note(r, "instance metadata: %s", err ? err->msg : "failed");
	err_clear(err);
	return err_set(err, ERR_CREDENTIALS, "no AWS credentials found: %s", r->tried.data);
}

/* The base credentials: the environment, the profile, container, instance metadata. */
static int resolve_base(struct resolver *r, struct creds *base, struct tf_error *err)
{
	int rc;
	if (!r->profile_explicit) {
		rc = resolve_env(r, base, err);
		if (rc <= 0)
			return rc;
	} else {
		creds_note(r,
		           "environment and web identity: skipped, the profile option names \"%s\"",
		           r->profile);
	}
	if (r->have_top) {
		rc = creds_profile_resolve(r, base, err);
		if (rc <= 0)
			return rc;
		creds_note(r, "profile \"%s\": no credentials in it", r->profile);
	} else {
		creds_note(r, "shared files: no profile \"%s\" in \"%s\" or \"%s\"", r->profile,
		           creds_path_or(r->cred_path), creds_path_or(r->conf_path));
	}
	return creds_resolve_tail(r, base, err);
}

/* The backend's assume_role on top of base, into out (or base itself). */
static int assume_configured(struct resolver *r, struct creds *base, struct creds *out,
                             struct tf_error *err)
{
	const struct creds_assume_role *ar = &r->cfg->assume_role;
	char via[sizeof(base->source)];
	int rc;
	if (!ar->role_arn || !*ar->role_arn) {
		creds_move(out, base);
		return 0;
	}
	snprintf(via, sizeof(via), "%s", base->source);
	rc = creds_sts_assume_role(r, base, ar->role_arn, ar->session_name, ar->external_id,
	                           ar->duration_s, out, err);
	if (rc) {
		err_prefix(err, "assume_role (with credentials from %s)", via);
		return rc;
	}
	creds_label(out, "assume role %s via %s", ar->role_arn, via);
	return 0;
}

int creds_resolve(const struct creds_config *cfg, struct creds *out, struct tf_error *err)
{
	static const struct creds_config empty;
	struct resolver r;
	struct tf_error local;
	struct creds base;
	int rc;

	if (!err)
		err = &local;
	err_clear(err);
	creds_free(out);
	creds_init(&base);
	creds_resolver_init(&r, cfg ? cfg : &empty);
	rc = creds_profile_open(&r, err);
	if (!rc) {
		creds_resolver_region(&r);
		rc = resolve_base(&r, &base, err);
	}
	if (!rc)
		rc = assume_configured(&r, &base, out, err);
	if (!rc)
		log_verbose("AWS credentials from %s", out->source);
	else
		creds_free(out);
	creds_free(&base);
	creds_resolver_free(&r);
	return rc;
}
