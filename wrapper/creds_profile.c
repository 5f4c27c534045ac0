/*
 * creds_profile — the resolver's state and the shared files (~/.aws/credentials,
 * ~/.aws/config): which profile is selected, where the files are, and a
 * profile as the SDK sees it (its config section overlaid by its credentials
 * section). It reads; it fetches nothing: where a profile's credentials come
 * from is the chain's (creds.c). See creds.h for the contract and the
 * precedence, creds_impl.h for the place of this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds_impl.h"
#include "log.h"

/* ------------------------------------------------------------------ resolver */

void creds_resolver_init(struct resolver *r, const struct creds_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	buf_init(&r->tried);
	ini_init(&r->conf);
	ini_init(&r->cred);
	r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CREDS_DEFAULT_TIMEOUT_MS;
	r->profile = cfg->profile && *cfg->profile ? cfg->profile : NULL;
	r->profile_explicit = r->profile != NULL;
	if (!r->profile)
		r->profile = getenv_nonempty("AWS_PROFILE");
	r->profile_named = r->profile != NULL;
	if (!r->profile)
		r->profile = "default";
}

void creds_resolver_region(struct resolver *r)
{
	const char *reg =
	        r->cfg->region && *r->cfg->region ? r->cfg->region : getenv_nonempty("AWS_REGION");
	if (!reg)
		reg = getenv_nonempty("AWS_DEFAULT_REGION");
	if (!reg && r->have_top)
		reg = creds_prof_val(&r->top, "region");
	snprintf(r->region, sizeof(r->region), "%s", reg ? reg : "us-east-1");
}

void creds_resolver_free(struct resolver *r)
{
	creds_prof_free(&r->top);
	ini_free(&r->conf);
	ini_free(&r->cred);
	free(r->conf_path);
	free(r->cred_path);
	buf_free(&r->tried);
	http_client_free(r->http);
}

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
	                        : getenv_nonempty("AWS_SHARED_CREDENTIALS_FILE");
	const char *f = cfg->shared_config_file && *cfg->shared_config_file
	                        ? cfg->shared_config_file
	                        : getenv_nonempty("AWS_CONFIG_FILE");
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

int creds_prof_load(struct resolver *r, const char *name, struct prof *p, struct tf_error *err)
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
	rc = creds_prof_load(r, r->profile, &r->top, err);
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
