/* memmem, pipe2, close_range, timegm: GNU/BSD extensions (the build's
 * ac-config.h also asks for them; this keeps the file buildable without it) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "creds.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "http.h"
#include "ini.h"
#include "log.h"
#include "rfc3339.h"
#include "sigv4.h"
#include "xml.h"

#define NOT_CONFIGURED 1 /* internal: this source is not set up, try the next one */

#define STS_VERSION "2011-06-15"
#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define IMDS_TIMEOUT_MS 1000
#define IMDS_TOKEN_TTL "21600"
#define ECS_HOST "http://169.254.170.2"
#define DEFAULT_TIMEOUT_MS 10000
#define PROCESS_TIMEOUT_MS 60000
#define PROCESS_MAX_OUTPUT (64 * 1024)
#define SECRET_FILE_MAX (1024 * 1024)
#define MAX_SOURCE_DEPTH 16
#define REASON_MAX 240

/* ------------------------------------------------------------------ basics */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int is_true(const char *v)
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

static void creds_set(struct creds *c, const char *ak, const char *sk, const char *token,
                      time_t expires)
{
	creds_free(c);
	c->access_key = xstrdup(ak);
	c->secret_key = xstrdup(sk);
	c->session_token = token && *token ? xstrdup(token) : NULL;
	c->expires = expires;
}

__attribute__((format(printf, 2, 3))) static void creds_label(struct creds *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->source, sizeof(c->source), fmt, ap);
	va_end(ap);
}

/* Hand b's contents to a (a is freed first; b is left empty). */
static void creds_move(struct creds *a, struct creds *b)
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

static void json_free(cJSON *j)
{
	json_wipe(j);
	cJSON_Delete(j);
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static void trim_trailing_space(struct buf *b)
{
	while (b->len && isspace((unsigned char)b->data[b->len - 1]))
		b->data[--b->len] = '\0';
}

static char *home_dir(void)
{
	const char *h = env("HOME");
	if (!h) {
		struct passwd *pw = getpwuid(getuid());
		h = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
	}
	return h ? xstrdup(h) : NULL;
}

static char *expand_home(const char *p)
{
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		char *home = home_dir(), *r;
		if (!home)
			return xstrdup(p);
		r = xasprintf("%s%s", home, p + 1);
		free(home);
		return r;
	}
	return xstrdup(p);
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

struct prof {
	char *name;
	const struct ini_prop **props; /* point into the parsed files */
	size_t n;
};

struct resolver {
	const struct creds_config *cfg;
	struct http_client *http;
	struct ini conf, cred;
	char *conf_path, *cred_path; /* NULL: no home directory to look in */
	const char *profile;
	int profile_explicit; /* the profile option: env sources are skipped */
	int profile_named;    /* the option or AWS_PROFILE: must exist */
	struct prof top;
	int have_top;
	char region[64];
	long timeout_ms;
	struct buf tried; /* "source: why; ..." for the ERR_CREDENTIALS summary */
};

struct chain {
	const char *names[MAX_SOURCE_DEPTH];
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void note(struct resolver *r, const char *fmt, ...)
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

static const char *path_or(const char *p)
{
	return p ? p : "(no home directory)";
}

static void prof_free(struct prof *p)
{
	free(p->props);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

static void prof_put(struct prof *p, const struct ini_prop *prop)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->props[i]->key, prop->key)) {
			p->props[i] = prop;
			return;
		}
	}
	p->props = xrealloc(p->props, (p->n + 1) * sizeof(*p->props));
	p->props[p->n++] = prop;
}

/* The value of key, or NULL when absent or empty (the SDK tests len != 0). */
static const char *prof_val(const struct prof *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->props[i]->key, key))
			return *p->props[i]->value ? p->props[i]->value : NULL;
	return NULL;
}

static const struct ini_section *config_section(const struct resolver *r, const char *name)
{
	const struct ini_section *s;
	char *n;
	if (!strcmp(name, "default")) {
		s = ini_section(&r->conf, "profile default"); /* replaces [default] */
		return s ? s : ini_section(&r->conf, "default");
	}
	n = xasprintf("profile %s", name);
	s = ini_section(&r->conf, n);
	free(n);
	return s;
}

static const struct ini_section *cred_section(const struct resolver *r, const char *name)
{
	if (!strncmp(name, "profile ", 8))
		return NULL; /* "[profile x]" is not a profile in the credentials file */
	return ini_section(&r->cred, name);
}

static int partial_keys(const struct ini_section *s)
{
	return !ini_prop(s, "aws_access_key_id") != !ini_prop(s, "aws_secret_access_key");
}

/* The profile as the SDK sees it: config section overlaid by the credentials
 * section. 0, NOT_CONFIGURED (in neither file) or ERR_USAGE. */
static int prof_load(struct resolver *r, const char *name, struct prof *p, struct tf_error *err)
{
	const struct ini_section *cs = config_section(r, name), *ks = cred_section(r, name);
	int pair;
	memset(p, 0, sizeof(*p));
	if (!cs && !ks)
		return NOT_CONFIGURED;
	if (partial_keys(ks ? ks : cs))
		return err_set(err, ERR_USAGE,
		               "profile \"%s\" in \"%s\" has only one of aws_access_key_id and "
		               "aws_secret_access_key: set both or neither",
		               name, ks ? path_or(r->cred_path) : path_or(r->conf_path));
	p->name = xstrdup(name);
	for (size_t i = 0; cs && i < cs->nprops; i++)
		prof_put(p, &cs->props[i]);
	pair = ks && ini_prop(ks, "aws_access_key_id") && ini_prop(ks, "aws_secret_access_key");
	for (size_t i = 0; ks && i < ks->nprops; i++) {
		const char *k = ks->props[i].key;
		if ((!strcmp(k, "aws_access_key_id") || !strcmp(k, "aws_secret_access_key") ||
		     !strcmp(k, "aws_session_token")) &&
		    !pair)
			continue; /* the key pair and its token move together */
		prof_put(p, &ks->props[i]);
	}
	return 0;
}

static int load_shared(struct ini *ini, const char *path, struct tf_error *err)
{
	struct tf_error e;
	int rc;
	if (!path)
		return 0;
	err_clear(&e);
	rc = ini_load(ini, path, &e);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc == ERR_SYSTEM) {
		/* the SDK skips files it cannot read */
		log_warn("ignoring AWS shared file: %s", e.msg);
		return 0;
	}
	if (rc) {
		err_set(err, rc, "malformed AWS shared file: %s", e.msg);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct hdrs {
	struct http_header h[8];
	char *owned[16]; /* the copies h points into, wiped on free */
	size_t n;
};

static void hdr_add(struct hdrs *hs, const char *name, const char *value)
{
	if (hs->n >= sizeof(hs->h) / sizeof(hs->h[0]))
		abort(); /* a bug: the lists here are fixed and short */
	hs->owned[2 * hs->n] = xstrdup(name);
	hs->owned[2 * hs->n + 1] = xstrdup(value);
	hs->h[hs->n].name = hs->owned[2 * hs->n];
	hs->h[hs->n].value = hs->owned[2 * hs->n + 1];
	hs->n++;
}

static void hdrs_free(struct hdrs *hs)
{
	for (size_t i = 0; i < 2 * hs->n; i++) {
		secure_free_str(hs->owned[i]);
		hs->owned[i] = NULL;
	}
	hs->n = 0;
}

/* One request, retried once after a network failure or a 5xx; a refused
 * connection is retried only when retry_connect. Whatever body resp held
 * (an earlier reply, a discarded attempt) is wiped first. */
static int http_retry(struct resolver *r, const struct http_request *req,
                      struct http_response *resp, int retry_connect, struct tf_error *err)
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

static void resp_free(struct http_response *resp)
{
	buf_wipe(&resp->body);
	http_response_free(resp);
}

/* Split "scheme://[user@]host[:port][/path][?query]" into the Host header
 * value (default port dropped, as curl sends it) and the path ("/" if none). */
static int url_split(const char *url, char **host, char **path)
{
	const char *s = strstr(url, "://"), *a, *ae, *at, *pe;
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
		pe = ae + strcspn(ae, "?#");
		*path = xstrndup(ae, (size_t)(pe - ae));
	} else {
		*path = xstrdup("/");
	}
	return 0;
}

/* The bare host name of a URL (no port, no brackets); malloc'd or NULL. */
static char *url_hostname(const char *url)
{
	char *host = NULL, *path = NULL, *r;
	if (url_split(url, &host, &path))
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

static char *strip_slash(const char *u)
{
	size_t n = strlen(u);
	while (n && u[n - 1] == '/')
		n--;
	return xstrndup(u, n);
}

/* ------------------------------------------------------------------ STS replies */

/* The content of the element tag in [b, e), when it is there and closed. */
static int sts_element(const char *b, const char *e, const char *tag, const char **ib,
                       const char **ie)
{
	return xml_find(b, e, tag, ib, ie) && *ie;
}

static int sts_fail(const struct http_response *resp, const char *what, struct tf_error *err)
{
	const char *b = resp->body.data, *e = b + resp->body.len;
	char *code = xml_text(b, e, "Code"), *msg = xml_text(b, e, "Message");
	char *rid = xml_text(b, e, "RequestId");
	int rc = err_set(err, ERR_HTTP, "%s: %s%s%s (HTTP %ld)", what, code ? code : "error",
	                 msg ? ": " : "", msg ? msg : "", resp->status);
	if (err) {
		err->http_status = resp->status;
		snprintf(err->s3_code, sizeof(err->s3_code), "%s", code ? code : "");
		snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
		snprintf(err->request_id, sizeof(err->request_id), "%s", rid ? rid : "");
	}
	free(code);
	free(msg);
	free(rid);
	return rc;
}

static int sts_parse_creds(const struct http_response *resp, const char *result_tag,
                           struct creds *out, struct tf_error *err)
{
	const char *b = resp->body.data, *e = b + resp->body.len, *rb, *re, *cb, *ce;
	char *ak = NULL, *sk = NULL, *tok = NULL, *exp = NULL;
	time_t t = 0;
	int rc = 0;
	if (!sts_element(b, e, result_tag, &rb, &re) ||
	    !sts_element(rb, re, "Credentials", &cb, &ce))
		return err_set(err, ERR_PARSE, "no <%s><Credentials> in the STS reply", result_tag);
	ak = xml_text(cb, ce, "AccessKeyId");
	sk = xml_text(cb, ce, "SecretAccessKey");
	tok = xml_text(cb, ce, "SessionToken");
	exp = xml_text(cb, ce, "Expiration");
	if (!ak || !*ak || !sk || !*sk)
		rc = err_set(err, ERR_PARSE, "the STS reply lacks AccessKeyId or SecretAccessKey");
	else if (exp && creds_parse_time(exp, &t))
		rc = err_set(err, ERR_PARSE, "the STS reply has a bad Expiration \"%.40s\"", exp);
	else
		creds_set(out, ak, sk, tok, t);
	secure_free_str(ak);
	secure_free_str(sk);
	secure_free_str(tok);
	secure_free_str(exp);
	return rc;
}

/* The STS endpoint set explicitly (configuration, then the AWS_ENDPOINT_URL_*
 * variables unless ignored), or NULL: the default endpoint for the region. */
static const char *sts_configured(const struct creds_config *cfg)
{
	int ignore = is_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
	if (cfg->sts_endpoint && *cfg->sts_endpoint)
		return cfg->sts_endpoint;
	if (ignore)
		return NULL;
	return env("AWS_ENDPOINT_URL_STS") ? env("AWS_ENDPOINT_URL_STS") : env("AWS_ENDPOINT_URL");
}

int creds_sts_configured(const struct creds_config *cfg)
{
	static const struct creds_config empty;
	return sts_configured(cfg ? cfg : &empty) != NULL;
}

static int sts_endpoint(struct resolver *r, char **url, char *sreg, size_t sreglen,
                        struct tf_error *err)
{
	const char *o = sts_configured(r->cfg);
	const char *setting, *signing = r->region;
	int legacy = 0;
	snprintf(sreg, sreglen, "%s", r->region);
	if (o) {
		*url = xstrdup(o);
		return 0;
	}
	setting = env("AWS_STS_REGIONAL_ENDPOINTS");
	if (!setting && r->have_top)
		setting = prof_val(&r->top, "sts_regional_endpoints");
	if (setting) {
		if (!strcasecmp(setting, "legacy"))
			legacy = 1;
		else if (strcasecmp(setting, "regional"))
			return err_set(err, ERR_USAGE,
			               "AWS_STS_REGIONAL_ENDPOINTS (or sts_regional_endpoints) is "
			               "\"%s\": use \"regional\" or \"legacy\"",
			               setting);
	}
	*url = creds_sts_default_endpoint(r->region, legacy, &signing);
	snprintf(sreg, sreglen, "%s", signing);
	return 0;
}

char *creds_sts_default_endpoint(const char *region, int legacy_global, const char **signing_region)
{
	/* the regions that used the global endpoint before regional became the default */
	static const char *const legacy[] = {
		"ap-northeast-1", "ap-south-1",   "ap-southeast-1", "ap-southeast-2",
		"aws-global",     "ca-central-1", "eu-central-1",   "eu-north-1",
		"eu-west-1",      "eu-west-2",    "eu-west-3",      "sa-east-1",
		"us-east-1",      "us-east-2",    "us-west-1",      "us-west-2",
	};
	int global = 0;
	if (!region || !*region)
		region = "us-east-1";
	if (!strcmp(region, "aws-global"))
		global = 1;
	for (size_t i = 0; legacy_global && i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (!strcmp(region, legacy[i]))
			global = 1;
	if (global) {
		*signing_region = "us-east-1";
		return xstrdup("https://sts.amazonaws.com");
	}
	*signing_region = region;
	if (!strncmp(region, "cn-", 3))
		return xasprintf("https://sts.%s.amazonaws.com.cn", region);
	return xasprintf("https://sts.%s.amazonaws.com", region);
}

/* POST an STS query API action, signed with signer when given; 0 when *resp
 * (initialised by the caller) holds a 200 reply. */
static int sts_post(struct resolver *r, const char *action, const struct sigv4_pair *params,
                    size_t n, const struct creds *signer, struct http_response *resp,
                    const char *what, struct tf_error *err)
{
	struct sigv4_pair q[8];
	char *url = NULL, *host = NULL, *path = NULL, *body = NULL;
	char sreg[64], hash[65];
	struct hdrs hs;
	struct sigv4_result sig;
	struct http_request req;
	int rc;

	hs.n = 0;
	memset(&sig, 0, sizeof(sig));
	memset(&req, 0, sizeof(req));
	if (n + 2 > sizeof(q) / sizeof(q[0]))
		return err_set(err, ERR_INTERNAL, "too many STS parameters");

	rc = sts_endpoint(r, &url, sreg, sizeof(sreg), err);
	if (rc)
		goto out;
	if (url_split(url, &host, &path)) {
		rc = err_set(err, ERR_USAGE, "%s: invalid STS endpoint \"%s\"", what, url);
		goto out;
	}
	q[0].name = "Action";
	q[0].value = action;
	q[1].name = "Version";
	q[1].value = STS_VERSION;
	if (n)
		memcpy(q + 2, params, n * sizeof(*params));
	body = sigv4_query_string(q, n + 2);
	hdr_add(&hs, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
	if (signer) {
		struct sigv4_params sp;
		memset(&sp, 0, sizeof(sp));
		sha256_hex(body, strlen(body), hash);
		hdr_add(&hs, "X-Amz-Content-Sha256", hash);
		sp.method = "POST";
		sp.host = host;
		sp.path = path;
		sp.s3_path = 0;
		sp.headers = hs.h;
		sp.nheaders = hs.n;
		sp.payload_hash = hash;
		sp.region = sreg;
		sp.service = "sts";
		sp.access_key = signer->access_key;
		sp.secret_key = signer->secret_key;
		sp.session_token = signer->session_token;
		sp.now = time(NULL);
		rc = sigv4_sign(&sp, &sig, err);
		if (rc) {
			err_prefix(err, "%s", what);
			goto out;
		}
		hdr_add(&hs, "X-Amz-Date", sig.amz_date);
		if (signer->session_token && *signer->session_token)
			hdr_add(&hs, "X-Amz-Security-Token", signer->session_token);
		hdr_add(&hs, "Authorization", sig.authorization);
	}
	req.method = "POST";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = r->timeout_ms;
	rc = http_retry(r, &req, resp, 1, err);
	if (rc) {
		err_prefix(err, "%s", what);
		goto out;
	}
	if (resp->status != 200)
		rc = sts_fail(resp, what, err);
out:
	secure_free_str(body);
	hdrs_free(&hs);
	sigv4_result_free(&sig);
	free(url);
	free(host);
	free(path);
	return rc;
}

/* An STS action whose reply carries credentials. */
static int sts_call(struct resolver *r, const char *action, const struct sigv4_pair *params,
                    size_t n, const struct creds *signer, struct creds *out, const char *what,
                    struct tf_error *err)
{
	struct http_response resp;
	char *result_tag;
	int rc;

	http_response_init(&resp);
	rc = sts_post(r, action, params, n, signer, &resp, what, err);
	if (rc) {
		resp_free(&resp);
		return rc;
	}
	result_tag = xasprintf("%sResult", action);
	rc = sts_parse_creds(&resp, result_tag, out, err);
	if (rc)
		err_prefix(err, "%s", what);
	resp_free(&resp);
	free(result_tag);
	return rc;
}

int creds_caller_identity(const struct creds_config *cfg, const struct creds *c,
                          struct creds_identity *out, struct tf_error *err)
{
	static const struct creds_config empty;
	const char *what = "sts GetCallerIdentity", *reg, *b, *e, *rb, *re;
	struct resolver r;
	struct http_response resp;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.cfg = cfg ? cfg : &empty;
	buf_init(&r.tried);
	r.timeout_ms = r.cfg->timeout_ms > 0 ? r.cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	reg = r.cfg->region && *r.cfg->region ? r.cfg->region : env("AWS_REGION");
	if (!reg)
		reg = env("AWS_DEFAULT_REGION");
	snprintf(r.region, sizeof(r.region), "%s", reg ? reg : "us-east-1");
	http_response_init(&resp);
	rc = sts_post(&r, "GetCallerIdentity", NULL, 0, c, &resp, what, err);
	if (!rc) {
		b = resp.body.data;
		e = b + resp.body.len;
		if (!sts_element(b, e, "GetCallerIdentityResult", &rb, &re)) {
			rc = err_set(err, ERR_PARSE,
			             "%s: no <GetCallerIdentityResult> in the reply", what);
		} else {
			out->arn = xml_text(rb, re, "Arn");
			out->account = xml_text(rb, re, "Account");
			out->user_id = xml_text(rb, re, "UserId");
			if (!out->arn || !*out->arn) {
				creds_identity_free(out);
				rc = err_set(err, ERR_PARSE, "%s: the reply has no Arn", what);
			}
		}
	}
	resp_free(&resp);
	buf_free(&r.tried);
	http_client_free(r.http);
	return rc;
}

void creds_identity_free(struct creds_identity *id)
{
	if (!id)
		return;
	free(id->arn);
	free(id->account);
	free(id->user_id);
	memset(id, 0, sizeof(*id));
}

static void default_session_name(char out[40])
{
	snprintf(out, 40, "tflock-%lld", (long long)time(NULL));
}

static int assume_role(struct resolver *r, const struct creds *base, const char *role_arn,
                       const char *session_name, const char *external_id, long duration,
                       struct creds *out, struct tf_error *err)
{
	struct sigv4_pair p[4];
	char sess[40], dur[24], *what;
	size_t n = 0;
	int rc;
	if (!session_name || !*session_name) {
		default_session_name(sess);
		session_name = sess;
	}
	p[n].name = "RoleArn";
	p[n++].value = role_arn;
	p[n].name = "RoleSessionName";
	p[n++].value = session_name;
	if (duration > 0) {
		snprintf(dur, sizeof(dur), "%ld", duration);
		p[n].name = "DurationSeconds";
		p[n++].value = dur;
	}
	if (external_id && *external_id) {
		p[n].name = "ExternalId";
		p[n++].value = external_id;
	}
	what = xasprintf("sts AssumeRole for \"%s\"", role_arn);
	rc = sts_call(r, "AssumeRole", p, n, base, out, what, err);
	free(what);
	return rc;
}

static int web_identity(struct resolver *r, const char *token_file, const char *role_arn,
                        const char *session_name, const char *context, struct creds *out,
                        struct tf_error *err)
{
	struct sigv4_pair p[3];
	struct buf token;
	char sess[40], *what = NULL;
	int rc;

	buf_init(&token);
	rc = buf_read_file(&token, token_file, SECRET_FILE_MAX, err);
	if (rc) {
		err_prefix(err, "%s: web identity token file", context);
		rc = ERR_USAGE;
		if (err)
			err->kind = ERR_USAGE;
		goto out;
	}
	trim_trailing_space(&token);
	if (!token.len) {
		rc = err_set(err, ERR_USAGE, "%s: web identity token file \"%s\" is empty", context,
		             token_file);
		goto out;
	}
	if (!session_name || !*session_name) {
		default_session_name(sess);
		session_name = sess;
	}
	p[0].name = "RoleArn";
	p[0].value = role_arn;
	p[1].name = "RoleSessionName";
	p[1].value = session_name;
	p[2].name = "WebIdentityToken";
	p[2].value = token.data;
	what = xasprintf("%s: sts AssumeRoleWithWebIdentity for \"%s\"", context, role_arn);
	rc = sts_call(r, "AssumeRoleWithWebIdentity", p, 3, NULL, out, what, err);
out:
	free(what);
	buf_wipe(&token);
	return rc;
}

/* ------------------------------------------------------------------ JSON replies */

/* {"AccessKeyId", "SecretAccessKey", token_key, "Expiration"} as ECS, IMDS and
 * credential_process write them. */
static int json_creds(const char *text, size_t len, const char *token_key, int want_version,
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
	code = json_str(j, "Code");
	if (code && strcmp(code, "Success")) {
		rc = err_set(err, ERR_CREDENTIALS, "%s: \"Code\" is \"%.60s\", not \"Success\"",
		             what, code);
		goto out;
	}
	ak = json_str(j, "AccessKeyId");
	sk = json_str(j, "SecretAccessKey");
	tok = json_str(j, token_key);
	exp = json_str(j, "Expiration");
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
	json_free(j);
	return rc;
}

/* An error reply of the container endpoint: {"code": ..., "message": ...}. */
static int json_fail(const struct http_response *resp, const char *what, struct tf_error *err)
{
	cJSON *j = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	const char *code = NULL, *msg = NULL;
	int rc;
	if (cJSON_IsObject(j)) {
		code = json_str(j, "code");
		if (!code)
			code = json_str(j, "Code");
		msg = json_str(j, "message");
		if (!msg)
			msg = json_str(j, "Message");
	}
	rc = err_set(err, ERR_HTTP, "%s: HTTP %ld%s%s%s%s", what, resp->status, code ? ": " : "",
	             code ? code : "", msg ? ": " : "", msg ? msg : "");
	if (err) {
		err->http_status = resp->status;
		snprintf(err->s3_code, sizeof(err->s3_code), "%s", code ? code : "");
		snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
	}
	json_free(j);
	return rc;
}

/* ------------------------------------------------------------------ container */

static int container_host_allowed(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;
	static const unsigned char eks6[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
		                                0,    0,    0,    0,    0, 0, 0, 0x23 };
	if (!strcasecmp(h, "localhost"))
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1) {
		uint32_t v = ntohl(a4.s_addr);
		return (v >> 24) == 127 || v == 0xA9FEAA02u /* 169.254.170.2 */ ||
		       v == 0xA9FEAA17u /* 169.254.170.23 */;
	}
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || !memcmp(&a6, eks6, 16);
	return 0;
}

int creds_container_url(char **url, struct tf_error *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *host;
	int ok;
	*url = NULL;
	if (rel) {
		*url = xasprintf("%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
		return 0;
	}
	if (!full)
		return NOT_CONFIGURED;
	if (!strncasecmp(full, "https://", 8)) {
		*url = xstrdup(full);
		return 0;
	}
	if (strncasecmp(full, "http://", 7))
		return err_set(err, ERR_USAGE,
		               "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\" is not an http:// or "
		               "https:// URL",
		               full);
	host = url_hostname(full);
	ok = host && container_host_allowed(host);
	free(host);
	if (!ok)
		return err_set(
		        err, ERR_USAGE,
		        "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\": plain http is allowed only "
		        "to a loopback address, 169.254.170.2, 169.254.170.23 or "
		        "fd00:ec2::23; use https",
		        full);
	*url = xstrdup(full);
	return 0;
}

static int container_fetch(struct resolver *r, struct creds *out, struct tf_error *err)
{
	const char *tfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *url = NULL;
	struct buf tok;
	struct hdrs hs;
	struct http_request req;
	struct http_response resp;
	int rc;

	buf_init(&tok);
	hs.n = 0;
	memset(&req, 0, sizeof(req));
	http_response_init(&resp);
	rc = creds_container_url(&url, err);
	if (rc)
		return rc; /* NOT_CONFIGURED or ERR_USAGE */
	if (tfile) {
		rc = buf_read_file(&tok, tfile, SECRET_FILE_MAX, err);
		if (rc) {
			err_prefix(err,
			           "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
			goto out;
		}
		trim_trailing_space(&tok);
	} else if (tenv) {
		buf_adds(&tok, tenv);
	}
	if (tok.len) {
		if (strpbrk(tok.data, "\r\n")) {
			rc = err_set(
			        err, ERR_USAGE,
			        "container credentials: the authorization token has a line break");
			goto out;
		}
		hdr_add(&hs, "Authorization", tok.data);
	}
	req.method = "GET";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.timeout_ms = r->timeout_ms < 5000 ? r->timeout_ms : 5000;
	req.connect_timeout_ms = 2000;
	req.no_proxy = strncasecmp(url, "https://", 8) != 0; /* link-local or loopback */
	rc = http_retry(r, &req, &resp, 0, err);
	if (rc) {
		err_prefix(err, "container credentials");
		goto out;
	}
	if (resp.status != 200) {
		rc = json_fail(&resp, "container credentials", err);
		goto out;
	}
	rc = json_creds(resp.body.data, resp.body.len, "Token", 0, out, "container credentials",
	                err);
out:
	resp_free(&resp);
	hdrs_free(&hs);
	buf_wipe(&tok);
	free(url);
	return rc;
}

/* ------------------------------------------------------------------ IMDS */

static char *imds_base(const struct resolver *r)
{
	const char *e = env("AWS_EC2_METADATA_SERVICE_ENDPOINT"), *mode;
	if (!e && r->have_top)
		e = prof_val(&r->top, "ec2_metadata_service_endpoint");
	if (e)
		return strip_slash(e);
	mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!mode && r->have_top)
		mode = prof_val(&r->top, "ec2_metadata_service_endpoint_mode");
	return xstrdup(mode && !strcasecmp(mode, "IPv6") ? IMDS_DEFAULT_V6 : IMDS_DEFAULT);
}

static int imds_request(struct resolver *r, const char *method, const char *url,
                        const struct hdrs *hs, struct http_response *resp, struct tf_error *err)
{
	struct http_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = hs->h;
	req.nheaders = hs->n;
	req.timeout_ms = r->timeout_ms < IMDS_TIMEOUT_MS ? r->timeout_ms : IMDS_TIMEOUT_MS;
	req.connect_timeout_ms = req.timeout_ms;
	req.no_proxy = 1;
	/* nothing listening (off EC2): fail at once, no retry */
	return http_retry(r, &req, resp, 0, err);
}

static int imds_fetch(struct resolver *r, struct creds *out, struct tf_error *err)
{
	char *base = NULL, *url = NULL, *role_enc = NULL;
	struct buf token, role;
	struct hdrs hs;
	struct http_response resp;
	int rc, v1_disabled;
	const char *v1;

	if (is_true(env("AWS_EC2_METADATA_DISABLED")))
		return NOT_CONFIGURED;
	v1 = env("AWS_EC2_METADATA_V1_DISABLED");
	if (!v1 && r->have_top)
		v1 = prof_val(&r->top, "ec2_metadata_v1_disabled");
	v1_disabled = is_true(v1);
	buf_init(&token);
	buf_init(&role);
	hs.n = 0;
	http_response_init(&resp);
	base = imds_base(r);

	/* IMDSv2 session token */
	url = xasprintf("%s/latest/api/token", base);
	hdr_add(&hs, "X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL);
	rc = imds_request(r, "PUT", url, &hs, &resp, err);
	hdrs_free(&hs);
	if (rc == ERR_CONNECT)
		goto out;
	if (rc == 0 && resp.status == 200) {
		buf_add(&token, resp.body.data, resp.body.len);
		trim_trailing_space(&token);
	} else if (rc == 0 && resp.status != 403 && resp.status != 404 && resp.status != 405) {
		rc = err_set(err, ERR_HTTP, "PUT %s: HTTP %ld", url, resp.status);
		if (err)
			err->http_status = resp.status;
		goto out;
	}
	if (!token.len) {
		/* 403/404/405, or no answer after connecting: the SDK falls back to IMDSv1 */
		if (v1_disabled) {
			if (!rc)
				rc = err_set(err, ERR_HTTP,
				             "PUT %s: HTTP %ld, and AWS_EC2_METADATA_V1_DISABLED "
				             "forbids "
				             "IMDSv1",
				             url, resp.status);
			goto out;
		}
		log_verbose("instance metadata: no IMDSv2 token, trying IMDSv1");
	}
	if (token.len)
		hdr_add(&hs, "X-aws-ec2-metadata-token", token.data);

	/* the role name */
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	rc = imds_request(r, "GET", url, &hs, &resp, err);
	if (rc)
		goto out;
	if (resp.status == 404) {
		rc = err_set(err, ERR_HTTP, "no IAM role is attached to this instance (HTTP 404)");
		if (err)
			err->http_status = 404;
		goto out;
	}
	if (resp.status != 200) {
		rc = err_set(err, ERR_HTTP, "GET %s: HTTP %ld", url, resp.status);
		if (err)
			err->http_status = resp.status;
		goto out;
	}
	buf_add(&role, resp.body.data, strcspn(resp.body.data, "\r\n"));
	trim_trailing_space(&role);
	if (!role.len) {
		rc = err_set(err, ERR_PARSE, "GET %s: no role name in the reply", url);
		goto out;
	}

	/* the credentials */
	role_enc = sigv4_uri_encode(role.data, role.len, 0);
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role_enc);
	rc = imds_request(r, "GET", url, &hs, &resp, err);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = err_set(err, ERR_HTTP, "GET %s: HTTP %ld", url, resp.status);
		if (err)
			err->http_status = resp.status;
		goto out;
	}
	rc = json_creds(resp.body.data, resp.body.len, "Token", 0, out, "instance metadata", err);
	if (!rc)
		creds_label(out, "instance metadata (role %s)", role.data);
out:
	resp_free(&resp);
	hdrs_free(&hs);
	buf_wipe(&token);
	buf_free(&role);
	free(role_enc);
	free(url);
	free(base);
	return rc;
}

/* ------------------------------------------------------------------ SSO */

static void sha1_hex(const char *s, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL) || n != 20)
		abort();
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int sso_fetch(struct resolver *r, const struct prof *p, struct creds *out,
                     struct tf_error *err)
{
	const char *session = prof_val(p, "sso_session");
	const char *region = prof_val(p, "sso_region"), *start = prof_val(p, "sso_start_url");
	const char *account = prof_val(p, "sso_account_id"), *role = prof_val(p, "sso_role_name");
	const char *key, *ep, *token, *expires;
	char hex[41], expbuf[RFC3339_MAX];
	char *home = NULL, *cache = NULL, *endpoint = NULL, *url = NULL, *acc_enc = NULL,
	     *role_enc = NULL;
	struct buf file;
	cJSON *j = NULL, *reply = NULL;
	struct hdrs hs;
	struct http_request req;
	struct http_response resp;
	time_t t;
	int rc = 0, ignore = is_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));

	buf_init(&file);
	hs.n = 0;
	memset(&req, 0, sizeof(req));
	http_response_init(&resp);

	if (session) {
		char *secname = xasprintf("sso-session %s", session);
		const struct ini_section *s = ini_section(&r->conf, secname);
		const char *sr, *su;
		free(secname);
		if (!s)
			return err_set(err, ERR_USAGE,
			               "profile \"%s\": no [sso-session %s] section in \"%s\"",
			               p->name, session, path_or(r->conf_path));
		sr = ini_get(s, "sso_region");
		su = ini_get(s, "sso_start_url");
		if (!sr || !*sr || !su || !*su)
			return err_set(
			        err, ERR_USAGE,
			        "[sso-session %s] in \"%s\" needs sso_region and sso_start_url",
			        session, path_or(r->conf_path));
		if ((region && strcmp(region, sr)) || (start && strcmp(start, su)))
			return err_set(
			        err, ERR_USAGE,
			        "profile \"%s\": sso_region and sso_start_url must match those "
			        "of [sso-session %s]",
			        p->name, session);
		region = sr;
		key = session;
	} else {
		if (!region || !start)
			return err_set(err, ERR_USAGE,
			               "profile \"%s\" is configured for SSO but lacks %s%s%s",
			               p->name, region ? "" : "sso_region",
			               !region && !start ? " and " : "",
			               start ? "" : "sso_start_url");
		key = start;
	}
	if (!account || !role)
		return err_set(err, ERR_USAGE,
		               "profile \"%s\" is configured for SSO but lacks %s%s%s", p->name,
		               account ? "" : "sso_account_id", !account && !role ? " and " : "",
		               role ? "" : "sso_role_name");

	home = home_dir();
	if (!home) {
		rc = err_set(err, ERR_CREDENTIALS,
		             "profile \"%s\": no home directory to find the SSO token cache in",
		             p->name);
		goto out;
	}
	sha1_hex(key, hex);
	cache = xasprintf("%s/.aws/sso/cache/%s.json", home, hex);
	rc = buf_read_file(&file, cache, SECRET_FILE_MAX, err);
	if (rc == ERR_NOT_FOUND) {
		rc = err_set(err, ERR_CREDENTIALS,
		             "profile \"%s\": no cached SSO token (\"%s\"): run \"aws sso login "
		             "--profile %s\"",
		             p->name, cache, p->name);
		goto out;
	}
	if (rc) {
		err_prefix(err, "profile \"%s\": SSO token cache", p->name);
		goto out;
	}
	j = cJSON_ParseWithLength(file.data, file.len);
	token = json_str(j, "accessToken");
	expires = json_str(j, "expiresAt");
	if (!token || !*token || !expires) {
		rc = err_set(err, ERR_PARSE,
		             "profile \"%s\": \"%s\" has no accessToken or expiresAt", p->name,
		             cache);
		goto out;
	}
	if (creds_parse_time(expires, &t)) {
		rc = err_set(err, ERR_PARSE, "profile \"%s\": \"%s\" has a bad expiresAt \"%.40s\"",
		             p->name, cache, expires);
		goto out;
	}
	if (t <= time(NULL)) {
		rfc3339_format(&(struct timespec){ .tv_sec = t }, expbuf);
		rc = err_set(err, ERR_CREDENTIALS,
		             "profile \"%s\": the SSO token expired at %s: run \"aws sso login "
		             "--profile %s\"",
		             p->name, expbuf, p->name);
		goto out;
	}

	ep = env("TFLOCK_SSO_ENDPOINT");
	if (!ep && !ignore)
		ep = env("AWS_ENDPOINT_URL_SSO");
	if (!ep && !ignore)
		ep = env("AWS_ENDPOINT_URL");
	endpoint = ep ? strip_slash(ep) : xasprintf("https://portal.sso.%s.amazonaws.com", region);
	acc_enc = sigv4_uri_encode(account, strlen(account), 0);
	role_enc = sigv4_uri_encode(role, strlen(role), 0);
	url = xasprintf("%s/federation/credentials?account_id=%s&role_name=%s", endpoint, acc_enc,
	                role_enc);
	hdr_add(&hs, "x-amz-sso_bearer_token", token);
	req.method = "GET";
	req.url = url;
	req.headers = hs.h;
	req.nheaders = hs.n;
	req.timeout_ms = r->timeout_ms;
	rc = http_retry(r, &req, &resp, 1, err);
	if (rc) {
		err_prefix(err, "profile \"%s\": SSO GetRoleCredentials", p->name);
		goto out;
	}
	if (resp.status != 200) {
		char *what = xasprintf(
		        "profile \"%s\": SSO GetRoleCredentials%s", p->name,
		        resp.status == 401 || resp.status == 403 ? " (run \"aws sso login\")" : "");
		rc = json_fail(&resp, what, err);
		free(what);
		goto out;
	}
	reply = cJSON_ParseWithLength(resp.body.data, resp.body.len);
	{
		const cJSON *rc_obj = cJSON_GetObjectItemCaseSensitive(reply, "roleCredentials");
		const char *ak = json_str(rc_obj, "accessKeyId"),
		           *sk = json_str(rc_obj, "secretAccessKey");
		const char *st = json_str(rc_obj, "sessionToken");
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(rc_obj, "expiration");
		if (!ak || !*ak || !sk || !*sk) {
			rc = err_set(
			        err, ERR_PARSE,
			        "profile \"%s\": SSO GetRoleCredentials: no roleCredentials in "
			        "the reply",
			        p->name);
			goto out;
		}
		creds_set(out, ak, sk, st,
		          cJSON_IsNumber(ex) && ex->valuedouble > 0
		                  ? (time_t)(ex->valuedouble / 1000.0)
		                  : 0);
	}
out:
	json_free(reply);
	json_free(j);
	resp_free(&resp);
	hdrs_free(&hs);
	buf_wipe(&file);
	free(home);
	free(cache);
	free(endpoint);
	free(url);
	free(acc_enc);
	free(role_enc);
	return rc;
}

/* ------------------------------------------------------------------ credential_process */

/* How the process ended, as an error; 0 when it exited 0. */
static int process_status(const struct child_capture *res, const char *what, struct tf_error *err)
{
	int st = res->status;
	switch (res->end) {
	case CHILD_CAPTURE_LOST: /* reaped by someone else: its exit status is unknown */
		return err_set(err, ERR_SYSTEM, "%s: cannot get its exit status: %s", what,
		               strerror(res->wait_errno));
	case CHILD_CAPTURE_TIMED_OUT:
		return err_set(err, ERR_TIMEOUT, "%s: no output after %d s; killed it", what,
		               PROCESS_TIMEOUT_MS / 1000);
	case CHILD_CAPTURE_TOO_MUCH:
		return err_set(err, ERR_PARSE, "%s: more than %d bytes of output", what,
		               PROCESS_MAX_OUTPUT);
	case CHILD_CAPTURE_EXITED:
		break;
	}
	if (WIFSIGNALED(st))
		return err_set(err, ERR_CREDENTIALS, "%s: killed by signal %d", what, WTERMSIG(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return err_set(err, ERR_CREDENTIALS,
		               "%s: exited with status 127 (command not found, or /bin/sh missing)",
		               what);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return err_set(err, ERR_CREDENTIALS, "%s: exited with status %d", what,
		               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

/* Run cmd with /bin/sh -c (stdin and stderr ours, the signal mask empty) and
 * read its JSON from stdout. */
static int process_fetch(const struct prof *p, const char *cmd, struct creds *out,
                         struct tf_error *err)
{
	char sh[] = "/bin/sh", dash_c[] = "-c", *command = xstrdup(cmd);
	char *argv[] = { sh, dash_c, command, NULL };
	char *what = xasprintf("profile \"%s\": credential_process", p->name);
	struct child_capture res;
	struct buf o = BUF_INIT;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	fflush(NULL);
	rc = child_capture(argv, environ, &none, PROCESS_TIMEOUT_MS, PROCESS_MAX_OUTPUT, &o, &res,
	                   err);
	if (rc) {
		err_prefix(err, "%s", what);
		if (res.exec_errno) { /* as when the shell exits 127: the command's failure */
			rc = ERR_CREDENTIALS;
			if (err)
				err->kind = rc;
		}
	} else {
		rc = process_status(&res, what, err);
		if (!rc)
			rc = json_creds(o.data, o.len, "SessionToken", 1, out, what, err);
	}
	free(what);
	free(command);
	buf_wipe(&o);
	return rc;
}

/* ------------------------------------------------------------------ chain */

static int resolve_tail(struct resolver *r, struct creds *out, struct tf_error *err);

static int env_keys(struct resolver *r, struct creds *out)
{
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	if (!ak)
		ak = env("AWS_ACCESS_KEY");
	if (!sk)
		sk = env("AWS_SECRET_KEY");
	if (ak && sk) {
		creds_set(out, ak, sk, env("AWS_SESSION_TOKEN"), 0);
		creds_label(out, "environment");
		return 0;
	}
	if (ak)
		note(r, "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	else if (sk)
		note(r, "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
	else
		note(r, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
	return NOT_CONFIGURED;
}

static int credential_source(struct resolver *r, const char *pname, const char *src,
                             struct creds *out, struct tf_error *err)
{
	int rc;
	if (!strcmp(src, "Environment")) {
		const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
		if (!ak)
			ak = env("AWS_ACCESS_KEY");
		if (!sk)
			sk = env("AWS_SECRET_KEY");
		if (!ak || !sk)
			return err_set(
			        err, ERR_USAGE,
			        "profile \"%s\": credential_source is Environment but "
			        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
			        pname);
		creds_set(out, ak, sk, env("AWS_SESSION_TOKEN"), 0);
		return 0;
	}
	if (!strcmp(src, "Ec2InstanceMetadata")) {
		rc = imds_fetch(r, out, err);
		if (rc == NOT_CONFIGURED)
			return err_set(
			        err, ERR_USAGE,
			        "profile \"%s\": credential_source is Ec2InstanceMetadata but "
			        "AWS_EC2_METADATA_DISABLED is true",
			        pname);
		if (rc)
			err_prefix(err, "profile \"%s\": instance metadata", pname);
		return rc;
	}
	if (!strcmp(src, "EcsContainer")) {
		rc = container_fetch(r, out, err);
		if (rc == NOT_CONFIGURED)
			return err_set(err, ERR_USAGE,
			               "profile \"%s\": credential_source is EcsContainer but "
			               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set",
			               pname);
		if (rc)
			err_prefix(err, "profile \"%s\"", pname);
		return rc;
	}
	return err_set(err, ERR_USAGE,
	               "profile \"%s\": credential_source is \"%s\": use Environment, "
	               "Ec2InstanceMetadata or EcsContainer",
	               pname, src);
}

static long parse_duration(const char *s)
{
	char *end;
	long v;
	if (!s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 15 * 60) /* the SDK passes only more than 15 minutes */
		return 0;
	return v;
}

/* Resolve profile name (top: the selected profile; otherwise a source_profile).
 * 0, NOT_CONFIGURED (the top profile has nothing to offer, or a source profile
 * has no credentials) or an error. */
static int resolve_profile(struct resolver *r, const char *name, int top, struct chain *ch,
                           struct creds *out, struct tf_error *err)
{
	struct prof p;
	struct creds base;
	const char *role_arn, *source, *cred_source, *ext_id, *mfa, *sess, *wit, *process;
	const char *ak, *sk, *tok;
	int second = 0, sso, ntypes, rc;
	long duration;

	creds_init(&base);
	rc = prof_load(r, name, &p, err);
	if (rc < 0)
		return rc;
	if (rc == NOT_CONFIGURED) {
		if (top)
			return NOT_CONFIGURED;
		return err_set(err, ERR_USAGE,
		               "source_profile \"%s\" is in neither \"%s\" nor \"%s\"", name,
		               path_or(r->cred_path), path_or(r->conf_path));
	}
	for (size_t i = 0; i < ch->n; i++)
		if (!strcmp(ch->names[i], name))
			second = 1;
	role_arn = prof_val(&p, "role_arn");
	source = prof_val(&p, "source_profile");
	cred_source = prof_val(&p, "credential_source");
	ext_id = prof_val(&p, "external_id");
	mfa = prof_val(&p, "mfa_serial");
	sess = prof_val(&p, "role_session_name");
	wit = prof_val(&p, "web_identity_token_file");
	process = prof_val(&p, "credential_process");
	ak = prof_val(&p, "aws_access_key_id");
	sk = prof_val(&p, "aws_secret_access_key");
	tok = prof_val(&p, "aws_session_token");
	duration = parse_duration(prof_val(&p, "duration_seconds"));
	sso = prof_val(&p, "sso_session") || prof_val(&p, "sso_start_url") ||
	      prof_val(&p, "sso_region") || prof_val(&p, "sso_account_id") ||
	      prof_val(&p, "sso_role_name");

	if (second) {
		/* a profile seen again in the chain offers only its credentials */
		role_arn = source = ext_id = mfa = sess = NULL;
	} else if ((source || cred_source || wit) && !role_arn) {
		rc = err_set(err, ERR_USAGE, "profile \"%s\": %s needs role_arn", name,
		             source        ? "source_profile"
		             : cred_source ? "credential_source"
		                           : "web_identity_token_file");
		goto out;
	}
	if (!top && ak && sk) {
		creds_set(out, ak, sk, tok, 0);
		creds_label(out, "profile %s (static keys)", name);
		goto out;
	}
	if (ch->n >= MAX_SOURCE_DEPTH) {
		rc = err_set(err, ERR_USAGE, "profile \"%s\": source_profile chain longer than %d",
		             name, MAX_SOURCE_DEPTH);
		goto out;
	}
	ch->names[ch->n++] = name;
	ntypes = !!source + !!cred_source + !!process + !!wit;
	if (ntypes > 1) {
		rc = err_set(err, ERR_USAGE,
		             "profile \"%s\": set only one of source_profile, credential_source, "
		             "credential_process and web_identity_token_file",
		             name);
		goto out;
	}
	if (role_arn && mfa) {
		rc = err_set(
		        err, ERR_USAGE,
		        "profile \"%s\": mfa_serial is set, and tflock cannot prompt for an MFA "
		        "code; use a profile that needs none, or export temporary credentials",
		        name);
		goto out;
	}

	if (source) {
		rc = resolve_profile(r, source, 0, ch, &base, err);
		if (rc == NOT_CONFIGURED)
			rc = err_set(err, ERR_USAGE,
			             "profile \"%s\": source_profile \"%s\" has no credentials",
			             name, source);
	} else if (ak && sk) {
		creds_set(&base, ak, sk, tok, 0);
		creds_label(&base, "profile %s (static keys)", name);
	} else if (cred_source) {
		rc = credential_source(r, name, cred_source, &base, err);
		if (!rc)
			creds_label(&base, "%s", cred_source);
	} else if (wit) {
		char *ctx = xasprintf("profile \"%s\"", name);
		rc = web_identity(r, wit, role_arn, sess, ctx, out, err);
		free(ctx);
		if (!rc)
			creds_label(out, "profile %s (web identity)", name);
		goto out; /* role_arn was the web identity's role */
	} else if (sso) {
		rc = sso_fetch(r, &p, &base, err);
		if (!rc)
			creds_label(&base, "profile %s (sso)", name);
	} else if (process) {
		rc = process_fetch(&p, process, &base, err);
		if (!rc)
			creds_label(&base, "profile %s (credential_process)", name);
	} else if (!top || !role_arn) {
		rc = NOT_CONFIGURED;
	} else {
		/* role_arn alone: container or instance metadata credentials assume it */
		note(r,
		     "profile \"%s\": role_arn without a source, trying container and instance "
		     "metadata",
		     name);
		rc = resolve_tail(r, &base, err);
	}
	if (rc)
		goto out;
	if (role_arn) {
		char via[sizeof(base.source)];
		snprintf(via, sizeof(via), "%s", base.source);
		rc = assume_role(r, &base, role_arn, sess, ext_id, duration, out, err);
		if (!rc)
			creds_label(out, "profile %s (assume role %s via %s)", name, role_arn, via);
	} else {
		creds_move(out, &base);
	}
out:
	creds_free(&base);
	prof_free(&p);
	return rc;
}

static int resolve_tail(struct resolver *r, struct creds *out, struct tf_error *err)
{
	int rc = container_fetch(r, out, err);
	if (rc <= 0) {
		if (!rc)
			creds_label(out, "container credentials");
		return rc;
	}
	note(r, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set");
	rc = imds_fetch(r, out, err);
	if (!rc)
		return 0;
	if (rc == NOT_CONFIGURED)
		note(r, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
	else
		note(r, "instance metadata: %s", err ? err->msg : "failed");
	err_clear(err);
	return err_set(err, ERR_CREDENTIALS, "no AWS credentials found: %s", r->tried.data);
}

int creds_resolve(const struct creds_config *cfg, struct creds *out, struct tf_error *err)
{
	static const struct creds_config empty;
	struct resolver r;
	struct tf_error local;
	struct creds base;
	const char *arn, *wit;
	int rc;

	if (!err)
		err = &local;
	if (!cfg)
		cfg = &empty;
	err_clear(err);
	creds_free(out);
	creds_init(&base);
	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	buf_init(&r.tried);
	ini_init(&r.conf);
	ini_init(&r.cred);
	r.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;

	r.profile = cfg->profile && *cfg->profile ? cfg->profile : NULL;
	r.profile_explicit = r.profile != NULL;
	if (!r.profile)
		r.profile = env("AWS_PROFILE");
	r.profile_named = r.profile != NULL;
	if (!r.profile)
		r.profile = "default";

	{
		const char *c = cfg->shared_credentials_file && *cfg->shared_credentials_file
		                        ? cfg->shared_credentials_file
		                        : env("AWS_SHARED_CREDENTIALS_FILE");
		const char *f = cfg->shared_config_file && *cfg->shared_config_file
		                        ? cfg->shared_config_file
		                        : env("AWS_CONFIG_FILE");
		char *home = (c && f) ? NULL : home_dir();
		r.cred_path = c      ? expand_home(c)
		              : home ? xasprintf("%s/.aws/credentials", home)
		                     : NULL;
		r.conf_path = f ? expand_home(f) : home ? xasprintf("%s/.aws/config", home) : NULL;
		free(home);
	}
	rc = load_shared(&r.conf, r.conf_path, err);
	if (!rc)
		rc = load_shared(&r.cred, r.cred_path, err);
	if (rc)
		goto out;
	rc = prof_load(&r, r.profile, &r.top, err);
	if (rc < 0)
		goto out;
	r.have_top = rc == 0;
	if (!r.have_top && r.profile_named) {
		rc = err_set(err, ERR_USAGE,
		             "AWS profile \"%s\" (from %s) is in neither \"%s\" nor \"%s\"",
		             r.profile, r.profile_explicit ? "the profile option" : "AWS_PROFILE",
		             path_or(r.cred_path), path_or(r.conf_path));
		goto out;
	}
	{
		const char *reg = cfg->region && *cfg->region ? cfg->region : env("AWS_REGION");
		if (!reg)
			reg = env("AWS_DEFAULT_REGION");
		if (!reg && r.have_top)
			reg = prof_val(&r.top, "region");
		snprintf(r.region, sizeof(r.region), "%s", reg ? reg : "us-east-1");
	}

	if (!r.profile_explicit) {
		rc = env_keys(&r, &base);
		if (!rc)
			goto assume;
		wit = env("AWS_WEB_IDENTITY_TOKEN_FILE");
		if (wit) {
			const char *role = env("AWS_ROLE_ARN");
			if (!role) {
				rc = err_set(err, ERR_USAGE,
				             "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN "
				             "is not");
				goto out;
			}
			rc = web_identity(&r, wit, role, env("AWS_ROLE_SESSION_NAME"),
			                  "AWS_WEB_IDENTITY_TOKEN_FILE", &base, err);
			if (rc)
				goto out;
			creds_label(&base, "web identity (%s)", role);
			goto assume;
		}
		note(&r, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set");
	} else {
		note(&r, "environment and web identity: skipped, the profile option names \"%s\"",
		     r.profile);
	}

	if (r.have_top) {
		struct chain ch;
		ch.n = 0;
		rc = resolve_profile(&r, r.profile, 1, &ch, &base, err);
		if (rc <= 0) {
			if (rc)
				goto out;
			goto assume;
		}
		note(&r, "profile \"%s\": no credentials in it", r.profile);
	} else {
		note(&r, "shared files: no profile \"%s\" in \"%s\" or \"%s\"", r.profile,
		     path_or(r.cred_path), path_or(r.conf_path));
	}
	rc = resolve_tail(&r, &base, err);
	if (rc)
		goto out;

assume:
	arn = cfg->assume_role.role_arn;
	if (arn && *arn) {
		char via[sizeof(base.source)];
		snprintf(via, sizeof(via), "%s", base.source);
		rc = assume_role(&r, &base, arn, cfg->assume_role.session_name,
		                 cfg->assume_role.external_id, cfg->assume_role.duration_s, out,
		                 err);
		if (rc) {
			err_prefix(err, "assume_role (with credentials from %s)", via);
			goto out;
		}
		creds_label(out, "assume role %s via %s", arn, via);
	} else {
		creds_move(out, &base);
	}
	log_verbose("AWS credentials from %s", out->source);
	rc = 0;
out:
	if (rc)
		creds_free(out);
	creds_free(&base);
	prof_free(&r.top);
	ini_free(&r.conf);
	ini_free(&r.cred);
	free(r.conf_path);
	free(r.cred_path);
	buf_free(&r.tried);
	http_client_free(r.http);
	return rc;
}
