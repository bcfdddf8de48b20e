/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The jobs table: work that Portage hooks, installkernel and timers queue
 * (quickly, never building) and that one runner at a time carries out with
 * the kernel, patch and build libraries.
 *
 * Kinds and their arguments (a JSON object in jobs.arguments):
 *   kernel   {"source": DIR} or {"release": R[, "image": FILE]}: catalogue
 *            the kernel, then queue a build of every livepatch patch for it
 *   overlay  {"overlay": NAME, "location": DIR}: catalogue the fixes of
 *            the overlay DIR (elivepatch-overlay(5), read in place), then
 *            queue builds of the new and changed patches for every
 *            livepatch-capable kernel each fix is for
 *   build    {"kernel": SPEC, "patch": SPEC}: one elp_build()
 * The runner records its pid and host (runner_pid, runner_host) while a
 * job runs, so that a job whose runner died is found and queued again, and
 * the identity of a build job's inputs (inputs_key: kernel, patch, engine).
 * A job ends done, failed or refused (error: the reason); a build job
 * whose inputs were refused before is refused again without building,
 * until the kernel, the patch or the engine changes.
 */
#ifndef ELP_JOBS_H
#define ELP_JOBS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"

struct elp_job_request {
	const char *kind; /* "kernel", "overlay" or "build" */
	const char *origin; /* who queued it, free text */
	const char *source;
	const char *release;
	const char *image;
	const char *overlay;
	const char *location;
	const char *kernel;
	const char *patch;
};

struct elp_job {
	int64_t id;
	char *kind;
	char *state; /* queued, running, done, failed, refused */
	char *origin;
	char *arguments; /* JSON text as stored */
	char *error;
	/* from arguments; NULL when absent */
	char *source, *release, *image, *overlay, *location, *kernel, *patch;
	int64_t runner_pid; /* 0 and NULL unless running */
	char *runner_host;
	char *inputs_key; /* build jobs once run; else NULL */
	int64_t created_at, started_at, finished_at;
};

/* "kernel source /usr/src/linux-6.6.30-gentoo": the job in a few words. */
char *elp_job_subject(const struct elp_job *job);

/*
 * Queue a job (arguments checked for its kind, -EINVAL logged).  An
 * identical job still queued is not queued twice: returns 1 and its id.
 */
int elp_job_add(struct elp_catalogue *cat, const struct elp_job_request *req,
		int64_t *id);

/* Each well-formed job, oldest first; a corrupt row is skipped with a
 * warning naming it.  Returns the number of rows skipped, or -errno. */
typedef int (*elp_job_cb)(const struct elp_job *job, void *data);
int elp_job_foreach(struct elp_catalogue *cat, elp_job_cb cb, void *data);

/*
 * Delete finished jobs (done, failed) or, all, every job not running.
 * Refused jobs are kept unless all: they are what keeps the same inputs
 * from being built again.
 */
int elp_job_clear(struct elp_catalogue *cat, bool all, int *removed);

/*
 * A queued job that is not to run: it ends failed, error saying why.
 * -ENOENT (not logged) when it is no longer queued.  For the caller's
 * transaction, e.g. elp_overlay_remove()'s.
 */
int elp_job_cancel(struct elp_catalogue *cat, int64_t id, const char *error);

void elp_job_free(struct elp_job *job);

/*
 * The runner's lock, a file beside the catalogue.  -EAGAIN (not logged)
 * when another runner holds it and wait is false; -EINTR (not logged) when
 * a signal ended the wait.
 */
int elp_jobs_lock(struct elp_catalogue *cat, bool wait, int *fd);
void elp_jobs_unlock(int fd);

/* Queue again the running jobs of this host whose runner process died;
 * returns how many.  Call with the lock held. */
int elp_jobs_recover(struct elp_catalogue *cat);

struct elp_job_run_options {
	unsigned int jobs; /* make -j for builds; 0: CPUs */
	bool sandbox; /* builds in a sandbox (elp_build_options.sandbox) */
	/* set asynchronously (signal handler) to stop: the job is queued
	 * again and -EINTR returned */
	volatile sig_atomic_t *cancel;
	/*
	 * Apply (elp_apply) what a build job built when it is for the running
	 * kernel; builds for other kernels are only built.  A build that
	 * cannot be applied fails its job, saying why.
	 */
	bool auto_apply;
	long apply_wait_ms; /* the transition's limit; 0: 60 s */
};

/*
 * Run the oldest queued job.  Returns 0 with *ran set to the finished job
 * (state done, failed or refused, error), 0 with *ran NULL when none is
 * queued, or
 * -errno when the catalogue failed.  Call with the lock held.
 */
int elp_job_run_next(struct elp_catalogue *cat,
		     const struct elp_job_run_options *opts,
		     struct elp_job **ran);

#endif
