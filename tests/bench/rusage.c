/*
 * rusage — run a command and append "<wall ms> <peak RSS KiB>" to OUT: wall
 * time from fork to reaping (CLOCK_MONOTONIC) and the ru_maxrss wait4() reports
 * for the child (the largest resident set of the child or of any descendant it
 * waited for). Compiled by p3-overhead.sh.
 *
 *   rusage OUT COMMAND [ARGS...]
 *
 * Exit status: the command's (128+N when killed by signal N), 127 when it
 * cannot be run.
 */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: rusage OUT COMMAND [ARGS...]\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	if (!out) {
		perror("rusage: OUT");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 127;
	}
	if (pid == 0) {
		fclose(out);
		execvp(argv[2], argv + 2);
		perror("rusage: exec");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("rusage: wait4");
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(out, "%.3f %ld\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		ru.ru_maxrss);
	if (fclose(out) != 0) {
		perror("rusage: OUT");
		return 2;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
