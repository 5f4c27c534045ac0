/*
 * creds — resolve AWS credentials in the order the AWS SDKs use.
 *
 *   1. environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 *   2. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE → STS
 *      AssumeRoleWithWebIdentity
 *   3. shared files (~/.aws/credentials, ~/.aws/config; AWS_SHARED_CREDENTIALS_FILE,
 *      AWS_CONFIG_FILE, AWS_PROFILE / the profile option): static keys,
 *      credential_process, role_arn + source_profile (STS AssumeRole), SSO
 *   4. container credentials (ECS/EKS)
 *   5. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED
 * A configured role to assume (backend assume_role) is applied on top of the
 * resolved base credentials.
 *
 * struct creds owns its strings; creds_free() wipes secrets and is NULL-safe.
 * Errors: ERR_CREDENTIALS when nothing resolves (msg names every source tried),
 * ERR_USAGE for a broken config/profile, network kinds from http.h for STS/IMDS.
 *
 * Precedence, as Terraform's S3 backend has it (hashicorp/aws-sdk-go-base
 * credentials.go passes only the backend's own `profile` to
 * config.WithSharedConfigProfile; aws-sdk-go-v2 config/resolve_credentials.go
 * resolveCredentialChain then goes straight to the profile when a profile was
 * set programmatically, and otherwise tries env keys, then env web identity,
 * then the profile):
 *   - cfg->profile set (the backend `profile` option): steps 1 and 2 are
 *     skipped; the profile decides.
 *   - AWS_PROFILE set (cfg->profile NULL): environment keys and web identity
 *     still win; AWS_PROFILE only chooses the profile for step 3.
 *     AWS_DEFAULT_PROFILE is not read (aws-sdk-go-v2 does not read it).
 *   - A named profile (option or AWS_PROFILE) that exists in neither file is
 *     ERR_USAGE even when step 1 would succeed (aws-sdk-go-base validates the
 *     profile first). A missing "default" profile is not an error.
 *   - A source that is configured but fails (a credential_process exiting
 *     non-zero, STS refusing the web identity token, a broken container
 *     endpoint) fails the whole resolution with its own error: the SDK does
 *     not fall through to the next source either. Only "not configured" moves
 *     on, and only instance metadata, the last source, turns its failure into
 *     the ERR_CREDENTIALS summary.
 *   - Within a profile (aws-sdk-go-v2 resolveCredsFromProfile): source_profile,
 *     then static keys, credential_source, web_identity_token_file, SSO,
 *     credential_process; a profile with none of these falls through to
 *     container and instance metadata, and its role_arn (if any) is assumed
 *     with whatever they return. role_arn is assumed on top of the profile's
 *     credentials; a source profile with static keys stops the chain there.
 *     In the credentials file "[name]" is the profile and "[profile name]" is
 *     ignored; in the config file "[profile name]" is the profile, "[default]"
 *     is "default" (replaced by "[profile default]" if both exist), other
 *     unprefixed sections are ignored. For one profile, values from the
 *     credentials file win over the config file key by key, except that the
 *     key pair (with its session token) is taken only when both keys are
 *     there; a lone aws_access_key_id or aws_secret_access_key is ERR_USAGE.
 *     mfa_serial is ERR_USAGE (no way to prompt). credential_source
 *     EcsContainer accepts the FULL_URI too (aws-sdk-go-v2 wants RELATIVE_URI).
 *
 * Endpoints and variables:
 *   STS: cfg->sts_endpoint, else AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL
 *        (the two skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else
 *        https://sts.REGION.amazonaws.com (amazonaws.com.cn in cn-*), or
 *        https://sts.amazonaws.com when AWS_STS_REGIONAL_ENDPOINTS (or the
 *        profile's sts_regional_endpoints) is "legacy" and REGION is one of
 *        the regions that had the global endpoint. REGION: cfg->region, else
 *        AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1.
 *        AssumeRole is a SigV4-signed POST (service sts); AssumeRoleWithWeb-
 *        Identity is an unsigned POST. One retry on a network error or 5xx.
 *   SSO: TFLOCK_SSO_ENDPOINT (tflock's own, for tests and proxies), else
 *        AWS_ENDPOINT_URL_SSO, else AWS_ENDPOINT_URL, else
 *        https://portal.sso.SSO_REGION.amazonaws.com. The token comes from
 *        $HOME/.aws/sso/cache/<sha1 hex of the sso-session name, or of
 *        sso_start_url for a legacy profile>.json; an expired or missing token
 *        is ERR_CREDENTIALS asking for "aws sso login" (tflock does not refresh
 *        it).
 *   Container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (http://169.254.170.2 +
 *        it) first, else AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to
 *        a loopback address, localhost, 169.254.170.2, 169.254.170.23 or
 *        [fd00:ec2::23]; host names are not resolved to check). Authorization
 *        from the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else
 *        AWS_CONTAINER_AUTHORIZATION_TOKEN. 2 s connect, at most 5 s in all,
 *        no proxy for http; one retry after a reset, timeout or 5xx.
 *   IMDS: AWS_EC2_METADATA_SERVICE_ENDPOINT (or the profile's
 *        ec2_metadata_service_endpoint), else http://[fd00:ec2::254] when
 *        AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is IPv6, else
 *        http://169.254.169.254. PUT /latest/api/token (TTL 21600), then GET
 *        /latest/meta-data/iam/security-credentials/ and .../<role>, never via
 *        a proxy, 1 s connect and 1 s total per request. A refused or
 *        unreachable endpoint fails at once (no retry); a timeout after
 *        connecting, a reset or a 5xx is retried once. A 403/404/405 on the
 *        token falls back to IMDSv1 unless AWS_EC2_METADATA_V1_DISABLED=true.
 *        AWS_EC2_METADATA_DISABLED=true skips it.
 *   credential_process: run with /bin/sh -c (child_capture()), stdin and stderr
 *        inherited, other descriptors closed, the signal mask empty; stdout (at
 *        most 64 KiB) must be JSON with "Version": 1, AccessKeyId,
 *        SecretAccessKey, optional SessionToken and Expiration; killed after
 *        60 s. A non-zero exit is ERR_CREDENTIALS, bad JSON or a Version other
 *        than 1 is ERR_PARSE.
 *
 * Secrets: nothing here logs a key, token or reply body; every buffer that
 * held one (HTTP bodies, request bodies, files, process output, parsed JSON,
 * the shared files) is wiped before it is freed.
 */
#ifndef TFLOCK_CREDS_H
#define TFLOCK_CREDS_H

#include <stdint.h>
#include <time.h>

#include "error.h"

struct creds {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL when none */
	time_t expires;      /* 0: does not expire */
	char source[96];     /* "environment", "profile dev (credential_process)", ... */
};

struct creds_assume_role {
	const char *role_arn;     /* NULL: none */
	const char *session_name; /* NULL: "tflock-<unix time>" */
	const char *external_id;
	long duration_s; /* 0: STS default */
};

struct creds_config {
	const char *profile;                  /* NULL: AWS_PROFILE, else "default" */
	const char *region;                   /* for STS; NULL: AWS_REGION, AWS_DEFAULT_REGION,
					       the profile's region, us-east-1 */
	const char *shared_credentials_file;  /* NULL: env or ~/.aws/credentials */
	const char *shared_config_file;       /* NULL: env or ~/.aws/config */
	const char *sts_endpoint;             /* NULL: AWS_ENDPOINT_URL_STS, else regional STS */
	struct creds_assume_role assume_role; /* from the backend config */
	long timeout_ms;                      /* per network request; 0: default (10 s;
					       instance metadata is capped at 1 s) */
};

void creds_init(struct creds *c);
void creds_free(struct creds *c);
/* out must be initialised (creds_init); it is freed first and filled on
 * success, left empty on failure. */
int creds_resolve(const struct creds_config *cfg, struct creds *out, struct tf_error *err);
/* True when the credentials expire within margin_s seconds of now. */
int creds_expiring(const struct creds *c, time_t now, long margin_s);

/* Who the credentials belong to, as STS GetCallerIdentity tells (a signed
 * POST to the STS endpoint chosen as for AssumeRole, see above). */
struct creds_identity {
	char *arn;     /* "arn:aws:iam::123456789012:user/ci" */
	char *account; /* NULL when the reply lacks it */
	char *user_id;
};
/* 0 with *out filled (free with creds_identity_free), or ERR_HTTP (STS
 * refused: err->s3_code holds its code), ERR_CONNECT, ERR_PARSE... */
int creds_caller_identity(const struct creds_config *cfg, const struct creds *c,
                          struct creds_identity *out, struct tf_error *err);
void creds_identity_free(struct creds_identity *id);
/* True when an STS endpoint is set explicitly (cfg->sts_endpoint,
 * AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL; see above), not the regional default. */
int creds_sts_configured(const struct creds_config *cfg);

/* Helpers, pure and exposed for tests. */

/* ISO 8601 / RFC 3339 time as AWS writes it: "2024-01-02T03:04:05Z", with
 * optional fractional seconds (dropped) and a "Z", "UTC" or "+hh:mm"/"+hhmm"
 * zone; rfc3339_parse()'s RFC3339_AWS dialect says exactly what is accepted.
 * 0 and *out set, or -1. */
int creds_parse_time(const char *s, time_t *out);
/* The default STS endpoint for region (see above); *signing_region is the
 * region to sign with ("us-east-1" for the global endpoint). malloc'd. */
char *creds_sts_default_endpoint(const char *region, int legacy_global,
                                 const char **signing_region);
/* The container credentials URL from the environment: 0 and *url (malloc'd),
 * 1 when neither variable is set, ERR_USAGE for a FULL_URI that is not
 * allowed. Does no network I/O. */
int creds_container_url(char **url, struct tf_error *err);

#endif
