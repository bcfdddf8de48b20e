/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the jobs table (jobs.c) and the runner (jobs-run.c), which calls it. */
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
 * The runner's steps on the table (jobs.c), for elp_job_run_next() (jobs-run.c).
 * Claim the oldest queued job: state running, our pid and host recorded;
 * *out NULL when none is queued, *corrupt set when its row is unreadable.
 */
int elp_job_claim_next(struct elp_catalogue *cat, struct elp_job **out,
		       const char **corrupt);
/*
 * The first build job refused with these inputs (inputs_key): 1 with its
 * *id and *error (the reason), 0 when none was.
 */
int elp_job_find_refusal(struct elp_catalogue *cat, const char *key,
			 int64_t *id, char **error);
/* Record how the job ended: state, error (or NULL) and inputs key. */
int elp_job_finish(struct elp_catalogue *cat, struct elp_job *job,
		   const char *state, const char *error, const char *key);
/* A running job back to queued (it was cancelled, or its runner died). */
int elp_job_requeue(struct elp_catalogue *cat, int64_t id);

#endif
