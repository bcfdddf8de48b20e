// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the engine's safety passes: __LINE__-only classification,
 * changed code left out of the module, sympos by the unit's block of local
 * symbols, static locals, and kernel-specific special section layouts.
 * Each diff compiles a tiny object pair with the kernel's code-generation
 * flags.
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

static char tmpdir[] = "/tmp/elp-test-passes-XXXXXX";
static char errbuf[16384];

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

/* the code generation flags of an x86_64 kernel build that matter here */
static void compile(const char *name, const char *text)
{
	char src[600], cmd[2048];

	snprintf(src, sizeof(src), "%s.c", name);
	write_file(src, text);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -O2 -fno-pie -fno-pic -fno-stack-protector "
		 "-mcmodel=kernel -mno-red-zone -fno-strict-aliasing "
		 "-pg -mfentry -mrecord-mcount "
		 "-fno-asynchronous-unwind-tables -ffunction-sections "
		 "-fdata-sections -o %s/%s.o %s/%s.c",
		 tmpdir, name, tmpdir, name);
	assert_int_equal(system(cmd), 0);
}

static const char symvers[] = "0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
			      "0x2\t__might_sleep\tvmlinux\tEXPORT_SYMBOL\t\n"
			      "0x3\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n"
			      "0x4\tconsume\tvmlinux\tEXPORT_SYMBOL\t\n";

/* kallsyms of a kernel built from one object: its functions and data */
static const char *kallsyms_of(const char *obj_name)
{
	static char buf[8192];
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj = NULL;
	size_t i, len = 0;

	assert_int_equal(elp_obj_read(ctx, path(obj_name), &obj), 0);
	buf[0] = '\0';
	for (i = 1; i < obj->nr_syms; i++) {
		const struct elp_sym *s = obj->syms[i];
		char type;

		if (!s->sec || (s->type != STT_FUNC && s->type != STT_OBJECT))
			continue;
		type = s->type == STT_FUNC		  ? 't'
		       : s->sec->sh.sh_type == SHT_NOBITS ? 'b'
							  : 'd';
		if (s->bind != STB_LOCAL)
			type = (char)(type - 'a' + 'A');
		len += snprintf(buf + len, sizeof(buf) - len,
				"ffffffff81%06zx %c %s\n", i * 16, type,
				s->name);
		assert_true(len < sizeof(buf));
	}
	elp_obj_free(obj);
	elp_ctx_free(ctx);
	return buf;
}

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
static const struct elp_special_layout *cur_layout = &layout_6_1;

struct diff_out {
	int ret;
	struct elp_diff_result *res;
};

/* diff orig against patched as lib/f.c of vmlinux, with kallsyms ks */
static struct diff_out run_diff(const char *orig, const char *patched,
				const char *ks)
{
	struct elp_ctx *ctx;
	struct elp_symtab *st = NULL;
	char o[512], p[512], out[512];
	struct elp_diff_request req = {
		.orig_obj = o,
		.patched_obj = p,
		.output_obj = out,
		.source_file = "lib/f.c",
		.target = "vmlinux",
		.unit_index = 1,
		.layout = cur_layout,
	};
	struct diff_out d = { 0, NULL };

	compile("orig", orig);
	compile("patched", patched);
	if (!ks)
		ks = kallsyms_of("orig.o");
	write_file("kallsyms", ks);
	write_file("Module.symvers", symvers);
	snprintf(o, sizeof(o), "%s", path("orig.o"));
	snprintf(p, sizeof(p), "%s", path("patched.o"));
	snprintf(out, sizeof(out), "%s", path("out.o"));
	ctx = new_ctx();
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(
		elp_symtab_load_exports(ctx, st, path("Module.symvers")), 0);
	req.symtab = st;
	unlink(out);
	d.ret = elp_diff_objects(ctx, &req, &d.res);
	if (getenv("ELP_TEST_VERBOSE"))
		fprintf(stderr, "%s", errbuf);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
	return d;
}

static bool patches(const struct diff_out *d, const char *func)
{
	size_t i;

	for (i = 0; d->res && i < d->res->nr_funcs; i++)
		if (!strcmp(d->res->funcs[i].old_name, func))
			return true;
	return false;
}

/* ---- 4. __LINE__-only changes ---- */

#define LINE_PRE                                                   \
	"extern void __might_sleep(const char *file, int line);\n" \
	"extern void consume(int x, int v, int w);\n"

static const char line_ks[] = "ffffffff81000000 T f\n"
			      "ffffffff81000100 T g\n"
			      "ffffffff81002000 T consume\n"
			      "ffffffff81002100 T __might_sleep\n";

/* an argument that is not a line number, with a line function after it */
static void test_line_real_change(void **state)
{
	static const char src[] =
		LINE_PRE "void f(int x)\n{\n\tconsume(x, %s, 3);\n"
			 "\t__might_sleep(\"f.c\", 12);\n}\n"
			 "void g(int x) { consume(x, 1, 2); }\n";
	char orig[1024], patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), src, "0x1000");
	snprintf(patched, sizeof(patched), src, "0x10");
	d = run_diff(orig, patched, line_ks);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "f"));
	assert_int_equal(d.res->nr_funcs, 1);
	elp_diff_result_free(d.res);
}

/* the line argument of __might_sleep() moves: not a change */
static void test_line_only(void **state)
{
	static const char src[] =
		LINE_PRE "void f(int x)\n{\n\tconsume(x, 0x1000, 3);\n"
			 "\t__might_sleep(\"f.c\", __LINE__);\n"
			 "\tconsume(x, 7, 3);\n}\n"
			 "void g(int x) { consume(x, 1, 2); }\n";
	char patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(patched, sizeof(patched), "\n\n\n%s", src);
	d = run_diff(src, patched, line_ks);
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 0);
	elp_diff_result_free(d.res);
}

/* a changed __LINE__ that ends up in another register of the call */
static void test_line_wrong_register(void **state)
{
	static const char src[] =
		LINE_PRE "void f(int x)\n{\n"
			 "\t__might_sleep(\"f.c\", 12);\n"
			 "\tconsume(x, 5, %s);\n"
			 "\t__might_sleep(\"f.c\", 14);\n}\n"
			 "void g(int x) { consume(x, 1, 2); }\n";
	char orig[1024], patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), src, "300");
	snprintf(patched, sizeof(patched), src, "301");
	d = run_diff(orig, patched, line_ks);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "f"));
	elp_diff_result_free(d.res);
}

/* code outside any function changes: an error, not a silent no-op */
static void test_changed_code_unselected(void **state)
{
	static const char src[] =
		"asm(\".pushsection .text.asm_stub,\\\"ax\\\"\\n\"\n"
		"    \"asm_stub: movl $%s, %%eax\\n ret\\n.popsection\");\n"
		"int g(int x) { return x + 1; }\n";
	static const char ks[] = "ffffffff81000000 t asm_stub\n"
				 "ffffffff81000100 T g\n";
	char orig[1024], patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), src, "1");
	snprintf(patched, sizeof(patched), src, "2");
	d = run_diff(orig, patched, ks);
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: .text.asm_stub: code changed but no changed function covers it"));
}

/* an alternative of 6.1 (12-byte entry) whose replacement the patch edits */
static const char alt_repl_src[] =
	"int x3;\n"
	"void alt_a(void)\n{\n"
	"\tasm volatile(\"661: nop; nop; nop\\n662:\\n\"\n"
	"\t\t     \".pushsection .altinstructions,\\\"a\\\"\\n\"\n"
	"\t\t     \".long 661b - .\\n.long 6641f - .\\n.word %d\\n\"\n"
	"\t\t     \".byte 3\\n.byte 3\\n.popsection\\n\"\n"
	"\t\t     \".pushsection .altinstr_replacement,\\\"ax\\\"\\n\"\n"
	"\t\t     \"6641: xor %%%%eax, %%%%eax; %s\\n.popsection\"\n"
	"\t\t     ::: \"eax\");\n"
	"\tx3 = 1;\n}\n"
	"void alt_b(void) { x3 = 2; }\n";

/* the function's own bytes are the same, what the kernel runs is not */
static void test_alt_replacement_changed(void **state)
{
	static const char ks[] = "ffffffff81000000 T alt_a\n"
				 "ffffffff81000100 T alt_b\n"
				 "ffffffff82000000 B x3\n";
	char orig[4096], patched[4096];
	struct elp_ctx *ctx;
	struct elp_obj *obj = NULL;
	struct elp_sec *alt;
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), alt_repl_src, 1, "nop");
	snprintf(patched, sizeof(patched), alt_repl_src, 1, "int3");
	d = run_diff(orig, patched, ks);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "alt_a"));
	assert_int_equal(d.res->nr_funcs, 1);
	ctx = new_ctx();
	assert_int_equal(elp_obj_read(ctx, path("out.o"), &obj), 0);
	alt = elp_find_sec(obj, ".altinstructions");
	assert_non_null(alt);
	assert_int_equal(alt->size, 12);
	elp_obj_free(obj);
	elp_ctx_free(ctx);
	elp_diff_result_free(d.res);

	/* another CPU feature for the same replacement */
	snprintf(patched, sizeof(patched), alt_repl_src, 2, "nop");
	d = run_diff(orig, patched, ks);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "alt_a"));
	elp_diff_result_free(d.res);

	/* nothing changed: nothing to patch */
	d = run_diff(orig, orig, ks);
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 0);
	elp_diff_result_free(d.res);
}

/* ---- 6. sympos of a local whose name is not unique ---- */

static char fam_text[] = ".text", fam_data[] = ".data";

/* the unit: static helper, a, b, c and global entry in .text, state */
static const struct elp_unit_sym unit6[] = {
	{ "helper", fam_text, true, false, true, false },
	{ "a", fam_text, true, false, true, false },
	{ "b", fam_text, true, false, true, false },
	{ "c", fam_text, true, false, true, false },
	{ "entry", fam_text, false, false, true, false },
	{ "state", fam_data, true, false, false, false },
};

static int sympos6(const char *ks, unsigned long *pos)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_symtab *st = NULL;
	int ret;

	write_file("kallsyms6", ks);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms6"), &st), 0);
	*pos = 99;
	ret = elp_symtab_sympos(st, "vmlinux", "helper", false, unit6,
				sizeof(unit6) / sizeof(unit6[0]), pos);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
	return ret;
}

/*
 * Another file has a helper next to an a and b of its own, and a third
 * file's c, a and b follow closely: scoring by nearby names picked that
 * helper.  Only the second block is exactly the unit's.
 */
static void test_sympos_block(void **state)
{
	static const char ks[] = "ffffffff81000000 t a\n"
				 "ffffffff81000010 t b\n"
				 "ffffffff81000020 t helper\n"
				 "ffffffff81000030 t x_only\n"
				 "ffffffff81000040 t c\n"
				 "ffffffff81000050 t a\n"
				 "ffffffff81000058 t b\n"
				 "ffffffff81000060 t y1\n"
				 "ffffffff81000070 t y2\n"
				 "ffffffff81000080 t y3\n"
				 "ffffffff81001000 t helper\n"
				 "ffffffff81001010 T entry\n"
				 "ffffffff81001020 t a\n"
				 "ffffffff81001030 t b\n"
				 "ffffffff81001040 t c\n"
				 "ffffffff81001050 T other_entry\n"
				 "ffffffff81001060 t z1\n"
				 "ffffffff81001070 t z2\n"
				 "ffffffff81001080 t z3\n"
				 "ffffffff82000000 d state\n";
	unsigned long pos;

	(void)state;
	assert_int_equal(sympos6(ks, &pos), 0);
	assert_int_equal(pos, 2);
}

/* no block holds exactly the unit's symbols: refused, not guessed */
static void test_sympos_no_block(void **state)
{
	static const char ks[] = "ffffffff81000000 t helper\n"
				 "ffffffff81000010 T entry\n"
				 "ffffffff81000020 t a\n"
				 "ffffffff81000030 t b\n"
				 "ffffffff81000050 t d_extra\n"
				 "ffffffff81000060 t f1\n"
				 "ffffffff81000070 t f2\n"
				 "ffffffff81000080 t f3\n"
				 "ffffffff81001000 t helper\n"
				 "ffffffff81001010 t a\n"
				 "ffffffff81001020 T z\n";
	unsigned long pos;

	(void)state;
	assert_int_equal(sympos6(ks, &pos), -ENOTSUP);
}

/* two blocks both exactly the unit's: refused */
static void test_sympos_two_blocks(void **state)
{
	static const char ks[] = "ffffffff81000000 t helper\n"
				 "ffffffff81000010 t a\n"
				 "ffffffff81000020 t b\n"
				 "ffffffff81000030 t c\n"
				 "ffffffff81000040 T entry\n"
				 "ffffffff81000050 t x\n"
				 "ffffffff81001000 t helper\n"
				 "ffffffff81001010 t a\n"
				 "ffffffff81001020 t b\n"
				 "ffffffff81001030 t c\n"
				 "ffffffff81001040 T entry\n";
	unsigned long pos;

	(void)state;
	assert_int_equal(sympos6(ks, &pos), -ENOTSUP);
}

static const struct elp_unit_sym *find_unit_sym(const struct elp_unit_sym *u,
						size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(u[i].name, name))
			return &u[i];
	fail_msg("'%s' not among the unit's symbols", name);
	return NULL;
}

/* the output section each symbol of a -ffunction-sections unit goes to */
static void test_unit_families(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_unit_sym *u = NULL;
	struct elp_obj *obj = NULL;
	size_t n = 0;

	(void)state;
	compile("fam",
		"static int st_var = 3;\n"
		"static int bss_var;\n"
		"static int __attribute__((section(\".data.once\"))) was_done;\n"
		"static int __attribute__((noinline, cold)) cold_fn(int x)\n"
		"{ return x * st_var; }\n"
		"int fam_entry(int x)\n"
		"{ bss_var++; was_done++; st_var += was_done;\n"
		"  return x ? cold_fn(x) : bss_var; }\n");
	assert_int_equal(elp_obj_read(ctx, path("fam.o"), &obj), 0);
	assert_int_equal(elp_unit_syms(obj, &u, &n), 0);
	assert_string_equal(find_unit_sym(u, n, "fam_entry")->family, ".text");
	assert_false(find_unit_sym(u, n, "fam_entry")->local);
	assert_string_equal(find_unit_sym(u, n, "cold_fn")->family,
			    ".text.unlikely");
	assert_true(find_unit_sym(u, n, "cold_fn")->code);
	assert_string_equal(find_unit_sym(u, n, "st_var")->family, ".data");
	assert_string_equal(find_unit_sym(u, n, "bss_var")->family, ".bss");
	assert_string_equal(find_unit_sym(u, n, "was_done")->family,
			    ".data.once");
	elp_unit_syms_free(u, n);
	elp_obj_free(obj);
	elp_ctx_free(ctx);
}

/* ---- 8. static locals ---- */

/* f's block-scoped statics: which is which after the patch adds one? */
static const char statics_src[] =
	"int f(int x)\n{\n"
	"%s"
	"\tif (x > 5) { static int n; n += x; return n; }\n"
	"\tif (x > 2) { static int n; n -= x; return n; }\n"
	"\treturn x;\n}\n";

static void test_static_ambiguous(void **state)
{
	char orig[1024], patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), statics_src, "");
	snprintf(patched, sizeof(patched), statics_src,
		 "\tif (x > 9) { static int n; n |= x; return n; }\n");
	d = run_diff(orig, patched, NULL);
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/f.c: f: static variable n."));
	assert_non_null(strstr(errbuf, "of the changed function cannot be "
				       "matched with the running kernel's"));
}

/* the name of the static local named norm that function fn uses in obj */
static const char *static_of(const char *obj_name, const char *fn,
			     const char *norm)
{
	static char name[128];
	struct elp_ctx *ctx = new_ctx();
	struct elp_obj *obj = NULL;
	struct elp_sym *refs[4];

	assert_int_equal(elp_obj_read(ctx, path(obj_name), &obj), 0);
	assert_int_equal(elp_bundle_syms(obj), 0);
	assert_int_equal(
		elp_static_refs(elp_find_sym(obj, fn), norm, refs, 4, false),
		1);
	snprintf(name, sizeof(name), "%s", refs[0]->name);
	elp_obj_free(obj);
	elp_ctx_free(ctx);
	return name;
}

/*
 * g gets inlined into f by the patch: f now uses g's n as well as its
 * own.  Each function's n stays the running kernel's variable.
 */
static void test_static_inlined(void **state)
{
	static const char src[] =
		"static int %s g(int x) { static int n; n += x; return n; }\n"
		"int f(int x)\n{\n\tstatic int n;\n\tn ^= x;\n"
		"\treturn n + g(x);\n}\n"
		"int h(int x) { return g(x) * 3; }\n";
	char orig[1024], patched[1024], marker[256];
	const char *f_n, *g_n;
	struct elp_ctx *ctx;
	struct elp_obj *obj = NULL;
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), src, "__attribute__((noinline))");
	snprintf(patched, sizeof(patched), src,
		 "__attribute__((always_inline)) inline");
	d = run_diff(orig, patched, NULL);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "f"));
	f_n = static_of("orig.o", "f", "n");
	ctx = new_ctx();
	assert_int_equal(elp_obj_read(ctx, path("out.o"), &obj), 0);
	snprintf(marker, sizeof(marker), "__elp_klp.vmlinux.0.%s", f_n);
	assert_non_null(elp_find_sym(obj, marker));
	g_n = static_of("orig.o", "g", "n");
	snprintf(marker, sizeof(marker), "__elp_klp.vmlinux.0.%s", g_n);
	assert_non_null(elp_find_sym(obj, marker));
	/* neither is a new variable of the module */
	assert_null(elp_find_sec(obj, ".bss.n"));
	elp_obj_free(obj);
	elp_ctx_free(ctx);
	elp_diff_result_free(d.res);
}

/* WARN_ONCE()-style flags may start afresh in the patch */
static void test_static_once_flags(void **state)
{
	static const char src[] =
		"extern void consume(int x, int v, int w);\n"
		"#define ONCE(v) do { static int __already_done "
		"__attribute__((section(\".data.once\"))); "
		"if (!__already_done) { __already_done = 1; "
		"consume(v, 0, 0); } } while (0)\n"
		"int f(int x)\n{\n\tif (x > 3) ONCE(x);\n%s\treturn x;\n}\n";
	char orig[1024], patched[1024];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), src, "");
	snprintf(patched, sizeof(patched), src, "\tif (x < -3) ONCE(-x);\n");
	d = run_diff(orig, patched, NULL);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "f"));
	elp_diff_result_free(d.res);
}

/* ---- 5. special section layouts of the target kernel ---- */

/* a WARN site: ud2 and a 12-byte struct bug_entry (DEBUG_BUGVERBOSE) */
static const char warn_src[] =
	"int x1;\n"
	"void warn_a(int v)\n"
	"{\n"
	"\tif (v)\n"
	"\t\tasm volatile(\"1: ud2\\n.pushsection __bug_table,\\\"aw\\\"\\n\"\n"
	"\t\t\t     \"2: .long 1b - 2b\\n.long %%c0 - 2b\\n\"\n"
	"\t\t\t     \".word %%c1\\n.word 0\\n.popsection\"\n"
	"\t\t\t     :: \"i\"(__FILE__), \"i\"(__LINE__));\n"
	"\tx1 = v + %d;\n"
	"}\n";

/* without the kernel's layout, a table is refused, not guessed */
static void test_layout_unknown(void **state)
{
	static const char ks[] = "ffffffff81000000 T warn_a\n"
				 "ffffffff82000000 B x1\n";
	char orig[2048], patched[2048];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), warn_src, 1);
	snprintf(patched, sizeof(patched), warn_src, 2);
	cur_layout = NULL;
	d = run_diff(orig, patched, ks);
	cur_layout = &layout_6_1;
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: __bug_table: the entry layout of this table is not known for the target kernel"));

	/* with it, the site goes into the patch */
	d = run_diff(orig, patched, ks);
	assert_int_equal(d.ret, 0);
	assert_true(patches(&d, "warn_a"));
	elp_diff_result_free(d.res);
}

/*
 * .altinstructions with 14-byte entries (u32 ft_flags, Linux 6.3+): six
 * sites are 84 bytes, which 12-byte entries divide as well.
 */
#define ALT14(feature, reg)                                                    \
	"\tasm volatile(\"661: nop; nop; nop\\n662:\\n\"\n"                    \
	"\t\t     \".pushsection .altinstructions,\\\"a\\\"\\n\"\n"            \
	"\t\t     \".long 661b - .\\n.long 6641f - .\\n.long " feature         \
	"\\n\"\n"                                                              \
	"\t\t     \".byte 3\\n.byte 3\\n.popsection\\n\"\n"                    \
	"\t\t     \".pushsection .altinstr_replacement,\\\"ax\\\"\\n\"\n"      \
	"\t\t     \"6641: xor %%%%" reg ", %%%%" reg "; nop\\n.popsection\"\n" \
	"\t\t     ::: \"" reg "\");\n"

static const char alt14_src[] =
	"int x2;\n"
	"void alt_a(void)\n{\n" ALT14("1", "eax") ALT14("2", "ecx")
		ALT14("3", "edx") "\tx2 = 1;\n}\n"
				  "void alt_b(void)\n{\n" ALT14("4", "eax")
					  ALT14("5", "ecx") ALT14(
						  "6", "edx") "\tx2 = %d;\n}\n";

static const char alt14_ks[] = "ffffffff81000000 T alt_a\n"
			       "ffffffff81000100 T alt_b\n"
			       "ffffffff82000000 B x2\n";

static void test_layout_alt_instr_14(void **state)
{
	static const struct elp_special_layout layout_6_3 = {
		.bug_entry = 12,
		.bug_entry_flags = 10,
		.alt_instr = 14,
		.paravirt_patch_site = 16,
		.exception_table_entry = 12,
		.jump_entry = 16,
		.static_call_site = 8,
		.orc_entry = 6,
	};
	char orig[8192], patched[8192];
	struct elp_ctx *ctx;
	struct elp_obj *obj = NULL;
	struct elp_sec *alt;
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), alt14_src, 2);
	snprintf(patched, sizeof(patched), alt14_src, 3);
	cur_layout = &layout_6_3;
	d = run_diff(orig, patched, alt14_ks);
	cur_layout = &layout_6_1;
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "alt_b");
	ctx = new_ctx();
	assert_int_equal(elp_obj_read(ctx, path("out.o"), &obj), 0);
	alt = elp_find_sec(obj, ".altinstructions");
	assert_non_null(alt);
	/* alt_b's three entries, whole */
	assert_int_equal(alt->size, 3 * 14);
	assert_int_equal(((unsigned char *)alt->data)[8], 4);
	assert_int_equal(((unsigned char *)alt->data)[14 + 8], 5);
	elp_obj_free(obj);
	elp_ctx_free(ctx);
	elp_diff_result_free(d.res);
}

/* the same table read with the 6.1 layout: refused, not sliced */
static void test_layout_mismatch(void **state)
{
	char orig[8192], patched[8192];
	struct diff_out d;

	(void)state;
	snprintf(orig, sizeof(orig), alt14_src, 2);
	snprintf(patched, sizeof(patched), alt14_src, 3);
	d = run_diff(orig, patched, alt14_ks);
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(
		errbuf,
		"lib/f.c: .altinstructions: the table does not match the target kernel's 12-byte entries"));
}

/* the probe's object: values by name, what it lacks stays unknown */
static void test_layout_probe_read(void **state)
{
	struct elp_special_layout l;
	struct elp_ctx *ctx;

	(void)state;
	compile("probe", "const unsigned long elp_layout_bug_entry = 8;\n"
			 "const unsigned long elp_layout_bug_entry_flags = 4;\n"
			 "const unsigned long elp_layout_alt_instr = 14;\n"
			 "const unsigned long elp_layout_jump_entry = 16;\n"
			 "const unsigned long elp_layout_orc_entry = 99999;\n");
	ctx = new_ctx();
	assert_int_equal(elp_special_probe_read(ctx, path("probe.o"), &l), 0);
	assert_int_equal(l.bug_entry, 8);
	assert_int_equal(l.bug_entry_flags, 4);
	assert_int_equal(l.alt_instr, 14);
	assert_int_equal(l.jump_entry, 16);
	/* not written, or not a plausible entry size */
	assert_int_equal(l.paravirt_patch_site, 0);
	assert_int_equal(l.orc_entry, 0);
	elp_ctx_free(ctx);
	/* the probe's source names every field it can */
	assert_non_null(
		strstr(elp_special_probe_source(),
		       "ELP_VALUE(alt_instr, sizeof(struct alt_instr))"));
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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_real_change),
		cmocka_unit_test(test_line_only),
		cmocka_unit_test(test_line_wrong_register),
		cmocka_unit_test(test_changed_code_unselected),
		cmocka_unit_test(test_alt_replacement_changed),
		cmocka_unit_test(test_sympos_block),
		cmocka_unit_test(test_sympos_no_block),
		cmocka_unit_test(test_sympos_two_blocks),
		cmocka_unit_test(test_unit_families),
		cmocka_unit_test(test_static_ambiguous),
		cmocka_unit_test(test_static_inlined),
		cmocka_unit_test(test_static_once_flags),
		cmocka_unit_test(test_layout_unknown),
		cmocka_unit_test(test_layout_alt_instr_14),
		cmocka_unit_test(test_layout_mismatch),
		cmocka_unit_test(test_layout_probe_read),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
