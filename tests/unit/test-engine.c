// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the object engine: name normalisation, symbol tables and
 * sympos, and diffs of tiny objects compiled at test time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/engine/engine.h"
#include "../../src/engine/internal.h"

static char tmpdir[] = "/tmp/elp-test-engine-XXXXXX";
static char errbuf[8192];

static void capture_log(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	size_t len = strlen(errbuf);

	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	if (len + 2 >= sizeof(errbuf))
		return;
	vsnprintf(errbuf + len, sizeof(errbuf) - len - 1, format, args);
	strcat(errbuf, "\n");
}

static struct elp_ctx *new_ctx(void)
{
	struct elp_ctx *ctx = elp_ctx_new();

	assert_non_null(ctx);
	errbuf[0] = '\0';
	elp_set_log_fn(ctx, capture_log, NULL);
	elp_set_log_priority(ctx, ELP_LOG_WARNING);
	return ctx;
}

static char *path(const char *name)
{
	static char buf[8][512];
	static int n;
	char *p = buf[n++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void compile(const char *name, const char *text)
{
	char src[600], cmd[2048];

	snprintf(src, sizeof(src), "%s.c", name);
	write_file(src, text);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -O2 -fno-pie -fno-pic -fno-stack-protector "
		 "-fno-asynchronous-unwind-tables -ffunction-sections "
		 "-fdata-sections -o %s/%s.o %s/%s.c",
		 tmpdir, name, tmpdir, name);
	assert_int_equal(system(cmd), 0);
}

/* ---- normalisation ---- */

static void check_norm(const char *in, const char *out)
{
	char *n = elp_normalize_name(in);

	assert_non_null(n);
	assert_string_equal(n, out);
	free(n);
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("foo", "foo");
	check_norm("foo.isra.0", "foo.isra");
	check_norm("foo.constprop.12", "foo.constprop");
	check_norm("foo.part.3", "foo.part");
	check_norm("foo.cold", "foo.cold");
	check_norm("foo.part.0.cold", "foo.part.cold");
	check_norm("foo.lto_priv.7", "foo.lto_priv");
	check_norm("counter.23", "counter");
	check_norm("__func__.4", "__func__");
	check_norm("f.constprop.0.isra.1", "f.constprop.isra");
	check_norm(".text.foo.isra.0", ".text.foo.isra");
	assert_true(elp_is_cold("foo.cold"));
	assert_true(elp_is_cold("foo.part.0.cold.1"));
	assert_false(elp_is_cold("foo.coldplug"));
	assert_false(elp_is_cold("foo"));
}

/* ---- symbol tables ---- */

static const char kallsyms[] =
	"ffffffff81000000 T _text\n"
	"ffffffff81000100 t helper\n"
	"ffffffff81000200 t other_a\n"
	"ffffffff81000300 t other_b\n"
	"ffffffff81000400 t other_c\n"
	"ffffffff81001000 t foo\n"
	"ffffffff81001100 t helper\n"
	"ffffffff81001200 T bar\n"
	"ffffffff81001300 t bar\n"
	"ffffffff81001400 t dup\n"
	"ffffffff81001500 t dup\n"
	"ffffffff81002000 T printk\n"
	"ffffffff82000000 d state\n"
	"ffffffff82000010 D counter_global\n"
	"ffffffffc0000000 t helper\t[mymod]\n"
	"ffffffffc0000100 t modfunc\t[mymod]\n"
	"ffffffffc0000200 t helper\t[mymod]\n";

static const char symvers[] =
	"0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x12345679\tmod_export\tdrivers/foo/mymod\tEXPORT_SYMBOL_GPL\t\n";

static void test_symtab(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_symtab *st = NULL;
	const char *nb[] = { "foo", "state", "bar" };
	const char *obj = NULL;
	unsigned long pos = 99;

	(void)state;
	write_file("kallsyms", kallsyms);
	write_file("Module.symvers", symvers);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(elp_symtab_load_exports(ctx, st, path("Module.symvers")),
			 0);
	assert_true(elp_symtab_has_obj(st, "vmlinux"));
	assert_true(elp_symtab_has_obj(st, "mymod"));
	assert_int_equal(elp_symtab_count(st, "vmlinux", "helper"), 2);
	assert_int_equal(elp_symtab_count(st, "mymod", "helper"), 2);
	assert_true(elp_symtab_is_exported(st, "printk", &obj));
	assert_string_equal(obj, "vmlinux");
	assert_true(elp_symtab_is_exported(st, "mod_export", &obj));
	assert_string_equal(obj, "mymod");
	assert_false(elp_symtab_is_exported(st, "helper", NULL));

	/* unique */
	assert_int_equal(elp_symtab_sympos(st, "vmlinux", "foo", false, nb, 3,
					   &pos), 0);
	assert_int_equal(pos, 0);
	/* the helper next to foo/bar, not the one next to other_* */
	assert_int_equal(elp_symtab_sympos(st, "vmlinux", "helper", false, nb,
					   3, &pos), 0);
	assert_int_equal(pos, 2);
	/* global among a global and a local of the same name */
	assert_int_equal(elp_symtab_sympos(st, "vmlinux", "bar", true, nb, 3,
					   &pos), 0);
	assert_int_equal(pos, 1);
	/* two candidates with the same neighbourhood: refused */
	assert_int_equal(elp_symtab_sympos(st, "vmlinux", "dup", false, nb, 3,
					   &pos), -ENOTSUP);
	assert_int_equal(elp_symtab_sympos(st, "vmlinux", "nothere", false, nb,
					   3, &pos), -ENOENT);
	assert_int_equal(elp_symtab_sympos(st, "mymod", "modfunc", false, nb,
					   3, &pos), 0);
	assert_int_equal(pos, 0);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
}

static void test_symtab_malformed(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_symtab *st = NULL;

	(void)state;
	write_file("bad-kallsyms", "ffffffff81000000 T ok\nnot a line\n");
	assert_int_equal(elp_symtab_load(ctx, path("bad-kallsyms"), &st),
			 -EINVAL);
	assert_non_null(strstr(errbuf, ":2: malformed"));
	assert_int_equal(elp_symtab_load(ctx, path("missing"), &st), -ENOENT);
	elp_ctx_free(ctx);
}

static void test_symtab_module(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_symtab *st = NULL;

	(void)state;
	compile("mod", "static int __attribute__((noinline)) mhelp(int x)"
		       "{ return x * 3; }\n"
		       "int mexp(int x) { return mhelp(x) + 1; }\n");
	write_file("kallsyms", kallsyms);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(elp_symtab_add_module(ctx, st, "newmod",
					       path("mod.o")), 0);
	assert_int_equal(elp_symtab_count(st, "newmod", "mexp"), 1);
	assert_int_equal(elp_symtab_count(st, "newmod", "mhelp"), 1);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
}

/* ---- diffs of tiny objects ---- */

#define SETTER "void set_state(int v) { state = v; }\n"

#define PRE "extern int printk(const char *fmt, ...);\n" \
	    "extern void __might_sleep(const char *file, int line);\n"

#define BASE_DATA "int counter_global = 1;\n" \
		  "static int state = 3;\n" SETTER

#define HELPER "static int __attribute__((noinline, noclone)) helper(int x)\n" \
	       "{ return x * state + counter_global; }\n"

#define BAR "int bar(int x)\n{\n\t__might_sleep(\"f.c\", __LINE__);\n" \
	    "\treturn x + 2;\n}\n"

static const char orig_src[] =
	PRE BASE_DATA HELPER
	"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n"
	BAR;

static const char unit_kallsyms[] =
	"ffffffff81000000 t helper\n"
	"ffffffff81000100 t unrelated\n"
	"ffffffff81000200 t unrelated2\n"
	"ffffffff81000300 t unrelated3\n"
	"ffffffff81000f00 T set_state\n"
	"ffffffff81001000 t helper\n"
	"ffffffff81001100 T foo\n"
	"ffffffff81001200 T bar\n"
	"ffffffff81002000 T printk\n"
	"ffffffff81002100 T __might_sleep\n"
	"ffffffff82000000 d state\n"
	"ffffffff82000010 D counter_global\n";

static const char unit_symvers[] =
	"0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x2\t__might_sleep\tvmlinux\tEXPORT_SYMBOL\t\n";

static const char *cur_kallsyms = unit_kallsyms;

struct diff_out {
	int ret;
	struct elp_diff_result *res;
};

static struct diff_out run_diff(const char *patched_src, const char *out)
{
	struct elp_ctx *ctx;
	struct elp_symtab *st = NULL;
	char orig[512], patched[512], output[512];
	struct elp_diff_request req = {
		.orig_obj = orig,
		.patched_obj = patched,
		.output_obj = output,
		.source_file = "lib/f.c",
		.target = "vmlinux",
		.unit_index = 3,
	};
	struct diff_out d = { 0, NULL };

	compile("orig", orig_src);
	compile("patched", patched_src);
	write_file("unit-kallsyms", cur_kallsyms);
	write_file("unit-symvers", unit_symvers);
	snprintf(orig, sizeof(orig), "%s", path("orig.o"));
	snprintf(patched, sizeof(patched), "%s", path("patched.o"));
	snprintf(output, sizeof(output), "%s", path(out));
	ctx = new_ctx();
	assert_int_equal(elp_symtab_load(ctx, path("unit-kallsyms"), &st), 0);
	assert_int_equal(elp_symtab_load_exports(ctx, st, path("unit-symvers")),
			 0);
	req.symtab = st;
	unlink(req.output_obj);
	d.ret = elp_diff_objects(ctx, &req, &d.res);
	if (getenv("ELP_TEST_VERBOSE"))
		fprintf(stderr, "%s", errbuf);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
	return d;
}

static struct elp_obj *read_out(struct elp_ctx *ctx, const char *name)
{
	struct elp_obj *obj = NULL;

	assert_int_equal(elp_obj_read(ctx, path(name), &obj), 0);
	return obj;
}

static bool has_undef(struct elp_obj *obj, const char *name,
		      unsigned char bind)
{
	struct elp_sym *s = elp_find_sym(obj, name);

	return s && !s->sec && s->s.st_shndx == SHN_UNDEF && s->bind == bind;
}

static void test_diff_string(void **state)
{
	struct diff_out d = run_diff(
		PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo v2 %d\\n\", x); return helper(x); }\n"
		BAR, "string.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;
	struct elp_sym *alias;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_int_equal(d.res->nr_new_funcs, 0);
	assert_string_equal(d.res->funcs[0].old_name, "foo");
	assert_int_equal(d.res->funcs[0].sympos, 0);
	assert_string_equal(d.res->funcs[0].new_symbol, "__elp_new_3_foo");
	obj = read_out(ctx, "string.o");
	alias = elp_find_sym(obj, "__elp_new_3_foo");
	assert_non_null(alias);
	assert_int_equal(alias->bind, STB_GLOBAL);
	assert_int_equal(alias->type, STT_FUNC);
	/* the new string is in the output */
	assert_non_null(elp_find_sec(obj, ".text.foo"));
	assert_null(elp_find_sec(obj, ".text.bar"));
	assert_null(elp_find_sec(obj, ".text.helper"));
	/* exported: plain; static helper: klp marker with its sympos */
	assert_true(has_undef(obj, "printk", STB_GLOBAL));
	assert_true(has_undef(obj, "__elp_klp.vmlinux.2.helper", STB_WEAK));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

static void test_diff_static_call(void **state)
{
	struct diff_out d = run_diff(
		PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x) + state + counter_global; }\n"
		BAR, "static.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	obj = read_out(ctx, "static.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.2.helper", STB_WEAK));
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.state", STB_WEAK));
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.counter_global",
			      STB_WEAK));
	assert_null(elp_find_sec(obj, ".data.state"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);

	/* finalize on the diff output: same transformation as on a .ko */
	ctx = (elp_ctx_free(ctx), new_ctx());
	assert_int_equal(elp_klp_finalize(ctx, path("static.o")), 0);
	obj = read_out(ctx, "static.o");
	{
		struct elp_sym *s = elp_find_sym(obj, ".klp.sym.vmlinux.helper,2");
		struct elp_sec *rs = elp_find_sec(obj,
						  ".klp.rela.vmlinux..text.foo");
		struct elp_sec *plain = elp_find_sec(obj, ".rela.text.foo");
		size_t i;

		assert_non_null(s);
		assert_int_equal(s->s.st_shndx, SHN_LIVEPATCH);
		assert_non_null(elp_find_sym(obj, ".klp.sym.vmlinux.state,0"));
		assert_non_null(rs);
		assert_true(rs->sh.sh_flags & SHF_RELA_LIVEPATCH);
		assert_true(rs->sh.sh_flags & SHF_ALLOC);
		assert_int_equal(rs->base, elp_find_sec(obj, ".text.foo"));
		assert_int_equal(rs->nr_relas, 3);
		assert_non_null(plain);
		for (i = 0; i < plain->nr_relas; i++)
			assert_null(strstr(plain->relas[i].sym->name, "klp"));
	}
	elp_obj_free(obj);
	elp_ctx_free(ctx);
}

static void test_diff_new_helper(void **state)
{
	struct diff_out d = run_diff(
		PRE BASE_DATA HELPER
		"static int __attribute__((noinline, noclone)) newhelp(int x)\n"
		"{ printk(\"new %d\\n\", x); return x + 1; }\n"
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(newhelp(x)); }\n"
		BAR, "new.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_int_equal(d.res->nr_new_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "foo");
	obj = read_out(ctx, "new.o");
	assert_non_null(elp_find_sec(obj, ".text.newhelp"));
	assert_non_null(elp_find_sym(obj, "newhelp"));
	assert_null(elp_find_sym(obj, "__elp_new_3_newhelp"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

static void test_diff_noop(void **state)
{
	/* comments shift __LINE__ in bar(): a line-only change */
	struct diff_out d = run_diff(
		"/*\n * a comment\n * that moves\n * lines\n */\n"
		PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n"
		BAR, "noop.o");

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 0);
	assert_int_equal(d.res->nr_new_funcs, 0);
	assert_int_not_equal(access(path("noop.o"), F_OK), 0);
	elp_diff_result_free(d.res);
}

static void test_diff_data_size(void **state)
{
	struct diff_out d = run_diff(
		PRE "int counter_global = 1;\nstatic long state = 3;\n" SETTER HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n"
		BAR, "size.o");

	(void)state;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf, "lib/f.c: state: size of existing data changed from 4 to 8 bytes;"));
	assert_int_not_equal(access(path("size.o"), F_OK), 0);
}

static void test_diff_data_init(void **state)
{
	struct diff_out d = run_diff(
		PRE "int counter_global = 2;\nstatic int state = 3;\n" SETTER HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n"
		BAR, "init.o");

	(void)state;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/f.c: counter_global: initial value"));
}

static void test_diff_bar_and_missing(void **state)
{
	static const char patched[] =
		PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n"
		"int bar(int x)\n{\n\t__might_sleep(\"f.c\", __LINE__);\n"
		"\treturn x + 3;\n}\n";
	struct diff_out d;

	(void)state;
	d = run_diff(patched, "bar.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "bar");
	elp_diff_result_free(d.res);

	/* the same change against a kernel that has no bar() */
	cur_kallsyms = "ffffffff81000000 t helper\n"
		       "ffffffff81001100 T foo\n"
		       "ffffffff82000000 d state\n";
	d = run_diff(patched, "bar.o");
	cur_kallsyms = unit_kallsyms;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/f.c: bar: changed function does not exist"));
}

static void test_obj_roundtrip(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj, *again;

	(void)state;
	compile("orig", orig_src);
	assert_int_equal(elp_obj_read(ctx, path("orig.o"), &obj), 0);
	assert_int_equal(elp_obj_write(obj, path("rt.o"), true), 0);
	assert_int_equal(elp_obj_read(ctx, path("rt.o"), &again), 0);
	assert_non_null(elp_find_sym(again, "foo"));
	assert_non_null(elp_find_sec(again, ".rela.text.foo"));
	assert_int_equal(elp_find_sec(again, ".rela.text.foo")->nr_relas,
			 elp_find_sec(obj, ".rela.text.foo")->nr_relas);
	elp_obj_free(again);
	elp_obj_free(obj);
	/* libelf errors are reported once, with the file name */
	write_file("garbage.o", "not an ELF file at all");
	assert_int_equal(elp_obj_read(ctx, path("garbage.o"), &obj), -ENOEXEC);
	elp_ctx_free(ctx);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_symtab),
		cmocka_unit_test(test_symtab_malformed),
		cmocka_unit_test(test_symtab_module),
		cmocka_unit_test(test_obj_roundtrip),
		cmocka_unit_test(test_diff_string),
		cmocka_unit_test(test_diff_static_call),
		cmocka_unit_test(test_diff_new_helper),
		cmocka_unit_test(test_diff_noop),
		cmocka_unit_test(test_diff_data_size),
		cmocka_unit_test(test_diff_data_init),
		cmocka_unit_test(test_diff_bar_and_missing),
	};

	return cmocka_run_group_tests_name("engine", tests, setup, teardown);
}
