/*
 * creds_impl — what the credential files share inside creds; no other module
 * includes this (they use creds.h).
 *
 * The files, and the way their calls go (one way: each calls only the ones
 * below it):
 *   creds.c            the chain: the sources in creds.h's order, a profile's
 *                      own chain (source_profile, credential_source, static
 *                      keys, web identity, SSO, credential_process, role_arn
 *                      alone), the backend's assume_role on top
 *   creds_sts.c        STS: AssumeRole, AssumeRoleWithWebIdentity,
 *                      GetCallerIdentity, the STS endpoint
 *   creds_sso.c        IAM Identity Center (SSO): token cache, GetRoleCredentials
 *   creds_container.c  ECS/EKS container credentials
 *   creds_imds.c       EC2 instance metadata (IMDSv2, IMDSv1 fallback)
 *   creds_process.c    credential_process
 *   creds_profile.c    the resolver's state and the shared files: the selected
 *                      profile, a profile's values (read, never fetched)
 *   creds_util.c       struct creds values, environment, paths, time, HTTP,
 *                      URLs, JSON replies
 *
 * A source's fetch returns 0 with out filled (creds_set; the caller labels it),
 * CREDS_NOT_CONFIGURED when the source is not set up (the chain moves on), or a
 * negative ERR_* with err set; out is left alone on failure.
 *
 * Memory: every string that held a secret (keys, tokens, request and reply
 * bodies, files, parsed JSON) is wiped before it is freed (secure_free_str,
 * buf_wipe, json_delete_wiped, creds_hdrs_free, creds_resp_free).
 */
#ifndef TFLOCK_CREDS_IMPL_H
#define TFLOCK_CREDS_IMPL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "creds.h"
#include "error.h"
#include "http.h"
#include "ini.h"

#define CREDS_NOT_CONFIGURED 1 /* this source is not set up: try the next one */

#define CREDS_DEFAULT_TIMEOUT_MS 10000 /* per network request */
#define CREDS_SECRET_FILE_MAX (1024 * 1024)

/* ------------------------------------------------------------ the resolver's state */

/* A profile as the SDK sees it: its config-file section overlaid by its
 * credentials-file section (creds_profile.c). */
struct prof {
	char *name;
	const struct ini_prop **props; /* point into the parsed files */
	size_t n;
};

struct resolver {
	const struct creds_config *cfg;
	struct http_client *http; /* made on first use */
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

/* ------------------------------------------------------------ the sources */

/* creds_sts.c */
int creds_sts_assume_role(struct resolver *r, const struct creds *base, const char *role_arn,
                          const char *session_name, const char *external_id, long duration,
                          struct creds *out, struct tf_error *err);
/* AssumeRoleWithWebIdentity with the token in token_file; context leads every
 * message ("AWS_WEB_IDENTITY_TOKEN_FILE", "profile \"x\""). */
int creds_sts_web_identity(struct resolver *r, const char *token_file, const char *role_arn,
                           const char *session_name, const char *context, struct creds *out,
                           struct tf_error *err);

/* creds_sso.c: the credentials of an SSO profile p. */
int creds_sso_fetch(struct resolver *r, const struct prof *p, struct creds *out,
                    struct tf_error *err);

/* creds_container.c: CREDS_NOT_CONFIGURED without the container variables. */
int creds_container_fetch(struct resolver *r, struct creds *out, struct tf_error *err);

/* creds_imds.c: CREDS_NOT_CONFIGURED when AWS_EC2_METADATA_DISABLED; labels out. */
int creds_imds_fetch(struct resolver *r, struct creds *out, struct tf_error *err);

/* creds_process.c: run profile p's credential_process cmd. */
int creds_process_fetch(const struct prof *p, const char *cmd, struct creds *out,
                        struct tf_error *err);

/* ------------------------------------------------------------ creds_profile.c */

/* r for cfg (not NULL): the profile chosen, nothing loaded yet. */
void creds_resolver_init(struct resolver *r, const struct creds_config *cfg);
/* r->region for STS: cfg->region, AWS_REGION, AWS_DEFAULT_REGION, the selected
 * profile's region (once loaded), us-east-1. */
void creds_resolver_region(struct resolver *r);
void creds_resolver_free(struct resolver *r);

/* Find and load the shared files, and the selected profile (r->top); ERR_USAGE
 * for a malformed file or a named profile in neither. */
int creds_profile_open(struct resolver *r, struct tf_error *err);
/* Profile name as the SDK sees it (config section overlaid by the credentials
 * section) into p: 0, CREDS_NOT_CONFIGURED (in neither file) or ERR_USAGE. */
int creds_prof_load(struct resolver *r, const char *name, struct prof *p, struct tf_error *err);
/* The value of key in p, or NULL when absent or empty (the SDK tests len != 0). */
const char *creds_prof_val(const struct prof *p, const char *key);
void creds_prof_free(struct prof *p);

/* ------------------------------------------------------------ creds_util.c */

/* The key pair in the environment (AWS_ACCESS_KEY_ID, else AWS_ACCESS_KEY;
 * AWS_SECRET_ACCESS_KEY, else AWS_SECRET_KEY); either may be NULL. */
void creds_env_keys(const char **ak, const char **sk);
/* "true" in any case. */
int creds_is_true(const char *v);
/* Replace c's content with copies (token NULL or "": none). */
void creds_set(struct creds *c, const char *ak, const char *sk, const char *token, time_t expires);
__attribute__((format(printf, 2, 3))) void creds_label(struct creds *c, const char *fmt, ...);
/* Hand b's contents to a (a is freed first; b is left empty). */
void creds_move(struct creds *a, struct creds *b);
/* $HOME, else the password database's; malloc'd, or NULL. */
char *creds_home_dir(void);
/* p, or "(no home directory)" for a path that could not be made. */
const char *creds_path_or(const char *p);
/* Drop trailing white space (a token file's newline). */
void creds_trim(struct buf *b);

/* A short list of request headers that owns (and wipes) its copies. */
struct creds_hdrs {
	struct http_header h[8];
	char *owned[16];
	size_t n;
};
void creds_hdr_add(struct creds_hdrs *hs, const char *name, const char *value);
void creds_hdrs_free(struct creds_hdrs *hs);

/* One request, retried once after a network failure or a 5xx; a refused
 * connection is retried only when retry_connect. Whatever body resp held is
 * wiped first. */
int creds_http(struct resolver *r, const struct http_request *req, struct http_response *resp,
               int retry_connect, struct tf_error *err);
void creds_resp_free(struct http_response *resp);

/* "scheme://[user@]host[:port][/path][?query]": the Host header value (default
 * port dropped, as curl sends it) and the path ("/" if none). 0 or -1. */
int creds_url_split(const char *url, char **host, char **path);
/* The bare host name of a URL (no port, no brackets); malloc'd or NULL. */
char *creds_url_hostname(const char *url);
/* u without trailing slashes; malloc'd. */
char *creds_strip_slash(const char *u);

/* The string member key of obj, or NULL. */
const char *creds_json_str(const cJSON *obj, const char *key);
/* {"AccessKeyId", "SecretAccessKey", token_key, "Expiration"} as the container
 * endpoint, instance metadata and credential_process write them; want_version:
 * "Version": 1 is required. */
int creds_json_creds(const char *text, size_t len, const char *token_key, int want_version,
                     struct creds *out, const char *what, struct tf_error *err);
/* An error reply {"code": ..., "message": ...} as ERR_HTTP. */
int creds_json_fail(const struct http_response *resp, const char *what, struct tf_error *err);

#endif
