/*
 * s3err — read an S3 error reply and say it in one human line. See s3err.h.
 */
#include "s3err.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "xml.h"

/* ------------------------------------------------------ the clean writer */

/* Writes code points into a fixed field: one line, printable, whitespace collapsed,
 * cut at a character boundary when full. */
struct w {
	char *dst;
	size_t size, len;
	int started, space, full;
};

static void w_init(struct w *w, char *dst, size_t size)
{
	w->dst = dst;
	w->size = size;
	w->len = 0;
	w->started = w->space = w->full = 0;
	if (size)
		dst[0] = '\0';
}

static int is_blank_cp(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x2028 || cp == 0x2029 || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
	       cp == ' ';
}

static void w_cp(struct w *w, uint32_t cp)
{
	char t[5];
	size_t k;

	if (w->full || w->size == 0)
		return;
	if (is_blank_cp(cp)) {
		if (w->started)
			w->space = 1;
		return;
	}
	k = utf8_encode(cp, t);
	if (w->len + (size_t)w->space + k + 1 > w->size) {
		w->full = 1;
		return;
	}
	if (w->space)
		w->dst[w->len++] = ' ';
	memcpy(w->dst + w->len, t, k);
	w->len += k;
	w->dst[w->len] = '\0';
	w->space = 0;
	w->started = 1;
}

/* Raw bytes (no entity decoding) through the writer; bad UTF-8 becomes '?'. */
static void w_bytes(struct w *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n && !w->full) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, n - i, &cp);
		if (k == 0) {
			w_cp(w, '?');
			i++;
		} else {
			w_cp(w, cp);
			i += k;
		}
	}
}

static void w_str(struct w *w, const char *s)
{
	w_bytes(w, s, strlen(s));
}

/* ------------------------------------------------------------ the fields */

/* Element text [p, end) into a field: entities decoded, inner tags dropped. */
static void copy_text(char *dst, size_t size, const char *p, const char *end)
{
	struct w w;
	w_init(&w, dst, size);
	while (p < end && !w.full) {
		uint32_t cp;
		size_t k;
		if (*p == '<') {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			if (!gt)
				break;
			w_cp(&w, ' ');
			p = gt + 1;
			continue;
		}
		if (*p == '&' && (k = xml_entity(p, end, &cp)) > 0) {
			w_cp(&w, cp);
			p += k;
			continue;
		}
		k = utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);
		if (k == 0) {
			w_cp(&w, '?');
			p++;
		} else {
			w_cp(&w, cp);
			p += k;
		}
	}
}

static void child(const char *p, const char *end, const char *name, char *dst, size_t size)
{
	const char *content, *stop;
	if (xml_find(p, end, name, &content, &stop) && stop && stop > content)
		copy_text(dst, size, content, stop);
}

int s3err_parse(const char *body, size_t len, struct s3err *out)
{
	const char *end, *content, *stop;

	memset(out, 0, sizeof(*out));
	if (!body)
		return -1;
	end = body + (len > S3ERR_SCAN_MAX ? S3ERR_SCAN_MAX : len);
	if (!xml_find(body, end, "Error", &content, &stop) || stop == content)
		return -1;
	if (!stop)
		stop = end; /* truncated: take what is there */
	child(content, stop, "Code", out->code, sizeof(out->code));
	child(content, stop, "Message", out->message, sizeof(out->message));
	child(content, stop, "RequestId", out->request_id, sizeof(out->request_id));
	child(content, stop, "Region", out->region, sizeof(out->region));
	child(content, stop, "Endpoint", out->endpoint, sizeof(out->endpoint));
	return out->code[0] ? 0 : -1;
}

/* ------------------------------------------------------------- the words */

static const char *reason(long status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

static const struct {
	const char *code, *what;
} phrases[] = {
	{ "AccessDenied", "access denied" },
	{ "AllAccessDisabled", "all access to the bucket is disabled" },
	{ "AccountProblem", "the account has a problem" },
	{ "InvalidAccessKeyId", "the access key is not known to the store" },
	{ "SignatureDoesNotMatch", "the request signature does not match (wrong secret key?)" },
	{ "ExpiredToken", "the session token has expired" },
	{ "TokenRefreshRequired", "the session token must be refreshed" },
	{ "InvalidToken", "the session token is invalid" },
	{ "RequestTimeTooSkewed", "this machine's clock is too far from the store's" },
	{ "RequestExpired", "the request expired (is this machine's clock right?)" },
	{ "NoSuchBucket", "no such bucket" },
	{ "NoSuchKey", "no such key" },
	{ "NoSuchUpload", "no such upload" },
	{ "PermanentRedirect", "the bucket is in another region" },
	{ "TemporaryRedirect", "the store redirects the request" },
	{ "AuthorizationHeaderMalformed", "the request was signed for the wrong region" },
	{ "IllegalLocationConstraintException", "the bucket is in another region" },
	{ "PreconditionFailed", "precondition failed" },
	{ "ConditionalRequestConflict", "a concurrent conditional write conflicted" },
	{ "OperationAborted", "a conflicting operation is in progress" },
	{ "SlowDown", "the store asks to slow down" },
	{ "ServiceUnavailable", "the store is unavailable" },
	{ "InternalError", "internal error in the store" },
	{ "RequestTimeout", "the store timed out reading the request" },
	{ "InvalidRequest", "the store rejected the request as invalid" },
	{ "InvalidArgument", "the store rejected an argument" },
	{ "InvalidBucketName", "invalid bucket name" },
	{ "NotImplemented", "the store does not implement this request" },
	{ "MethodNotAllowed", "method not allowed" },
	{ "MissingContentLength", "the store wants a Content-Length" },
	{ "BadDigest", "checksum mismatch" },
	{ "InvalidDigest", "invalid checksum" },
	{ "XAmzContentSHA256Mismatch", "payload checksum mismatch" },
	{ "KMS.DisabledException", "the KMS key is disabled" },
	{ "KMS.NotFoundException", "the KMS key was not found" },
	{ "InvalidObjectState", "the object is archived" },
	{ "QuotaExceeded", "quota exceeded" },
};

static const char *phrase_for(const char *code)
{
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (!strcmp(code, phrases[i].code))
			return phrases[i].what;
	return NULL;
}

const char *s3err_describe(long http_status, const struct s3err *e, char *buf, size_t size)
{
	static const struct s3err none;
	const char *what, *sep = "";
	char num[48], code[sizeof(none.code)];
	struct w w;

	if (!buf || size == 0)
		return buf;
	if (!e)
		e = &none;
	w_init(&w, buf, size);
	/* fields filled by a caller may lack their NUL: never read past them */
	snprintf(code, sizeof(code), "%.*s", (int)strnlen(e->code, sizeof(e->code) - 1), e->code);
	what = code[0] ? phrase_for(code) : NULL;

	/* what happened */
	if (what) {
		w_str(&w, what);
		if (!strcmp(code, "PermanentRedirect") && e->region[0]) {
			w_str(&w, ", ");
			w_bytes(&w, e->region, strnlen(e->region, sizeof(e->region)));
		}
	} else if (http_status > 0) {
		snprintf(num, sizeof(num), "HTTP %ld ", http_status);
		w_str(&w, num);
		w_str(&w, reason(http_status));
	} else {
		w_str(&w, "no HTTP status");
	}

	/* the details */
	if (!e->code[0] && !e->message[0] && !e->request_id[0] && !e->region[0] && !e->endpoint[0])
		return buf;
	w_str(&w, " (");
	if (e->code[0]) {
		if (what && http_status > 0) {
			snprintf(num, sizeof(num), "%ld ", http_status);
			w_str(&w, num);
		}
		w_str(&w, code);
		sep = ": ";
	}
	if (e->message[0]) {
		w_str(&w, sep);
		w_bytes(&w, e->message, strnlen(e->message, sizeof(e->message)));
		sep = ", ";
	} else if (e->code[0]) {
		sep = ", ";
	}
	if (e->region[0] && strcmp(code, "PermanentRedirect") != 0) {
		w_str(&w, sep);
		w_str(&w, "region ");
		w_bytes(&w, e->region, strnlen(e->region, sizeof(e->region)));
		sep = ", ";
	}
	if (e->endpoint[0]) {
		w_str(&w, sep);
		w_str(&w, "endpoint ");
		w_bytes(&w, e->endpoint, strnlen(e->endpoint, sizeof(e->endpoint)));
		sep = ", ";
	}
	if (e->request_id[0]) {
		w_str(&w, sep);
		w_str(&w, "request id ");
		w_bytes(&w, e->request_id, strnlen(e->request_id, sizeof(e->request_id)));
	}
	w_cp(&w, ')');
	return buf;
}

int s3err_store_unusable(const struct tf_error *err)
{
	if (err->kind == ERR_CREDENTIALS)
		return 1;
	if (err->kind != ERR_HTTP)
		return 0;
	return err->http_status == 400 || err->http_status == 401 || err->http_status == 403 ||
	       err->http_status == 301 || err->http_status == 405 ||
	       !strcmp(err->s3_code, "NoSuchBucket");
}
