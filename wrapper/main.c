/*
 * tflock — serialise Terraform runs on Terraform's own S3 lock object.
 * main.c: parse the command line, build the configuration, run, map exit codes.
 */
#include "version.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void usage(FILE *out)
{
	fputs("usage: tflock [OPTIONS] [--] COMMAND [ARGS...]\n"
	      "\n"
	      "Run COMMAND while holding Terraform's S3 state lock (<key>.tflock).\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       show this help and exit\n"
	      "  -V, --version    show the version and exit\n"
	      "\n"
	      "Exit codes: 64 usage error, 70 internal error.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tflock %s\n", TFLOCK_VERSION);
			return 0;
		default:
			fputs("tflock: try 'tflock --help'\n", stderr);
			return 64;
		}
	}
	die(64, "no command given: try 'tflock --help'");
}
