/*
 * backend — the S3 backend that `terraform init` set up in a working directory,
 * read the way Terraform and OpenTofu read it, and the lock key it implies.
 *
 * Where it looks (Terraform internal/command/workdir/dir.go, meta.go):
 *   - base dir: the wrapped command's -chdir=DIR, else "." (the caller passes it);
 *   - data dir: $TF_DATA_DIR when set and non-empty (relative to the base dir
 *     unless absolute), else "<base>/.terraform";
 *   - backend state: "<data dir>/terraform.tfstate", the JSON `terraform init`
 *     writes: {"version":3, "terraform_version":..., "backend":{"type":"s3",
 *     "config":{...every schema attribute, null when unset...},"hash":N}}
 *     (older releases wrote the same "version" and "backend" next to "serial",
 *     "lineage" and "modules"; both are read);
 *   - workspace: $TF_WORKSPACE when non-empty, else the trimmed content of
 *     "<data dir>/environment", else "default". A name url.PathEscape would
 *     change is refused, as Terraform does.
 * State key (PROTOCOL A1): `key` for workspace "default", otherwise
 * path.Join(workspace_key_prefix (default "env:"), workspace, key) with Go's
 * path.Clean rules. The lock object is that key + ".tflock".
 *
 * Memory: struct backend owns every string in it. backend_init() sets it empty
 * (use_lockfile = -1), backend_free() releases it and is NULL-safe; the secrets
 * (sse_customer_key, web_identity_token) are wiped before they are freed.
 * backend_load() initialises b itself (it may be uninitialised; free what it held
 * before reusing it); on failure b is left empty, so backend_free() is always
 * safe afterwards. struct backend_headers owns its values.
 *
 * Errors (struct tf_error, msg never contains a secret):
 *   ERR_NOT_FOUND  no "<data dir>/terraform.tfstate" (msg: run 'terraform init'
 *                  or pass --bucket and --key);
 *   ERR_USAGE      the file is malformed (msg names the file and what is wrong),
 *                  the backend is not "s3" (msg names the type, "local" when the
 *                  directory has none), a value has the wrong type, bucket or key
 *                  are missing, an invalid workspace name, a bad SSE-C key, or
 *                  kms_key_id together with an SSE-C key;
 *   ERR_SYSTEM     a file exists but cannot be read.
 */
#ifndef TFLOCK_BACKEND_H
#define TFLOCK_BACKEND_H

#include <stddef.h>

#include "error.h"
#include "http.h"

struct backend {
	char *type; /* always "s3" after a successful load */
	char *bucket;
	char *key;          /* state key for workspace "default" */
	char *region;       /* NULL: unset (AWS_REGION etc. apply) */
	char *endpoint;     /* endpoints.s3, else the legacy `endpoint` */
	char *sts_endpoint; /* endpoints.sts, else the legacy `sts_endpoint` */
	char *iam_endpoint; /* endpoints.iam, else the legacy `iam_endpoint` */
	char *sts_region;
	char *workspace;            /* the resolved workspace name */
	char *workspace_key_prefix; /* as configured; NULL: unset, "env:" applies */
	char *kms_key_id;
	char *sse_customer_key; /* SECRET (base64); the config's, else $AWS_SSE_CUSTOMER_KEY */
	int sse_key_from_env;   /* sse_customer_key came from AWS_SSE_CUSTOMER_KEY */
	char *acl;              /* canned ACL */
	char *profile;
	char *shared_credentials_file;   /* legacy attribute, else the first of the list */
	char *shared_config_file;        /* the first of shared_config_files */
	char **shared_credentials_files; /* the list as stored (a set: sorted) */
	size_t n_shared_credentials_files;
	char **shared_config_files;
	size_t n_shared_config_files;
	/* assume_role { role_arn, session_name, external_id, duration }, else the
	 * legacy top-level role_arn, session_name, external_id,
	 * assume_role_duration_seconds (OpenTofu still has them) */
	char *role_arn;
	char *session_name;
	char *external_id;
	long assume_role_duration_s; /* 0: unset */
	/* assume_role_with_web_identity { ... } */
	char *web_identity_role_arn;
	char *web_identity_session_name;
	char *web_identity_token_file;
	char *web_identity_token; /* SECRET */
	long web_identity_duration_s;
	char *dynamodb_table;
	char *dynamodb_endpoint; /* endpoints.dynamodb, else the legacy `dynamodb_endpoint` */
	int path_style;          /* use_path_style, or the legacy force_path_style */
	int encrypt;
	int skip_s3_checksum;
	int use_fips;      /* use_fips_endpoint */
	int use_dualstack; /* use_dualstack_endpoint */
	int skip_region_validation;
	int skip_credentials_validation;
	int use_lockfile; /* -1 unset, 0 false, 1 true */
	char *data_dir;   /* the data dir used */
	char *state_file; /* the backend state file read */
	char *tf_version; /* "terraform_version" from the file, or NULL */
	char *state_key;  /* A1: the state object key for `workspace` */
};

void backend_init(struct backend *b);
void backend_free(struct backend *b);

/* Read the initialised backend of the working directory base_dir (NULL: ".").
 * Uses TF_DATA_DIR, TF_WORKSPACE and AWS_SSE_CUSTOMER_KEY from the environment. */
int backend_load(const char *base_dir, struct backend *b, struct tf_error *err);

/* The data dir for base_dir (NULL: "."), honouring TF_DATA_DIR. malloc'd. */
char *backend_data_dir(const char *base_dir);

/* The state key for key in workspace (NULL or "default": key itself) under
 * prefix (NULL: "env:"), joined like Go's path.Join. malloc'd, never NULL. */
char *backend_state_key(const char *key, const char *workspace, const char *prefix);

/* Go path.Clean of s (never empty: "" gives "."). malloc'd. Exposed for tests. */
char *backend_path_clean(const char *s);

/* Would url.PathEscape leave name unchanged (Terraform's validWorkspaceName)? */
int backend_valid_workspace_name(const char *name);

/* A Go duration ("90s", "1h30m", "1.5h") in whole seconds: 0 and *secs, or -1. */
int backend_parse_go_duration(const char *s, long *secs);

/*
 * Headers Terraform mirrors from the backend onto the lock PutObject
 * (internal/backend/remote-state/s3/client.go, lockWithFile), only when
 * encrypt is true:
 *   kms_key_id set    x-amz-server-side-encryption: aws:kms
 *                     x-amz-server-side-encryption-aws-kms-key-id: <id>
 *   else SSE-C key    x-amz-server-side-encryption-customer-algorithm: AES256
 *                     x-amz-server-side-encryption-customer-key: <base64 key>
 *                     x-amz-server-side-encryption-customer-key-MD5: <base64 MD5 of the raw key>
 *   else              x-amz-server-side-encryption: AES256
 * and, whatever encrypt says, x-amz-acl: <acl> when acl is set.
 * Content-Type and the checksum are the lock module's business.
 * backend_get_headers() gives the SSE-C headers a GET/HEAD of an SSE-C object
 * needs (encrypt and an SSE-C key, as in unlockWithFile), or none.
 * out is initialised by these functions and owns its values (the SSE-C key is
 * wiped by backend_headers_free()). Errors: ERR_USAGE for an unusable SSE-C key.
 */
#define BACKEND_MAX_HEADERS 6
struct backend_headers {
	struct http_header h[BACKEND_MAX_HEADERS];
	size_t n;
	char *owned[BACKEND_MAX_HEADERS];
	size_t nowned;
};

int backend_put_headers(const struct backend *b, struct backend_headers *out, struct tf_error *err);
int backend_get_headers(const struct backend *b, struct backend_headers *out, struct tf_error *err);
void backend_headers_free(struct backend_headers *hs);

#endif
