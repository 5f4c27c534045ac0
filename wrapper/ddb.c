/*
 * ddb.c — DynamoDB's JSON 1.0 API for the lock item (ddb.h).
 */
#include "ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "s3.h"
#include "sanitize.h"

#define DDB_ATTEMPTS 4

struct ddb_client {
	struct s3_client *s3;
	char *table, *region;
	char *url;  /* https://HOST[:PORT]/PATH */
	char *host; /* HOST[:PORT] */
	char *path; /* "/" or the endpoint's path */
	int aws;
	long timeout_ms;
	char describe[512];
};

/* scheme://host[:port][/path] into host and path (the endpoint was checked). */
static void split_url(const char *url, char **host, char **path)
{
	const char *p = strstr(url, "://");
	size_t hl;
	p = p ? p + 3 : url;
	hl = strcspn(p, "/");
	*host = xstrndup(p, hl);
	*path = xstrdup(p[hl] ? p + hl : "/");
}

int ddb_client_new(const struct ddb_config *cfg, struct s3_client *s3, struct ddb_client **out,
                   struct tf_error *err)
{
	struct ddb_client *c;
	*out = NULL;
	if (!cfg->table || !*cfg->table)
		return err_set(err, ERR_USAGE, "no DynamoDB table given");
	if (strlen(cfg->table) < 3 || strlen(cfg->table) > 255 ||
	    strspn(cfg->table,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	            strlen(cfg->table))
		return err_set(err, ERR_USAGE,
		               "DynamoDB table name '%s' is invalid: 3 to 255 of a-z A-Z 0-9 _ . -",
		               cfg->table);
	if (cfg->endpoint && *cfg->endpoint && s3_check_endpoint(cfg->endpoint, err)) {
		err_prefix(err, "DynamoDB");
		return ERR_USAGE;
	}
	c = xcalloc(1, sizeof(*c));
	c->s3 = s3;
	c->table = xstrdup(cfg->table);
	c->region = xstrdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	if (cfg->endpoint && *cfg->endpoint) {
		size_t n = strlen(cfg->endpoint);
		while (n && cfg->endpoint[n - 1] == '/')
			n--;
		c->url = xasprintf("%.*s/", (int)n, cfg->endpoint);
		c->aws = strstr(cfg->endpoint, ".amazonaws.com") != NULL;
	} else {
		c->url = xasprintf(
		        "https://dynamodb%s.%s.%s/", cfg->use_fips ? "-fips" : "", c->region,
		        strncmp(c->region, "cn-", 3) ? "amazonaws.com" : "amazonaws.com.cn");
		c->aws = 1;
	}
	split_url(c->url, &c->host, &c->path);
	snprintf(c->describe, sizeof(c->describe), "%.*s (region %s)", (int)strlen(c->url) - 1,
	         c->url, c->region);
	*out = c;
	return 0;
}

void ddb_client_free(struct ddb_client *c)
{
	if (!c)
		return;
	free(c->table);
	free(c->region);
	free(c->url);
	free(c->host);
	free(c->path);
	free(c);
}

const char *ddb_client_table(const struct ddb_client *c)
{
	return c->table;
}

const char *ddb_client_region(const struct ddb_client *c)
{
	return c->region;
}

const char *ddb_client_describe(const struct ddb_client *c)
{
	return c->describe;
}

int ddb_client_is_aws(const struct ddb_client *c)
{
	return c->aws;
}

void ddb_reply_init(struct ddb_reply *r)
{
	memset(r, 0, sizeof(*r));
}

void ddb_reply_free(struct ddb_reply *r)
{
	if (!r)
		return;
	cJSON_Delete(r->json);
	r->json = NULL;
	r->status = 0;
}

static int is_throttle(const char *type)
{
	return !strcmp(type, "ProvisionedThroughputExceededException") ||
	       !strcmp(type, "ThrottlingException") || !strcmp(type, "RequestLimitExceeded");
}

int ddb_error_condition(const struct tf_error *err)
{
	return err->kind == ERR_HTTP && !strcmp(err->s3_code, "ConditionalCheckFailedException");
}

int ddb_error_unusable(const struct tf_error *err)
{
	static const char *const types[] = {
		"ResourceNotFoundException",    "ValidationException",
		"AccessDeniedException",        "UnrecognizedClientException",
		"MissingAuthenticationToken",   "MissingAuthenticationTokenException",
		"InvalidSignatureException",    "ExpiredTokenException",
		"IncompleteSignatureException", "SerializationException",
		"UnknownOperationException",
	};
	if (err->kind == ERR_CREDENTIALS || err->kind == ERR_USAGE)
		return 1;
	if (err->kind != ERR_HTTP)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(err->s3_code, types[i]))
			return 1;
	/* a 4xx that is neither a throttle nor a failed condition: refused */
	return err->http_status >= 400 && err->http_status < 500 && err->http_status != 429 &&
	       !is_throttle(err->s3_code) && !ddb_error_condition(err);
}

/* An error answer: its type's short name (after '#') and message, escaped. */
static void describe_error(struct ddb_client *c, const char *op, const struct http_response *h,
                           struct tf_error *err)
{
	cJSON *j = cJSON_ParseWithLength(h->body.data ? h->body.data : "", h->body.len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
	const cJSON *m = cJSON_GetObjectItem(j, "message"); /* "message" or "Message" */
	char type[96] = "", msg[300] = "";
	if (cJSON_IsString(t)) {
		const char *s = strrchr(t->valuestring, '#');
		sanitize_to(type, sizeof(type), s ? s + 1 : t->valuestring, 80);
	}
	if (cJSON_IsString(m))
		sanitize_to(msg, sizeof(msg), m->valuestring, 240);
	cJSON_Delete(j);
	err_clear(err);
	err->kind = ERR_HTTP;
	err->http_status = h->status;
	snprintf(err->s3_code, sizeof(err->s3_code), "%s", type);
	snprintf(err->message, sizeof(err->message), "%s", msg);
	if (!strcmp(type, "ResourceNotFoundException"))
		err_set(err, ERR_HTTP,
		        "DynamoDB table '%s' does not exist in region %s at %s "
		        "(ResourceNotFoundException): create it "
		        "(examples/bootstrap/dynamodb-table) or fix "
		        "dynamodb_table, the region or the endpoint",
		        c->table, c->region, c->describe);
	else if (!strcmp(type, "ValidationException"))
		err_set(err, ERR_HTTP,
		        "DynamoDB table '%s' refused %s (ValidationException: %s): the table must "
		        "have exactly one key, the partition key LockID of type String",
		        c->table, op, msg);
	else if (!strcmp(type, "AccessDeniedException"))
		err_set(err, ERR_HTTP,
		        "not allowed to call dynamodb:%s on table '%s' (AccessDeniedException: "
		        "%s): "
		        "grant it (examples/iam)",
		        op, c->table, msg);
	else if (*type)
		err_set(err, ERR_HTTP, "DynamoDB %s on table '%s': %ld %s%s%s", op, c->table,
		        h->status, type, *msg ? ": " : "", msg);
	else
		err_set(err, ERR_HTTP,
		        "DynamoDB %s on table '%s' at %s: HTTP %ld without a "
		        "DynamoDB error (a proxy or the wrong endpoint?)",
		        op, c->table, c->describe, h->status);
	/* err_set cleared the fields: set them again */
	err->http_status = h->status;
	snprintf(err->s3_code, sizeof(err->s3_code), "%s", type);
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

static int one_attempt(struct ddb_client *c, const char *op, const char *body,
                       const struct ddb_call *call, struct http_response *h, struct tf_error *err)
{
	struct s3_service_request req;
	struct http_header hdrs[2];
	char target[64];
	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	hdrs[0].name = "Content-Type";
	hdrs[0].value = "application/x-amz-json-1.0";
	hdrs[1].name = "X-Amz-Target";
	hdrs[1].value = target;
	memset(&req, 0, sizeof(req));
	req.url = c->url;
	req.host = c->host;
	req.path = c->path;
	req.service = "dynamodb";
	req.region = c->region;
	req.headers = hdrs;
	req.nheaders = 2;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms;
	req.deadline_ns = call->deadline_ns;
	req.abortable = call->abortable;
	return s3_client_send_signed(c->s3, &req, h, err);
}

/* May this failure be resent? Throttles always (never executed); answers and
 * unknown outcomes only for reads. */
static int may_retry(int ret, const struct tf_error *err, int is_read)
{
	if (ret == ERR_CONNECT)
		return 1;
	if (ret == ERR_HTTP && is_throttle(err->s3_code))
		return 1;
	if (!is_read)
		return 0;
	return ret == ERR_TIMEOUT || ret == ERR_TRANSPORT ||
	       (ret == ERR_HTTP && (err->http_status >= 500 || err->http_status == 429));
}

int ddb_request(struct ddb_client *c, const char *op, const char *body, const struct ddb_call *call,
                struct ddb_reply *r, struct tf_error *err)
{
	int is_read = !strcmp(op, "GetItem") || !strcmp(op, "DescribeTable") || !strcmp(op, "Scan");
	int attempts = call->no_retry ? 1 : DDB_ATTEMPTS, ret = 0;
	ddb_reply_free(r);
	r->t_first_send = 0;
	for (int attempt = 0; attempt < attempts; attempt++) {
		struct http_response h;
		int64_t delay;
		err_clear(err);
		http_response_init(&h);
		ret = one_attempt(c, op, body, call, &h, err);
		if (!r->t_first_send)
			r->t_first_send = h.t_send;
		r->t_recv = h.t_recv;
		if (ret == 0) {
			r->status = h.status;
			if (h.status >= 200 && h.status < 300) {
				r->json = cJSON_ParseWithLength(h.body.data ? h.body.data : "{}",
				                                h.body.data ? h.body.len : 2);
				if (!r->json)
					ret = err_set(
					        err, ERR_TRANSPORT,
					        "DynamoDB %s on table '%s': the reply is not JSON",
					        op, c->table);
			} else {
				describe_error(c, op, &h, err);
				ret = ERR_HTTP;
			}
		} else if (ret != ERR_CANCELLED) {
			err_prefix(err, "DynamoDB %s on table '%s'", op, c->table);
		}
		http_response_free(&h);
		if (ret == 0 || ret == ERR_CANCELLED || (call->abortable && http_aborting()) ||
		    !may_retry(ret, err, is_read) || attempt + 1 >= attempts)
			break;
		delay = backoff_full_jitter((unsigned)attempt, 100, 3000, rand_u64_default, NULL);
		if (call->deadline_ns && clock_boot_ns() + delay * NS_PER_MS >= call->deadline_ns)
			break;
		log_debug("ddb: retrying %s after %s (in %lld ms)", op, err->msg, (long long)delay);
		clock_sleep_ms(delay);
	}
	return ret;
}

/* The Scan request for one page: begins_with(#k, :p), names as #a<i>. */
static char *scan_body(const struct ddb_client *c, const char *key_attr, const char *prefix,
                       const char *const *attrs, size_t nattrs, const cJSON *start)
{
	cJSON *j = cJSON_CreateObject(), *names = cJSON_CreateObject(), *vals;
	struct buf proj = BUF_INIT;
	char *out;
	cJSON_AddStringToObject(j, "TableName", c->table);
	cJSON_AddBoolToObject(j, "ConsistentRead", 1);
	cJSON_AddStringToObject(j, "FilterExpression", "begins_with(#k, :p)");
	cJSON_AddStringToObject(names, "#k", key_attr);
	for (size_t i = 0; i < nattrs; i++) {
		char n[32];
		snprintf(n, sizeof(n), "#a%zu", i);
		cJSON_AddStringToObject(names, n, attrs[i]);
		buf_addf(&proj, "%s%s", i ? ", " : "", n);
	}
	cJSON_AddItemToObject(j, "ExpressionAttributeNames", names);
	vals = cJSON_AddObjectToObject(j, "ExpressionAttributeValues");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(vals, ":p"), "S", prefix);
	if (nattrs)
		cJSON_AddStringToObject(j, "ProjectionExpression", proj.data);
	if (start)
		cJSON_AddItemToObject(j, "ExclusiveStartKey", cJSON_Duplicate(start, 1));
	out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	buf_free(&proj);
	return out;
}

int ddb_scan_prefix(struct ddb_client *c, const char *key_attr, const char *prefix,
                    const char *const *attrs, size_t nattrs, const struct ddb_call *call,
                    cJSON **items, struct tf_error *err)
{
	cJSON *start = NULL;
	int ret = 0;
	*items = cJSON_CreateArray();
	for (;;) {
		struct ddb_reply r;
		char *body = scan_body(c, key_attr, prefix, attrs, nattrs, start);
		const cJSON *page, *it, *next;
		ddb_reply_init(&r);
		ret = ddb_request(c, "Scan", body, call, &r, err);
		free(body);
		cJSON_Delete(start);
		start = NULL;
		if (ret) {
			ddb_reply_free(&r);
			break;
		}
		page = cJSON_GetObjectItemCaseSensitive(r.json, "Items");
		cJSON_ArrayForEach(it, page)
		{
			if (cJSON_IsObject(it))
				cJSON_AddItemToArray(*items, cJSON_Duplicate(it, 1));
		}
		next = cJSON_GetObjectItemCaseSensitive(r.json, "LastEvaluatedKey");
		if (cJSON_IsObject(next) && next->child)
			start = cJSON_Duplicate(next, 1);
		ddb_reply_free(&r);
		if (!start)
			break;
	}
	if (ret) {
		cJSON_Delete(*items);
		*items = NULL;
	}
	return ret;
}
