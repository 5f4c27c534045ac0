/*
 * Tests for wrapper/creds.c. Every network request goes to loopback: the
 * stand-ins are tests/helpers/stub-http processes on 127.0.0.1, and every
 * endpoint variable that could lead elsewhere (STS, SSO, instance metadata)
 * points at a closed loopback port unless a test sets its own stub.
 */
#include "creds.h"
#include "http.h"
#include "log.h"
#include "fixture.h"
#include "tap/basic.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CLOSED "http://127.0.0.1:9" /* discard port: nothing listens in the test rig */

/* ------------------------------------------------------------------ helpers */

__attribute__((format(printf, 2, 3))) static char *wfilef(const char *name, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return wfile(name, buf);
}

/* Route text for stub_start, formatted into a static buffer. */
__attribute__((format(printf, 1, 2))) static const char *routesf(const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static char *script(const char *name, const char *body)
{
	char *p = wfilef(name, "#!/bin/sh\n%s\n", body);
	chmod(p, 0755);
	return p;
}

/* The text of request n (1-based) in a stub log, malloc'd; "" if absent. */
static char *request(const char *log, int n)
{
	char head[32], tail[32];
	const char *b, *e;
	snprintf(head, sizeof(head), "=== %d ", n);
	snprintf(tail, sizeof(tail), "=== end %d ", n);
	b = strstr(log, head);
	if (b && b != log && b[-1] != '\n')
		b = NULL;
	e = b ? strstr(b, tail) : NULL;
	if (!b || !e)
		return strdup("");
	return strndup(b, (size_t)(e - b));
}

static int requests(const char *log)
{
	return count(log, "=== end ");
}

static void clean_env(void)
{
	static const char *const extra[] = { "TFLOCK_SSO_ENDPOINT", "HTTP_PROXY",  "http_proxy",
		                             "HTTPS_PROXY",         "https_proxy", "ALL_PROXY",
		                             "all_proxy",           "NO_PROXY",    "no_proxy" };
	char *names[512];
	size_t n = 0;
	for (char **e = environ; *e && n < 512; e++)
		if (!strncmp(*e, "AWS_", 4))
			names[n++] = strndup(*e, strcspn(*e, "="));
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		unsetenv(extra[i]);
	/* nothing may leave loopback */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", CLOSED, 1);
	setenv("AWS_ENDPOINT_URL_STS", CLOSED, 1);
	setenv("AWS_ENDPOINT_URL", CLOSED, 1);
	setenv("TFLOCK_SSO_ENDPOINT", CLOSED, 1);
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	setenv("HOME", path_in("home"), 1);
}

static struct creds_config cfg0(void)
{
	struct creds_config c;
	memset(&c, 0, sizeof(c));
	return c;
}

static int resolve(const struct creds_config *cfg, struct creds *c, struct tf_error *e)
{
	err_clear(e);
	return creds_resolve(cfg, c, e);
}

/* ------------------------------------------------------------------ replies */

#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"

static const char wi_reply[] =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"" STS_NS "\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    "
        "<SubjectFromWebIdentityToken>system:serviceaccount:ci:runner</"
        "SubjectFromWebIdentityToken>\n"
        "    <Audience>sts.amazonaws.com</Audience>\n"
        "    <AssumedRoleUser>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/ci/tflock-test</Arn>\n"
        "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:tflock-test</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <SessionToken>IQoJb3JpZ2luX2VjEWEBtoken+web/identity==</SessionToken>\n"
        "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYwebidentity</SecretAccessKey>\n"
        "      <Expiration>2030-01-02T03:04:05Z</Expiration>\n"
        "      <AccessKeyId>ASIAWEBIDENTITY0001</AccessKeyId>\n"
        "    </Credentials>\n"
        "    <Provider>arn:aws:iam::123456789012:oidc-provider/token.actions.example</Provider>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";

static const char ar_reply[] =
        "<AssumeRoleResponse xmlns=\"" STS_NS "\">\n"
        "  <AssumeRoleResult>\n"
        "    <SourceIdentity>DevUser123</SourceIdentity>\n"
        "    <AssumedRoleUser>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/tflock</Arn>\n"
        "      <AssumedRoleId>ARO123EXAMPLE123:tflock</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <AccessKeyId>ASIAASSUMED00000001</AccessKeyId>\n"
        "      <SecretAccessKey>assumed/secret+key&amp;more</SecretAccessKey>\n"
        "      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEassumed</SessionToken>\n"
        "      <Expiration>2031-07-15T23:28:33.359Z</Expiration>\n"
        "    </Credentials>\n"
        "    <PackedPolicySize>8</PackedPolicySize>\n"
        "  </AssumeRoleResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</AssumeRoleResponse>\n";

static const char sts_denied[] =
        "<ErrorResponse xmlns=\"" STS_NS "\">\n"
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>AccessDenied</Code>\n"
        "    <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>\n"
        "  </Error>\n"
        "  <RequestId>4f0f1d5c-25e9-4e5e-8c3d-000000000001</RequestId>\n"
        "</ErrorResponse>\n";

static const char imds_creds[] = "{\n"
                                 "  \"Code\" : \"Success\",\n"
                                 "  \"LastUpdated\" : \"2024-05-01T10:00:00Z\",\n"
                                 "  \"Type\" : \"AWS-HMAC\",\n"
                                 "  \"AccessKeyId\" : \"ASIAIMDS00000000001\",\n"
                                 "  \"SecretAccessKey\" : \"imds/secret/key\",\n"
                                 "  \"Token\" : \"imds-session-token\",\n"
                                 "  \"Expiration\" : \"2030-06-01T12:00:00Z\"\n"
                                 "}\n";

static const char ecs_creds[] = "{\"AccessKeyId\":\"ASIAECS000000000001\","
                                "\"Expiration\":\"2030-02-03T04:05:06Z\","
                                "\"RoleArn\":\"arn:aws:iam::123456789012:role/task\","
                                "\"SecretAccessKey\":\"ecs/secret/key\","
                                "\"Token\":\"ecs-session-token\"}";

static const char *ar_routes(void)
{
	wfile("ar.xml", ar_reply);
	return routesf("POST / 200 %s/ar.xml\n  Content-Type: text/xml\n", fixture_dir());
}

/* ------------------------------------------------------------------ tests */

static void test_time(void)
{
	time_t t = 0;
	struct creds c;

	is_int(0, creds_parse_time("2030-01-02T03:04:05Z", &t), "ISO 8601 with Z parses");
	is_int(1893553445, (long long)t, "... to the right epoch second");
	is_int(0, creds_parse_time("2031-07-15T23:28:33.359Z", &t), "fractional seconds parse");
	is_int(1941924513, (long long)t, "... and are dropped");
	is_int(0, creds_parse_time("2030-01-02T05:04:05+02:00", &t), "+hh:mm offset parses");
	is_int(1893553445, (long long)t, "... and is applied");
	is_int(0, creds_parse_time("2030-01-02T01:34:05-0130", &t), "-hhmm offset parses");
	is_int(1893553445, (long long)t, "... and is applied");
	is_int(0, creds_parse_time("2030-01-02T03:04:05UTC", &t), "the old SSO cache \"UTC\" zone");
	is_int(-1, creds_parse_time("2030-01-02T03:04:05", &t), "no zone is rejected");
	is_int(-1, creds_parse_time("2030-13-02T03:04:05Z", &t), "month 13 is rejected");
	is_int(-1, creds_parse_time("2030-01-02T03:04:05Zjunk", &t), "trailing junk is rejected");
	is_int(-1, creds_parse_time("1700000000", &t), "a bare number is rejected");
	is_int(-1, creds_parse_time(NULL, &t), "NULL is rejected");
	/* what AWS tools write beyond Go's RFC 3339 (rfc3339.h, RFC3339_AWS) */
	t = 0;
	is_int(0, creds_parse_time("2030-01-02t03:04:05z", &t), "lower-case t and z parse");
	is_int(1893553445, (long long)t, "... to the same second");
	t = 0;
	is_int(0, creds_parse_time("2030-01-02 03:04:05Z", &t), "a space for the T parses");
	is_int(1893553445, (long long)t, "... to the same second");
	is_int(0, creds_parse_time("2030-02-30T00:00:00Z", &t), "February 30 parses");
	is_int(1898640000, (long long)t, "... as March 2");
	is_int(0, creds_parse_time("2030-01-02T03:04:60Z", &t), "second 60 parses");
	is_int(1893553500, (long long)t, "... as the next minute");
	is_int(-1, creds_parse_time("2030-01-32T03:04:05Z", &t), "day 32 is rejected");
	is_int(-1, creds_parse_time("2030-01-02T03:04:61Z", &t), "second 61 is rejected");
	is_int(-1, creds_parse_time("2030-01-02T03:04:05.Z", &t),
	       "a '.' without digits is rejected");
	is_int(-1, creds_parse_time("2030-01-02T03:04:05+24:00", &t), "offset 24:00 is rejected");
	is_int(-1, creds_parse_time("2030-01-02T03:04:05+01", &t), "offset +hh is rejected");

	creds_init(&c);
	ok(!creds_expiring(&c, 1000, 300), "credentials without expiry never expire");
	c.expires = 1000;
	ok(creds_expiring(&c, 800, 300), "within the margin: expiring");
	ok(creds_expiring(&c, 1200, 0), "past the expiry: expiring");
	ok(!creds_expiring(&c, 600, 300), "outside the margin: not expiring");
	ok(!creds_expiring(NULL, 0, 0), "NULL is not expiring");
	creds_free(&c);
	creds_free(NULL);
}

static void test_endpoints(void)
{
	const char *sr = NULL;
	char *u;
	struct tf_error e;

	u = creds_sts_default_endpoint("us-west-2", 0, &sr);
	is_string("https://sts.us-west-2.amazonaws.com", u, "regional STS endpoint by default");
	is_string("us-west-2", sr, "... signed for its region");
	free(u);
	u = creds_sts_default_endpoint("us-west-2", 1, &sr);
	is_string("https://sts.amazonaws.com", u, "legacy: global endpoint for us-west-2");
	is_string("us-east-1", sr, "... signed for us-east-1");
	free(u);
	u = creds_sts_default_endpoint("af-south-1", 1, &sr);
	is_string("https://sts.af-south-1.amazonaws.com", u,
	          "legacy: opt-in regions keep their regional endpoint");
	free(u);
	u = creds_sts_default_endpoint("cn-north-1", 0, &sr);
	is_string("https://sts.cn-north-1.amazonaws.com.cn", u,
	          "China regions use amazonaws.com.cn");
	free(u);
	u = creds_sts_default_endpoint("aws-global", 0, &sr);
	is_string("https://sts.amazonaws.com", u, "aws-global is the global endpoint");
	free(u);
	u = creds_sts_default_endpoint(NULL, 0, &sr);
	is_string("https://sts.us-east-1.amazonaws.com", u, "no region: us-east-1");
	free(u);

	/* container URL rules (no network) */
	clean_env();
	err_clear(&e);
	is_int(1, creds_container_url(&u, &e), "no container variables: not configured");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x", 1);
	is_int(0, creds_container_url(&u, &e), "relative URI accepted");
	is_string("http://169.254.170.2/v2/credentials/abc", u, "RELATIVE_URI wins over FULL_URI");
	free(u);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
	is_int(ERR_USAGE, creds_container_url(&u, &e), "plain http to a non-loopback host refused");
	contains(e.msg, "loopback", "... saying what is allowed");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.example.com/x", 1);
	is_int(0, creds_container_url(&u, &e), "https to any host accepted");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials", 1);
	is_int(0, creds_container_url(&u, &e), "EKS Pod Identity address accepted");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[fd00:ec2::23]/v1/credentials", 1);
	is_int(0, creds_container_url(&u, &e), "EKS Pod Identity IPv6 address accepted");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[::1]:8080/c", 1);
	is_int(0, creds_container_url(&u, &e), "IPv6 loopback accepted");
	free(u);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1.example.com/c", 1);
	is_int(ERR_USAGE, creds_container_url(&u, &e),
	       "a host name that only looks like loopback is refused");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/c", 1);
	is_int(ERR_USAGE, creds_container_url(&u, &e), "a non-http scheme is refused");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static void test_environment(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();

	creds_init(&c);
	clean_env();
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000001", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env/secret", 1);
	setenv("AWS_SESSION_TOKEN", "env-token", 1);
	is_int(0, resolve(&cfg, &c, &e), "environment keys resolve");
	is_string("AKIAENV0000000000001", c.access_key, "... access key");
	is_string("env/secret", c.secret_key, "... secret key");
	is_string("env-token", c.session_token, "... session token");
	is_string("environment", c.source, "... source says environment");
	is_int(0, (long long)c.expires, "... no expiry");

	unsetenv("AWS_SESSION_TOKEN");
	is_int(0, resolve(&cfg, &c, &e), "environment keys without a token");
	ok(c.session_token == NULL, "... session_token is NULL");

	/* AWS_PROFILE does not beat environment keys; the profile option does */
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       wfile("cred-env",
	             "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = dev-secret\n"),
	       1);
	setenv("AWS_PROFILE", "dev", 1);
	is_int(0, resolve(&cfg, &c, &e), "AWS_PROFILE with environment keys");
	is_string("AKIAENV0000000000001", c.access_key,
	          "... environment keys win over AWS_PROFILE");
	cfg.profile = "dev";
	is_int(0, resolve(&cfg, &c, &e), "profile option with environment keys");
	is_string("AKIADEV", c.access_key, "... the profile option wins over environment keys");
	contains(c.source, "profile dev", "... source names the profile");
	cfg.profile = NULL;

	setenv("AWS_PROFILE", "nosuch", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e),
	       "AWS_PROFILE naming a missing profile fails even with environment keys");
	contains(e.msg, "\"nosuch\"", "... naming the profile");
	ok(c.access_key == NULL, "... and leaves no credentials behind");
	cfg.profile = "nosuch2";
	unsetenv("AWS_PROFILE");
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a missing profile option fails too");
	contains(e.msg, "profile option", "... saying where the name came from");
	cfg.profile = NULL;

	/* a half-set environment falls through, and says so */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "only AWS_ACCESS_KEY_ID: nothing resolves");
	contains(e.msg, "AWS_SECRET_ACCESS_KEY is not", "... the message names the missing half");
	creds_free(&c);
}

static void test_shared_files(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	char *credf, *conff;

	creds_init(&c);
	clean_env();
	credf = wfile("credentials", "[default]\n"
	                             "aws_access_key_id = AKIADEFAULT\n"
	                             "aws_secret_access_key = default-secret\n"
	                             "\n"
	                             "[dev]\n"
	                             "aws_access_key_id = AKIADEVCRED\n"
	                             "aws_secret_access_key = dev-cred-secret\n"
	                             "aws_session_token = dev-cred-token\n"
	                             "\n"
	                             "[profile prefixed]\n"
	                             "aws_access_key_id = AKIAIGNORED\n"
	                             "aws_secret_access_key = ignored\n"
	                             "\n"
	                             "[tokenonly]\n"
	                             "aws_session_token = stray-token\n"
	                             "region = ap-south-1\n");
	conff = wfile("config", "[default]\n"
	                        "region = eu-west-1\n"
	                        "\n"
	                        "[profile dev]\n"
	                        "aws_access_key_id = AKIADEVCONF\n"
	                        "aws_secret_access_key = dev-conf-secret\n"
	                        "\n"
	                        "[profile cfgonly]\n"
	                        "aws_access_key_id = AKIACFGONLY\n"
	                        "aws_secret_access_key = cfgonly-secret\n"
	                        "\n"
	                        "[unprefixed]\n"
	                        "aws_access_key_id = AKIAUNPREFIXED\n"
	                        "aws_secret_access_key = unprefixed\n"
	                        "\n"
	                        "[profile tokenonly]\n"
	                        "aws_access_key_id = AKIATOKENONLY\n"
	                        "aws_secret_access_key = tokenonly-secret\n"
	                        "\n"
	                        "[profile partial]\n"
	                        "aws_access_key_id = AKIAPARTIAL\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", credf, 1);
	setenv("AWS_CONFIG_FILE", conff, 1);

	is_int(0, resolve(&cfg, &c, &e), "default profile from the credentials file");
	is_string("AKIADEFAULT", c.access_key, "... its access key");
	is_string("default-secret", c.secret_key, "... its secret");
	is_string("profile default (static keys)", c.source, "... source names the profile");

	setenv("AWS_PROFILE", "dev", 1);
	is_int(0, resolve(&cfg, &c, &e), "profile in both files");
	is_string("AKIADEVCRED", c.access_key, "... the credentials file wins over config");
	is_string("dev-cred-token", c.session_token, "... with its session token");

	setenv("AWS_PROFILE", "cfgonly", 1);
	is_int(0, resolve(&cfg, &c, &e), "a profile only in the config file");
	is_string("AKIACFGONLY", c.access_key, "... resolves from [profile cfgonly]");

	setenv("AWS_PROFILE", "tokenonly", 1);
	is_int(0, resolve(&cfg, &c, &e), "config keys with a lone token in the credentials file");
	is_string("AKIATOKENONLY", c.access_key, "... keys from config");
	ok(c.session_token == NULL, "... a token without its key pair is not merged (as the SDK)");

	setenv("AWS_PROFILE", "unprefixed", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e),
	       "[name] without \"profile \" in config is ignored");
	setenv("AWS_PROFILE", "prefixed", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e),
	       "[profile name] in the credentials file is ignored");
	setenv("AWS_PROFILE", "profile prefixed", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "... also when asked for by its literal name");

	setenv("AWS_PROFILE", "partial", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a lone aws_access_key_id is an error");
	contains(e.msg, "only one of aws_access_key_id and aws_secret_access_key",
	         "... that says what is wrong");
	contains(e.msg, conff, "... and where");
	unsetenv("AWS_PROFILE");

	/* [profile default] replaces [default] in config */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	setenv("AWS_CONFIG_FILE",
	       wfile("config-pd",
	             "[default]\naws_access_key_id = AKIAPLAIN\naws_secret_access_key = a\n"
	             "[profile default]\naws_access_key_id = AKIAPREFIXED\n"
	             "aws_secret_access_key = b\n"),
	       1);
	is_int(0, resolve(&cfg, &c, &e), "config with [default] and [profile default]");
	is_string("AKIAPREFIXED", c.access_key, "... [profile default] wins");

	/* explicit file options override the variables */
	cfg.shared_credentials_file = credf;
	cfg.shared_config_file = "/dev/null";
	is_int(0, resolve(&cfg, &c, &e), "shared_credentials_file option");
	is_string("AKIADEFAULT", c.access_key, "... beats AWS_SHARED_CREDENTIALS_FILE");
	cfg.shared_credentials_file = cfg.shared_config_file = NULL;

	/* malformed files are errors, even when another source would do */
	setenv("AWS_CONFIG_FILE", wfile("config-bad", "[default]\nregion = x\nthis is not ini\n"),
	       1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a malformed config file fails the resolution");
	contains(e.msg, "config-bad:3:", "... naming file and line");
	contains(e.msg, "malformed", "... and calling it malformed");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* a missing file is not an error; the default profile need not exist */
	setenv("AWS_CONFIG_FILE", path_in("does-not-exist"), 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path_in("does-not-exist-either"), 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "missing files: nothing resolves");
	contains(e.msg, "does-not-exist-either", "... and the message names the files looked in");

	/* ~ in a path is the home directory */
	mkdir(path_in("home/.aws"), 0700);
	wfile("home/.aws/credentials",
	      "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = h\n");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	is_int(0, resolve(&cfg, &c, &e), "default paths under $HOME");
	is_string("AKIAHOME", c.access_key, "... ~/.aws/credentials is read");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
	is_int(0, resolve(&cfg, &c, &e), "a ~/ path");
	is_string("AKIAHOME", c.access_key, "... is expanded");
	unlink(path_in("home/.aws/credentials"));
	creds_free(&c);
}

static void test_process(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();

	creds_init(&c);
	clean_env();
	script("good.sh",
	       "cat <<'EOF'\n"
	       "{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCESS00000001\",\n"
	       " \"SecretAccessKey\": \"process/secret\", \"SessionToken\": \"process-token\",\n"
	       " \"Expiration\": \"2030-01-02T03:04:05Z\"}\n"
	       "EOF\n"
	       "echo 'diagnostics go to stderr' >&2");
	script("static.sh", "printf '%s' '{\"Version\":1,\"AccessKeyId\":\"AKIASTATIC\","
	                    "\"SecretAccessKey\":\"static-secret\"}'");
	script("badjson.sh", "echo '{\"Version\": 1, \"AccessKeyId\": '");
	script("fail.sh", "echo 'no credentials for you' >&2; exit 3");
	script("v2.sh",
	       "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'");
	script("nover.sh", "echo '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'");
	script("nokey.sh", "echo '{\"Version\": 1, \"SecretAccessKey\": \"S\"}'");
	script("fds.sh",
	       "for fd in 3 4 5 6 7 8 9; do if [ -e /proc/self/fd/$fd ]; then "
	       "echo \"fd $fd open\" >&2; exit 9; fi; done\n"
	       "echo '{\"Version\":1,\"AccessKeyId\":\"AKIAFDS\",\"SecretAccessKey\":\"s\"}'");
	setenv("AWS_CONFIG_FILE",
	       wfilef("config-proc",
	              "[profile good]\ncredential_process = %s/good.sh\n"
	              "[profile static]\ncredential_process = %s/static.sh --with args\n"
	              "[profile badjson]\ncredential_process = %s/badjson.sh\n"
	              "[profile fail]\ncredential_process = %s/fail.sh\n"
	              "[profile v2]\ncredential_process = %s/v2.sh\n"
	              "[profile nover]\ncredential_process = %s/nover.sh\n"
	              "[profile nokey]\ncredential_process = %s/nokey.sh\n"
	              "[profile fds]\ncredential_process = %s/fds.sh\n"
	              "[profile missing]\ncredential_process = %s/no-such-program\n"
	              "[profile keysfirst]\naws_access_key_id = AKIAKEYSFIRST\n"
	              "aws_secret_access_key = k\ncredential_process = %s/good.sh\n",
	              fixture_dir(), fixture_dir(), fixture_dir(), fixture_dir(), fixture_dir(),
	              fixture_dir(), fixture_dir(), fixture_dir(), fixture_dir(), fixture_dir()),
	       1);

	cfg.profile = "good";
	is_int(0, resolve(&cfg, &c, &e), "credential_process with good JSON");
	is_string("ASIAPROCESS00000001", c.access_key, "... access key");
	is_string("process/secret", c.secret_key, "... secret");
	is_string("process-token", c.session_token, "... session token");
	is_int(1893553445, (long long)c.expires, "... Expiration parsed");
	is_string("profile good (credential_process)", c.source, "... source");

	cfg.profile = "static";
	is_int(0, resolve(&cfg, &c, &e), "credential_process with arguments, no token or expiry");
	is_string("AKIASTATIC", c.access_key, "... access key");
	ok(c.session_token == NULL && c.expires == 0, "... no token, no expiry");

	cfg.profile = "badjson";
	is_int(ERR_PARSE, resolve(&cfg, &c, &e), "credential_process with bad JSON");
	contains(e.msg, "profile \"badjson\": credential_process", "... names the profile");
	cfg.profile = "fail";
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "credential_process exiting 3");
	contains(e.msg, "exited with status 3", "... says how it exited");
	cfg.profile = "v2";
	is_int(ERR_PARSE, resolve(&cfg, &c, &e), "credential_process with Version 2");
	contains(e.msg, "Version", "... names the Version");
	cfg.profile = "nover";
	is_int(ERR_PARSE, resolve(&cfg, &c, &e), "credential_process without Version");
	cfg.profile = "nokey";
	is_int(ERR_PARSE, resolve(&cfg, &c, &e), "credential_process without AccessKeyId");
	cfg.profile = "missing";
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "credential_process that does not exist");
	contains(e.msg, "127", "... reports status 127");
	cfg.profile = "keysfirst";
	is_int(0, resolve(&cfg, &c, &e), "static keys and credential_process in one profile");
	is_string("AKIAKEYSFIRST", c.access_key, "... static keys come first (as the SDK)");
	{
		/* an fd opened without close-on-exec must not reach the process */
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 3 || dup2(fd, 7) < 0)
			bail("cannot set up fd 7");
		cfg.profile = "fds";
		is_int(0, resolve(&cfg, &c, &e),
		       "credential_process sees no descriptor beyond stderr");
		if (e.kind)
			diag("%s", e.msg);
		close(7);
		close(fd);
	}
	creds_free(&c);
}

static void test_web_identity(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s;
	char *log, *req;

	creds_init(&c);
	clean_env();
	wfile("wi.xml", wi_reply);
	wfile("denied.xml", sts_denied);
	stub_start(&s, "sts-wi",
	           routesf("POST / 200 %s/wi.xml\n"
	                   "  Content-Type: text/xml\n"
	                   "  x-amzn-RequestId: ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE\n",
	                   fixture_dir()));
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE",
	       wfile("token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln\n"), 1);
	setenv("AWS_ROLE_SESSION_NAME", "tflock-test", 1);
	is_int(0, resolve(&cfg, &c, &e), "web identity via STS");
	if (e.kind)
		diag("%s", e.msg);
	is_string("ASIAWEBIDENTITY0001", c.access_key, "... access key from the XML");
	is_string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYwebidentity", c.secret_key, "... secret");
	is_string("IQoJb3JpZ2luX2VjEWEBtoken+web/identity==", c.session_token, "... token");
	is_int(1893553445, (long long)c.expires, "... Expiration parsed");
	contains(c.source, "web identity", "... source");
	log = server_stop(&s, NULL);
	is_int(1, requests(log), "one STS request");
	req = request(log, 1);
	contains(req, "=== 1 POST /", "... a POST");
	contains(req, "Action=AssumeRoleWithWebIdentity", "... AssumeRoleWithWebIdentity");
	contains(req, "Version=2011-06-15", "... Version 2011-06-15");
	contains(req, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci",
	         "... the role, form-encoded");
	contains(req, "RoleSessionName=tflock-test", "... AWS_ROLE_SESSION_NAME");
	contains(req, "WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln\n",
	         "... the token, newline trimmed");
	contains(req, "Content-Type: application/x-www-form-urlencoded", "... form content type");
	lacks(req, "Authorization:", "... unsigned");
	free(req);
	free(log);

	/* STS refuses */
	stub_start(&s, "sts-deny",
	           routesf("POST / 403 %s/denied.xml\n  Content-Type: text/xml\n", fixture_dir()));
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	is_int(ERR_HTTP, resolve(&cfg, &c, &e), "STS AccessDenied fails the resolution");
	is_int(403, e.http_status, "... HTTP status kept");
	is_string("AccessDenied", e.s3_code, "... error code from the XML");
	is_string("4f0f1d5c-25e9-4e5e-8c3d-000000000001", e.request_id, "... request id");
	contains(e.msg, "Not authorized to perform", "... message in the line");
	ok(c.access_key == NULL, "... no credentials");
	log = server_stop(&s, NULL);
	is_int(1, requests(log), "a 4xx is not retried");
	free(log);

	unsetenv("AWS_ROLE_ARN");
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a token file without AWS_ROLE_ARN");
	contains(e.msg, "AWS_ROLE_ARN", "... names the missing variable");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path_in("no-token"), 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a missing token file");
	contains(e.msg, "no-token", "... names the file");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_ROLE_ARN");
	unsetenv("AWS_ROLE_SESSION_NAME");

	/* web_identity_token_file in a profile */
	stub_start(&s, "sts-wi2",
	           routesf("POST / 200 %s/wi.xml\n  Content-Type: text/xml\n", fixture_dir()));
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	setenv("AWS_CONFIG_FILE",
	       wfilef("config-wi",
	              "[profile wi]\nrole_arn = arn:aws:iam::123456789012:role/prof\n"
	              "web_identity_token_file = %s/token.jwt\nrole_session_name = from-profile\n",
	              fixture_dir()),
	       1);
	cfg.profile = "wi";
	is_int(0, resolve(&cfg, &c, &e), "web_identity_token_file in a profile");
	is_string("ASIAWEBIDENTITY0001", c.access_key, "... credentials from STS");
	log = server_stop(&s, NULL);
	contains(log, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fprof",
	         "... the profile's role");
	contains(log, "RoleSessionName=from-profile", "... the profile's session name");
	is_int(1, requests(log), "... one request, no second AssumeRole");
	free(log);
	creds_free(&c);
}

static void test_assume_role(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s;
	char *log, *req;

	creds_init(&c);
	clean_env();
	stub_start(&s, "sts-ar", ar_routes());
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       wfile("cred-ar",
	             "[base]\naws_access_key_id = AKIABASE000000000001\n"
	             "aws_secret_access_key = base-secret\n"
	             "[temp]\naws_access_key_id = ASIATEMP000000000001\n"
	             "aws_secret_access_key = temp-secret\naws_session_token = temp-token\n"),
	       1);
	setenv("AWS_CONFIG_FILE",
	       wfile("config-ar",
	             "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\n"
	             "source_profile = base\nexternal_id = ext-42\nrole_session_name = tflock-app\n"
	             "duration_seconds = 1800\nregion = eu-central-1\n"
	             "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\n"
	             "source_profile = app\n"
	             "[profile viatemp]\nrole_arn = "
	             "arn:aws:iam::123456789012:role/t\nsource_profile = temp\n"
	             "[profile self]\nrole_arn = "
	             "arn:aws:iam::123456789012:role/self\nsource_profile = self\n"
	             "aws_access_key_id = AKIASELF\naws_secret_access_key = self-secret\n"
	             "[profile nosource]\nrole_arn = "
	             "arn:aws:iam::123456789012:role/x\nsource_profile = ghost\n"
	             "[profile norole]\nsource_profile = base\n"
	             "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = "
	             "base\n"
	             "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
	             "[profile loop1]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile "
	             "= loop2\n"
	             "[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/y\nsource_profile "
	             "= loop1\n"
	             "[profile two]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = "
	             "base\n"
	             "credential_process = /bin/false\n"),
	       1);

	cfg.profile = "app";
	is_int(0, resolve(&cfg, &c, &e), "role_arn + source_profile");
	if (e.kind)
		diag("%s", e.msg);
	is_string("ASIAASSUMED00000001", c.access_key, "... assumed access key");
	is_string("assumed/secret+key&more", c.secret_key, "... XML entities decoded");
	is_string("AQoDYXdzEPT//////////wEXAMPLEassumed", c.session_token, "... token");
	is_int(1941924513, (long long)c.expires, "... expiry with fractional seconds");
	contains(c.source, "assume role arn:aws:iam::123456789012:role/app",
	         "... source names the role");
	log = server_stop(&s, NULL);
	req = request(log, 1);
	contains(req, "Action=AssumeRole&", "... AssumeRole");
	contains(req, "ExternalId=ext-42", "... external_id");
	contains(req, "RoleSessionName=tflock-app", "... role_session_name");
	contains(req, "DurationSeconds=1800", "... duration_seconds");
	contains(req, "Authorization: AWS4-HMAC-SHA256 Credential=AKIABASE000000000001/",
	         "... signed with the source profile's key");
	contains(req, "/eu-central-1/sts/aws4_request", "... for sts in the profile's region");
	contains(req, "X-Amz-Date: ", "... with X-Amz-Date");
	contains(req, "X-Amz-Content-Sha256: ", "... and X-Amz-Content-Sha256");
	lacks(req, "X-Amz-Security-Token", "... no token header for long-term keys");
	lacks(req, "base-secret", "... the secret never travels");
	free(req);
	free(log);

	stub_start(&s, "sts-ar2", ar_routes());
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	cfg.profile = "chained";
	is_int(0, resolve(&cfg, &c, &e), "a chain of two roles");
	log = server_stop(&s, NULL);
	is_int(2, requests(log), "... two AssumeRole calls");
	req = request(log, 2);
	contains(req, "role%2Fsecond", "... the second assumes the outer role");
	contains(req, "Credential=ASIAASSUMED00000001/", "... signed with the first role's keys");
	contains(req, "X-Amz-Security-Token: AQoDYXdzEPT", "... sending its session token");
	free(req);
	free(log);

	stub_start(&s, "sts-ar3", ar_routes());
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	cfg.profile = "self";
	is_int(0, resolve(&cfg, &c, &e), "source_profile naming itself");
	log = server_stop(&s, NULL);
	is_int(1, requests(log), "... one AssumeRole");
	contains(log, "Credential=AKIASELF/", "... signed with its own static keys");
	free(log);

	cfg.profile = "nosource";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a source_profile that does not exist");
	contains(e.msg, "\"ghost\"", "... names it");
	cfg.profile = "norole";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "source_profile without role_arn");
	contains(e.msg, "needs role_arn", "... says role_arn is needed");
	cfg.profile = "mfa";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "mfa_serial");
	contains(e.msg, "mfa_serial", "... is refused by name");
	cfg.profile = "loop1";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a source_profile loop");
	contains(e.msg, "no credentials", "... ends in a clear error");
	cfg.profile = "two";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "source_profile and credential_process together");
	contains(e.msg, "only one of", "... refused");

	/* backend assume_role on top of environment keys, with a 5xx retried once */
	stub_start(&s, "sts-ar4",
	           routesf("POST / 503 -\nPOST / 200 %s/ar.xml\n  Content-Type: text/xml\n",
	                   fixture_dir()));
	setenv("AWS_ENDPOINT_URL_STS", s.url, 1);
	setenv("AWS_ACCESS_KEY_ID", "ASIAENVBASE00000001", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-base-secret", 1);
	setenv("AWS_SESSION_TOKEN", "env-base-token", 1);
	cfg.profile = NULL;
	cfg.region = "us-west-2";
	cfg.assume_role.role_arn = "arn:aws:iam::123456789012:role/backend";
	cfg.assume_role.session_name = "backend-session";
	cfg.assume_role.external_id = "backend-ext";
	cfg.assume_role.duration_s = 900;
	is_int(0, resolve(&cfg, &c, &e), "backend assume_role on top of environment keys");
	is_string("ASIAASSUMED00000001", c.access_key, "... assumed keys");
	contains(c.source, "assume role arn:aws:iam::123456789012:role/backend via environment",
	         "... source says both");
	log = server_stop(&s, NULL);
	is_int(2, requests(log), "... the 503 was retried exactly once");
	req = request(log, 2);
	contains(req, "Credential=ASIAENVBASE00000001/", "... signed with the environment keys");
	contains(req, "/us-west-2/sts/aws4_request", "... in the configured region");
	contains(req, "X-Amz-Security-Token: env-base-token", "... with their session token");
	contains(req, "RoleSessionName=backend-session", "... session name");
	contains(req, "ExternalId=backend-ext", "... external id");
	contains(req, "DurationSeconds=900", "... duration");
	free(req);
	free(log);

	/* cfg.sts_endpoint beats AWS_ENDPOINT_URL_STS */
	stub_start(&s, "sts-ar5", ar_routes());
	cfg.sts_endpoint = s.url;
	setenv("AWS_ENDPOINT_URL_STS", CLOSED, 1);
	is_int(0, resolve(&cfg, &c, &e), "the sts_endpoint option");
	log = server_stop(&s, NULL);
	is_int(1, requests(log), "... beats AWS_ENDPOINT_URL_STS");
	free(log);
	cfg.sts_endpoint = NULL;

	/* an unreachable STS: the failure is ERR_CONNECT, not a fall-through */
	is_int(ERR_CONNECT, resolve(&cfg, &c, &e), "an unreachable STS endpoint");
	contains(e.msg, "assume_role", "... says which step failed");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	creds_free(&c);
}

static void test_container(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s;
	char *log, *req;

	creds_init(&c);
	clean_env();
	wfile("ecs.json", ecs_creds);
	wfile("ecs-err.json", "{\"code\":\"AccessDeniedException\",\"message\":\"Bad token\"}");
	stub_start(&s, "ecs",
	           routesf("GET /v1/credentials 200 %s/ecs.json\n  Content-Type: application/json\n"
	                   "GET /denied 401 %s/ecs-err.json\n  Content-Type: application/json\n",
	                   fixture_dir(), fixture_dir()));
	{
		char full[128];
		snprintf(full, sizeof(full), "%s/v1/credentials", s.url);
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
	}
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	       wfile("ecs-token", "pod-identity-token-from-file\n"), 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "token-from-env", 1);
	is_int(0, resolve(&cfg, &c, &e), "container credentials via FULL_URI");
	if (e.kind)
		diag("%s", e.msg);
	is_string("ASIAECS000000000001", c.access_key, "... access key");
	is_string("ecs-session-token", c.session_token, "... Token");
	is_int(1896321906, (long long)c.expires, "... Expiration");
	is_string("container credentials", c.source, "... source");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	is_int(0, resolve(&cfg, &c, &e),
	       "container credentials with the token from the environment");
	{
		char full[128];
		snprintf(full, sizeof(full), "%s/denied", s.url);
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
	}
	is_int(ERR_HTTP, resolve(&cfg, &c, &e), "a container endpoint error");
	contains(e.msg, "AccessDeniedException: Bad token", "... code and message from the JSON");
	is_int(401, e.http_status, "... status kept");
	log = server_stop(&s, NULL);
	is_int(3, requests(log), "three container requests");
	req = request(log, 1);
	contains(req, "=== 1 GET /v1/credentials", "... a GET of the full URI");
	contains(req, "Authorization: pod-identity-token-from-file\n",
	         "... the token file wins over the variable, newline trimmed");
	free(req);
	req = request(log, 2);
	contains(req, "Authorization: token-from-env", "... the variable when there is no file");
	free(req);
	free(log);

	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds", 1);
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "a FULL_URI to a disallowed host fails");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	creds_free(&c);
}

static const char *imds_routes(const char *token_status)
{
	static char r[2048];
	snprintf(r, sizeof(r),
	         "PUT /latest/api/token %s %s/imds-token\n"
	         "  X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\n"
	         "GET /latest/meta-data/iam/security-credentials/ 200 %s/imds-role\n"
	         "GET /latest/meta-data/iam/security-credentials/tflock-ci 200 %s/imds-creds\n"
	         "  Content-Type: text/plain\n",
	         token_status, fixture_dir(), fixture_dir(), fixture_dir());
	return r;
}

static void test_imds(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s;
	char *log, *req;

	creds_init(&c);
	clean_env();
	wfile("imds-token", "AQAEAImdsSessionToken==");
	wfile("imds-role", "tflock-ci");
	wfile("imds-creds", imds_creds);
	stub_start(&s, "imds", imds_routes("200"));
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	is_int(0, resolve(&cfg, &c, &e), "IMDSv2");
	if (e.kind)
		diag("%s", e.msg);
	is_string("ASIAIMDS00000000001", c.access_key, "... access key");
	is_string("imds/secret/key", c.secret_key, "... secret");
	is_string("imds-session-token", c.session_token, "... Token");
	is_int(1906545600, (long long)c.expires, "... Expiration");
	is_string("instance metadata (role tflock-ci)", c.source, "... source names the role");
	log = server_stop(&s, NULL);
	is_int(3, requests(log), "three requests");
	req = request(log, 1);
	contains(req, "=== 1 PUT /latest/api/token", "first the token PUT");
	contains(req, "X-aws-ec2-metadata-token-ttl-seconds: 21600", "... with the TTL header");
	free(req);
	req = request(log, 2);
	contains(req, "=== 2 GET /latest/meta-data/iam/security-credentials/\n",
	         "then the role list");
	contains(req, "X-aws-ec2-metadata-token: AQAEAImdsSessionToken==", "... with the token");
	free(req);
	req = request(log, 3);
	contains(req, "=== 3 GET /latest/meta-data/iam/security-credentials/tflock-ci",
	         "then the role's credentials");
	contains(req, "X-aws-ec2-metadata-token: AQAEAImdsSessionToken==", "... with the token");
	free(req);
	free(log);

	/* a trailing slash on the endpoint is fine; 403 on the token: IMDSv1 */
	stub_start(&s, "imds-v1", imds_routes("403"));
	{
		char u[96];
		snprintf(u, sizeof(u), "%s/", s.url);
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", u, 1);
	}
	is_int(0, resolve(&cfg, &c, &e), "IMDSv1 fallback after a 403 on the token");
	log = server_stop(&s, NULL);
	is_int(3, requests(log), "... three requests");
	lacks(log, "X-aws-ec2-metadata-token:", "... the GETs carry no token");
	lacks(log, "//latest", "... no double slash in the paths");
	free(log);

	stub_start(&s, "imds-v1off", imds_routes("403"));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "no fallback when IMDSv1 is disabled");
	contains(e.msg, "AWS_EC2_METADATA_V1_DISABLED", "... and the summary says why");
	log = server_stop(&s, NULL);
	is_int(1, requests(log), "... only the token request");
	free(log);

	/* at most one retry: the token request is dropped twice */
	stub_start(&s, "imds-drop", "PUT /latest/api/token close -\n");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "a dropped token request fails");
	log = server_stop(&s, NULL);
	is_int(2, count(log, "PUT /latest/api/token"), "... after exactly one retry");
	is_int(2, requests(log), "... and nothing else");
	free(log);
	unsetenv("AWS_EC2_METADATA_V1_DISABLED");

	/* no role attached */
	stub_start(&s, "imds-norole",
	           routesf("PUT /latest/api/token 200 %s/imds-token\n"
	                   "GET /latest/meta-data/iam/security-credentials/ 404 -\n",
	                   fixture_dir()));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "an instance without a role");
	contains(e.msg, "no IAM role", "... says so");
	free(server_stop(&s, NULL));

	/* off EC2: nothing listens, one quick failure */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", CLOSED, 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "off EC2 (closed port) fails");
	contains(e.msg, "instance metadata: cannot connect", "... as a connection failure");

	/* disabled: the stub must see nothing */
	stub_start(&s, "imds-off", imds_routes("200"));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "AWS_EC2_METADATA_DISABLED=TRUE");
	contains(e.msg, "disabled by AWS_EC2_METADATA_DISABLED", "... says it was skipped");
	log = server_stop(&s, NULL);
	is_int(0, requests(log), "... and no request was made");
	free(log);

	/* credential_source = Ec2InstanceMetadata + role_arn */
	stub_start(&s, "imds-cs", imds_routes("200"));
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	{
		struct server sts;
		stub_start(&sts, "sts-cs", ar_routes());
		setenv("AWS_ENDPOINT_URL_STS", sts.url, 1);
		setenv("AWS_CONFIG_FILE",
		       wfile("config-cs",
		             "[profile cs]\nrole_arn = arn:aws:iam::123456789012:role/cs\n"
		             "credential_source = Ec2InstanceMetadata\n"),
		       1);
		cfg.profile = "cs";
		is_int(0, resolve(&cfg, &c, &e), "credential_source Ec2InstanceMetadata");
		is_string("ASIAASSUMED00000001", c.access_key, "... then AssumeRole");
		log = server_stop(&sts, NULL);
		contains(log, "Credential=ASIAIMDS00000000001/",
		         "... signed with the instance keys");
		contains(log, "X-Amz-Security-Token: imds-session-token", "... and their token");
		free(log);
		cfg.profile = NULL;
	}
	free(server_stop(&s, NULL));
	creds_free(&c);
}

static void test_sso(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s;
	char *log, *req;

	creds_init(&c);
	clean_env();
	mkdir(path_in("home/.aws"), 0700);
	mkdir(path_in("home/.aws/sso"), 0700);
	mkdir(path_in("home/.aws/sso/cache"), 0700);
	/* sha1("corp") and sha1("https://legacy.awsapps.com/start"), from sha1sum */
	wfile("home/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
	      "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\",\n"
	      " \"accessToken\": \"sso-bearer-corp\", \"expiresAt\": \"2099-01-01T00:00:00Z\",\n"
	      " \"clientId\": \"client-id\", \"clientSecret\": \"client-secret\",\n"
	      " \"refreshToken\": \"refresh\", \"registrationExpiresAt\": "
	      "\"2099-01-01T00:00:00Z\"}\n");
	wfile("home/.aws/sso/cache/79e435d7a515078e81c9dffc35f38d5687ebd3a7.json",
	      "{\"startUrl\": \"https://legacy.awsapps.com/start\", \"region\": \"us-east-1\",\n"
	      " \"accessToken\": \"sso-bearer-legacy\", \"expiresAt\": "
	      "\"2099-01-01T00:00:00UTC\"}\n");
	wfile("sso.json",
	      "{\"roleCredentials\":{\"accessKeyId\":\"ASIASSO000000000001\","
	      "\"secretAccessKey\":\"sso/secret\",\"sessionToken\":\"sso-session-token\","
	      "\"expiration\":1893553445000}}");
	stub_start(&s, "sso",
	           routesf("GET /federation/credentials 200 %s/sso.json\n"
	                   "  Content-Type: application/json\n",
	                   fixture_dir()));
	setenv("TFLOCK_SSO_ENDPOINT", s.url, 1);
	setenv("AWS_CONFIG_FILE",
	       wfile("config-sso",
	             "[profile corp]\nsso_session = corp\nsso_account_id = 111122223333\n"
	             "sso_role_name = TerraformRole\n"
	             "[sso-session corp]\nsso_region = eu-west-1\n"
	             "sso_start_url = https://corp.awsapps.com/start\n"
	             "sso_registration_scopes = sso:account:access\n"
	             "[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\n"
	             "sso_region = us-east-1\nsso_account_id = 444455556666\nsso_role_name = "
	             "Legacy\n"
	             "[profile expired]\nsso_start_url = https://expired.awsapps.com/start\n"
	             "sso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n"
	             "[profile nosession]\nsso_session = ghost\nsso_account_id = 1\nsso_role_name "
	             "= R\n"),
	       1);
	cfg.profile = "corp";
	is_int(0, resolve(&cfg, &c, &e), "SSO with an sso-session");
	if (e.kind)
		diag("%s", e.msg);
	is_string("ASIASSO000000000001", c.access_key, "... access key");
	is_string("sso-session-token", c.session_token, "... token");
	is_int(1893553445, (long long)c.expires, "... expiration from epoch milliseconds");
	is_string("profile corp (sso)", c.source, "... source");
	cfg.profile = "legacy";
	is_int(0, resolve(&cfg, &c, &e), "legacy SSO profile (cache keyed by start URL)");
	log = server_stop(&s, NULL);
	req = request(log, 1);
	contains(req, "GET /federation/credentials?account_id=111122223333&role_name=TerraformRole",
	         "GetRoleCredentials with account and role");
	contains(req, "x-amz-sso_bearer_token: sso-bearer-corp",
	         "... the cached token of the session");
	free(req);
	req = request(log, 2);
	contains(req, "x-amz-sso_bearer_token: sso-bearer-legacy", "... the legacy cached token");
	free(req);
	free(log);

	cfg.profile = "expired";
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "SSO without a cached token");
	contains(e.msg, "aws sso login", "... tells the user to log in");
	cfg.profile = "nosession";
	is_int(ERR_USAGE, resolve(&cfg, &c, &e), "sso_session naming a missing section");
	contains(e.msg, "sso-session ghost", "... names the section");

	wfile("home/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
	      "{\"accessToken\": \"old\", \"expiresAt\": \"2001-01-01T00:00:00Z\"}");
	cfg.profile = "corp";
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "an expired SSO token");
	contains(e.msg, "expired at 2001-01-01T00:00:00Z", "... says when it expired");
	creds_free(&c);
}

static void test_nothing(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();

	creds_init(&c);
	clean_env();
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", CLOSED, 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "nothing configured: ERR_CREDENTIALS");
	is_int(ERR_CREDENTIALS, e.kind, "... kind set in the error");
	contains(e.msg, "no AWS credentials found", "... says so");
	contains(e.msg, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set",
	         "... names the environment");
	contains(e.msg, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set", "... web identity");
	contains(e.msg, "shared files: no profile \"default\"", "... shared files");
	contains(e.msg, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "... container");
	contains(e.msg, "instance metadata: cannot connect", "... instance metadata");
	ok(strchr(e.msg, '\n') == NULL, "... on one line");
	ok(c.access_key == NULL && c.secret_key == NULL, "... and no credentials");

	/* a profile with only a region falls through to container and IMDS */
	setenv("AWS_CONFIG_FILE", wfile("config-region", "[default]\nregion = eu-north-1\n"), 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "a profile without credentials");
	contains(e.msg, "profile \"default\": no credentials in it", "... is named in the summary");
	contains(e.msg, "disabled by AWS_EC2_METADATA_DISABLED", "... and IMDS was skipped");

	cfg.profile = "default";
	is_int(ERR_CREDENTIALS, resolve(&cfg, &c, &e), "explicit profile without credentials");
	contains(e.msg, "skipped, the profile option", "... the summary says env was skipped");
	creds_free(&c);
}

/* Nothing secret reaches stderr, even at debug level with HTTP tracing. */
static void test_no_secret_in_logs(void)
{
	struct creds c;
	struct tf_error e;
	struct creds_config cfg = cfg0();
	struct server s, sts;
	char *out, *errfile = path_in("stderr.txt");
	int saved;

	creds_init(&c);
	clean_env();
	wfile("imds-token", "AQAEAImdsSessionToken==");
	wfile("imds-role", "tflock-ci");
	wfile("imds-creds", imds_creds);
	stub_start(&s, "imds-log", imds_routes("200"));
	stub_start(&sts, "sts-log", ar_routes());
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url, 1);
	setenv("AWS_ENDPOINT_URL_STS", sts.url, 1);
	cfg.assume_role.role_arn = "arn:aws:iam::123456789012:role/logcheck";

	saved = fd_to(2, errfile);
	log_level = 3;
	http_set_trace(1);
	is_int(0, resolve(&cfg, &c, &e), "IMDS then AssumeRole with debug logging");
	http_set_trace(0);
	log_level = 1;
	fd_restore(2, saved);

	out = slurp(errfile, NULL);
	ok(strlen(out) > 0, "debug logging wrote something");
	contains(out, "AWS credentials from assume role", "... including the chosen source");
	lacks(out, "imds/secret/key", "... not the instance secret key");
	lacks(out, "imds-session-token", "... not the instance session token");
	lacks(out, "AQAEAImdsSessionToken", "... not the IMDSv2 token");
	lacks(out, "assumed/secret", "... not the assumed secret key");
	lacks(out, "AQoDYXdzEPT", "... not the assumed session token");
	free(out);
	free(server_stop(&s, NULL));
	free(server_stop(&sts, NULL));
	creds_free(&c);
}

int main(void)
{
	plan_lazy();
	fixture_init("creds");
	fixture_helper("stub-http");
	mkdir(path_in("home"), 0700);

	test_time();
	test_endpoints();
	test_environment();
	test_shared_files();
	test_process();
	test_web_identity();
	test_assume_role();
	test_container();
	test_imds();
	test_sso();
	test_nothing();
	test_no_secret_in_logs();

	fixture_done();
	return 0;
}
