// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of what keeps a loaded livepatch from misbehaving: identity of
 * existing data, function pointers to changed functions, end pointers into
 * shared writable sections, exports resolved per object and their
 * namespaces.  Each diffs a tiny object pair compiled with kernel flags.
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
#include "../../src/engine/build-internal.h"
#include "../../src/engine/internal.h"

static char tmpdir[] = "/tmp/elp-test-safety-XXXXXX";
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

static struct elp_ctx *new_ctx(int priority)
{
	struct elp_ctx *ctx = elp_ctx_new();

	assert_non_null(ctx);
	errbuf[0] = '\0';
	elp_set_log_fn(ctx, capture_log, NULL);
	elp_set_log_priority(ctx, priority);
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

/* the code model and instrumentation of a kernel object */
static void compile(const char *name, const char *text)
{
	char src[600], cmd[2048];

	snprintf(src, sizeof(src), "%s.c", name);
	write_file(src, text);
	snprintf(cmd, sizeof(cmd),
		 "gcc -c -O2 -fno-pie -fno-pic -mcmodel=kernel -mno-red-zone "
		 "-fno-stack-protector -pg -mfentry -mrecord-mcount "
		 "-fno-asynchronous-unwind-tables -fno-jump-tables "
		 "-ffunction-sections -fdata-sections -o %s/%s.o %s/%s.c",
		 tmpdir, name, tmpdir, name);
	assert_int_equal(system(cmd), 0);
}

static const char symvers[] =
	"0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x2\tqueue_work_on\tvmlinux\tEXPORT_SYMBOL_GPL\t\n"
	"0x3\tns_func\tvmlinux\tEXPORT_SYMBOL_GPL\tMY_NS\n"
	"0x4\tmod_export\tdrivers/foo/mymod\tEXPORT_SYMBOL\t\n"
	"0x5\tother_export\tdrivers/bar/othermod\tEXPORT_SYMBOL_GPL\tOTHER_NS\n"
	"0x6\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n"
	"0x7\tdash_export\tsound/x/snd-my-mod\tEXPORT_SYMBOL\tSND_NS\n"
	"0x8\tklp_shadow_get_or_alloc\tvmlinux\tEXPORT_SYMBOL_GPL\t\n"
	"0x9\tklp_shadow_free\tvmlinux\tEXPORT_SYMBOL_GPL\t\n";

/* the target kernel seals unused ENDBRs (CONFIG_X86_KERNEL_IBT) */
static bool cur_ibt;

struct diff_out {
	int ret;
	struct elp_diff_result *res;
};

/* Diff orig_src against patched_src for target, with the kernel's symbols ks. */
static struct diff_out run_diff(const char *target, const char *ks,
				const char *orig_src, const char *patched_src,
				const char *out)
{
	struct elp_symtab *st = NULL;
	char orig[512], patched[512], output[512];
	struct elp_diff_request req = {
		.orig_obj = orig,
		.patched_obj = patched,
		.output_obj = output,
		.source_file = "lib/s.c",
		.target = target,
		.unit_index = 5,
		.ibt = cur_ibt,
	};
	struct diff_out d = { 0, NULL };
	struct elp_ctx *ctx;

	compile("orig", orig_src);
	compile("patched", patched_src);
	write_file("kallsyms", ks);
	write_file("symvers", symvers);
	snprintf(orig, sizeof(orig), "%s", path("orig.o"));
	snprintf(patched, sizeof(patched), "%s", path("patched.o"));
	snprintf(output, sizeof(output), "%s", path(out));
	ctx = new_ctx(ELP_LOG_DEBUG);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(elp_symtab_load_exports(ctx, st, path("symvers")), 0);
	req.symtab = st;
	unlink(req.output_obj);
	d.ret = elp_diff_objects(ctx, &req, &d.res);
	if (getenv("ELP_TEST_VERBOSE"))
		fprintf(stderr, "%s", errbuf);
	elp_symtab_free(st);
	elp_ctx_free(ctx);
	return d;
}

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

static struct elp_obj *read_obj(const char *name)
{
	struct elp_ctx *ctx = new_ctx(ELP_LOG_WARNING);
	struct elp_obj *obj = NULL;

	assert_int_equal(elp_obj_read(ctx, path(name), &obj), 0);
	/* the object keeps the context for messages: leak-free only at the end */
	return obj;
}

static void free_obj(struct elp_obj *obj)
{
	struct elp_ctx *ctx = obj->ctx;

	elp_obj_free(obj);
	elp_ctx_free(ctx);
}

static bool has_undef(struct elp_obj *obj, const char *name, unsigned char bind)
{
	struct elp_sym *s = elp_find_sym(obj, name);

	return s && !s->sec && s->s.st_shndx == SHN_UNDEF && s->bind == bind;
}

/* The relocations of section sec against a symbol named name. */
static size_t count_relas(struct elp_obj *obj, const char *sec,
			  const char *name, long *addend)
{
	struct elp_sec *rs = elp_find_sec(obj, sec);
	size_t i, n = 0;

	assert_non_null(rs);
	for (i = 0; i < rs->nr_relas; i++) {
		if (strcmp(rs->relas[i].sym->name, name) != 0)
			continue;
		if (addend)
			*addend = rs->relas[i].addend;
		n++;
	}
	return n;
}

/* ---- 1: existing data keeps its identity ---- */

static const char ops_src[] =
	"struct file_operations { int (*open)(void); };\n"
	"struct file { const struct file_operations *f_op; void *priv; };\n"
	"static int my_open(void) { return 1; }\n"
	"static const struct file_operations my_fops = { .open = my_open };\n"
	"void *sock_of(struct file *f)\n"
	"{ if (f->f_op == &my_fops) return (char *)f->priv + @OFF@; return 0; }\n"
	"const struct file_operations *fops_of(void) { return &my_fops; }\n"
	"static const int weights[8] = { 3, 1, 4, 1, 5, 9, 2, 6 };\n"
	"int weigh(int i) { return weights[i & 7] * @MUL@; }\n"
	"int is_w(const int *p) { return p == @CMP@; }\n";

static const char ops_kallsyms[] = "ffffffff81000000 t my_open\n"
				   "ffffffff81000100 T sock_of\n"
				   "ffffffff81000200 T fops_of\n"
				   "ffffffff81000300 T weigh\n"
				   "ffffffff81000500 T is_w\n"
				   "ffffffff82000000 r my_fops\n"
				   "@WEIGHTS@";

/*
 * A patched function compares f->f_op with the file's static ops table:
 * the table is the running kernel's (a klp relocation), not a copy nobody
 * else points at.
 */
static void test_ops_identity(void **state)
{
	const char *ks = subst(ops_kallsyms, "WEIGHTS",
			       "ffffffff82000100 r weights\n", NULL);
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_diff("vmlinux", ks,
		     subst(ops_src, "OFF", "0", "MUL", "1", "CMP", "0", NULL),
		     subst(ops_src, "OFF", "8", "MUL", "1", "CMP", "0", NULL),
		     "ops.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "sock_of");
	assert_non_null(strstr(errbuf,
			       "lib/s.c: my_fops: __elp_klp.vmlinux.0.my_fops "
			       "(existing data: the kernel's instance)"));
	obj = read_obj("ops.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.my_fops", STB_WEAK));
	assert_int_equal(count_relas(obj, ".rela.text.sock_of",
				     "__elp_klp.vmlinux.0.my_fops", NULL),
			 1);
	assert_null(elp_find_sec(obj, ".rodata.my_fops"));
	assert_null(elp_find_sym(obj, "my_open"));
	free_obj(obj);
	elp_diff_result_free(d.res);

	/* a constant table, listed in the kernel: the kernel's as well */
	d = run_diff("vmlinux", ks,
		     subst(ops_src, "OFF", "0", "MUL", "1", "CMP", "0", NULL),
		     subst(ops_src, "OFF", "0", "MUL", "3", "CMP", "0", NULL),
		     "weights.o");
	assert_int_equal(d.ret, 0);
	obj = read_obj("weights.o");
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.weights", STB_WEAK));
	assert_null(elp_find_sec(obj, ".rodata.weights"));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/*
 * Existing constant data the kernel's symbol table does not list: copied
 * when it holds no pointers and is only read in place, refused when its
 * address is compared.
 */
static void test_pure_constant_fallback(void **state)
{
	const char *ks = subst(ops_kallsyms, "WEIGHTS", "", NULL);
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_diff("vmlinux", ks,
		     subst(ops_src, "OFF", "0", "MUL", "1", "CMP", "0", NULL),
		     subst(ops_src, "OFF", "0", "MUL", "3", "CMP", "0", NULL),
		     "pure.o");
	assert_int_equal(d.ret, 0);
	assert_non_null(strstr(errbuf,
			       "lib/s.c: weights: copied (constant data "
			       "without pointers, only read in place"));
	obj = read_obj("pure.o");
	assert_non_null(elp_find_sec(obj, ".rodata.weights"));
	assert_false(has_undef(obj, "__elp_klp.vmlinux.0.weights", STB_WEAK));
	free_obj(obj);
	elp_diff_result_free(d.res);

	/* is_w() now compares with its address: never a private copy */
	d = run_diff(
		"vmlinux", ks,
		subst(ops_src, "OFF", "0", "MUL", "1", "CMP", "0", NULL),
		subst(ops_src, "OFF", "0", "MUL", "1", "CMP", "weights", NULL),
		"compared.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf, "lib/s.c: weights: not found in the "
				       "symbol table of vmlinux"));
	assert_int_not_equal(access(path("compared.o"), F_OK), 0);
}

static const char shared_ro_src[] =
	"#define RO __attribute__((section(\".rodata.mine\"), aligned(16)))\n"
	"static const int tbla[4] RO = { 1, 2, 3, 4 };\n"
	"static const int tblb[4] RO = { 5, 6, 7, 8 };\n"
	"const int *geta(void) { return tbla; }\n"
	"int getb(int v)\n"
	"{ int r; asm(\"vmovd %1, %%xmm0\\n\\tmovd %%xmm0, %0\" : \"=r\"(r) : \"m\"(tblb));\n"
	"  return r + v * @MUL@; }\n";

/*
 * An instruction the decoder does not know (VEX) refers to a section of
 * named constants: what it uses cannot be told, and a copy of the section
 * would give tbla and tblb addresses of the livepatch's own: refused.
 */
static void test_unknown_insn_constants(void **state)
{
	static const char ks[] = "ffffffff81000000 T geta\n"
				 "ffffffff81000100 T getb\n"
				 "ffffffff82000000 r tblb\n"
				 "ffffffff82000010 r tbla\n";
	struct diff_out d;

	(void)state;
	d = run_diff("vmlinux", ks, subst(shared_ro_src, "MUL", "1", NULL),
		     subst(shared_ro_src, "MUL", "2", NULL), "vex.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf, "lib/s.c: getb: the instruction at "
				       ".text.getb+"));
	assert_non_null(strstr(errbuf, "that refers to .rodata.mine is not "
				       "understood"));
	assert_int_not_equal(access(path("vex.o"), F_OK), 0);
}

static const char table_src[] =
	"struct ops { int (*f)(void); int n; };\n"
	"static int __attribute__((noinline)) one(void) { return 1; }\n"
	"static int __attribute__((noinline)) two(void) { return 2; }\n"
	"static const struct ops my_ops = { @F@, 1 };\n"
	"const struct ops *ops_get(void) { return &my_ops; }\n"
	"static const int tab[4] = { 1, 2, 3, @N@ };\n"
	"const int *tab_get(void) { return tab; }\n";

/*
 * A changed ops table would be the livepatch's own: refused.  A changed
 * table of plain numbers is copied.
 */
static void test_changed_table(void **state)
{
	static const char ks[] = "ffffffff81000000 t one\n"
				 "ffffffff81000100 t two\n"
				 "ffffffff81000200 T ops_get\n"
				 "ffffffff81000300 T tab_get\n"
				 "ffffffff82000000 r my_ops\n"
				 "ffffffff82000100 r tab\n";
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_diff("vmlinux", ks,
		     subst(table_src, "F", "one", "N", "4", NULL),
		     subst(table_src, "F", "two", "N", "4", NULL), "ops2.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf,
			       "lib/s.c: my_ops: a changed table of function "
			       "pointers (an ops table)"));

	d = run_diff("vmlinux", ks,
		     subst(table_src, "F", "one", "N", "4", NULL),
		     subst(table_src, "F", "one", "N", "5", NULL), "tab.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "tab_get");
	assert_non_null(
		strstr(errbuf, "lib/s.c: tab: copied (changed constant data)"));
	obj = read_obj("tab.o");
	assert_non_null(elp_find_sec(obj, ".rodata.tab"));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/* ---- 2: function pointers to changed functions ---- */

static const char work_src[] =
	"struct work { void (*fn)(struct work *); int v; };\n"
	"extern int queue_work_on(int cpu, struct work *w);\n"
	"static void __attribute__((noinline)) work_fn(struct work *w)"
	" { w->v = @V@; }\n"
	"void start(struct work *w)\n"
	"{ w->fn = work_fn; queue_work_on(@CPU@, w); work_fn(w); }\n"
	"static const struct work_ops { void (*fn)(struct work *); } "
	"ops = { work_fn };\n"
	"const void *ops_of(void) { return &ops; }\n";

static const char work_kallsyms[] = "ffffffff81000000 t work_fn\n"
				    "ffffffff81000100 T start\n"
				    "ffffffff81000200 T ops_of\n"
				    "ffffffff81000300 T queue_work_on\n"
				    "ffffffff82000000 r ops\n";

/*
 * start() stores the address of work_fn(), both changed: the stored
 * pointer is the kernel's original work_fn (ftrace redirects it while the
 * patch is on), the direct call stays on the livepatch's copy.
 */
static void test_func_pointer(void **state)
{
	struct diff_out d;
	struct elp_obj *obj;
	struct elp_sym *fn;
	struct elp_sec *rs;
	size_t i, local_calls = 0;

	(void)state;
	d = run_diff("vmlinux", work_kallsyms,
		     subst(work_src, "V", "1", "CPU", "0", NULL),
		     subst(work_src, "V", "2", "CPU", "1", NULL), "fnptr.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 2);
	assert_non_null(strstr(errbuf, "lib/s.c: start: address of changed "
				       "work_fn: the kernel's original"));
	obj = read_obj("fnptr.o");
	fn = elp_find_sym(obj, "work_fn");
	assert_non_null(fn);
	assert_non_null(fn->sec);
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.work_fn", STB_WEAK));
	/* the store is the original's address, the call the new copy */
	assert_int_equal(count_relas(obj, ".rela.text.start",
				     "__elp_klp.vmlinux.0.work_fn", NULL),
			 1);
	rs = elp_find_sec(obj, ".rela.text.start");
	for (i = 0; i < rs->nr_relas; i++)
		if (rs->relas[i].sym->sec == fn->sec)
			local_calls++;
	assert_int_equal(local_calls, 1);
	/* the unchanged ops table keeps pointing at the kernel's work_fn */
	assert_null(elp_find_sec(obj, ".rodata.ops"));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/* ---- new functions whose address escapes ---- */

static const char escape_src[] =
	"struct work { void (*fn)(struct work *); int v; };\n"
	"extern int queue_work_on(int cpu, struct work *w);\n"
	"extern void *klp_shadow_get_or_alloc(void *obj, unsigned long id,\n"
	"\tunsigned long size, unsigned int gfp,\n"
	"\tint (*ctor)(void *, void *, void *), void *data);\n"
	"extern void klp_shadow_free(void *obj, unsigned long id,\n"
	"\tvoid (*dtor)(void *, void *));\n"
	"@NEW@"
	"void start(struct work *w) { @BODY@ queue_work_on(0, w); }\n";

static const char escape_kallsyms[] = "ffffffff81000100 T start\n"
				      "ffffffff81000300 T queue_work_on\n";

/*
 * A function the patch adds may be called; its address stored into a
 * kernel structure (a work item, a new ops table) would outlive the
 * livepatch: refused.  As the constructor or destructor of a klp shadow
 * call it is run before the call returns: accepted.
 */
static void test_new_func_escape(void **state)
{
	static const char fn[] =
		"static void __attribute__((noinline)) new_fn(struct work *w)"
		" { w->v = 7; }\n";
	static const char shadow[] =
		"static int __attribute__((noinline)) "
		"my_ctor(void *o, void *s, void *d) { *(int *)s = 1; return 0; }\n"
		"static void __attribute__((noinline)) "
		"my_dtor(void *o, void *s) { *(int *)s = 0; }\n";
	static const char table[] =
		"static void __attribute__((noinline)) new_fn(struct work *w)"
		" { w->v = 7; }\n"
		"static const struct work_ops { void (*fn)(struct work *); } "
		"new_ops = { new_fn };\n"
		"const void *volatile ops_sink;\n";
	const char *orig = subst(escape_src, "NEW", "", "BODY", "", NULL);
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	/* called: fine */
	d = run_diff("vmlinux", escape_kallsyms, orig,
		     subst(escape_src, "NEW", fn, "BODY", "new_fn(w);", NULL),
		     "call.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	elp_diff_result_free(d.res);

	/* stored into the work item the kernel keeps */
	d = run_diff(
		"vmlinux", escape_kallsyms, orig,
		subst(escape_src, "NEW", fn, "BODY", "w->fn = new_fn;", NULL),
		"store.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf, "lib/s.c: start: takes the address of "
				       "new_fn, a function the patch adds"));
	assert_int_not_equal(access(path("store.o"), F_OK), 0);

	/* in a new ops table whose address is handed out */
	d = run_diff("vmlinux", escape_kallsyms, orig,
		     subst(escape_src, "NEW", table, "BODY",
			   "ops_sink = &new_ops;", NULL),
		     "table.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "new_ops: takes the address of "
				       "new_fn, a function the patch adds"));

	/* klp shadow constructor and destructor */
	d = run_diff(
		"vmlinux", escape_kallsyms, orig,
		subst(escape_src, "NEW", shadow, "BODY",
		      "int *sh = klp_shadow_get_or_alloc(w, 1, 4, 0, my_ctor, 0);"
		      " if (sh) w->v = *sh; klp_shadow_free(w, 1, my_dtor);",
		      NULL),
		"shadow.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_non_null(strstr(errbuf, "my_ctor is a klp shadow constructor"));
	assert_non_null(strstr(errbuf, "my_dtor is a klp shadow constructor"));
	obj = read_obj("shadow.o");
	assert_non_null(elp_find_sym(obj, "my_ctor"));
	assert_non_null(elp_find_sym(obj, "my_dtor"));
	free_obj(obj);
	elp_diff_result_free(d.res);

	/* the constructor passed where the shadow call takes its data */
	d = run_diff(
		"vmlinux", escape_kallsyms, orig,
		subst(escape_src, "NEW", shadow, "BODY",
		      "klp_shadow_get_or_alloc(w, 1, 4, 0, 0, (void *)my_ctor);",
		      NULL),
		"shadowdata.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_non_null(strstr(errbuf, "takes the address of my_ctor"));
}

/* ---- 10: kernel functions sealed at boot (IBT) ---- */

static const char ibt_src[] =
	"struct work { void (*fn)(struct work *); int v; };\n"
	"extern int queue_work_on(int cpu, struct work *w);\n"
	"extern void ext_fn(struct work *w);\n"
	"extern void printk(struct work *w);\n"
	"static void __attribute__((noinline)) helper(struct work *w)"
	" { w->v = 3; }\n"
	"void kick(struct work *w) { helper(w); ext_fn(w); }\n"
	"@GET@"
	"void start(struct work *w) { @BODY@ queue_work_on(0, w); }\n";

static const char ibt_kallsyms[] = "ffffffff81000000 t helper\n"
				   "ffffffff81000100 T kick\n"
				   "ffffffff81000200 T start\n"
				   "ffffffff81000300 T queue_work_on\n"
				   "ffffffff81000400 T ext_fn\n"
				   "ffffffff81000500 T printk\n"
				   "ffffffff81000600 T get_helper\n";

static int ibt_diff(const char *get, const char *body, const char *out)
{
	struct diff_out d;

	d = run_diff("vmlinux", ibt_kallsyms,
		     subst(ibt_src, "GET", get, "BODY", "", NULL),
		     subst(ibt_src, "GET", get, "BODY", body, NULL), out);
	elp_diff_result_free(d.res);
	return d.ret;
}

/*
 * A patch that newly stores the address of an existing kernel function
 * whose address the kernel never took: with CONFIG_X86_KERNEL_IBT its
 * ENDBR may be sealed, and the indirect call faults (kpatch #1320).
 * Exported functions and functions the original unit takes the address
 * of keep theirs.
 */
static void test_ibt_sealed(void **state)
{
	static const char get[] = "void (*get_helper(void))(struct work *)"
				  " { return helper; }\n";

	(void)state;
	cur_ibt = false;
	assert_int_equal(ibt_diff("", "w->fn = helper;", "noibt.o"), 0);

	cur_ibt = true;
	assert_int_equal(ibt_diff("", "w->fn = helper;", "sealed.o"), -ENOTSUP);
	assert_non_null(strstr(errbuf, "lib/s.c: start: takes the address of "
				       "helper, which vmlinux may have sealed "
				       "at boot"));
	assert_int_equal(ibt_diff("", "w->fn = ext_fn;", "ext.o"), -ENOTSUP);
	assert_non_null(strstr(errbuf, "takes the address of ext_fn"));
	/* taken by the kernel too: the original unit, or an export */
	assert_int_equal(ibt_diff(get, "w->fn = helper;", "taken.o"), 0);
	assert_int_equal(ibt_diff("", "w->fn = printk;", "export.o"), 0);
	/* calls need no ENDBR */
	assert_int_equal(ibt_diff("", "helper(w); ext_fn(w);", "call.o"), 0);
	cur_ibt = false;
}

/* ---- 10: ORC coverage of the linked module ---- */

static const char orc_src[] =
	"void covered(void) { }\n"
	"void bare(void) { }\n"
	"void __attribute__((section(\".text.two\"))) two_a(void) { }\n"
	"void __attribute__((section(\".text.two\"))) two_b(void) { }\n"
	"asm(\".pushsection .orc_unwind_ip,\\\"a\\\"\\n\"\n"
	"    \".long covered - .\\n.long two_a - .\\n@MORE@.popsection\");\n";

/*
 * On an ORC kernel, every function of the module is covered by an
 * .orc_unwind_ip entry at or before its start in its section; bare() has
 * none: refused, naming it.
 */
static void test_orc_coverage(void **state)
{
	struct elp_ctx *ctx;

	(void)state;
	compile("orc", subst(orc_src, "MORE", "", NULL));
	ctx = new_ctx(ELP_LOG_WARNING);
	assert_int_equal(elp_module_check_orc(ctx, path("orc.o")), -ENOTSUP);
	assert_non_null(strstr(errbuf, "bare (.text.bare) has no ORC unwind "
				       "entry"));
	assert_null(strstr(errbuf, "covered ("));
	assert_null(strstr(errbuf, "two_b"));
	elp_ctx_free(ctx);

	compile("orc2", subst(orc_src, "MORE", ".long bare - .\\n", NULL));
	ctx = new_ctx(ELP_LOG_WARNING);
	assert_int_equal(elp_module_check_orc(ctx, path("orc2.o")), 0);
	assert_string_equal(errbuf, "");
	elp_ctx_free(ctx);
}

/* ---- 3: end pointers into shared writable sections ---- */

static const char end_src[] =
	"#define RM __attribute__((section(\".data..read_mostly\")))\n"
	/* gcc lays them out in reverse: tbl last, up to the section end */
	"static long tbl[4] RM;\n"
	"static int first RM = 1;\n"
	"long sum(void)\n"
	"{\n"
	"\tlong s = 0, *p, *end = tbl + 4;\n"
	"\n"
	"\t__asm__(\"\" : \"+r\"(end));\n"
	"\tfor (p = tbl; p < end; p++)\n"
	"\t\ts += *p;\n"
	"\treturn s + @ADD@;\n"
	"}\n"
	"int get_first(void) { return first; }\n"
	"void set(int i, long v) { tbl[i & 3] = v; first = v; }\n"
	"long *beyond(void) { long *p; __asm__(\"movq $tbl+@PAST@, %0\" : \"=r\"(p)); return p; }\n";

static const char end_kallsyms[] = "ffffffff81000000 T sum\n"
				   "ffffffff81000100 T set\n"
				   "ffffffff81000200 T beyond\n"
				   "ffffffff81000300 T get_first\n"
				   "ffffffff82000000 d first\n"
				   "ffffffff82000020 d tbl\n";

/*
 * sum() walks tbl up to tbl + 4, one past the last variable of
 * .data..read_mostly: both ends are the kernel's tbl, and the section is
 * not copied.  A reference past every variable cannot be resolved: refused.
 */
static void test_end_pointer(void **state)
{
	struct diff_out d;
	struct elp_obj *obj;
	struct elp_sym *tbl;
	struct elp_sec *rm;

	(void)state;
	/* the shape under test: tbl ends where the section ends */
	compile("layout", subst(end_src, "ADD", "0", "PAST", "40", NULL));
	obj = read_obj("layout.o");
	tbl = elp_find_sym(obj, "tbl");
	rm = elp_find_sec(obj, ".data..read_mostly");
	assert_non_null(tbl);
	assert_non_null(rm);
	assert_ptr_equal(tbl->sec, rm);
	assert_int_equal(tbl->s.st_value + tbl->s.st_size, rm->size);
	free_obj(obj);

	d = run_diff("vmlinux", end_kallsyms,
		     subst(end_src, "ADD", "0", "PAST", "40", NULL),
		     subst(end_src, "ADD", "1", "PAST", "40", NULL), "end.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "sum");
	assert_non_null(strstr(errbuf, "lib/s.c: sum: .data..read_mostly+64 "
				       "is tbl (its end)"));
	obj = read_obj("end.o");
	assert_null(elp_find_sec(obj, ".data..read_mostly"));
	assert_int_equal(count_relas(obj, ".rela.text.sum",
				     "__elp_klp.vmlinux.0.tbl", NULL),
			 3);
	assert_int_equal(
		count_relas(obj, ".rela.text.sum", ".data..read_mostly", NULL),
		0);
	/* one of them is the end: tbl + 32 */
	{
		struct elp_sec *rs = elp_find_sec(obj, ".rela.text.sum");
		size_t i, ends = 0;

		for (i = 0; i < rs->nr_relas; i++)
			if (!strcmp(rs->relas[i].sym->name,
				    "__elp_klp.vmlinux.0.tbl") &&
			    rs->relas[i].addend == 32)
				ends++;
		assert_int_equal(ends, 1);
	}
	free_obj(obj);
	elp_diff_result_free(d.res);

	/* beyond() changes to point 8 bytes past the end of tbl */
	d = run_diff("vmlinux", end_kallsyms,
		     subst(end_src, "ADD", "0", "PAST", "32", NULL),
		     subst(end_src, "ADD", "0", "PAST", "40", NULL),
		     "beyond.o");
	assert_int_equal(d.ret, -ENOTSUP);
	assert_null(d.res);
	assert_non_null(strstr(errbuf, "lib/s.c: beyond: refers to "
				       ".data..read_mostly+"));
	assert_non_null(strstr(errbuf, "which is inside no variable"));
	assert_int_not_equal(access(path("beyond.o"), F_OK), 0);
}

/* ---- exact targets of relocations into data ---- */

static const char imm_src[] =
	"#define RM __attribute__((section(\".data..read_mostly\")))\n"
	/* reverse layout: a at 0, b at 4 */
	"static int b RM = 2;\n"
	"static int a RM = 1;\n"
	"int get(void) { return a + b; }\n"
	"void setb(int x)\n"
	"{ asm volatile(\"andl $0xf, %%eax\\n\\tmovl $@V@, %0\" : \"=m\"(b) : \"a\"(x)); }\n";

/*
 * setb() stores an immediate to b(%rip) right after "and $0xf, %eax",
 * whose last byte looked like a two-byte opcode escape: the store is to b,
 * 8 bytes before the end of the instruction, never to a.
 */
static void test_exact_data_target(void **state)
{
	static const char ks[] = "ffffffff81000000 T get\n"
				 "ffffffff81000100 T setb\n"
				 "ffffffff82000000 d a\n"
				 "ffffffff82000004 d b\n";
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	compile("layout", subst(imm_src, "V", "5", NULL));
	obj = read_obj("layout.o");
	assert_int_equal(elp_find_sym(obj, "a")->s.st_value, 0);
	assert_int_equal(elp_find_sym(obj, "b")->s.st_value, 4);
	free_obj(obj);

	d = run_diff("vmlinux", ks, subst(imm_src, "V", "5", NULL),
		     subst(imm_src, "V", "6", NULL), "imm.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_funcs, 1);
	assert_string_equal(d.res->funcs[0].old_name, "setb");
	obj = read_obj("imm.o");
	assert_int_equal(count_relas(obj, ".rela.text.setb",
				     "__elp_klp.vmlinux.0.b", NULL),
			 1);
	assert_int_equal(count_relas(obj, ".rela.text.setb",
				     "__elp_klp.vmlinux.0.a", NULL),
			 0);
	assert_null(elp_find_sec(obj, ".data..read_mostly"));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/* ---- 9: exports per object, namespaces ---- */

static const char exp_src[] =
	"extern int ns_func(int);\n"
	"extern int mod_export(int);\n"
	"extern int other_export(int);\n"
	"int use(int x) { return ns_func(x) + mod_export(x) + other_export(x) + @ADD@; }\n";

/*
 * In vmlinux, mod_export (exported by a module) cannot be that module's
 * export: it is vmlinux's own global.  In mymod, mod_export is mymod's
 * export: a klp relocation, so the livepatch loads before mymod does.
 * other_export of othermod (which mymod links against) and vmlinux's
 * ns_func stay plain, and their namespaces are imported.
 */
static void test_exports(void **state)
{
	static const char vmlinux_ks[] = "ffffffff81000000 T use\n"
					 "ffffffff81000100 T ns_func\n"
					 "ffffffff81000200 T mod_export\n";
	static const char mod_ks[] =
		"ffffffff81000100 T ns_func\n"
		"ffffffffc0000000 T use\t[mymod]\n"
		"ffffffffc0000100 T mod_export\t[mymod]\n"
		"ffffffffc0100000 T other_export\t[othermod]\n";
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_diff("vmlinux", vmlinux_ks, subst(exp_src, "ADD", "0", NULL),
		     subst(exp_src, "ADD", "1", NULL), "expv.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_namespaces, 1);
	assert_string_equal(d.res->namespaces[0], "MY_NS");
	obj = read_obj("expv.o");
	assert_true(has_undef(obj, "ns_func", STB_GLOBAL));
	assert_true(has_undef(obj, "__elp_klp.vmlinux.0.mod_export", STB_WEAK));
	assert_false(has_undef(obj, "mod_export", STB_GLOBAL));
	free_obj(obj);
	/* other_export is nowhere in vmlinux: left to the loader, reported */
	assert_int_equal(d.res->nr_loader_syms, 1);
	assert_string_equal(d.res->loader_syms[0], "other_export");
	elp_diff_result_free(d.res);

	d = run_diff("mymod", mod_ks, subst(exp_src, "ADD", "0", NULL),
		     subst(exp_src, "ADD", "1", NULL), "expm.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_loader_syms, 0);
	assert_int_equal(d.res->nr_namespaces, 2);
	assert_string_equal(d.res->namespaces[0], "MY_NS");
	assert_string_equal(d.res->namespaces[1], "OTHER_NS");
	obj = read_obj("expm.o");
	assert_true(has_undef(obj, "ns_func", STB_GLOBAL));
	assert_true(has_undef(obj, "__elp_klp.mymod.0.mod_export", STB_WEAK));
	assert_false(has_undef(obj, "mod_export", STB_GLOBAL));
	assert_true(has_undef(obj, "other_export", STB_GLOBAL));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/* A global of the target module's file, exported by it: a klp relocation. */
static void test_exports_defined(void **state)
{
	static const char src[] =
		"int __attribute__((noinline)) mod_export(int x) { return x * 3; }\n"
		"int use(int x) { return mod_export(x) + @ADD@; }\n";
	static const char ks[] = "ffffffffc0000000 T use\t[mymod]\n"
				 "ffffffffc0000100 T mod_export\t[mymod]\n";
	struct diff_out d;
	struct elp_obj *obj;

	(void)state;
	d = run_diff("mymod", ks, subst(src, "ADD", "0", NULL),
		     subst(src, "ADD", "1", NULL), "expd.o");
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.res->nr_namespaces, 0);
	obj = read_obj("expd.o");
	assert_true(has_undef(obj, "__elp_klp.mymod.0.mod_export", STB_WEAK));
	assert_false(has_undef(obj, "mod_export", STB_GLOBAL));
	free_obj(obj);
	elp_diff_result_free(d.res);
}

/* Exports by object, with kbuild's and the kernel's spelling of modules. */
static void test_export_of(void **state)
{
	struct elp_ctx *ctx = new_ctx(ELP_LOG_WARNING);
	struct elp_symtab *st = NULL;
	const char *ns = NULL;

	(void)state;
	write_file("kallsyms", "ffffffff81000100 T ns_func\n");
	write_file("symvers", symvers);
	assert_int_equal(elp_symtab_load(ctx, path("kallsyms"), &st), 0);
	assert_int_equal(elp_symtab_load_exports(ctx, st, path("symvers")), 0);
	assert_true(elp_symtab_export_of(st, "vmlinux", "ns_func", &ns));
	assert_string_equal(ns, "MY_NS");
	assert_true(elp_symtab_export_of(st, "vmlinux", "printk", &ns));
	assert_string_equal(ns, "");
	assert_false(elp_symtab_export_of(st, "vmlinux", "mod_export", NULL));
	assert_true(elp_symtab_export_of(st, "mymod", "mod_export", NULL));
	assert_false(elp_symtab_export_of(st, "othermod", "mod_export", NULL));
	assert_true(elp_symtab_export_of(st, "snd_my_mod", "dash_export", &ns));
	assert_string_equal(ns, "SND_NS");
	assert_false(elp_symtab_export_of(st, "snd_my", "dash_export", NULL));
	elp_symtab_free(st);
	elp_ctx_free(ctx);
}

/* ---- 11: the scope of a header change ---- */

static bool line_in(const char *lines, const char *word)
{
	size_t l = strlen(word);
	const char *p = lines;

	while ((p = strstr(p, word))) {
		if ((p == lines || p[-1] == '\n') && p[l] == '\n')
			return true;
		p += l;
	}
	return false;
}

/*
 * seq_file.h changes seq_escape_str(); seq_show_option() of another
 * header calls it (through a macro), and a file calling only
 * seq_show_option() uses the change.  What does not use it (a prototype,
 * a comment, a string, a non-inline function) is not derived.
 */
static void test_scope_derive(void **state)
{
	static const char other_h[] =
		"/* seq_escape_str() is not called here */\n"
		"void seq_escape_str(struct seq_file *m);\n"
		"#define SEQ_ESC(m) \\\n\tseq_escape_str(m)\n"
		"static inline void seq_show_option(struct seq_file *m,\n"
		"\t\t\t\t   const char *name)\n"
		"{\n\tif (name) {\n\t\tSEQ_ESC(m);\n\t}\n}\n"
		"static inline __attribute__((always_inline)) int\n"
		"seq_count(struct seq_file *m) { return m->count; }\n"
		"int seq_plain(struct seq_file *m) { seq_escape_str(m); return 0; }\n"
		"static inline const char *seq_name(void) "
		"{ return \"seq_escape_str\"; }\n";
	static const char last_h[] =
		"static __always_inline void seq_opts(struct seq_file *m)\n"
		"{ seq_show_option(m, \"x\"); }\n";
	const char *texts[] = { last_h, other_h };
	char *out;

	(void)state;
	out = elp_scope_derive(texts, 2, "seq_escape_str\n");
	assert_non_null(out);
	assert_true(line_in(out, "seq_escape_str"));
	assert_true(line_in(out, "SEQ_ESC"));
	assert_true(line_in(out, "seq_show_option"));
	/* reached through seq_show_option, itself derived */
	assert_true(line_in(out, "seq_opts"));
	assert_false(line_in(out, "seq_count"));
	assert_false(line_in(out, "seq_plain"));
	assert_false(line_in(out, "seq_name"));
	free(out);
}

/* kbuild's dependency list of a preprocessed file names the header read */
static void test_scope_deps(void **state)
{
	static const char cmd[] =
		"savedcmd_fs/proc/x.i := gcc -E ...\n\n"
		"source_fs/proc/x.i := fs/proc/x.c\n\n"
		"deps_fs/proc/x.i := \\\n"
		"  include/linux/compiler-version.h \\\n"
		"    $(wildcard include/config/CC_VERSION_TEXT) \\\n"
		"  /src/linux/include/linux/seq_file.h \\\n"
		"  include/linux/kconfig.h \\\n\n"
		"fs/proc/x.i: $(deps_fs/proc/x.i)\n";
	char *seq[] = { "include/linux/seq_file.h" };
	char *fs[] = { "include/linux/fs.h", "linux/kconfig.h" };
	char *partial[] = { "inux/seq_file.h" };

	(void)state;
	assert_true(elp_scope_deps_name(cmd, seq, 1));
	assert_true(elp_scope_deps_name(cmd, fs, 2));
	assert_false(elp_scope_deps_name(cmd, fs, 1));
	assert_false(elp_scope_deps_name(cmd, partial, 1));
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
		cmocka_unit_test(test_ops_identity),
		cmocka_unit_test(test_pure_constant_fallback),
		cmocka_unit_test(test_unknown_insn_constants),
		cmocka_unit_test(test_changed_table),
		cmocka_unit_test(test_func_pointer),
		cmocka_unit_test(test_new_func_escape),
		cmocka_unit_test(test_ibt_sealed),
		cmocka_unit_test(test_orc_coverage),
		cmocka_unit_test(test_end_pointer),
		cmocka_unit_test(test_exact_data_target),
		cmocka_unit_test(test_exports),
		cmocka_unit_test(test_exports_defined),
		cmocka_unit_test(test_export_of),
		cmocka_unit_test(test_scope_derive),
		cmocka_unit_test(test_scope_deps),
	};

	return cmocka_run_group_tests_name("engine-safety", tests, setup,
					   teardown);
}
