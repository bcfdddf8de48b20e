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
		 "-pg -mfentry -mrecord-mcount "
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

static const char kallsyms[] = "ffffffff81000000 T _text\n"
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
	/* the unit: foo, helper, bar and dup in .text, state in .data */
	char text[] = ".text", data[] = ".data";
	const struct elp_unit_sym nb[] = {
		{ "foo", text, true, false, true, false },
		{ "helper", text, true, false, true, false },
		{ "bar", text, true, false, true, false },
		{ "dup", text, true, false, true, false },
		{ "state", data, true, false, false, false },
	};
	const char *obj = NULL;
	unsigned long pos = 99;

	(void)state;
	write_file("kallsyms", kallsyms);
	write_file("Module.symvers", symvers);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(
		elp_symtab_load_exports(ctx, st, path("Module.symvers")), 0);
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
	assert_int_equal(
		elp_symtab_sympos(st, "vmlinux", "foo", false, nb, 5, &pos), 0);
	assert_int_equal(pos, 0);
	/* the helper in the unit's block, not the one next to other_* */
	assert_int_equal(
		elp_symtab_sympos(st, "vmlinux", "helper", false, nb, 5, &pos),
		0);
	assert_int_equal(pos, 2);
	/* global among a global and a local of the same name */
	assert_int_equal(
		elp_symtab_sympos(st, "vmlinux", "bar", true, nb, 5, &pos), 0);
	assert_int_equal(pos, 1);
	/* two candidates in the same block: refused */
	assert_int_equal(
		elp_symtab_sympos(st, "vmlinux", "dup", false, nb, 5, &pos),
		-ENOTSUP);
	assert_int_equal(
		elp_symtab_sympos(st, "vmlinux", "nothere", false, nb, 5, &pos),
		-ENOENT);
	assert_int_equal(
		elp_symtab_sympos(st, "mymod", "modfunc", false, nb, 5, &pos),
		0);
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
	assert_int_equal(
		elp_symtab_add_module(ctx, st, "newmod", path("mod.o")), 0);
	assert_int_equal(elp_symtab_count(st, "newmod", "mexp"), 1);
	assert_int_equal(elp_symtab_count(st, "newmod", "mhelp"), 1);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
}

/* ---- diffs of tiny objects ---- */

#define SETTER "void set_state(int v) { state = v; }\n"

#define PRE                                          \
	"extern int printk(const char *fmt, ...);\n" \
	"extern void __might_sleep(const char *file, int line);\n"

#define BASE_DATA                   \
	"int counter_global = 1;\n" \
	"static int state = 3;\n" SETTER

#define HELPER                                                          \
	"static int __attribute__((noinline, noclone)) helper(int x)\n" \
	"{ return x * state + counter_global; }\n"

#define BAR                                                        \
	"int bar(int x)\n{\n\t__might_sleep(\"f.c\", __LINE__);\n" \
	"\treturn x + 2;\n}\n"

static const char orig_src[] = PRE BASE_DATA HELPER
	"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" BAR;

/* the kernel the unit tests' objects are diffed against: TEXT is what
 * stands between helper and bar (foo, and a test's own functions) */
#define UNIT_KALLSYMS(text)                                                  \
	"ffffffff81000000 t helper\n"                                         \
	"ffffffff81000100 t unrelated\n"                                      \
	"ffffffff81000200 t unrelated2\n"                                     \
	"ffffffff81000300 t unrelated3\n"                                     \
	"ffffffff81000f00 T set_state\n"                                      \
	"ffffffff81001000 t helper\n" text "ffffffff81001200 T bar\n"         \
	"ffffffff81002000 T printk\n"                                         \
	"ffffffff81002100 T __might_sleep\n"                                  \
	"ffffffff82000000 d state\n"                                          \
	"ffffffff82000010 D counter_global\n"

static const char unit_kallsyms[] = UNIT_KALLSYMS("ffffffff81001100 T foo\n");

static const char unit_symvers[] =
	"0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x2\t__might_sleep\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x3\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x4\tklp_shadow_get_or_alloc\tvmlinux\tEXPORT_SYMBOL_GPL\t\n";

/* the special-section layouts of x86_64 Linux 6.1 (what its probe reads) */
static const struct elp_special_layout layout_6_1 = {
	.bug_entry = 12,
	.bug_entry_flags = 10,
	.alt_instr = 12,
	.paravirt_patch_site = 16,
	.exception_table_entry = 12,
	.jump_entry = 16,
	.static_call_site = 8,
	.orc_entry = 6,
};

static const char *cur_kallsyms = unit_kallsyms;
static const char *cur_orig_src = orig_src;
static const char *cur_source = "lib/f.c";
static const char *cur_target = "vmlinux";
static const struct elp_special_layout *cur_layout = &layout_6_1;

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
		.source_file = cur_source,
		.target = cur_target,
		.unit_index = 3,
		.layout = cur_layout,
	};
	struct diff_out d = { 0, NULL };

	compile("orig", cur_orig_src);
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

static bool has_undef(struct elp_obj *obj, const char *name, unsigned char bind)
{
	struct elp_sym *s = elp_find_sym(obj, name);

	return s && !s->sec && s->s.st_shndx == SHN_UNDEF && s->bind == bind;
}

static void test_diff_string(void **state)
{
	struct diff_out d = run_diff(
		PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo v2 %d\\n\", x); return helper(x); }\n" BAR,
		"string.o");
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
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x) + state + counter_global; }\n" BAR,
		"static.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	obj = read_out(ctx, "static.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.2.helper", STB_WEAK));
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.state", STB_WEAK));
	assert_true(
		has_undef(obj, "__elp_klp.vmlinux.0.counter_global", STB_WEAK));
	assert_null(elp_find_sec(obj, ".data.state"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);

	/* finalize on the diff output: same transformation as on a .ko */
	ctx = (elp_ctx_free(ctx), new_ctx());
	assert_int_equal(elp_klp_finalize(ctx, path("static.o")), 0);
	obj = read_out(ctx, "static.o");
	{
		struct elp_sym *s =
			elp_find_sym(obj, ".klp.sym.vmlinux.helper,2");
		struct elp_sec *rs =
			elp_find_sec(obj, ".klp.rela.vmlinux..text.foo");
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
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(newhelp(x)); }\n" BAR,
		"new.o");
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
		"/*\n * a comment\n * that moves\n * lines\n */\n" PRE BASE_DATA
			HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" BAR,
		"noop.o");

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 0);
	assert_int_equal(d.res->nr_new_funcs, 0);
	assert_int_not_equal(access(path("noop.o"), F_OK), 0);
	elp_diff_result_free(d.res);
}

/* BTF_ID(): a symbol of .BTF_ids named with __COUNTER__ and __LINE__ */
#define BTF_SRC(lines, id)                                                   \
	PRE BASE_DATA HELPER lines                                            \
	"asm(\".pushsection .BTF_ids,\\\"a\\\"; .local btf_list; btf_list: .popsection\");\n" \
	"asm(\".pushsection .BTF_ids,\\\"a\\\"; .local " id "; .type " id  \
	", STT_OBJECT; .size " id ", 4; " id ": .zero 4; .popsection\");\n"  \
	"extern unsigned int btf_list[];\n"                                   \
	"int use_btf(void) { return btf_list[0]; }\n"

static const char btf_kallsyms[] = UNIT_KALLSYMS(
	"ffffffff81001100 T use_btf\n"
	"ffffffff81001180 T foo\n");

static void test_diff_btf_id_renumbered(void **state)
{
	struct diff_out d;

	(void)state;
	cur_kallsyms = btf_kallsyms;
	cur_orig_src = BTF_SRC("", "__BTF_ID__struct__iter__493952")
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" BAR;
	/* three lines more above BTF_ID(): renumbered, not changed */
	d = run_diff(BTF_SRC("\n\n\n", "__BTF_ID__struct__iter__493955")
		"int foo(int x) { printk(\"foo v2 %d\\n\", x); return helper(x); }\n" BAR,
		     "btf.o");
	cur_orig_src = orig_src;
	cur_kallsyms = unit_kallsyms;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "foo");
	elp_diff_result_free(d.res);
}

/* gcc's .LC labels of merged constants (.rodata.cst8) are numbered per file */
#define SCALE "double scale(double x) { return x * 1.5; }\n"

static const char cst_kallsyms[] = UNIT_KALLSYMS(
	"ffffffff81001100 T foo\n"
	"ffffffff81001180 T scale\n");

static void test_diff_merged_const_renumbered(void **state)
{
	struct diff_out d;

	(void)state;
	cur_kallsyms = cst_kallsyms;
	cur_orig_src = PRE BASE_DATA HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" SCALE BAR;
	/* foo's new constant comes first: scale's becomes .LC1 */
	d = run_diff(PRE BASE_DATA HELPER
		     "int foo(int x) { printk(\"foo %d\\n\", (int)(x * 2.75)); return helper(x); }\n" SCALE BAR,
		     "cst.o");
	cur_orig_src = orig_src;
	cur_kallsyms = unit_kallsyms;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "foo");
	elp_diff_result_free(d.res);
}

static void test_diff_data_size(void **state)
{
	struct diff_out d = run_diff(
		PRE
		"int counter_global = 1;\nstatic long state = 3;\n" SETTER HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" BAR,
		"size.o");

	(void)state;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: state: size of existing data changed from 4 to 8 bytes;"));
	assert_int_not_equal(access(path("size.o"), F_OK), 0);
}

static void test_diff_data_init(void **state)
{
	struct diff_out d = run_diff(
		PRE
		"int counter_global = 2;\nstatic int state = 3;\n" SETTER HELPER
		"int foo(int x) { printk(\"foo %d\\n\", x); return helper(x); }\n" BAR,
		"init.o");

	(void)state;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(
		strstr(errbuf, "lib/f.c: counter_global: initial value"));
}

static void test_diff_bar_and_missing(void **state)
{
	static const char patched[] = PRE BASE_DATA HELPER
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
	assert_non_null(strstr(
		errbuf, "lib/f.c: bar: changed function does not exist"));
}

/* ---- engine features: special sections, refusals, callbacks ---- */

/* text with @NAME@ placeholders replaced, in a static buffer (8 in turn) */
static const char *subst(const char *tmpl, ...)
{
	static char bufs[8][8192];
	static int n;
	char *out = bufs[n++ % 8], *o = out;
	const char *p = tmpl;
	va_list ap;

	while (*p) {
		const char *end, *name, *val;

		if (*p != '@' || !(end = strchr(p + 1, '@'))) {
			*o++ = *p++;
			continue;
		}
		va_start(ap, tmpl);
		val = NULL;
		while ((name = va_arg(ap, const char *))) {
			const char *v = va_arg(ap, const char *);

			if (strlen(name) == (size_t)(end - p - 1) &&
			    !strncmp(name, p + 1, end - p - 1))
				val = v;
		}
		va_end(ap);
		assert_non_null(val);
		strcpy(o, val);
		o += strlen(val);
		p = end + 1;
	}
	*o = '\0';
	return out;
}

/*
 * A WARN site as x86 emits it: ud2 + struct bug_entry with the line, in the
 * kernel's __BUG_REL form; kbuild compiles both with the same __FILE__.
 */
static const char bug_src[] =
	"int x1;\n"
	"void warn_a(int v)\n"
	"{\n"
	"\tif (v)\n"
	"\t\tasm volatile(\"1: ud2\\n.pushsection __bug_table,\\\"aw\\\"\\n\"\n"
	"\t\t\t     \"2: .long 1b - .\\n.long %c0 - .\\n\"\n"
	"\t\t\t     \".word %c1\\n.word %c2\\n.popsection\"\n"
	"\t\t\t     :: \"i\"(\"lib/s.c\"), \"i\"(__LINE__), \"i\"(0));\n"
	"\tx1 = v;\n"
	"}\n"
	"void warn_b(int v)\n"
	"{\n"
	"\tif (v > 1)\n"
	"\t\tasm volatile(\"1: ud2\\n.pushsection __bug_table,\\\"aw\\\"\\n\"\n"
	"\t\t\t     \"2: .long 1b - .\\n.long %c0 - .\\n\"\n"
	"\t\t\t     \".word %c1\\n.word %c2\\n.popsection\"\n"
	"\t\t\t     :: \"i\"(\"lib/s.c\"), \"i\"(__LINE__), \"i\"(@FLAGS@));\n"
	"\tx1 = v + 1;\n"
	"}\n"
	"int plain(int v) { return v * @MUL@; }\n";

static const char bug_kallsyms[] = "ffffffff81000000 T warn_a\n"
				   "ffffffff81000100 T warn_b\n"
				   "ffffffff81000200 T plain\n"
				   "ffffffff82000000 B x1\n";

static struct diff_out run_with(const char *orig, const char *ks,
				const char *patched, const char *out)
{
	struct diff_out d;
	char *o = strdup(orig);

	assert_non_null(o);
	cur_orig_src = o;
	cur_kallsyms = ks;
	d = run_diff(patched, out);
	cur_orig_src = orig_src;
	cur_kallsyms = unit_kallsyms;
	free(o);
	return d;
}

static void test_diff_bug_line(void **state)
{
	char patched[8192];
	struct diff_out d;
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;
	struct elp_sec *bt;

	(void)state;
	/* lines inserted above both WARN sites, plain() changed */
	snprintf(patched, sizeof(patched), "\n\n\n%s",
		 subst(bug_src, "FLAGS", "0", "MUL", "5", NULL));
	d = run_with(subst(bug_src, "FLAGS", "0", "MUL", "3", NULL),
		     bug_kallsyms, patched, "bug.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "plain");
	obj = read_out(ctx, "bug.o");
	assert_null(elp_find_sec(obj, "__bug_table"));
	assert_null(elp_find_sec(obj, ".text.warn_a"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);

	/* warn_b's entry gets another flag: warn_b changed */
	d = run_with(subst(bug_src, "FLAGS", "0", "MUL", "3", NULL),
		     bug_kallsyms,
		     subst(bug_src, "FLAGS", "2", "MUL", "3", NULL), "bug2.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "warn_b");
	obj = read_out(ctx, "bug2.o");
	/* only warn_b's entry is kept, with the new flags */
	bt = elp_find_sec(obj, "__bug_table");
	assert_non_null(bt);
	assert_int_equal(bt->size, 12);
	assert_int_equal(((unsigned char *)bt->data)[10], 2);
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

/* alternatives: replacement code and static_cpu_has()-style aux code */
static const char alt_src[] =
	"int x2;\n"
	"void alt_a(void)\n"
	"{\n"
	"\tasm volatile(\"661: nop; nop; nop\\n662:\\n\"\n"
	"\t\t     \".pushsection .altinstructions,\\\"a\\\"\\n\"\n"
	"\t\t     \".long 661b - .\\n.long 6641f - .\\n.word 1\\n\"\n"
	"\t\t     \".byte 3\\n.byte 3\\n.popsection\\n\"\n"
	"\t\t     \".pushsection .altinstr_replacement,\\\"ax\\\"\\n\"\n"
	"\t\t     \"6641: xor %%eax, %%eax; nop\\n.popsection\"\n"
	"\t\t     ::: \"eax\");\n"
	"\tasm volatile(\"jmp 6f\\n7:\\n.pushsection .altinstr_aux,\\\"ax\\\"\\n\"\n"
	"\t\t     \"6: jmp 7b\\n.popsection\");\n"
	"\tx2 = 1;\n"
	"}\n"
	"void alt_b(void)\n"
	"{\n"
	"\tasm volatile(\"661: nop; nop; nop\\n662:\\n\"\n"
	"\t\t     \".pushsection .altinstructions,\\\"a\\\"\\n\"\n"
	"\t\t     \".long 661b - .\\n.long 6641f - .\\n.word 2\\n\"\n"
	"\t\t     \".byte 3\\n.byte 3\\n.popsection\\n\"\n"
	"\t\t     \".pushsection .altinstr_replacement,\\\"ax\\\"\\n\"\n"
	"\t\t     \"6641: xor %%ecx, %%ecx; int3\\n.popsection\"\n"
	"\t\t     ::: \"ecx\");\n"
	"\tasm volatile(\"jmp 6f\\n7:\\n.pushsection .altinstr_aux,\\\"ax\\\"\\n\"\n"
	"\t\t     \"6: jmp 7b\\n.popsection\");\n"
	"\tx2 = @EXTRA@;\n"
	"}\n";

static void test_diff_alt_trim(void **state)
{
	static const char ks[] = "ffffffff81000000 T alt_a\n"
				 "ffffffff81000100 T alt_b\n"
				 "ffffffff82000000 B x2\n";
	struct diff_out d =
		run_with(subst(alt_src, "EXTRA", "2", NULL), ks,
			 subst(alt_src, "EXTRA", "3", NULL), "alt.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_sec *alt, *repl, *aux, *text;
	struct elp_obj *obj;
	size_t i;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "alt_b");
	obj = read_out(ctx, "alt.o");
	alt = elp_find_sec(obj, ".altinstructions");
	repl = elp_find_sec(obj, ".altinstr_replacement");
	aux = elp_find_sec(obj, ".altinstr_aux");
	text = elp_find_sec(obj, ".text.alt_b");
	assert_non_null(alt);
	assert_non_null(repl);
	assert_non_null(aux);
	assert_non_null(text);
	/* one entry, alt_b's replacement only, moved to offset 0 */
	assert_int_equal(alt->size, 12);
	assert_int_equal(repl->size, 3);
	assert_memory_equal(repl->data, "\x31\xc9\xcc", 3);
	for (i = 0; i < alt->rela->nr_relas; i++)
		if (alt->rela->relas[i].offset == 4) {
			assert_ptr_equal(alt->rela->relas[i].sym->sec, repl);
			assert_int_equal(alt->rela->relas[i].addend, 0);
		}
	/* alt_b's aux jump, moved to offset 0, jumping back into alt_b */
	assert_int_equal(aux->size, 5);
	assert_int_equal(aux->rela->nr_relas, 1);
	assert_ptr_equal(aux->rela->relas[0].sym->sec, text);
	for (i = 0; i < text->rela->nr_relas; i++)
		if (text->rela->relas[i].sym->sec == aux)
			assert_int_equal(text->rela->relas[i].addend, -4);
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

static void test_diff_notrace(void **state)
{
	static const char notrace_src[] =
		"int x3;\n"
		"__attribute__((no_instrument_function)) void quiet(int v)"
		" { x3 = v * @Q@; }\n"
		"void loud(int v) { x3 = v + @L@; }\n";
	static const char ks[] = "ffffffff81000000 T quiet\n"
				 "ffffffff81000100 T loud\n"
				 "ffffffff82000000 B x3\n";
	struct diff_out d;

	(void)state;
	d = run_with(subst(notrace_src, "Q", "1", "L", "1", NULL), ks,
		     subst(notrace_src, "Q", "2", "L", "1", NULL), "notrace.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/f.c: quiet: has no ftrace entry"));
	assert_int_not_equal(access(path("notrace.o"), F_OK), 0);

	/* a traceable function of the livepatch core */
	cur_source = "kernel/livepatch/core.c";
	d = run_with(subst(notrace_src, "Q", "1", "L", "1", NULL), ks,
		     subst(notrace_src, "Q", "1", "L", "7", NULL), "core.o");
	cur_source = "lib/f.c";
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"kernel/livepatch/core.c: loud: belongs to the livepatch/ftrace core"));
}

/*
 * A changed static notrace function (the "static inline" __do_sys_<name>
 * body of a SYSCALL_DEFINE kept out of line) is reached through its patched
 * callers; when its address is taken, it is refused.
 */
static void test_diff_notrace_callers(void **state)
{
	static const char src[] =
		"int x3;\n"
		"static __attribute__((no_instrument_function, noinline)) int body(int v)"
		" { x3 = v * @Q@; return x3 + 1; }\n"
		"int wrap_a(int v) { return body(v) + 1; }\n"
		"int wrap_b(int v) { return body(v + 1) + 2; }\n"
		"int other(int v) { return v - 1; }\n"
		"@TAKEN@\n";
	static const char ks[] = "ffffffff81000000 t body\n"
				 "ffffffff81000100 T wrap_a\n"
				 "ffffffff81000200 T wrap_b\n"
				 "ffffffff81000300 T other\n"
				 "ffffffff81000400 T take\n"
				 "ffffffff82000000 B x3\n";
	struct elp_ctx *ctx = new_ctx();
	struct diff_out d;
	struct elp_obj *obj;
	struct elp_sym *b;

	(void)state;
	d = run_with(subst(src, "Q", "1", "TAKEN", "", NULL), ks,
		     subst(src, "Q", "2", "TAKEN", "", NULL), "callers.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 2);
	assert_string_equal(d.res->funcs[0].old_name, "wrap_a");
	assert_string_equal(d.res->funcs[1].old_name, "wrap_b");
	assert_int_equal(d.res->nr_new_funcs, 1);
	obj = read_out(ctx, "callers.o");
	b = elp_find_sym(obj, "body");
	assert_non_null(b);
	assert_non_null(b->sec);
	assert_null(elp_find_sym(obj, "__elp_new_3_body"));
	assert_null(elp_find_sym(obj, "other"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);

	/* an __init caller ran at boot: it is not patched */
	d = run_with(
		subst(src, "Q", "1", "TAKEN",
		      "__attribute__((section(\".init.text\"))) int boot(int v) { return body(v); }",
		      NULL),
		ks,
		subst(src, "Q", "2", "TAKEN",
		      "__attribute__((section(\".init.text\"))) int boot(int v) { return body(v); }",
		      NULL),
		"initcaller.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 2);
	elp_diff_result_free(d.res);

	/* a pointer to it is kept somewhere: the old one stays reachable */
	d = run_with(subst(src, "Q", "1", "TAKEN",
			   "void *take(void) { return (void *)body; }", NULL),
		     ks,
		     subst(src, "Q", "2", "TAKEN",
			   "void *take(void) { return (void *)body; }", NULL),
		     "taken.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/f.c: body: has no ftrace entry"));
}

/*
 * A global function and a global variable the patch adds go into the
 * output and stay global, even when gcc inlined the function into its only
 * caller here or nothing here uses the variable: another file of the patch,
 * diffed on its own, links against them.
 */
static void test_diff_new_globals(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct diff_out d;
	struct elp_obj *obj;
	struct elp_sym *g, *v, *h;

	(void)state;
	d = run_diff(PRE BASE_DATA HELPER
		     "int newg(int x) { return x + 5; }\n"
		     "int newvar = 7;\n"
		     "static int newlocal(int x) { return x - 5; }\n"
		     "extern int elsewhere(int x);\n"
		     "int foo(int x) { printk(\"foo %d\\n\", x);"
		     " return newg(helper(x)) + elsewhere(x); }\n" BAR,
		     "newglobals.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	/* listed for the driver: what this file adds, what it leaves to the
	 * module loader (another file of the patch may define it) */
	assert_int_equal(d.res->nr_new_globals, 2);
	assert_true(!strcmp(d.res->new_globals[0], "newg") ||
		    !strcmp(d.res->new_globals[1], "newg"));
	assert_true(!strcmp(d.res->new_globals[0], "newvar") ||
		    !strcmp(d.res->new_globals[1], "newvar"));
	assert_int_equal(d.res->nr_loader_syms, 1);
	assert_string_equal(d.res->loader_syms[0], "elsewhere");
	assert_string_equal(d.res->funcs[0].old_name, "foo");
	obj = read_out(ctx, "newglobals.o");
	g = elp_find_sym(obj, "newg");
	v = elp_find_sym(obj, "newvar");
	h = elp_find_sym(obj, "newlocal");
	assert_non_null(g);
	assert_non_null(g->sec);
	assert_int_equal(g->bind, STB_GLOBAL);
	assert_non_null(v);
	assert_non_null(v->sec);
	assert_int_equal(v->bind, STB_GLOBAL);
	/* an unused new static function is not */
	assert_true(!h || !h->sec);
	/* what the patch only changed stays private */
	assert_int_equal(elp_find_sym(obj, "foo")->bind, STB_LOCAL);
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

/*
 * A changed __exit function of a module is refused with a reason that fits
 * exit code (it runs at unload, a livepatch cannot replace it), once: not
 * again for its cleanup_module alias.
 */
static void test_diff_exit_refused(void **state)
{
	static const char src[] = PRE
		"__attribute__((section(\".exit.text\"))) void bye(void)"
		" { printk(\"@Q@\"); }\n"
		"void cleanup_module(void) __attribute__((alias(\"bye\")));\n"
		"int keep(int v) { return v + 1; }\n";
	static const char ks[] = "ffffffff81000400 T keep\n";
	struct diff_out d;

	(void)state;
	d = run_with(subst(src, "Q", "a", NULL), ks, subst(src, "Q", "b", NULL),
		     "exit.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf,
			       "lib/f.c: bye: changes .exit.text code or data, "
			       "which runs only when its module is unloaded"));
	assert_null(strstr(errbuf, "cleanup_module:"));
	assert_null(strstr(errbuf, "ran at boot"));
}

/*
 * Variables the kernel places together in one section (__read_mostly,
 * __section(...)) with a new one added there: the existing ones stay the
 * running kernel's, only the new one is allocated in the livepatch.
 */
static void test_diff_shared_section(void **state)
{
	static const char src[] =
		"#define RM __attribute__((section(\".data..read_mostly\")))\n"
		"static int ra RM = 1;\n"
		"static int rb RM = 2;\n"
		"@NEW@\n"
		"int get_a(void) { return ra@USE@; }\n"
		"int get_b(void) { return rb; }\n"
		"void set(int v) { ra = v; rb = v; }\n";
	static const char ks[] = "ffffffff81000000 T get_a\n"
				 "ffffffff81000100 T get_b\n"
				 "ffffffff81000200 T set\n"
				 "ffffffff82000000 d ra\n"
				 "ffffffff82000004 d rb\n";
	struct elp_ctx *ctx = new_ctx();
	struct diff_out d;
	struct elp_obj *obj;
	struct elp_sym *rc;

	(void)state;
	d = run_with(subst(src, "NEW", "", "USE", "", NULL), ks,
		     subst(src, "NEW", "static int rc RM = 3;", "USE",
			   " + rc++", NULL),
		     "shared.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "get_a");
	obj = read_out(ctx, "shared.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.ra", STB_WEAK));
	rc = elp_find_sym(obj, "rc");
	assert_non_null(rc);
	assert_non_null(rc->sec);
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

/* bytes from the rel32 at off to the end of its instruction in code d */
static long tail_of(const unsigned char *d, size_t size, size_t off)
{
	struct elp_sec sec;
	long tail;

	memset(&sec, 0, sizeof(sec));
	sec.data = (void *)d;
	sec.size = size;
	sec.sh.sh_flags = SHF_EXECINSTR;
	tail = elp_rel32_tail(&sec, off);
	free(sec.insn_starts);
	return tail;
}

/*
 * The immediate after a RIP-relative operand decides what it points at,
 * whatever the bytes before the instruction are (and $0xf,%eax ends in
 * 0x0f, which looked like a two-byte opcode to the old byte heuristic).
 */
static void test_rel32_tail(void **state)
{
	static const unsigned char movl[] = {
		0xc7, 0x05, 0, 0, 0, 0, 5, 0, 0, 0
	};
	static const unsigned char movw[] = {
		0x66, 0xc7, 0x05, 0, 0, 0, 0, 5, 0
	};
	static const unsigned char movb[] = { 0xc6, 0x05, 0, 0, 0, 0, 1 };
	static const unsigned char cmpb[] = { 0x80, 0x3d, 0, 0, 0, 0, 0 };
	static const unsigned char testl[] = { 0xf7, 0x05, 0, 0, 0,
					       0,    1,	   0, 0, 0 };
	static const unsigned char notl[] = { 0xf7, 0x15, 0, 0, 0, 0 };
	static const unsigned char mov[] = { 0x48, 0x8b, 0x05, 0, 0, 0, 0 };
	static const unsigned char xadd[] = {
		0xf0, 0x0f, 0xc1, 0x05, 0, 0, 0, 0
	};
	static const unsigned char bt[] = { 0x0f, 0xba, 0x25, 0, 0, 0, 0, 3 };
	static const unsigned char call[] = { 0xe8, 0, 0, 0, 0 };
	static const unsigned char and_movl[] = { 0x83, 0xe0, 0x0f, 0xc7, 0x05,
						  0,	0,    0,    0,	  5,
						  0,	0,    0 };
	static const unsigned char lea[] = { 0x48, 0x8d, 0x3d, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(tail_of(movl, sizeof(movl), 2), 8);
	assert_int_equal(tail_of(movw, sizeof(movw), 3), 6);
	assert_int_equal(tail_of(movb, sizeof(movb), 2), 5);
	assert_int_equal(tail_of(cmpb, sizeof(cmpb), 2), 5);
	assert_int_equal(tail_of(testl, sizeof(testl), 2), 8);
	assert_int_equal(tail_of(notl, sizeof(notl), 2), 4);
	assert_int_equal(tail_of(mov, sizeof(mov), 3), 4);
	assert_int_equal(tail_of(xadd, sizeof(xadd), 4), 4);
	assert_int_equal(tail_of(bt, sizeof(bt), 3), 5);
	assert_int_equal(tail_of(call, sizeof(call), 1), 4);
	assert_int_equal(tail_of(and_movl, sizeof(and_movl), 5), 8);
	assert_int_equal(tail_of(lea, sizeof(lea), 3), 4);
	/* not the start of a rel32 field */
	assert_int_equal(tail_of(movl, sizeof(movl), 6), -1);
	assert_int_equal(tail_of(and_movl, sizeof(and_movl), 1), -1);
}

/*
 * The string a relocation refers to is at its exact offset: a pc-relative
 * field in data (".long str - .") is its own base, and an instruction's
 * field is based at the instruction's end, past any immediate.
 */
static void test_rela_string(void **state)
{
	static char strs[] = "abc\0defgh\0";
	static const unsigned char cmpb[] = { 0x80, 0x3d, 0, 0, 0, 0, 0x41 };
	struct elp_sec str, data, text;
	struct elp_sym secsym;
	struct elp_rela r;

	(void)state;
	memset(&str, 0, sizeof(str));
	memset(&data, 0, sizeof(data));
	memset(&text, 0, sizeof(text));
	memset(&secsym, 0, sizeof(secsym));
	str.data = strs;
	str.size = sizeof(strs) - 1;
	str.sh.sh_flags = SHF_ALLOC | SHF_MERGE | SHF_STRINGS;
	data.sh.sh_flags = SHF_ALLOC | SHF_WRITE;
	text.data = (void *)cmpb;
	text.size = sizeof(cmpb);
	text.sh.sh_flags = SHF_ALLOC | SHF_EXECINSTR;
	secsym.type = STT_SECTION;
	secsym.sec = &str;
	r.sym = &secsym;
	r.string = NULL;

	r.type = R_X86_64_PC32;
	r.offset = 0;
	r.addend = 0;
	assert_string_equal(elp_rela_string(&data, &r), "abc");
	r.type = R_X86_64_64;
	r.addend = 5;
	assert_string_equal(elp_rela_string(&data, &r), "efgh");
	/* cmpb $0x41, .str+4(%rip): the field ends 5 bytes before */
	r.type = R_X86_64_PC32;
	r.offset = 2;
	r.addend = 4 - 5;
	assert_string_equal(elp_rela_string(&text, &r), "defgh");
	free(text.insn_starts);
}

/* a store of an immediate to the second variable of a shared section */
static void test_diff_shared_section_imm(void **state)
{
	static const char src[] =
		"#define RM __attribute__((section(\".data..read_mostly\")))\n"
		/* gcc lays them out in reverse: ra at 0, rb at 4 */
		"static int rb RM = 2;\n"
		"static int ra RM = 1;\n"
		"int get(void) { return ra + rb; }\n"
		"void set(void) { rb = @V@; }\n";
	static const char ks[] = "ffffffff81000000 T get\n"
				 "ffffffff81000200 T set\n"
				 "ffffffff82000000 d ra\n"
				 "ffffffff82000004 d rb\n";
	struct elp_ctx *ctx = new_ctx();
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_with(subst(src, "V", "5", NULL), ks, subst(src, "V", "6", NULL),
		     "sharedimm.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "set");
	obj = read_out(ctx, "sharedimm.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.rb", STB_WEAK));
	assert_false(has_undef(obj, "__elp_klp.vmlinux.0.ra", STB_WEAK));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
}

/* a jump label whose key is a variable of the module being patched */
static const char jl_src[] =
	"static long @KEY@[4];\n"
	"long *keyp(void) { return @KEY@; }\n"
	"int modfn(int v)\n"
	"{\n"
	"\tasm goto(\"1: .byte 0x0f,0x1f,0x44,0x00,0x00\\n\"\n"
	"\t\t \".pushsection __jump_table,\\\"aw\\\"\\n.balign 8\\n\"\n"
	"\t\t \".long 1b - .\\n.long %l[yes] - .\\n\"\n"
	"\t\t \".quad %c0 - .\\n@PAD@.popsection\"\n"
	"\t\t :: \"i\"(&@KEY@[1]) :: yes);\n"
	"\tasm goto(\"1: .byte 0x0f,0x1f,0x44,0x00,0x00\\n\"\n"
	"\t\t \".pushsection __jump_table,\\\"aw\\\"\\n.balign 8\\n\"\n"
	"\t\t \".long 1b - .\\n.long %l[yes] - .\\n\"\n"
	"\t\t \".quad %c0 - .\\n@PAD@.popsection\"\n"
	"\t\t :: \"i\"(&@KEY@[2]) :: yes);\n"
	"\treturn v;\n"
	"yes:\n"
	"\treturn v + @RET@;\n"
	"}\n";

static void test_diff_module_jump_label(void **state)
{
	static const char ks[] =
		"ffffffff81000000 T printk\n"
		"ffffffffc0000000 T keyp\t[mymod]\n"
		"ffffffffc0000100 T modfn\t[mymod]\n"
		"ffffffffc0001000 b mkey\t[mymod]\n"
		"ffffffffc0001100 b __tracepoint_mytp\t[mymod]\n";
	struct diff_out d;

	(void)state;
	cur_target = "mymod";
	d = run_with(subst(jl_src, "KEY", "mkey", "RET", "1", "PAD", "", NULL),
		     ks,
		     subst(jl_src, "KEY", "mkey", "RET", "2", "PAD", "", NULL),
		     "jl.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: modfn: uses static key mkey of module mymod in a jump label"));
	assert_non_null(strstr(errbuf, "static_key_enabled(&mkey)"));
	d = run_with(subst(jl_src, "KEY", "__tracepoint_mytp", "RET", "1",
			   "PAD", "", NULL),
		     ks,
		     subst(jl_src, "KEY", "__tracepoint_mytp", "RET", "2",
			   "PAD", "", NULL),
		     "tp.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: modfn: calls tracepoint mytp of module mymod"));
	cur_target = "vmlinux";

	/* in vmlinux the same is fine: klp relocations are applied at load */
	d = run_with(subst(jl_src, "KEY", "mkey", "RET", "1", "PAD", "", NULL),
		     "ffffffff81000000 T keyp\nffffffff81000100 T modfn\n"
		     "ffffffff82001000 b mkey\n",
		     subst(jl_src, "KEY", "mkey", "RET", "2", "PAD", "", NULL),
		     "jlv.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	elp_diff_result_free(d.res);
}

/*
 * A kernel whose struct jump_entry is 24 bytes: the site of each entry is
 * found at the probed size, not at 6.1's 16 (where the second entry's key
 * would be taken for the start of an entry and its site lost).
 */
static void test_diff_late_layout(void **state)
{
	static const char ks[] = "ffffffffc0000000 T keyp\t[mymod]\n"
				 "ffffffffc0000100 T modfn\t[mymod]\n"
				 "ffffffffc0001000 b mkey\t[mymod]\n";
	struct elp_special_layout wide = layout_6_1;
	struct diff_out d;

	(void)state;
	wide.jump_entry = 24;
	cur_layout = &wide;
	cur_target = "mymod";
	d = run_with(subst(jl_src, "KEY", "mkey", "RET", "1", "PAD",
			   ".quad 0\\n", NULL),
		     ks,
		     subst(jl_src, "KEY", "mkey", "RET", "2", "PAD",
			   ".quad 0\\n", NULL),
		     "jl24.o");
	cur_target = "vmlinux";
	cur_layout = &layout_6_1;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: modfn: uses static key mkey of module mymod in a jump label"));
	assert_null(strstr(errbuf, "(code)"));
}

static const char cb_src[] =
	"static int my_pre(void *obj) { printk(\"pre\\n\"); return 0; }\n"
	"static int (*__elp_cb_pre_patch_my_pre)(void *)\n"
	"\t__attribute__((used, section(\".elivepatch.callbacks.pre_patch\"))) = my_pre;\n"
	"static void my_post(void *obj) { printk(\"post\\n\"); }\n"
	"static void (*__elp_cb_post_unpatch_my_post)(void *)\n"
	"\t__attribute__((used, section(\".elivepatch.callbacks.post_unpatch\"))) = my_post;\n";

static const char cb_again[] =
	"static int (*__elp_cb_pre_patch_again)(void *)\n"
	"\t__attribute__((used, section(\".elivepatch.callbacks.pre_patch\"))) = my_pre;\n";

static void test_diff_callbacks(void **state)
{
	char patched[8192];
	struct diff_out d;
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;
	struct elp_sym *s;

	(void)state;
	snprintf(
		patched, sizeof(patched), "%s%s%s", PRE BASE_DATA HELPER,
		cb_src,
		"int foo(int x) { printk(\"foo v3 %d\\n\", x); return helper(x); }\n" BAR);
	d = run_diff(patched, "cb.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_int_equal(d.res->nr_new_funcs, 2);
	assert_string_equal(d.res->callbacks[ELP_CB_PRE_PATCH],
			    "__elp_cb_3_pre_patch");
	assert_string_equal(d.res->callbacks[ELP_CB_POST_UNPATCH],
			    "__elp_cb_3_post_unpatch");
	assert_null(d.res->callbacks[ELP_CB_POST_PATCH]);
	assert_null(d.res->callbacks[ELP_CB_PRE_UNPATCH]);
	obj = read_out(ctx, "cb.o");
	s = elp_find_sym(obj, "__elp_cb_3_pre_patch");
	assert_non_null(s);
	assert_int_equal(s->bind, STB_GLOBAL);
	assert_ptr_equal(s->sec, elp_find_sym(obj, "my_pre")->sec);
	assert_non_null(elp_find_sym(obj, "my_post"));
	assert_null(elp_find_sec(obj, ".elivepatch.callbacks.pre_patch"));
	assert_null(elp_find_sym(obj, "__elp_cb_pre_patch_my_pre"));
	elp_obj_free(obj);
	elp_diff_result_free(d.res);

	/* two of a kind */
	snprintf(
		patched, sizeof(patched), "%s%s%s%s", PRE BASE_DATA HELPER,
		cb_src, cb_again,
		"int foo(int x) { printk(\"foo v3 %d\\n\", x); return helper(x); }\n" BAR);
	d = run_diff(patched, "cb2.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "more than one pre_patch callback"));
	elp_ctx_free(ctx);
}

static const char state_orig[] =
	"extern void *klp_shadow_get_or_alloc(void *, unsigned long, unsigned long,\n"
	"\t\t\t\t     int, void *, void *);\n"
	"int ticker(void) { static int count; return ++count; }\n";

static const char state_patched[] =
	"extern void *klp_shadow_get_or_alloc(void *, unsigned long, unsigned long,\n"
	"\t\t\t\t     int, void *, void *);\n"
	"static int fresh = 42;\n"
	"int fresh_global = 7;\n"
	"int ticker(void)\n"
	"{\n"
	"\tstatic int count;\n"
	"\tint *sh = klp_shadow_get_or_alloc(&count, 1, 4, 0, 0, 0);\n"
	"\n"
	"\tif (sh)\n"
	"\t\t(*sh)++;\n"
	"\treturn count += fresh++ + fresh_global;\n"
	"}\n";

static void test_diff_state(void **state)
{
	/* a static local keeps the kernel's instance; new data is ours;
	 * klp_shadow_* are exported and stay plain references */
	static const char ks[] = "ffffffff81000000 T ticker\n"
				 "ffffffff82000000 b count.0\n";
	struct diff_out d = run_with(state_orig, ks, state_patched, "state.o");
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj;
	struct elp_sym *s;

	(void)state;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	obj = read_out(ctx, "state.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.count.0", STB_WEAK));
	assert_null(elp_find_sec(obj, ".bss.count.0"));
	assert_true(has_undef(obj, "klp_shadow_get_or_alloc", STB_GLOBAL));
	s = elp_find_sym(obj, "fresh");
	assert_non_null(s);
	assert_non_null(s->sec);
	/* new global data stays global: other files of the patch use it */
	s = elp_find_sym(obj, "fresh_global");
	assert_non_null(s);
	assert_non_null(s->sec);
	assert_int_equal(s->bind, STB_GLOBAL);
	elp_obj_free(obj);
	elp_diff_result_free(d.res);
	elp_ctx_free(ctx);
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
		cmocka_unit_test(test_diff_btf_id_renumbered),
		cmocka_unit_test(test_diff_merged_const_renumbered),
		cmocka_unit_test(test_diff_data_size),
		cmocka_unit_test(test_diff_data_init),
		cmocka_unit_test(test_diff_exit_refused),
		cmocka_unit_test(test_diff_new_globals),
		cmocka_unit_test(test_diff_bar_and_missing),
		cmocka_unit_test(test_diff_bug_line),
		cmocka_unit_test(test_diff_alt_trim),
		cmocka_unit_test(test_diff_notrace),
		cmocka_unit_test(test_diff_notrace_callers),
		cmocka_unit_test(test_diff_shared_section),
		cmocka_unit_test(test_rel32_tail),
		cmocka_unit_test(test_rela_string),
		cmocka_unit_test(test_diff_shared_section_imm),
		cmocka_unit_test(test_diff_module_jump_label),
		cmocka_unit_test(test_diff_late_layout),
		cmocka_unit_test(test_diff_callbacks),
		cmocka_unit_test(test_diff_state),
	};

	return cmocka_run_group_tests_name("engine", tests, setup, teardown);
}
