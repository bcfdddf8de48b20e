/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzz targets share.  Each target defines LLVMFuzzerTestOneInput
 * and is linked either with libFuzzer (clang -fsanitize=fuzzer: `make
 * fuzz`) or with driver.c (the sanitizer build: the corpus, the crashes
 * kept as regression tests and deterministic mutations of both, in
 * tests/cli/t-fuzz.sh).
 */
#ifndef ELP_FUZZ_H
#define ELP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "lib/elp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A context that logs nothing (the parsers' messages are not the point). */
struct elp_ctx *fuzz_ctx(void);

/*
 * The input as a file the readers can open by path (a memfd): writes its
 * path ("/proc/self/fd/N") into path and returns the fd to close, or -1.
 */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len);

/* The input with a NUL after it, for the text parsers; free() it. */
char *fuzz_text(const uint8_t *data, size_t size);

#endif
