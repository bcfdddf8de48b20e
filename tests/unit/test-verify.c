// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The verify verdict from a guest's console log: every patched function
 * redirected while patched and none after, the check script's status and
 * output, and a duration only when the guest measured one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/qemu.h"

#define HEAD                                            \
	"ELP-VERIFY-BEGIN 6.1.0\nELP-VERIFY-INSMOD 0\n" \
	"ELP-VERIFY-FUNC cmdline_proc_show,1\nELP-VERIFY-FUNC show_x,2\n"
#define ON_OK                                                             \
	"ELP-VERIFY-REDIRECT-ON vmlinux cmdline_proc_show,1 redirected\n" \
	"ELP-VERIFY-REDIRECT-ON can show_x,2 redirected\n"
#define OFF_OK                                                         \
	"ELP-VERIFY-REDIRECT-OFF vmlinux cmdline_proc_show,1 direct\n" \
	"ELP-VERIFY-REDIRECT-OFF can show_x,2 direct\n"
#define TAIL "ELP-VERIFY-RMMOD 0\nELP-VERIFY-END\n"
#define UNPATCH "ELP-VERIFY-DISABLE 0\nELP-VERIFY-UNPATCH done\n"

static void judge(const char *text, struct elp_verify_result *r)
{
	char *log = strdup(text);

	assert_non_null(log);
	assert_int_equal(elp_verify_judge(log, 0, 5, r), 0);
	free(log);
}

static void test_passes_with_every_function_redirected(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD "ELP-VERIFY-TRANSITION done 120\n" ON_OK UNPATCH OFF_OK TAIL,
	      &r);
	assert_null(r.reason);
	assert_true(r.passed);
	assert_int_equal(r.nr_funcs, 2);
	assert_int_equal(r.nr_redirected, 2);
	assert_int_equal(r.transition_ms, 120);
	assert_int_equal(r.check_status, -1);
	assert_null(r.check_output);
	elp_verify_result_clear(&r);
}

static void test_function_not_redirected(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD
	      "ELP-VERIFY-TRANSITION done 120\n"
	      "ELP-VERIFY-REDIRECT-ON vmlinux cmdline_proc_show,1 redirected\n"
	      "ELP-VERIFY-REDIRECT-ON can show_x,2 direct\n" UNPATCH OFF_OK TAIL,
	      &r);
	assert_false(r.passed);
	assert_string_equal(
		r.reason,
		"function show_x,2 of can is not redirected after the transition (ftrace does not list it)");
	elp_verify_result_clear(&r);
}

static void test_function_still_redirected(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD
	      "ELP-VERIFY-TRANSITION done 120\n" ON_OK UNPATCH
	      "ELP-VERIFY-REDIRECT-OFF vmlinux cmdline_proc_show,1 redirected\n"
	      "ELP-VERIFY-REDIRECT-OFF can show_x,2 direct\n" TAIL,
	      &r);
	assert_false(r.passed);
	assert_string_equal(
		r.reason,
		"function cmdline_proc_show,1 of vmlinux is still redirected after the livepatch was disabled");
	elp_verify_result_clear(&r);
}

/* a module object not loaded in the guest cannot be redirected yet */
static void test_unloaded_object(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD
	      "ELP-VERIFY-TRANSITION done 120\n"
	      "ELP-VERIFY-REDIRECT-ON vmlinux cmdline_proc_show,1 redirected\n"
	      "ELP-VERIFY-REDIRECT-ON can show_x,2 unloaded\n" UNPATCH
	      "ELP-VERIFY-REDIRECT-OFF vmlinux cmdline_proc_show,1 direct\n"
	      "ELP-VERIFY-REDIRECT-OFF can show_x,2 unloaded\n" TAIL,
	      &r);
	assert_null(r.reason);
	assert_int_equal(r.nr_redirected, 1);
	elp_verify_result_clear(&r);
}

/* what the guest did not check is not a pass */
static void test_unchecked(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD "ELP-VERIFY-TRANSITION done 120\n" UNPATCH TAIL, &r);
	assert_string_equal(
		r.reason,
		"the guest checked 0 and 0 of 2 functions for redirection (patched, disabled)");
	elp_verify_result_clear(&r);

	judge(HEAD
	      "ELP-VERIFY-TRANSITION done 120\nELP-VERIFY-REDIRECT-UNKNOWN\n" UNPATCH
	      "ELP-VERIFY-REDIRECT-UNKNOWN\n" TAIL,
	      &r);
	assert_string_equal(
		r.reason,
		"cannot tell whether the patched functions are redirected: the guest has no ftrace enabled_functions");
	elp_verify_result_clear(&r);

	judge("ELP-VERIFY-BEGIN 6.1.0\nELP-VERIFY-INSMOD 0\n"
	      "ELP-VERIFY-TRANSITION done 120\n" UNPATCH TAIL,
	      &r);
	assert_string_equal(r.reason,
			    "the livepatch registered no function in sysfs");
	elp_verify_result_clear(&r);
}

static void test_check_script(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD "ELP-VERIFY-TRANSITION done 120\n" ON_OK
		   "ELP-VERIFY-CHECK-OUT cmdline: patched\n"
		   "ELP-VERIFY-CHECK-OUT second line\n"
		   "ELP-VERIFY-CHECK 0\n" UNPATCH OFF_OK TAIL,
	      &r);
	assert_true(r.passed);
	assert_int_equal(r.check_status, 0);
	assert_string_equal(r.check_output, "cmdline: patched\nsecond line\n");
	elp_verify_result_clear(&r);

	judge(HEAD "ELP-VERIFY-TRANSITION done 120\n" ON_OK
		   "ELP-VERIFY-CHECK-OUT expected the new message\n"
		   "ELP-VERIFY-CHECK 1\n" UNPATCH OFF_OK TAIL,
	      &r);
	assert_false(r.passed);
	assert_string_equal(r.reason, "the check script failed (status 1)");
	assert_int_equal(r.check_status, 1);
	assert_string_equal(r.check_output, "expected the new message\n");
	elp_verify_result_clear(&r);
}

/* a negative or missing duration is not reported: -1, never a made-up one */
static void test_transition_time(void **state)
{
	struct elp_verify_result r;

	(void)state;
	judge(HEAD
	      "ELP-VERIFY-TRANSITION done -3110\n" ON_OK UNPATCH OFF_OK TAIL,
	      &r);
	assert_true(r.passed);
	assert_int_equal(r.transition_ms, -1);
	elp_verify_result_clear(&r);

	judge(HEAD "ELP-VERIFY-TRANSITION done\n" ON_OK UNPATCH OFF_OK TAIL,
	      &r);
	assert_true(r.passed);
	assert_int_equal(r.transition_ms, -1);
	elp_verify_result_clear(&r);

	judge(HEAD "ELP-VERIFY-TRANSITION done 0\n" ON_OK UNPATCH OFF_OK TAIL,
	      &r);
	assert_int_equal(r.transition_ms, 0);
	elp_verify_result_clear(&r);
}

/* the kernel's own alarms fail the build, whatever the markers say */
static void test_kernel_alarms(void **state)
{
	static const char *const alarms[] = {
		"[ 30.1] rcu: INFO: rcu_sched self-detected stall on CPU",
		"[ 30.1] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
		"[ 150.0] INFO: task sh:70 blocked for more than 120 seconds.",
		"[ 2.0] livepatch: failed to enable patch 'p'",
		"[ 2.0] Call Trace:",
	};
	struct elp_verify_result r;
	char text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(alarms) / sizeof(alarms[0]); i++) {
		snprintf(text, sizeof(text),
			 HEAD
			 "ELP-VERIFY-TRANSITION done 120\n%s\n" ON_OK UNPATCH
				 OFF_OK TAIL,
			 alarms[i]);
		judge(text, &r);
		assert_false(r.passed);
		assert_non_null(strstr(r.reason, alarms[i]));
		elp_verify_result_clear(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passes_with_every_function_redirected),
		cmocka_unit_test(test_function_not_redirected),
		cmocka_unit_test(test_function_still_redirected),
		cmocka_unit_test(test_unloaded_object),
		cmocka_unit_test(test_unchecked),
		cmocka_unit_test(test_check_script),
		cmocka_unit_test(test_transition_time),
		cmocka_unit_test(test_kernel_alarms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
