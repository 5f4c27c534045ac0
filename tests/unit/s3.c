#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "tap/basic.h"

struct url_case {
	const char *endpoint, *region, *bucket;
	int path_style, fips, dualstack;
	const char *key, *sub;
	const char *url, *host, *path;
};

static const struct url_case cases[] = {
	{ NULL, NULL, "my-bucket", 0, 0, 0, "state/tf.tflock", NULL,
	  "https://my-bucket.s3.us-east-1.amazonaws.com/state/tf.tflock",
	  "my-bucket.s3.us-east-1.amazonaws.com", "/state/tf.tflock" },
	{ NULL, "eu-west-1", "my-bucket", 1, 0, 0, "state/tf.tflock", NULL,
	  "https://s3.eu-west-1.amazonaws.com/my-bucket/state/tf.tflock",
	  "s3.eu-west-1.amazonaws.com", "/my-bucket/state/tf.tflock" },
	{ NULL, "eu-west-1", "my-bucket", 1, 0, 0, NULL, "versioning",
	  "https://s3.eu-west-1.amazonaws.com/my-bucket/?versioning", "s3.eu-west-1.amazonaws.com",
	  "/my-bucket/" },
	{ NULL, "eu-west-1", "my-bucket", 0, 0, 0, NULL, "lifecycle",
	  "https://my-bucket.s3.eu-west-1.amazonaws.com/?lifecycle",
	  "my-bucket.s3.eu-west-1.amazonaws.com", "/" },
	{ NULL, "cn-north-1", "cnbucket", 0, 0, 0, "k", NULL,
	  "https://cnbucket.s3.cn-north-1.amazonaws.com.cn/k",
	  "cnbucket.s3.cn-north-1.amazonaws.com.cn", "/k" },
	{ NULL, "us-gov-west-1", "govbucket", 0, 1, 0, "k", NULL,
	  "https://govbucket.s3-fips.us-gov-west-1.amazonaws.com/k",
	  "govbucket.s3-fips.us-gov-west-1.amazonaws.com", "/k" },
	{ NULL, "us-east-2", "dsbucket", 0, 0, 1, "k", NULL,
	  "https://dsbucket.s3.dualstack.us-east-2.amazonaws.com/k",
	  "dsbucket.s3.dualstack.us-east-2.amazonaws.com", "/k" },
	{ NULL, "us-east-2", "both", 0, 1, 1, "k", NULL,
	  "https://both.s3-fips.dualstack.us-east-2.amazonaws.com/k",
	  "both.s3-fips.dualstack.us-east-2.amazonaws.com", "/k" },
	{ NULL, "us-east-1", "Not.DNS.Compatible", 0, 0, 0, "k", NULL,
	  "https://s3.us-east-1.amazonaws.com/Not.DNS.Compatible/k", "s3.us-east-1.amazonaws.com",
	  "/Not.DNS.Compatible/k" },
	{ NULL, NULL, "my-bucket", 0, 0, 0, "env:/staging/dir with space/tf.tfstate", NULL,
	  "https://my-bucket.s3.us-east-1.amazonaws.com/env%3A/staging/dir%20with%20space/"
	  "tf.tfstate",
	  "my-bucket.s3.us-east-1.amazonaws.com", "/env:/staging/dir with space/tf.tfstate" },
	{ "http://127.0.0.1:9000", NULL, "my-bucket", 0, 0, 0, "k", NULL,
	  "http://127.0.0.1:9000/my-bucket/k", "127.0.0.1:9000", "/my-bucket/k" },
	{ "http://localhost:9000/", NULL, "my-bucket", 0, 0, 0, "k", NULL,
	  "http://localhost:9000/my-bucket/k", "localhost:9000", "/my-bucket/k" },
	{ "https://minio.example.com", NULL, "my-bucket", 0, 0, 0, "k", NULL,
	  "https://my-bucket.minio.example.com/k", "my-bucket.minio.example.com", "/k" },
	{ "https://minio.example.com", NULL, "my-bucket", 1, 0, 0, "k", NULL,
	  "https://minio.example.com/my-bucket/k", "minio.example.com", "/my-bucket/k" },
	{ "https://gw.example.com/s3/base/", NULL, "my-bucket", 1, 0, 0, "a b", NULL,
	  "https://gw.example.com/s3/base/my-bucket/a%20b", "gw.example.com",
	  "/s3/base/my-bucket/a b" },
	{ "https://gw.example.com/s3", NULL, "my-bucket", 0, 0, 0, "k", NULL,
	  "https://my-bucket.gw.example.com/s3/k", "my-bucket.gw.example.com", "/s3/k" },
};

static int s3_client_free_null(void *unused)
{
	s3_client_free(NULL);
	return 0;
}

int main(void)
{
	char out[128], sum[64];
	struct tf_error err;
	struct s3_client *c;

	plan_lazy();
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);

	/* s3_etag_normalise */
	s3_etag_normalise("\"abc123\"", out, sizeof(out));
	is_string("abc123", out, "quotes stripped");
	s3_etag_normalise("W/\"abc123\"", out, sizeof(out));
	is_string("abc123", out, "weak prefix and quotes stripped");
	s3_etag_normalise("abc123", out, sizeof(out));
	is_string("abc123", out, "bare etag unchanged");
	s3_etag_normalise("\"", out, sizeof(out));
	is_string("\"", out, "a lone quote is kept");
	s3_etag_normalise(NULL, out, sizeof(out));
	is_string("", out, "NULL gives empty");
	s3_etag_normalise("\"0123456789\"", out, 5);
	is_string("0123", out, "truncated to the buffer");
	s3_etag_normalise("\"d41d8cd98f00b204e9800998ecf8427e-2\"", out, sizeof(out));
	is_string("d41d8cd98f00b204e9800998ecf8427e-2", out, "multipart etag");

	/* s3_checksum_sha256_b64 */
	s3_checksum_sha256_b64("abc", 3, sum);
	is_string("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", sum, "sha256(abc) base64");
	s3_checksum_sha256_b64("", 0, sum);
	is_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", sum, "sha256('') base64");

	/* client creation errors */
	{
		struct s3_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		c = (struct s3_client *)&cfg; /* must be reset to NULL */
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "no bucket rejected");
		ok(c == NULL, "out is NULL on failure");
		cfg.bucket = "b";
		cfg.endpoint = "ftp://example.com";
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "non-http endpoint rejected");
		ok(strstr(err.msg, "ftp://example.com") != NULL, "message: %s", err.msg);
		cfg.endpoint = "https://user:pw@example.com";
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "user info rejected");
		cfg.endpoint = "https://example.com?x=1";
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "query rejected");
		cfg.endpoint = "https:///path";
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "empty host rejected");
	}

	/* addressing */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct url_case *t = &cases[i];
		struct s3_config cfg;
		char *url, *host = NULL, *path = NULL;
		memset(&cfg, 0, sizeof(cfg));
		cfg.endpoint = t->endpoint;
		cfg.region = t->region;
		cfg.bucket = t->bucket;
		cfg.path_style = t->path_style;
		cfg.use_fips = t->fips;
		cfg.use_dualstack = t->dualstack;
		c = NULL;
		err_clear(&err);
		if (!is_int(0, s3_client_new(&cfg, &c, &err), "client %zu (%s) created", i,
		            t->url)) {
			diag("error: %s", err.msg);
			continue;
		}
		url = s3_url_for(c, t->key, t->sub, &host, &path);
		is_string(t->url, url, "url %zu", i);
		is_string(t->host, host, "host %zu", i);
		is_string(t->path, path, "canonical path %zu", i);
		is_string(t->bucket, s3_client_bucket(c), "bucket %zu", i);
		is_int(t->endpoint == NULL || strstr(t->endpoint, ".amazonaws.com") != NULL,
		       s3_client_is_aws(c), "is_aws %zu", i);
		ok(strstr(s3_client_describe(c), t->path_style || strstr(t->url, "/my-bucket/") ||
		                                                 strstr(t->url, "/Not.DNS")
		                                         ? "path style"
		                                         : "virtual-hosted style") != NULL,
		   "describe %zu: %s", i, s3_client_describe(c));
		free(url);
		free(host);
		free(path);
		s3_client_free(c);
	}

	/* url without host/path out-parameters, endpoint on amazonaws.com counts as AWS */
	{
		struct s3_config cfg;
		char *url;
		memset(&cfg, 0, sizeof(cfg));
		cfg.bucket = "my-bucket";
		cfg.endpoint = "https://s3.eu-west-3.amazonaws.com";
		cfg.region = "eu-west-3";
		c = NULL;
		err_clear(&err);
		is_int(0, s3_client_new(&cfg, &c, &err), "client with an AWS endpoint");
		if (c) {
			ok(s3_client_is_aws(c), "AWS endpoint is AWS");
			ok(strstr(s3_client_describe(c), "region eu-west-3") != NULL,
			   "describe: %s", s3_client_describe(c));
			ok(s3_client_creds_source(c) && *s3_client_creds_source(c),
			   "credentials source: %s", s3_client_creds_source(c));
			url = s3_url_for(c, "x", NULL, NULL, NULL);
			is_string("https://my-bucket.s3.eu-west-3.amazonaws.com/x", url,
			          "url with NULL outs");
			free(url);
			s3_client_free(c);
		}
	}
	ok_returns(s3_client_free_null, NULL, "s3_client_free(NULL) returns");

	/* a key's dot segments are part of it: kept in the URL and in what is signed */
	{
		struct s3_config cfg;
		char *url, *host = NULL, *path = NULL;
		memset(&cfg, 0, sizeof(cfg));
		cfg.bucket = "my-bucket";
		cfg.endpoint = "http://127.0.0.1:9000";
		c = NULL;
		err_clear(&err);
		is_int(0, s3_client_new(&cfg, &c, &err), "client for dot segments");
		if (c) {
			url = s3_url_for(c, "../a/../b/./c.tflock", NULL, &host, &path);
			is_string("http://127.0.0.1:9000/my-bucket/../a/../b/./c.tflock", url,
			          "dot segments stay in the URL");
			is_string("/my-bucket/../a/../b/./c.tflock", path,
			          "and in the canonical path that is signed");
			free(url);
			free(host);
			free(path);
			s3_client_free(c);
		}
	}

	/* what S3 would refuse */
	{
		static const char *const good_endpoints[] = {
			"http://127.0.0.1:1",        "https://s3.example.com",
			"http://127.0.0.1:65535/",   "https://[::1]:9000/base",
			"http://[fd00::1]",          "HTTPS://minio.example.com:443/s3/",
			"http://localhost:9000/x/y",
		};
		static const char *const bad_endpoints[] = {
			"http://127.0.0.1:99999",
			"http://127.0.0.1:0",
			"http://127.0.0.1:abc",
			"http://127.0.0.1:",
			"http://127.0.0.1:65536",
			"http://h:-1",
			"http://h:1a",
			"http://[::1]:x",
			"http://[::1",
			"http://[]:80",
			"http://:80",
			"http://h:000000080",
			"ftp://h",
			"h:80",
		};
		static const char *const good_buckets[] = {
			"abc",
			"my.bucket.name",
			"123",
			"a-b.c-d",
			"tf-state-01",
			"1.2.3",
			"xn--ab",
			"a.1.2.3",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 63 */
		};
		static const char *const bad_buckets[] = {
			"a/b",
			"ABC",
			"Bucket",
			"ab",
			"-ab",
			"ab-",
			".ab",
			"ab.",
			"a..b",
			"192.168.1.2",
			"b_c",
			"a b",
			"caf\xc3\xa9",
			"",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
		};
		static const char *const good_regions[] = {
			"us-east-1",  "eu-central-1",   "us-gov-west-1",
			"cn-north-1", "us-isob-east-1", "default",
			"garage",     "US-EAST-1",      "a",
		};
		static const char *const bad_regions[] = {
			"us east 1",
			"../x",
			"eu/west",
			"-us",
			"us-",
			"us_east",
			"us.east",
			"",
			"r\xc3\xa9gion",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
		};
		char key[1100];
#define N(a) (sizeof(a) / sizeof((a)[0]))
		for (size_t i = 0; i < N(good_endpoints); i++) {
			err_clear(&err);
			is_int(0, s3_check_endpoint(good_endpoints[i], &err),
			       "endpoint %s: fine (%s)", good_endpoints[i], err.msg);
		}
		for (size_t i = 0; i < N(bad_endpoints); i++) {
			err_clear(&err);
			is_int(ERR_USAGE, s3_check_endpoint(bad_endpoints[i], &err),
			       "endpoint %s: refused: %s", bad_endpoints[i], err.msg);
		}
		err_clear(&err);
		s3_check_endpoint("http://127.0.0.1:99999/x", &err);
		is_string("endpoint 'http://127.0.0.1:99999/x': port '99999' is not a number in "
		          "1..65535",
		          err.msg, "the port message");
		for (size_t i = 0; i < N(good_buckets); i++) {
			err_clear(&err);
			is_int(0, s3_check_bucket(good_buckets[i], &err), "bucket %s: fine (%s)",
			       good_buckets[i], err.msg);
		}
		for (size_t i = 0; i < N(bad_buckets); i++) {
			err_clear(&err);
			is_int(ERR_USAGE, s3_check_bucket(bad_buckets[i], &err),
			       "bucket '%s': refused: %s", bad_buckets[i], err.msg);
		}
		err_clear(&err);
		s3_check_bucket("a\x01"
		                "b",
		                &err);
		ok(strstr(err.msg, "has \\x01:") != NULL,
		   "a control character is shown escaped: %s", err.msg);
		for (size_t i = 0; i < N(good_regions); i++) {
			err_clear(&err);
			is_int(0, s3_check_region(good_regions[i], &err), "region %s: fine (%s)",
			       good_regions[i], err.msg);
		}
		for (size_t i = 0; i < N(bad_regions); i++) {
			err_clear(&err);
			is_int(ERR_USAGE, s3_check_region(bad_regions[i], &err),
			       "region '%s': refused: %s", bad_regions[i], err.msg);
		}
		memset(key, 'k', sizeof(key));
		key[S3_MAX_KEY] = '\0';
		err_clear(&err);
		is_int(0, s3_check_key(key, &err), "a key of 1024 bytes: fine");
		key[S3_MAX_KEY] = 'k';
		key[S3_MAX_KEY + 1] = '\0';
		err_clear(&err);
		is_int(ERR_USAGE, s3_check_key(key, &err), "a key of 1025 bytes: refused");
		ok(strstr(err.msg, "1025 bytes") && strstr(err.msg, "at most 1024 bytes"),
		   "message: %s", err.msg);
#undef N
	}
	{
		/* the client checks the port too */
		struct s3_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.bucket = "my-bucket";
		cfg.endpoint = "http://127.0.0.1:0";
		c = NULL;
		err_clear(&err);
		is_int(ERR_USAGE, s3_client_new(&cfg, &c, &err), "a client with port 0: refused");
		ok(c == NULL, "no client");
	}
	return 0;
}
