/*
 * creds — the resolver: the chain of credential sources in the order creds.h
 * gives, including a profile's own chain (source_profile, credential_source,
 * web identity, SSO, credential_process, role_arn alone), and the backend's
 * assume_role on top. The sources are files of their own (creds_sts.c,
 * creds_sso.c, creds_container.c, creds_imds.c, creds_process.c), the shared
 * files and the resolver's state are creds_profile.c's, and what they all
 * share is creds_util.c's (creds_impl.h).
 */
#include "creds.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "log.h"

#define REASON_MAX 240 /* bytes of one "source: why" */

/* ------------------------------------------ the environment, the end of the chain */

/* One more "source: why" for the ERR_CREDENTIALS summary (and the debug log). */
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

static int env_keys(struct resolver *r, struct creds *out)
{
	const char *ak, *sk;
	creds_env_keys(&ak, &sk);
	if (ak && sk) {
		creds_set(out, ak, sk, getenv_nonempty("AWS_SESSION_TOKEN"), 0);
		creds_label(out, "environment");
		return 0;
	}
	if (ak)
		note(r, "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	else if (sk)
		note(r, "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
	else
		note(r, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
	return CREDS_NOT_CONFIGURED;
}

/* Steps 1 and 2: the environment's keys, then its web identity. */
static int resolve_env(struct resolver *r, struct creds *base, struct tf_error *err)
{
	const char *wit, *role;
	int rc = env_keys(r, base);
	if (rc != CREDS_NOT_CONFIGURED)
		return rc;
	wit = getenv_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
	if (!wit) {
		note(r, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set");
		return CREDS_NOT_CONFIGURED;
	}
	role = getenv_nonempty("AWS_ROLE_ARN");
	if (!role)
		return err_set(err, ERR_USAGE,
		               "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
	rc = creds_sts_web_identity(r, wit, role, getenv_nonempty("AWS_ROLE_SESSION_NAME"),
	                            "AWS_WEB_IDENTITY_TOKEN_FILE", base, err);
	if (!rc)
		creds_label(base, "web identity (%s)", role);
	return rc;
}

/* Container, then instance metadata, then ERR_CREDENTIALS naming every source
 * tried: the end of the chain. */
static int resolve_tail(struct resolver *r, struct creds *out, struct tf_error *err)
{
	int rc = creds_container_fetch(r, out, err);
	if (rc <= 0) {
		if (!rc)
			creds_label(out, "container credentials");
		return rc;
	}
	note(r, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set");
	rc = creds_imds_fetch(r, out, err);
	if (!rc)
		return 0;
	if (rc == CREDS_NOT_CONFIGURED)
		note(r, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
	else
		note(r, "instance metadata: %s", err ? err->msg : "failed");
	err_clear(err);
	return err_set(err, ERR_CREDENTIALS, "no AWS credentials found: %s", r->tried.data);
}

/* ------------------------------------------------------------------ profiles */

#define MAX_SOURCE_DEPTH 16

/* The profiles a source_profile chain went through, outermost first. */
struct chain {
	const char *names[MAX_SOURCE_DEPTH];
	size_t n;
};

/* The keys of a profile that say where its credentials come from. */
struct prof_view {
	const char *role_arn, *source, *cred_source, *ext_id, *mfa, *sess, *wit, *process;
	const char *ak, *sk, *tok;
	long duration;
	int sso;
};

static int credential_source(struct resolver *r, const char *pname, const char *src,
                             struct creds *out, struct tf_error *err)
{
	int rc;
	if (!strcmp(src, "Environment")) {
		const char *ak, *sk;
		creds_env_keys(&ak, &sk);
		if (!ak || !sk)
			return err_set(
			        err, ERR_USAGE,
			        "profile \"%s\": credential_source is Environment but "
			        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
			        pname);
		creds_set(out, ak, sk, getenv_nonempty("AWS_SESSION_TOKEN"), 0);
		return 0;
	}
	if (!strcmp(src, "Ec2InstanceMetadata")) {
		rc = creds_imds_fetch(r, out, err);
		if (rc == CREDS_NOT_CONFIGURED)
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
		rc = creds_container_fetch(r, out, err);
		if (rc == CREDS_NOT_CONFIGURED)
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

static void prof_view_read(const struct prof *p, int again, struct prof_view *v)
{
	v->role_arn = creds_prof_val(p, "role_arn");
	v->source = creds_prof_val(p, "source_profile");
	v->cred_source = creds_prof_val(p, "credential_source");
	v->ext_id = creds_prof_val(p, "external_id");
	v->mfa = creds_prof_val(p, "mfa_serial");
	v->sess = creds_prof_val(p, "role_session_name");
	v->wit = creds_prof_val(p, "web_identity_token_file");
	v->process = creds_prof_val(p, "credential_process");
	v->ak = creds_prof_val(p, "aws_access_key_id");
	v->sk = creds_prof_val(p, "aws_secret_access_key");
	v->tok = creds_prof_val(p, "aws_session_token");
	v->duration = parse_duration(creds_prof_val(p, "duration_seconds"));
	v->sso = creds_prof_val(p, "sso_session") || creds_prof_val(p, "sso_start_url") ||
	         creds_prof_val(p, "sso_region") || creds_prof_val(p, "sso_account_id") ||
	         creds_prof_val(p, "sso_role_name");
	if (again) /* a profile seen again in the chain offers only its credentials */
		v->role_arn = v->source = v->ext_id = v->mfa = v->sess = NULL;
}

/* The settings that need a role_arn (unless the profile is seen again). */
static int prof_check_role(const struct prof_view *v, const char *name, struct tf_error *err)
{
	if ((v->source || v->cred_source || v->wit) && !v->role_arn)
		return err_set(err, ERR_USAGE, "profile \"%s\": %s needs role_arn", name,
		               v->source        ? "source_profile"
		               : v->cred_source ? "credential_source"
		                                : "web_identity_token_file");
	return 0;
}

/* One source at most, and no MFA prompt. */
static int prof_check_source(const struct prof_view *v, const char *name, struct tf_error *err)
{
	if (!!v->source + !!v->cred_source + !!v->process + !!v->wit > 1)
		return err_set(err, ERR_USAGE,
		               "profile \"%s\": set only one of source_profile, credential_source, "
		               "credential_process and web_identity_token_file",
		               name);
	if (v->role_arn && v->mfa)
		return err_set(
		        err, ERR_USAGE,
		        "profile \"%s\": mfa_serial is set, and tflock cannot prompt for an MFA "
		        "code; use a profile that needs none, or export temporary credentials",
		        name);
	return 0;
}

static int chain_has(const struct chain *ch, const char *name)
{
	for (size_t i = 0; i < ch->n; i++)
		if (!strcmp(ch->names[i], name))
			return 1;
	return 0;
}

static int chain_push(struct chain *ch, const char *name, struct tf_error *err)
{
	if (ch->n >= MAX_SOURCE_DEPTH)
		return err_set(err, ERR_USAGE,
		               "profile \"%s\": source_profile chain longer than %d", name,
		               MAX_SOURCE_DEPTH);
	ch->names[ch->n++] = name;
	return 0;
}

static int resolve_profile(struct resolver *r, const char *name, int top, struct chain *ch,
                           struct creds *out, struct tf_error *err);

/* The credentials the profile's role is assumed with (or its own, without a
 * role) into base; a web identity profile's go straight to out, with *done. */
static int prof_base(struct resolver *r, const struct prof *p, const struct prof_view *v, int top,
                     struct chain *ch, struct creds *base, struct creds *out, int *done,
                     struct tf_error *err)
{
	const char *name = p->name;
	int rc = 0;
	if (v->source) {
		rc = resolve_profile(r, v->source, 0, ch, base, err);
		if (rc == CREDS_NOT_CONFIGURED)
			rc = err_set(err, ERR_USAGE,
			             "profile \"%s\": source_profile \"%s\" has no credentials",
			             name, v->source);
	} else if (v->ak && v->sk) {
		creds_set(base, v->ak, v->sk, v->tok, 0);
		creds_label(base, "profile %s (static keys)", name);
	} else if (v->cred_source) {
		rc = credential_source(r, name, v->cred_source, base, err);
		if (!rc)
			creds_label(base, "%s", v->cred_source);
	} else if (v->wit) {
		char *ctx = xasprintf("profile \"%s\"", name);
		rc = creds_sts_web_identity(r, v->wit, v->role_arn, v->sess, ctx, out, err);
		free(ctx);
		if (!rc)
			creds_label(out, "profile %s (web identity)", name);
		*done = 1; /* role_arn was the web identity's role */
	} else if (v->sso) {
		rc = creds_sso_fetch(r, p, base, err);
		if (!rc)
			creds_label(base, "profile %s (sso)", name);
	} else if (v->process) {
		rc = creds_process_fetch(p, v->process, base, err);
		if (!rc)
			creds_label(base, "profile %s (credential_process)", name);
	} else if (!top || !v->role_arn) {
		rc = CREDS_NOT_CONFIGURED;
	} else {
		/* role_arn alone: container or instance metadata credentials assume it */
		note(r,
		     "profile \"%s\": role_arn without a source, trying container and "
		     "instance metadata",
		     name);
		rc = resolve_tail(r, base, err);
	}
	return rc;
}

/* Resolve profile name (top: the selected profile; otherwise a source_profile).
 * 0, CREDS_NOT_CONFIGURED (the top profile has nothing to offer, or a source
 * profile has no credentials) or an error. */
static int resolve_profile(struct resolver *r, const char *name, int top, struct chain *ch,
                           struct creds *out, struct tf_error *err)
{
	struct prof p;
	struct prof_view v;
	struct creds base;
	int rc, done = 0;

	creds_init(&base);
	rc = creds_prof_load(r, name, &p, err);
	if (rc < 0)
		return rc;
	if (rc == CREDS_NOT_CONFIGURED) {
		if (top)
			return CREDS_NOT_CONFIGURED;
		return err_set(err, ERR_USAGE,
		               "source_profile \"%s\" is in neither \"%s\" nor \"%s\"", name,
		               creds_path_or(r->cred_path), creds_path_or(r->conf_path));
	}
	prof_view_read(&p, chain_has(ch, name), &v);
	rc = prof_check_role(&v, name, err);
	if (rc)
		goto out;
	if (!top && v.ak && v.sk) {
		creds_set(out, v.ak, v.sk, v.tok, 0);
		creds_label(out, "profile %s (static keys)", name);
		goto out;
	}
	rc = chain_push(ch, name, err);
	if (!rc)
		rc = prof_check_source(&v, name, err);
	if (!rc)
		rc = prof_base(r, &p, &v, top, ch, &base, out, &done, err);
	if (rc || done)
		goto out;
	if (v.role_arn) {
		char via[sizeof(base.source)];
		snprintf(via, sizeof(via), "%s", base.source);
		rc = creds_sts_assume_role(r, &base, v.role_arn, v.sess, v.ext_id, v.duration, out,
		                           err);
		if (!rc)
			creds_label(out, "profile %s (assume role %s via %s)", name, v.role_arn,
			            via);
	} else {
		creds_move(out, &base);
	}
out:
	creds_free(&base);
	creds_prof_free(&p);
	return rc;
}

/* The selected profile's credentials: 0, CREDS_NOT_CONFIGURED (it has none to
 * offer) or an error. */
static int profile_resolve(struct resolver *r, struct creds *out, struct tf_error *err)
{
	struct chain ch;
	ch.n = 0;
	return resolve_profile(r, r->profile, 1, &ch, out, err);
}

/* ------------------------------------------------------------------ the chain */

/* The base credentials: the environment, the profile, container, instance metadata. */
static int resolve_base(struct resolver *r, struct creds *base, struct tf_error *err)
{
	int rc;
	if (!r->profile_explicit) {
		rc = resolve_env(r, base, err);
		if (rc <= 0)
			return rc;
	} else {
		note(r, "environment and web identity: skipped, the profile option names \"%s\"",
		     r->profile);
	}
	if (r->have_top) {
		rc = profile_resolve(r, base, err);
		if (rc <= 0)
			return rc;
		note(r, "profile \"%s\": no credentials in it", r->profile);
	} else {
		note(r, "shared files: no profile \"%s\" in \"%s\" or \"%s\"", r->profile,
		     creds_path_or(r->cred_path), creds_path_or(r->conf_path));
	}
	return resolve_tail(r, base, err);
}

/* The backend's assume_role on top of base, into out (or base itself). */
static int assume_configured(struct resolver *r, struct creds *base, struct creds *out,
                             struct tf_error *err)
{
	const struct creds_assume_role *ar = &r->cfg->assume_role;
	char via[sizeof(base->source)];
	int rc;
	if (!ar->role_arn || !*ar->role_arn) {
		creds_move(out, base);
		return 0;
	}
	snprintf(via, sizeof(via), "%s", base->source);
	rc = creds_sts_assume_role(r, base, ar->role_arn, ar->session_name, ar->external_id,
	                           ar->duration_s, out, err);
	if (rc) {
		err_prefix(err, "assume_role (with credentials from %s)", via);
		return rc;
	}
	creds_label(out, "assume role %s via %s", ar->role_arn, via);
	return 0;
}

int creds_resolve(const struct creds_config *cfg, struct creds *out, struct tf_error *err)
{
	static const struct creds_config empty;
	struct resolver r;
	struct tf_error local;
	struct creds base;
	int rc;

	if (!err)
		err = &local;
	err_clear(err);
	creds_free(out);
	creds_init(&base);
	creds_resolver_init(&r, cfg ? cfg : &empty);
	rc = creds_profile_open(&r, err);
	if (!rc) {
		creds_resolver_region(&r);
		rc = resolve_base(&r, &base, err);
	}
	if (!rc)
		rc = assume_configured(&r, &base, out, err);
	if (!rc)
		log_verbose("AWS credentials from %s", out->source);
	else
		creds_free(out);
	creds_free(&base);
	creds_resolver_free(&r);
	return rc;
}
