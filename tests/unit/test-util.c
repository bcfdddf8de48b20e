// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: elp_process_alive(), the pid-reuse-safe rule for builds and jobs. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"

static void test_self(void **state)
{
	int64_t now = (int64_t)time(NULL);

	(void)state;
	assert_true(elp_process_alive(getpid(), 0));
	assert_true(elp_process_alive(getpid(), now));
	/* a record written an hour before this process started: not ours */
	assert_false(elp_process_alive(getpid(), now - 3600));
}

static void test_no_process(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	assert_false(elp_process_alive(0, 0));
	assert_false(elp_process_alive(-1, 0));
	assert_false(elp_process_alive((int64_t)INT32_MAX + 1, 0));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(elp_process_alive(pid, 0));
}

/* A child that waits on a pipe: a fork of this program, or sleep(1). */
static pid_t spawn(bool other_program, int *fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(p[1]);
		if (other_program) {
			dup2(p[0], 0);
			execlp("sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	*fd = p[1];
	return pid;
}

static void reap(pid_t pid, int fd)
{
	int status;

	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void test_same_program(void **state)
{
	int64_t now = (int64_t)time(NULL);
	int fd;
	pid_t pid = spawn(false, &fd);

	(void)state;
	assert_true(elp_process_alive(pid, 0));
	assert_true(elp_process_alive(pid, now + 1));
	/* it started after the record: a recycled pid */
	assert_false(elp_process_alive(pid, now - 600));
	reap(pid, fd);
	assert_false(elp_process_alive(pid, 0));
}

static void test_other_program(void **state)
{
	char path[64], *comm = NULL;
	int fd, tries;
	pid_t pid = spawn(true, &fd);

	(void)state;
	/* wait for the exec */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	for (tries = 0; tries < 500; tries++) {
		free(comm);
		comm = NULL;
		if (elp_read_file(NULL, path, &comm, NULL) == 0 &&
		    strcmp(elp_rstrip(comm), "sleep") == 0)
			break;
		usleep(10000);
	}
	assert_non_null(comm);
	assert_string_equal(comm, "sleep");
	free(comm);
	/* the pid exists, but runs another program: not the recorded one */
	assert_false(elp_process_alive(pid, 0));
	reap(pid, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_no_process),
		cmocka_unit_test(test_same_program),
		cmocka_unit_test(test_other_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
