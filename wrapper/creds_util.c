/*
 * creds_util — what the credential files share (creds_impl.h): struct creds
 * values, the environment's key pair, paths, time, and the HTTP requests,
 * URLs and JSON replies of the sources. It calls no source and nothing of the
 * chain, so the calls go one way: creds.c -> creds_<source>.c ->
 * creds_profile.c -> creds_util.c.
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
#include "json.h"
#include "log.h"
#include "rfc3339.h"

/* ------------------------------------------------------------------ values */

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

/* ------------------------------------------------------------------ environment, files */

void creds_env_keys(const char **ak, const char **sk)
{
	*ak = getenv_nonempty("AWS_ACCESS_KEY_ID");
	*sk = getenv_nonempty("AWS_SECRET_ACCESS_KEY");
	if (!*ak)
		*ak = getenv_nonempty("AWS_ACCESS_KEY");
	if (!*sk)
		*sk = getenv_nonempty("AWS_SECRET_KEY");
}

int creds_is_true(const char *v)
{
	return v && !strcasecmp(v, "true");
}

char *creds_home_dir(void)
{
	const char *h = getenv_nonempty("HOME");
	if (!h) {
		struct passwd *pw = getpwuid(getuid());
		h = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
	}
	return h ? xstrdup(h) : NULL;
}

const char *creds_path_or(const char *p)
{
	return p ? p : "(no home directory)";
}

void creds_trim(struct buf *b)
{
	while (b->len && isspace((unsigned char)b->data[b->len - 1]))
		b->data[--b->len] = '\0';
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

/* ------------------------------------------------------------------ HTTP */

static struct http_client *client(struct resolver *r, struct tf_error *err)
{
	if (!r->http)
		r->http = http_client_new();
	if (!r->http)
		err_set(err, ERR_INTERNAL, "cannot create an HTTP client (curl_easy_init failed)");
	return r->http;
}

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

/* ------------------------------------------------------------------ URLs */

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

const char *creds_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

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
	json_delete_wiped(j);
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
	json_delete_wiped(j);
	return rc;
}
