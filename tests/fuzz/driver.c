// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A main() for the fuzz targets where libFuzzer is not used (the sanitizer
 * build): runs each file given (or each file of each directory given) and,
 * with -m N, N deterministic mutations of each (bit flips, byte changes,
 * insertions, deletions, truncations, repeated lines, seeded by the file's
 * position so that every run tries the same inputs).  A crash is the
 * sanitizer's abort; the last line says how many inputs ran.  With
 * FUZZ_LAST=FILE each input is written there before it runs: after a
 * crash, FILE is the input to keep in tests/fuzz/crashes/TARGET/.
 *   fuzz-TARGET [-m N] [-v] FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned long long executions;
static const char *last;
static unsigned int mutations;
static int verbose;

static uint64_t next(uint64_t *s)
{
	/* xorshift64 */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const tokens[] = {
	"\n",
	"diff --git a/",
	"--- a/",
	"+++ b/",
	"@@ -1,3 +1,4 @@",
	"\\ No newline at end of file\n",
	"GIT binary patch\n",
	"rename from ",
	"similarity index 100%\n",
	"=",
	"[section]\n",
	"#",
	"CONFIG_LIVEPATCH=y\n",
	"\"",
	"../",
	"/",
	" T ",
	" t ",
	"ffffffff81000000",
	"\x7f"
	"ELF",
	"\0",
	"\xff\xff\xff\xff",
};

/* One mutation of in (len) into a new buffer. */
static uint8_t *mutate(const uint8_t *in, size_t len, uint64_t *seed,
		       size_t *out_len)
{
	size_t cap = len * 2 + 64, n = len, pos, k;
	uint8_t *b = malloc(cap);
	const char *tok;

	if (!b)
		abort();
	memcpy(b, in, len);
	for (k = 0, pos = 1 + next(seed) % 4; k < pos; k++) {
		size_t at = n ? next(seed) % n : 0, tl, span;

		switch (next(seed) % 7) {
		case 0: /* flip a bit */
			if (n)
				b[at] ^= (uint8_t)(1u << (next(seed) % 8));
			break;
		case 1: /* an interesting byte */
			if (n)
				b[at] = (uint8_t) "\0\n\t -+@\\/\x7f\x80\xff"
					[next(seed) % 13];
			break;
		case 2: /* a token */
			tok = tokens[next(seed) %
				     (sizeof(tokens) / sizeof(tokens[0]))];
			tl = strlen(tok) ? strlen(tok) : 1;
			if (n + tl > cap)
				break;
			memmove(b + at + tl, b + at, n - at);
			memcpy(b + at, tok, tl);
			n += tl;
			break;
		case 3: /* delete a span */
			span = n - at ? next(seed) % (n - at) % 64 + 1 : 0;
			memmove(b + at, b + at + span, n - at - span);
			n -= span;
			break;
		case 4: /* truncate */
			n = at;
			break;
		case 5: /* repeat a span */
			span = n - at ? next(seed) % (n - at) % 128 + 1 : 0;
			if (n + span > cap)
				break;
			memmove(b + at + span, b + at, n - at);
			n += span;
			break;
		default: /* a big number */
			tl = (size_t)snprintf(NULL, 0, "%llu",
					      (unsigned long long)next(seed));
			if (n + tl + 1 > cap)
				break;
			memmove(b + at + tl, b + at, n - at);
			{
				char num[32];

				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)next(seed));
				memcpy(b + at, num, tl);
			}
			n += tl;
			break;
		}
	}
	*out_len = n;
	return b;
}

static void run(const uint8_t *data, size_t len)
{
	FILE *f = last ? fopen(last, "wb") : NULL;

	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
	LLVMFuzzerTestOneInput(data, len);
	executions++;
}

static int run_file(const char *path, unsigned int index)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)index + 1) * 7919;
	unsigned int i;

	if (!f) {
		fprintf(stderr, "cannot open '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		n = fread(data + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	if (verbose)
		fprintf(stderr, "%s\n", path);
	run(data, len);
	for (i = 0; i < mutations; i++) {
		size_t ml;
		uint8_t *m = mutate(data, len, &seed, &ml);

		run(m, ml);
		free(m);
	}
	free(data);
	return 0;
}

static int run_path(const char *path, unsigned int *index)
{
	struct dirent **names;
	struct stat st;
	int n, i, err = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "cannot open '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, (*index)++);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "cannot read '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		char *sub;

		if (names[i]->d_name[0] != '.' &&
		    asprintf(&sub, "%s/%s", path, names[i]->d_name) >= 0) {
			err |= run_path(sub, index);
			free(sub);
		}
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	unsigned int index = 0;
	int i, err = 0;

	last = getenv("FUZZ_LAST");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			mutations = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else {
			fprintf(stderr, "usage: %s [-m N] [-v] FILE|DIR...\n",
				argv[0]);
			return 129;
		}
	}
	for (; i < argc; i++)
		err |= run_path(argv[i], &index);
	printf("%u inputs, %llu executions\n", index, executions);
	return err;
}
