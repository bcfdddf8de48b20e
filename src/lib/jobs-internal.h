/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the jobs table (jobs.c) and what each kind of job does (jobs-run.c). */
#ifndef ELP_JOBS_INTERNAL_H
#define ELP_JOBS_INTERNAL_H

#include "jobs.h"

/*
 * What a job reports: the library's first error message while the job
 * runs is kept (the CLI's own log callback still sees every message).
 */
struct elp_job_run {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_job_run_options *opts;
	struct elp_job *job;
	char *error; /* the reason the job failed */
	char *key; /* build jobs: identity of the inputs */
	bool refused; /* the job ends refused (error: why), not failed */
	elp_log_fn outer_fn;
	void *outer_data;
};

/*
 * Carry out a claimed job of that kind.  0 when it is done; else -errno,
 * with r->error saying why (-EINTR: cancelled, the job is queued again).
 * Jobs they queue (builds) run after them, in the same `queue run`.
 */
int elp_job_run_kernel(struct elp_job_run *r);
int elp_job_run_overlay(struct elp_job_run *r);
int elp_job_run_build(struct elp_job_run *r);

#endif
