/*
 * creds_profile — the shared files (~/.aws/credentials, ~/.aws/config): which
 * files, which profile, and where a profile's credentials come from (static
 * keys, source_profile chains, credential_source, web identity, SSO,
 * credential_process, or role_arn alone over container and instance metadata).
 * See creds.h for the contract and the precedence, creds_impl.h for the place
 * of this file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "log.h"

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

/* ------------------------------------------------------------------ files */

static char *expand_home(const char *p)
{
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		char *home = creds_home_dir(), *r;
		if (!home)
			return xstrdup(p);
		r = xasprintf("%s%s", home, p + 1);
		free(home);
		return r;
	}
	return xstrdup(p);
}

/* Where the shared files are: the configuration, the environment, else $HOME/.aws. */
static void shared_paths(struct resolver *r)
{
	const struct creds_config *cfg = r->cfg;
	const char *c = cfg->shared_credentials_file && *cfg->shared_credentials_file
	                        ? cfg->shared_credentials_file
	                        : creds_env("AWS_SHARED_CREDENTIALS_FILE");
	const char *f = cfg->shared_config_file && *cfg->shared_config_file
	                        ? cfg->shared_config_file
	                        : creds_env("AWS_CONFIG_FILE");
	char *home = (c && f) ? NULL : creds_home_dir();
	r->cred_path = c ? expand_home(c) : home ? xasprintf("%s/.aws/credentials", home) : NULL;
	r->conf_path = f ? expand_home(f) : home ? xasprintf("%s/.aws/config", home) : NULL;
	free(home);
}

static int load_shared(struct ini *ini, const char *path, struct tf_error *err)
{
	struct tf_error e;
	int rc;
	if (!path)
		return 0;
	err_clear(&e);
	rc = ini_load(ini, path, &e);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc == ERR_SYSTEM) {
		/* the SDK skips files it cannot read */
		log_warn("ignoring AWS shared file: %s", e.msg);
		return 0;
	}
	if (rc) {
		err_set(err, rc, "malformed AWS shared file: %s", e.msg);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ profiles */

void creds_prof_free(struct prof *p)
{
	free(p->props);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

static void prof_put(struct prof *p, const struct ini_prop *prop)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->props[i]->key, prop->key)) {
			p->props[i] = prop;
			return;
		}
	}
	p->props = xrealloc(p->props, (p->n + 1) * sizeof(*p->props));
	p->props[p->n++] = prop;
}

const char *creds_prof_val(const struct prof *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->props[i]->key, key))
			return *p->props[i]->value ? p->props[i]->value : NULL;
	return NULL;
}

static const struct ini_section *config_section(const struct resolver *r, const char *name)
{
	const struct ini_section *s;
	char *n;
	if (!strcmp(name, "default")) {
		s = ini_section(&r->conf, "profile default"); /* replaces [default] */
		return s ? s : ini_section(&r->conf, "default");
	}
	n = xasprintf("profile %s", name);
	s = ini_section(&r->conf, n);
	free(n);
	return s;
}

static const struct ini_section *cred_section(const struct resolver *r, const char *name)
{
	if (!strncmp(name, "profile ", 8))
		return NULL; /* "[profile x]" is not a profile in the credentials file */
	return ini_section(&r->cred, name);
}

static int partial_keys(const struct ini_section *s)
{
	return !ini_prop(s, "aws_access_key_id") != !ini_prop(s, "aws_secret_access_key");
}

/* The profile as the SDK sees it: config section overlaid by the credentials
 * section. 0, CREDS_NOT_CONFIGURED (in neither file) or ERR_USAGE. */
static int prof_load(struct resolver *r, const char *name, struct prof *p, struct tf_error *err)
{
	const struct ini_section *cs = config_section(r, name), *ks = cred_section(r, name);
	int pair;
	memset(p, 0, sizeof(*p));
	if (!cs && !ks)
		return CREDS_NOT_CONFIGURED;
	if (partial_keys(ks ? ks : cs))
		return err_set(err, ERR_USAGE,
		               "profile \"%s\" in \"%s\" has only one of aws_access_key_id and "
		               "aws_secret_access_key: set both or neither",
		               name,
		               ks ? creds_path_or(r->cred_path) : creds_path_or(r->conf_path));
	p->name = xstrdup(name);
	for (size_t i = 0; cs && i < cs->nprops; i++)
		prof_put(p, &cs->props[i]);
	pair = ks && ini_prop(ks, "aws_access_key_id") && ini_prop(ks, "aws_secret_access_key");
	for (size_t i = 0; ks && i < ks->nprops; i++) {
		const char *k = ks->props[i].key;
		if ((!strcmp(k, "aws_access_key_id") || !strcmp(k, "aws_secret_access_key") ||
		     !strcmp(k, "aws_session_token")) &&
		    !pair)
			continue; /* the key pair and its token move together */
		prof_put(p, &ks->props[i]);
	}
	return 0;
}

int creds_profile_open(struct resolver *r, struct tf_error *err)
{
	int rc;
	shared_paths(r);
	rc = load_shared(&r->conf, r->conf_path, err);
	if (!rc)
		rc = load_shared(&r->cred, r->cred_path, err);
	if (rc)
		return rc;
	rc = prof_load(r, r->profile, &r->top, err);
	if (rc < 0)
		return rc;
	r->have_top = rc == 0;
	if (!r->have_top && r->profile_named)
		return err_set(err, ERR_USAGE,
		               "AWS profile \"%s\" (from %s) is in neither \"%s\" nor \"%s\"",
		               r->profile,
		               r->profile_explicit ? "the profile option" : "AWS_PROFILE",
		               creds_path_or(r->cred_path), creds_path_or(r->conf_path));
	return 0;
}

/* ------------------------------------------------------------------ sources */

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
		creds_set(out, ak, sk, creds_env("AWS_SESSION_TOKEN"), 0);
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
		creds_note(r,
		           "profile \"%s\": role_arn without a source, trying container and "
		           "instance metadata",
		           name);
		rc = creds_resolve_tail(r, base, err);
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
	rc = prof_load(r, name, &p, err);
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

int creds_profile_resolve(struct resolver *r, struct creds *out, struct tf_error *err)
{
	struct chain ch;
	ch.n = 0;
	return resolve_profile(r, r->profile, 1, &ch, out, err);
}
