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
	s3_client_free(NULL);
	ok(1, "s3_client_free(NULL) is safe");
	return 0;
}
