/*
 * Unit tests for wrapper/tfcmd: program and subcommand detection, -chdir as
 * Terraform and OpenTofu read it, the TF_CLI_ARGS_<sub> name, which
 * subcommands get -lock=false injected, and the user's own -lock flag.
 */
#include "tfcmd.h"
#include "tap/basic.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MAXARGS 16

/* Split a space-separated command line into a NULL-terminated argv (no quoting). */
static void parse(struct tfcmd *t, const char *cmdline)
{
	char *copy = xstrdup(cmdline), *save = NULL, *argv[MAXARGS + 1];
	int n = 0;

	for (char *w = strtok_r(copy, " ", &save); w && n < MAXARGS; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	tfcmd_parse(t, argv);
	free(copy);
}

static void test_program(void)
{
	static const struct {
		const char *cmd;
		int tf, tofu;
		const char *program, *op;
	} cases[] = {
		{ "terraform apply", 1, 0, "terraform", "OperationTypeApply" },
		{ "/usr/local/bin/terraform plan", 1, 0, "terraform", "OperationTypePlan" },
		{ "tofu apply", 1, 1, "tofu", "OperationTypeApply" },
		{ "/opt/tofu/bin/tofu state mv a b", 1, 1, "tofu", "state-mv" },
		{ "./deploy.sh prod", 0, 0, "deploy.sh", "OperationTypeApply (deploy.sh)" },
		{ "make -j4 apply", 0, 0, "make", "OperationTypeApply (make)" },
		{ "terragrunt apply", 0, 0, "terragrunt", "OperationTypeApply (terragrunt)" },
		{ "terraform", 1, 0, "terraform", "OperationTypeInvalid" },
		{ "terraform output -json", 1, 0, "terraform", "OperationTypeInvalid" },
		{ "terraform destroy", 1, 0, "terraform", "OperationTypeApply" },
		{ "terraform init -upgrade", 1, 0, "terraform", "init" },
		{ "terraform workspace new prod", 1, 0, "terraform", "workspace-new" },
		{ "terraform untaint aws_instance.a", 1, 0, "terraform", "untaint" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		parse(&t, cases[i].cmd);
		ok(t.is_terraform == cases[i].tf && t.is_tofu == cases[i].tofu,
		   "\"%s\": terraform %d, tofu %d", cases[i].cmd, cases[i].tf, cases[i].tofu);
		is_string(cases[i].program, t.program, "\"%s\": program", cases[i].cmd);
		is_string(cases[i].op, t.operation, "\"%s\": Operation", cases[i].cmd);
		tfcmd_free(&t);
	}
}

/* subcommand, its TF_CLI_ARGS_ variable, -lock defined, -lock=false injected */
static void test_subcommands(void)
{
	static const struct {
		const char *cmd, *sub, *var;
		int defines, inject;
	} cases[] = {
		{ "terraform apply -auto-approve", "apply", "TF_CLI_ARGS_apply", 1, 1 },
		{ "terraform apply plan.tfplan", "apply", "TF_CLI_ARGS_apply", 1, 1 },
		{ "terraform destroy", "destroy", "TF_CLI_ARGS_destroy", 1, 1 },
		{ "terraform plan -out=p", "plan", "TF_CLI_ARGS_plan", 1, 1 },
		{ "terraform refresh", "refresh", "TF_CLI_ARGS_refresh", 1, 1 },
		{ "terraform import aws_s3_bucket.b b", "import", "TF_CLI_ARGS_import", 1, 1 },
		{ "terraform init -reconfigure", "init", "TF_CLI_ARGS_init", 1, 1 },
		{ "terraform taint aws_instance.a", "taint", "TF_CLI_ARGS_taint", 1, 1 },
		{ "terraform untaint aws_instance.a", "untaint", "TF_CLI_ARGS_untaint", 1, 1 },
		{ "terraform state mv a b", "state mv", "TF_CLI_ARGS_state_mv", 1, 1 },
		{ "terraform state rm a", "state rm", "TF_CLI_ARGS_state_rm", 1, 1 },
		{ "terraform state push s.tfstate", "state push", "TF_CLI_ARGS_state_push", 1, 1 },
		{ "terraform state replace-provider a b", "state replace-provider",
		  "TF_CLI_ARGS_state_replace_provider", 1, 1 },
		{ "tofu state mv -dry-run a b", "state mv", "TF_CLI_ARGS_state_mv", 1, 1 },
		{ "terraform workspace new prod", "workspace new", "TF_CLI_ARGS_workspace_new", 1,
		  0 },
		{ "terraform workspace delete old", "workspace delete",
		  "TF_CLI_ARGS_workspace_delete", 1, 0 },
		{ "terraform env new prod", "env new", "TF_CLI_ARGS_env_new", 1, 0 },
		{ "terraform workspace select prod", "workspace select",
		  "TF_CLI_ARGS_workspace_select", 0, 0 },
		{ "terraform workspace select -or-create prod", "workspace select",
		  "TF_CLI_ARGS_workspace_select", 0, 0 },
		{ "terraform state list", "state list", "TF_CLI_ARGS_state_list", 0, 0 },
		{ "terraform state pull", "state pull", "TF_CLI_ARGS_state_pull", 0, 0 },
		{ "terraform state frobnicate", "state", "TF_CLI_ARGS_state", 0, 0 },
		{ "terraform console", "console", "TF_CLI_ARGS_console", 0, 0 },
		{ "tofu console", "console", "TF_CLI_ARGS_console", 0, 0 },
		{ "terraform graph -type=plan", "graph", "TF_CLI_ARGS_graph", 0, 0 },
		{ "terraform output", "output", "TF_CLI_ARGS_output", 0, 0 },
		{ "terraform show -json", "show", "TF_CLI_ARGS_show", 0, 0 },
		{ "terraform validate", "validate", "TF_CLI_ARGS_validate", 0, 0 },
		{ "terraform force-unlock 1234", "force-unlock", "TF_CLI_ARGS_force_unlock", 0, 0 },
		{ "terraform providers lock -platform=linux_amd64", "providers lock",
		  "TF_CLI_ARGS_providers_lock", 0, 0 },
		{ "terraform test", "test", "TF_CLI_ARGS_test", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		parse(&t, cases[i].cmd);
		is_string(cases[i].sub, t.sub, "\"%s\": subcommand", cases[i].cmd);
		is_string(cases[i].var, t.cli_args_var, "\"%s\": %s", cases[i].cmd, cases[i].var);
		ok(t.defines_lock == cases[i].defines && t.inject_lock == cases[i].inject,
		   "\"%s\": defines -lock %d, inject %d (got %d, %d)", cases[i].cmd,
		   cases[i].defines, cases[i].inject, t.defines_lock, t.inject_lock);
		tfcmd_free(&t);
	}
}

static void test_cli_args_var(void)
{
	char *v = tfcmd_cli_args_var("state replace-provider");
	is_string("TF_CLI_ARGS_state_replace_provider", v, "spaces and dashes become _");
	free(v);
	v = tfcmd_cli_args_var("apply");
	is_string("TF_CLI_ARGS_apply", v, "a plain subcommand");
	free(v);
}

static void test_chdir(void)
{
	static const struct {
		const char *cmd, *chdir, *sub;
	} cases[] = {
		{ "terraform -chdir=infra apply", "infra", "apply" },
		{ "terraform -chdir=a -chdir=b plan", "b", "plan" }, /* Terraform: the last one */
		{ "tofu -chdir=a -chdir=b plan", "a", "plan" },      /* OpenTofu: the first one */
		{ "tofu -chdir envs/prod apply", "envs/prod", "apply" },
		{ "tofu --chdir envs/prod apply", "envs/prod", "apply" },
		{ "tofu --chdir=x state mv a b", "x", "state mv" },
		{ "terraform --chdir=x plan", NULL, "plan" }, /* Terraform knows only -chdir= */
		{ "terraform apply -chdir=late", NULL, "apply" },
		{ "terraform plan", NULL, "plan" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		parse(&t, cases[i].cmd);
		is_string(cases[i].chdir, t.chdir, "\"%s\": chdir", cases[i].cmd);
		is_string(cases[i].sub, t.sub, "\"%s\": subcommand", cases[i].cmd);
		tfcmd_free(&t);
	}
}

static void test_lock_flags(void)
{
	static const struct {
		const char *cmd;
		int lock;
		const char *timeout;
	} cases[] = {
		{ "terraform apply", TFCMD_LOCK_UNSET, NULL },
		{ "terraform apply -lock=false", TFCMD_LOCK_FALSE, NULL },
		{ "terraform apply --lock=false", TFCMD_LOCK_FALSE, NULL },
		{ "terraform apply -lock", TFCMD_LOCK_TRUE, NULL },
		{ "terraform apply -lock=true", TFCMD_LOCK_TRUE, NULL },
		{ "terraform apply -lock=0", TFCMD_LOCK_FALSE, NULL },
		{ "terraform apply -lock=T", TFCMD_LOCK_TRUE, NULL },
		{ "terraform apply -lock=yes", TFCMD_LOCK_UNSET, NULL },
		{ "terraform apply -lock=false -lock=true", TFCMD_LOCK_TRUE, NULL },
		{ "terraform apply -lock=true -lock=False", TFCMD_LOCK_FALSE, NULL },
		{ "terraform apply -- -lock=false", TFCMD_LOCK_UNSET, NULL },
		{ "terraform apply -locked", TFCMD_LOCK_UNSET, NULL },
		{ "terraform apply -lock-timeout=5m", TFCMD_LOCK_UNSET, "5m" },
		{ "terraform apply -lock-timeout=5m --lock-timeout=90s", TFCMD_LOCK_UNSET, "90s" },
		{ "terraform apply -lock-timeout 2m", TFCMD_LOCK_UNSET, "2m" },
		{ "terraform apply -lock-timeout=5m --lock-timeout 10s -lock=true", TFCMD_LOCK_TRUE,
		  "10s" },
		{ "terraform -lock=false apply", TFCMD_LOCK_UNSET, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		parse(&t, cases[i].cmd);
		is_int(cases[i].lock, t.lock_flag, "\"%s\": lock flag", cases[i].cmd);
		is_string(cases[i].timeout, t.lock_timeout, "\"%s\": lock timeout", cases[i].cmd);
		tfcmd_free(&t);
	}
}

static void test_injection(void)
{
	static const struct {
		const char *cmd, *existing, *var, *value; /* var NULL: no injection */
	} cases[] = {
		{ "terraform apply", NULL, "TF_CLI_ARGS_apply", "-lock=false" },
		{ "terraform apply", "", "TF_CLI_ARGS_apply", "-lock=false" },
		{ "terraform apply", "  \t", "TF_CLI_ARGS_apply", "-lock=false" },
		{ "terraform apply", "-parallelism=5", "TF_CLI_ARGS_apply",
		  "-parallelism=5 -lock=false" },
		{ "terraform apply", "-lock=true", "TF_CLI_ARGS_apply", "-lock=true -lock=false" },
		{ "terraform apply", "-var 'msg=a b'", "TF_CLI_ARGS_apply",
		  "-var 'msg=a b' -lock=false" },
		/* values whose parse would swallow an appended flag: put it first */
		{ "terraform apply", "-var=a;b", "TF_CLI_ARGS_apply", "-lock=false -var=a;b" },
		{ "terraform apply", "-var=x\\", "TF_CLI_ARGS_apply", "-lock=false -var=x\\" },
		{ "terraform apply", "-var='open", "TF_CLI_ARGS_apply", "-lock=false -var='open" },
		{ "terraform destroy -auto-approve", NULL, "TF_CLI_ARGS_destroy", "-lock=false" },
		{ "terraform plan", "-refresh=false", "TF_CLI_ARGS_plan",
		  "-refresh=false -lock=false" },
		{ "terraform refresh", NULL, "TF_CLI_ARGS_refresh", "-lock=false" },
		{ "terraform import a b", NULL, "TF_CLI_ARGS_import", "-lock=false" },
		{ "terraform init", NULL, "TF_CLI_ARGS_init", "-lock=false" },
		{ "terraform taint a", NULL, "TF_CLI_ARGS_taint", "-lock=false" },
		{ "terraform untaint a", NULL, "TF_CLI_ARGS_untaint", "-lock=false" },
		{ "terraform state mv a b", NULL, "TF_CLI_ARGS_state_mv", "-lock=false" },
		{ "terraform state rm a", NULL, "TF_CLI_ARGS_state_rm", "-lock=false" },
		{ "terraform state push f", NULL, "TF_CLI_ARGS_state_push", "-lock=false" },
		{ "terraform state replace-provider a b", NULL,
		  "TF_CLI_ARGS_state_replace_provider", "-lock=false" },
		{ "tofu -chdir=x apply", NULL, "TF_CLI_ARGS_apply", "-lock=false" },
		/* nothing to inject */
		{ "terraform workspace select prod", NULL, NULL, NULL },
		{ "terraform workspace select -or-create prod", NULL, NULL, NULL },
		{ "terraform workspace new prod", NULL, NULL, NULL },
		{ "terraform workspace delete old", NULL, NULL, NULL },
		{ "terraform console", NULL, NULL, NULL },
		{ "tofu console", NULL, NULL, NULL },
		{ "terraform output", NULL, NULL, NULL },
		{ "terraform state list", NULL, NULL, NULL },
		{ "terraform", NULL, NULL, NULL },
		{ "terraform apply -lock=false", NULL, NULL, NULL },
		{ "terraform apply -lock=true", NULL, NULL, NULL },
		{ "./deploy.sh apply", NULL, NULL, NULL },
		{ "make apply", NULL, NULL, NULL },
		{ "terragrunt apply", NULL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		static char sentinel[] = "x";
		char *var = sentinel, *value = sentinel;
		int rc;

		parse(&t, cases[i].cmd);
		rc = tfcmd_lock_injection(&t, &var, &value, cases[i].existing);
		is_int(cases[i].var ? 1 : 0, rc, "\"%s\" (existing %s): %s", cases[i].cmd,
		       cases[i].existing ? cases[i].existing : "unset",
		       cases[i].var ? "inject" : "nothing to inject");
		is_string(cases[i].var, var, "\"%s\": variable", cases[i].cmd);
		is_string(cases[i].value, value, "\"%s\" (existing %s): value", cases[i].cmd,
		          cases[i].existing ? cases[i].existing : "unset");
		free(var);
		free(value);
		tfcmd_free(&t);
	}
}

/* For ok_returns: a freed tfcmd freed again, then NULL; still empty. */
static int tfcmd_free_again(void *arg)
{
	struct tfcmd *t = arg;
	tfcmd_free(t);
	tfcmd_free(NULL);
	return !(t->program == NULL && t->sub == NULL && t->cli_args_var == NULL &&
	         t->lock_timeout == NULL && t->lock_flag == TFCMD_LOCK_UNSET);
}

static void test_free(void)
{
	struct tfcmd t;
	parse(&t, "terraform apply -lock-timeout=1m");
	tfcmd_free(&t);
	ok(t.program == NULL && t.sub == NULL && t.cli_args_var == NULL && t.lock_timeout == NULL,
	   "tfcmd_free empties it");
	ok_returns(tfcmd_free_again, &t, "tfcmd_free twice and on NULL returns, still empty");
	tfcmd_parse(&t, NULL);
	ok(!t.is_terraform && t.sub == NULL && t.program &&
	           !strcmp(t.operation, "OperationTypeInvalid"),
	   "argv NULL: nothing");
	tfcmd_free(&t);
}

/* Commands in front of terraform, looked through with their options. */
static void test_prefixes(void)
{
	static const struct {
		const char *cmd;
		int terraform, argi, cleared, nowait;
		const char *prefix, *sub;
	} cases[] = {
		{ "timeout 30m terraform apply", 1, 2, 0, 0, "timeout", "apply" },
		{ "timeout -k 5 -s INT 30m terraform apply", 1, 6, 0, 0, "timeout", "apply" },
		{ "timeout --kill-after=5 --foreground 30m tofu plan", 1, 4, 0, 0, "timeout",
		  "plan" },
		{ "env X=1 Y=2 terraform apply", 1, 3, 0, 0, "env", "apply" },
		{ "env -u HOME -- terraform apply", 1, 4, 0, 0, "env", "apply" },
		{ "env -i terraform apply", 1, 2, 1, 0, "env", "apply" },
		{ "env - terraform apply", 1, 2, 1, 0, "env", "apply" },
		{ "nice -n 5 terraform apply", 1, 3, 0, 0, "nice", "apply" },
		{ "nice -5 terraform apply", 1, 2, 0, 0, "nice", "apply" },
		{ "nice --adjustment=5 terraform apply", 1, 2, 0, 0, "nice", "apply" },
		{ "ionice -c 2 -n 7 terraform apply", 1, 5, 0, 0, "ionice", "apply" },
		{ "ionice -c2 terraform apply", 1, 2, 0, 0, "ionice", "apply" },
		{ "stdbuf -oL -e0 terraform apply", 1, 3, 0, 0, "stdbuf", "apply" },
		{ "time -p terraform apply", 1, 2, 0, 0, "time", "apply" },
		{ "/usr/bin/time -o /tmp/t terraform apply", 1, 3, 0, 0, "time", "apply" },
		{ "setsid -w terraform apply", 1, 2, 0, 0, "setsid", "apply" },
		{ "setsid -fw terraform apply", 1, 2, 0, 0, "setsid", "apply" },
		{ "setsid terraform apply", 1, 1, 0, 1, "setsid", "apply" },
		{ "nohup terraform apply", 1, 1, 0, 0, "nohup", "apply" },
		{ "env X=1 timeout 5m nice terraform apply", 1, 5, 0, 0, "env", "apply" },
		{ "timeout 30m ./deploy.sh", 0, 2, 0, 0, "timeout", NULL },
		{ "ionice -p 42", 0, 0, 0, 0, NULL, NULL },                /* runs nothing */
		{ "timeout --bogus 5 terraform", 0, 0, 0, 0, NULL, NULL }, /* unknown option */
		{ "env", 0, 0, 0, 0, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		parse(&t, cases[i].cmd);
		ok(t.is_terraform == cases[i].terraform && t.argi == cases[i].argi &&
		           t.env_cleared == cases[i].cleared &&
		           t.setsid_nowait == cases[i].nowait &&
		           ((!t.prefix && !cases[i].prefix) ||
		            (t.prefix && cases[i].prefix && !strcmp(t.prefix, cases[i].prefix))) &&
		           ((!t.sub && !cases[i].sub) ||
		            (t.sub && cases[i].sub && !strcmp(t.sub, cases[i].sub))),
		   "prefix: %s (terraform %d, argi %d, prefix %s)", cases[i].cmd, t.is_terraform,
		   t.argi, t.prefix ? t.prefix : "-");
		tfcmd_free(&t);
	}
	{
		struct tfcmd t;
		parse(&t, "env TF_CLI_ARGS_apply=-x TF_CLI_ARGS=-y terraform apply");
		ok(t.env_sets && !strcmp(t.env_sets, "TF_CLI_ARGS_apply") && t.nenv_kv == 2,
		   "env prefix: the TF_CLI_ARGS* it sets are recorded");
		tfcmd_free(&t);
	}
}

static const char *fake_env_vals[4];
static const char *fake_get(const char *name)
{
	if (!strcmp(name, "TF_CLI_ARGS"))
		return fake_env_vals[0];
	if (!strcmp(name, "TF_CLI_ARGS_apply"))
		return fake_env_vals[1];
	return NULL;
}

/* The last -lock among TF_CLI_ARGS's words, split as Terraform's shellwords
 * splits them (quotes, backslashes; the parse stops at an unquoted ';' '|' ...). */
static void test_args_lock_flag(void)
{
	static const struct {
		const char *value;
		int want;
	} cases[] = {
		{ NULL, TFCMD_LOCK_UNSET },
		{ "", TFCMD_LOCK_UNSET },
		{ "-parallelism=2", TFCMD_LOCK_UNSET },
		{ "-lock=true", TFCMD_LOCK_TRUE },
		{ "  -lock  ", TFCMD_LOCK_TRUE },
		{ "'-lock=false'", TFCMD_LOCK_FALSE },
		{ "\"-lock\"=false", TFCMD_LOCK_FALSE },
		{ "-lock=false -lock=1", TFCMD_LOCK_TRUE },
		{ "-var 'x=-lock=false'", TFCMD_LOCK_UNSET },
		{ "-var x\\ -lock=false", TFCMD_LOCK_UNSET },   /* one word: "x -lock=false" */
		{ "-lock=false;-lock=true", TFCMD_LOCK_FALSE }, /* the parse stops at ';' */
		{ "-lock=false|x -lock=true", TFCMD_LOCK_FALSE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		int ret;
		fake_env_vals[0] = cases[i].value;
		fake_env_vals[1] = NULL;
		parse(&t, "terraform apply");
		ret = tfcmd_apply_env(&t, fake_get);
		ok(ret == 0 && t.env_lock_flag == cases[i].want, "TF_CLI_ARGS value %s: lock flag",
		   cases[i].value ? cases[i].value : "unset");
		tfcmd_free(&t);
	}
}

/* TF_CLI_ARGS and TF_CLI_ARGS_<sub> read in terraform's order. */
static void test_env(void)
{
	static const struct {
		const char *gen, *spec, *cmd;
		int ret, eff;
		const char *timeout;
	} cases[] = {
		{ NULL, NULL, "terraform apply", 0, TFCMD_LOCK_UNSET, NULL },
		{ "-lock=true", NULL, "terraform apply", 0, TFCMD_LOCK_TRUE, NULL },
		{ "-lock=false", NULL, "terraform apply", 0, TFCMD_LOCK_FALSE, NULL },
		{ NULL, "-lock=false", "terraform apply", 0, TFCMD_LOCK_FALSE, NULL },
		{ "-lock=true", "-lock=false", "terraform apply", 0, TFCMD_LOCK_TRUE, NULL },
		{ "-lock=true", NULL, "terraform apply -lock=false", 0, TFCMD_LOCK_FALSE, NULL },
		{ NULL, "-lock-timeout=3s", "terraform apply", 0, TFCMD_LOCK_UNSET, "3s" },
		{ "-lock-timeout 5s", "-lock-timeout=3s", "terraform apply", 0, TFCMD_LOCK_UNSET,
		  "5s" },
		{ "-lock-timeout=5s", NULL, "terraform apply -lock-timeout=1m", 0, TFCMD_LOCK_UNSET,
		  "1m" },
		{ "'-lock-timeout=9s'", NULL, "terraform apply", 0, TFCMD_LOCK_UNSET, "9s" },
		{ "-lock-timeout='x", NULL, "terraform apply", -1, TFCMD_LOCK_UNSET, NULL },
		{ "-lock=true", NULL, "env -i terraform apply", 0, TFCMD_LOCK_UNSET, NULL },
		{ NULL, "-lock=true", "env TF_CLI_ARGS_apply=-lock=false terraform apply", 0,
		  TFCMD_LOCK_FALSE, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfcmd t;
		int ret;
		fake_env_vals[0] = cases[i].gen;
		fake_env_vals[1] = cases[i].spec;
		parse(&t, cases[i].cmd);
		ret = tfcmd_apply_env(&t, fake_get);
		ok(ret == cases[i].ret && tfcmd_effective_lock(&t) == cases[i].eff &&
		           ((!t.lock_timeout && !cases[i].timeout) ||
		            (t.lock_timeout && cases[i].timeout &&
		             !strcmp(t.lock_timeout, cases[i].timeout))),
		   "env: TF_CLI_ARGS=%s TF_CLI_ARGS_apply=%s %s -> ret %d, lock %d, timeout %s",
		   cases[i].gen ? cases[i].gen : "-", cases[i].spec ? cases[i].spec : "-",
		   cases[i].cmd, ret, tfcmd_effective_lock(&t),
		   t.lock_timeout ? t.lock_timeout : "-");
		tfcmd_free(&t);
	}
	{
		struct tfcmd t;
		char *var = NULL, *val = NULL;
		fake_env_vals[0] = "-lock=false";
		fake_env_vals[1] = NULL;
		parse(&t, "terraform apply");
		tfcmd_apply_env(&t, fake_get);
		is_int(0, tfcmd_lock_injection(&t, &var, &val, NULL),
		       "TF_CLI_ARGS=-lock=false: nothing to inject");
		tfcmd_free(&t);
	}
	{
		struct tfcmd t;
		parse(&t, "terraform console");
		ok(t.locks_without_flag && !t.defines_lock, "console: locks without a -lock flag");
		tfcmd_free(&t);
		parse(&t, "terraform graph");
		ok(!t.locks_without_flag, "graph: does not lock (checked against 1.11.4)");
		tfcmd_free(&t);
	}
}

int main(void)
{
	plan_lazy();
	test_prefixes();
	test_env();
	test_program();
	test_subcommands();
	test_cli_args_var();
	test_chdir();
	test_lock_flags();
	test_injection();
	test_args_lock_flag();
	test_free();
	return 0;
}
