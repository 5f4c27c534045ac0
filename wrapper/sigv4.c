/*
 * sigv4.c — AWS Signature Version 4: canonical request, string to sign,
 * signing-key derivation and the Authorization header. See sigv4.h.
 */
#include "sigv4.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"

/* Flags for encode_into(). */
#define ENC_KEEP_SLASH 1 /* leave '/' as is */
#define ENC_TWICE 2      /* encode the once-encoded form again: "%" becomes "%25" */

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* ---- hashing ------------------------------------------------------------ */

static int sha256_raw(const void *data, size_t len, unsigned char out[32])
{
	unsigned int outlen = 0;
	if (!data)
		data = "";
	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != 32)
		return -1;
	return 0;
}

static int hmac_raw(const void *key, size_t keylen, const void *data, size_t len,
                    unsigned char out[32])
{
	unsigned int outlen = 0;
	if (keylen > INT_MAX)
		return -1;
	if (!key)
		key = "";
	if (!data)
		data = "";
	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
		return -1;
	return 0;
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static void crypto_fail(const char *what)
{
	fprintf(stderr, "tflock: OpenSSL %s failed\n", what);
	abort();
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	if (sha256_raw(data, len, md) < 0)
		crypto_fail("SHA-256");
	to_hex(md, sizeof(md), out);
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 unsigned char out[32])
{
	if (hmac_raw(key, keylen, data, len, out) < 0)
		crypto_fail("HMAC-SHA256");
}

/* ---- encoding ----------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static void encode_into(struct buf *b, const char *s, size_t len, int flags)
{
	buf_grow(b, len * ((flags & ENC_TWICE) ? 5 : 3));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (c == '/' && (flags & ENC_KEEP_SLASH))) {
			buf_addc(b, (char)c);
			continue;
		}
		buf_addc(b, '%');
		if (flags & ENC_TWICE)
			buf_adds(b, "25");
		buf_addc(b, hex_upper[c >> 4]);
		buf_addc(b, hex_upper[c & 0x0f]);
	}
}

char *sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
	struct buf b;
	buf_init(&b);
	if (s)
		encode_into(&b, s, len, keep_slash ? ENC_KEEP_SLASH : 0);
	return buf_detach(&b, NULL);
}

/* ---- canonical URI ------------------------------------------------------ */

struct segment {
	const char *s;
	size_t len;
};

/* General rules: drop empty and "." segments, let ".." remove the one before
 * (never above the root), keep a trailing slash, encode each segment twice. */
static void canonical_uri_general(struct buf *out, const char *path)
{
	size_t plen = strlen(path), n = 0;
	struct segment *seg = xcalloc(plen + 1, sizeof(*seg));
	int trailing = 0;
	const char *p = path;

	while (*p) {
		const char *start, *end;
		size_t len;
		while (*p == '/')
			p++;
		if (!*p) {
			trailing = 1; /* the path ended with '/' */
			break;
		}
		start = p;
		end = strchr(p, '/');
		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - start);
		p = end;
		trailing = 0;
		if (len == 1 && start[0] == '.') {
			trailing = 1;
		} else if (len == 2 && start[0] == '.' && start[1] == '.') {
			if (n)
				n--;
			trailing = 1;
		} else {
			seg[n].s = start;
			seg[n].len = len;
			n++;
		}
	}

	buf_addc(out, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(out, '/');
		encode_into(out, seg[i].s, seg[i].len, ENC_TWICE);
	}
	if (n && trailing)
		buf_addc(out, '/');
	free(seg);
}

static void canonical_uri(struct buf *out, const char *path, int s3)
{
	if (!path || !*path)
		path = "/";
	if (s3)
		encode_into(out, path, strlen(path), ENC_KEEP_SLASH);
	else
		canonical_uri_general(out, path);
}

/* ---- canonical query ---------------------------------------------------- */

struct qpair {
	char *name;  /* encoded */
	char *value; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static void query_build(struct buf *out, const struct sigv4_pair *q, size_t n)
{
	struct qpair *v;
	if (!q || !n)
		return;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const char *name = q[i].name ? q[i].name : "";
		const char *value = q[i].value ? q[i].value : "";
		v[i].name = sigv4_uri_encode(name, strlen(name), 0);
		v[i].value = sigv4_uri_encode(value, strlen(value), 0);
	}
	qsort(v, n, sizeof(*v), qpair_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(out, '&');
		buf_adds(out, v[i].name);
		buf_addc(out, '=');
		buf_adds(out, v[i].value);
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

char *sigv4_query_string(const struct sigv4_pair *q, size_t n)
{
	struct buf b;
	buf_init(&b);
	query_build(&b, q, n);
	return buf_detach(&b, NULL);
}

/* ---- canonical headers -------------------------------------------------- */

struct hdr {
	char *name;  /* lowercase */
	char *value; /* trimmed, runs of blanks collapsed */
	size_t vlen;
	size_t order; /* position given, so repeated names keep their order */
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* RFC 9110 tchar: the characters a header name (or a method) may hold. */
static int is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_token(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* A value we can send on one line: no CR, LF or other control byte but tab. */
static int is_clean_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static char *lowercase_dup(const char *s)
{
	char *d = xstrdup(s);
	for (char *p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* Trim spaces and tabs at both ends and turn each inner run into one space. */
static char *trim_collapse(const char *s, size_t *outlen)
{
	size_t len = strlen(s), n = 0;
	char *d = xmalloc(len + 1);
	int blank = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = 1;
			continue;
		}
		if (blank && n)
			d[n++] = ' ';
		blank = 0;
		d[n++] = *s;
	}
	d[n] = '\0';
	*outlen = n;
	return d;
}

static void hdr_add(struct hdr *h, size_t *n, const char *name, const char *value)
{
	h[*n].name = lowercase_dup(name);
	h[*n].value = trim_collapse(value, &h[*n].vlen);
	h[*n].order = *n;
	(*n)++;
}

static void hdrs_free(struct hdr *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		/* values may hold the session token */
		secure_free(h[i].value, h[i].vlen + 1);
	}
	free(h);
}

static int signer_owned(const char *lname, int have_token)
{
	return !strcmp(lname, "host") || !strcmp(lname, "x-amz-date") ||
	       !strcmp(lname, "authorization") ||
	       (have_token && !strcmp(lname, "x-amz-security-token"));
}

/* ---- validation --------------------------------------------------------- */

static int is_payload_hash(const char *s)
{
	size_t len;
	if (!s || !*s)
		return 0;
	len = strlen(s);
	if (len == 64 && strspn(s, hex_lower) == 64)
		return 1;
	if (!strcmp(s, "UNSIGNED-PAYLOAD"))
		return 1;
	/* STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ... */
	return !strncmp(s, "STREAMING-", 10) && len > 10 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == len;
}

/* A scope part (region, service, access key) must not break the credential. */
static int is_scope_part(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || c == '/' || c == ',' || c == '=')
			return 0;
	}
	return 1;
}

static int check_params(const struct sigv4_params *p, struct tf_error *err)
{
	if (!p)
		return err_set(err, ERR_INTERNAL, "sigv4: no request to sign");
	if (!is_token(p->method))
		return err_set(err, ERR_INTERNAL, "sigv4: missing or invalid method");
	if (!p->host || !*p->host || !is_clean_value(p->host) || strpbrk(p->host, " \t"))
		return err_set(err, ERR_INTERNAL, "sigv4: missing or invalid host");
	if (p->path && *p->path && p->path[0] != '/')
		return err_set(err, ERR_INTERNAL, "sigv4: path \"%s\" is not absolute", p->path);
	if (!is_scope_part(p->region))
		return err_set(err, ERR_INTERNAL, "sigv4: missing or invalid region");
	if (!is_scope_part(p->service))
		return err_set(err, ERR_INTERNAL, "sigv4: missing or invalid service");
	if (!is_payload_hash(p->payload_hash))
		return err_set(err, ERR_INTERNAL, "sigv4: missing or invalid payload hash");
	if (!is_scope_part(p->access_key))
		return err_set(err, ERR_CREDENTIALS, "sigv4: missing or invalid access key id");
	if (!p->secret_key || !*p->secret_key)
		return err_set(err, ERR_CREDENTIALS, "sigv4: missing secret access key");
	if (p->session_token && !is_clean_value(p->session_token))
		return err_set(err, ERR_CREDENTIALS,
		               "sigv4: session token holds control characters");
	if (p->nquery && !p->query)
		return err_set(err, ERR_INTERNAL, "sigv4: query count without pairs");
	for (size_t i = 0; i < p->nquery; i++)
		if (!p->query[i].name)
			return err_set(err, ERR_INTERNAL, "sigv4: query pair %zu has no name", i);
	if (p->nheaders && !p->headers)
		return err_set(err, ERR_INTERNAL, "sigv4: header count without headers");
	for (size_t i = 0; i < p->nheaders; i++) {
		const struct http_header *h = &p->headers[i];
		if (!is_token(h->name))
			return err_set(err, ERR_INTERNAL, "sigv4: invalid header name \"%s\"",
			               h->name ? h->name : "(null)");
		if (!h->value || !is_clean_value(h->value))
			return err_set(err, ERR_INTERNAL,
			               "sigv4: header \"%s\" has a missing or multi-line value",
			               h->name);
	}
	return 0;
}

/* ---- signing ------------------------------------------------------------ */

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"); signature = HMAC(kSigning, string to sign). Every
 * intermediate key is wiped, success or not. */
static int compute_signature(const struct sigv4_params *p, const char *date, const char *sts,
                             char out[65])
{
	size_t slen = strlen(p->secret_key);
	char *k_secret = xmalloc(slen + 5);
	unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
	int rc = -1;

	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, p->secret_key, slen + 1);
	if (hmac_raw(k_secret, slen + 4, date, strlen(date), k_date) < 0 ||
	    hmac_raw(k_date, 32, p->region, strlen(p->region), k_region) < 0 ||
	    hmac_raw(k_region, 32, p->service, strlen(p->service), k_service) < 0 ||
	    hmac_raw(k_service, 32, SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), k_signing) < 0 ||
	    hmac_raw(k_signing, 32, sts, strlen(sts), sig) < 0)
		goto out;
	to_hex(sig, sizeof(sig), out);
	rc = 0;
out:
	secure_free(k_secret, slen + 5);
	secure_zero(k_date, sizeof(k_date));
	secure_zero(k_region, sizeof(k_region));
	secure_zero(k_service, sizeof(k_service));
	secure_zero(k_signing, sizeof(k_signing));
	secure_zero(sig, sizeof(sig));
	return rc;
}

/* The signing time as ISO 8601 basic format (out->amz_date) and its date. */
static int sign_time(const struct sigv4_params *p, struct sigv4_result *out, char date[9],
                     struct tf_error *err)
{
	struct tm tm;
	if (!gmtime_r(&p->now, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return err_set(err, ERR_INTERNAL, "sigv4: signing time out of range");
	if (strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return err_set(err, ERR_INTERNAL, "sigv4: cannot format the signing time");
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	return 0;
}

/* The headers to sign: the signer's own first, then the caller's, sorted. */
static struct hdr *sign_headers(const struct sigv4_params *p, const char *amz_date, size_t *nh)
{
	int have_token = p->session_token && *p->session_token;
	struct hdr *h = xcalloc(p->nheaders + 3, sizeof(*h));
	*nh = 0;
	hdr_add(h, nh, "host", p->host);
	hdr_add(h, nh, "x-amz-date", amz_date);
	if (have_token)
		hdr_add(h, nh, "x-amz-security-token", p->session_token);
	for (size_t i = 0; i < p->nheaders; i++) {
		char *lname = lowercase_dup(p->headers[i].name);
		int skip = signer_owned(lname, have_token);
		free(lname);
		if (!skip)
			hdr_add(h, nh, p->headers[i].name, p->headers[i].value);
	}
	qsort(h, *nh, sizeof(*h), hdr_cmp);
	return h;
}

/* CanonicalHeaders ("name:v1,v2\n" each) and SignedHeaders ("a;b") of sorted h. */
static void canonical_headers(const struct hdr *h, size_t nh, struct buf *canon,
                              struct buf *signed_hdrs)
{
	size_t hdr_bytes = 0;
	/* Sized up front so the buffer holding the token is never reallocated
	 * (which would leave a copy behind in freed memory). */
	for (size_t i = 0; i < nh; i++)
		hdr_bytes += strlen(h[i].name) + h[i].vlen + 3;
	buf_grow(canon, hdr_bytes);
	for (size_t i = 0; i < nh; i++) {
		int same = i && !strcmp(h[i].name, h[i - 1].name);
		if (same) {
			/* a repeated name: "name:v1,v2" */
			canon->len--; /* drop the '\n' */
			buf_addc(canon, ',');
		} else {
			buf_adds(canon, h[i].name);
			buf_addc(canon, ':');
			if (signed_hdrs->len)
				buf_addc(signed_hdrs, ';');
			buf_adds(signed_hdrs, h[i].name);
		}
		buf_add(canon, h[i].value, h[i].vlen);
		buf_addc(canon, '\n');
	}
}

/* CanonicalRequest = Method \n URI \n Query \n Headers \n SignedHeaders \n Hash,
 * in one allocation (it holds the token). */
static void canonical_request(struct buf *creq, const struct sigv4_params *p, const struct buf *uri,
                              const struct buf *query, const struct buf *canon,
                              const struct buf *signed_hdrs)
{
	buf_grow(creq, strlen(p->method) + uri->len + query->len + canon->len + signed_hdrs->len +
	                       strlen(p->payload_hash) + 5);
	buf_adds(creq, p->method);
	buf_addc(creq, '\n');
	buf_add(creq, uri->data, uri->len);
	buf_addc(creq, '\n');
	buf_add(creq, query->data, query->len);
	buf_addc(creq, '\n');
	buf_add(creq, canon->data, canon->len);
	buf_addc(creq, '\n');
	buf_add(creq, signed_hdrs->data, signed_hdrs->len);
	buf_addc(creq, '\n');
	buf_adds(creq, p->payload_hash);
}

int sigv4_sign(const struct sigv4_params *p, struct sigv4_result *out, struct tf_error *err)
{
	struct buf uri, query, canon_hdrs, signed_hdrs, creq, sts;
	struct hdr *h = NULL;
	size_t nh = 0;
	char date[9], creq_hash[65], *scope = NULL;
	int rc;

	if (!out)
		return err_set(err, ERR_INTERNAL, "sigv4: no result to fill");
	memset(out, 0, sizeof(*out));
	/* BUF_INIT is not used: it trips -Wcast-qual under -Wwrite-strings */
	buf_init(&uri);
	buf_init(&query);
	buf_init(&canon_hdrs);
	buf_init(&signed_hdrs);
	buf_init(&creq);
	buf_init(&sts);
	rc = check_params(p, err);
	if (rc < 0)
		goto done;
	rc = sign_time(p, out, date, err);
	if (rc < 0)
		goto done;

	canonical_uri(&uri, p->path, p->s3_path);
	query_build(&query, p->query, p->nquery);
	h = sign_headers(p, out->amz_date, &nh);
	canonical_headers(h, nh, &canon_hdrs, &signed_hdrs);
	canonical_request(&creq, p, &uri, &query, &canon_hdrs, &signed_hdrs);

	{
		unsigned char md[32];
		if (sha256_raw(creq.data, creq.len, md) < 0) {
			rc = err_set(err, ERR_INTERNAL, "sigv4: OpenSSL SHA-256 failed");
			goto done;
		}
		to_hex(md, sizeof(md), creq_hash);
	}

	/* StringToSign = Algorithm \n AmzDate \n Scope \n hex(SHA256(CanonicalRequest)) */
	scope = xasprintf("%s/%s/%s/%s", date, p->region, p->service, SIGV4_TERMINATOR);
	buf_addf(&sts, "%s\n%s\n%s\n%s", SIGV4_ALGORITHM, out->amz_date, scope, creq_hash);

	if (compute_signature(p, date, sts.data, out->signature) < 0) {
		rc = err_set(err, ERR_INTERNAL, "sigv4: OpenSSL HMAC-SHA256 failed");
		goto done;
	}

	out->authorization =
	        xasprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", SIGV4_ALGORITHM,
	                  p->access_key, scope, signed_hdrs.data, out->signature);
	out->canonical_request = buf_detach(&creq, NULL);
	out->string_to_sign = buf_detach(&sts, NULL);
	out->signed_headers = buf_detach(&signed_hdrs, NULL);
	rc = 0;

done:
	free(scope);
	hdrs_free(h, nh);
	buf_free(&uri);
	buf_free(&query);
	buf_wipe(&canon_hdrs);
	buf_wipe(&creq);
	buf_free(&signed_hdrs);
	buf_free(&sts);
	if (rc < 0) {
		sigv4_result_free(out);
		return rc;
	}
	return 0;
}

void sigv4_result_free(struct sigv4_result *r)
{
	if (!r)
		return;
	secure_free_str(r->canonical_request);
	free(r->string_to_sign);
	free(r->signed_headers);
	free(r->authorization);
	memset(r, 0, sizeof(*r));
}
