// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The resolve pass: every reference of what the output holds is either
 * copied into it (what only the patch provides) or left to the running
 * kernel, as an export or a klp marker; addresses of changed functions
 * point at the kernel's original, the addresses a livepatch must not take
 * (of a function it adds, of a function the kernel may have sealed) are
 * refused.  It runs until nothing new is included, and again over the
 * regenerated special sections.
 *
 * Apart from include.c because it is the bulk of inclusion's rules, with
 * the instruction decoding some of them need.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include-internal.h"

/* Statics that are fine (or required) to duplicate in the patch module. */
static bool is_special_static(const struct elp_sym *sym)
{
	static const char *const names[] = {
		"__warned", "__already_done", "__print_once", "__func__",
		"_rs",	    "CSWTCH",	      "__key",	      "__warned_once",
		NULL,
	};
	size_t i;

	if (sym->bind != STB_LOCAL || sym->type == STT_FUNC)
		return false;
	for (i = 0; names[i]; i++)
		if (!strcmp(sym->norm, names[i]))
			return true;
	return elp_starts_with(sym->name, "__UNIQUE_ID_ddebug");
}

static bool is_writable(const struct elp_sec *sec)
{
	return (sec->sh.sh_flags & SHF_WRITE) || sec->sh.sh_type == SHT_NOBITS;
}

static bool is_data_object(const struct elp_sym *t)
{
	return t->type == STT_OBJECT && t->sec && !elp_sec_is_text(t->sec);
}

/*
 * Should the referenced symbol be copied into the output object?  *why
 * names the rule that decided, for the log.
 */
static bool want_copy(const struct elp_sym *t, const char **why)
{
	const struct elp_sec *sec = t->sec;

	if (t->type == STT_SECTION) {
		*why = "strings, anonymous constants or code without a symbol";
		return true;
	}
	if (elp_inc_is_init_section(sec->name)) {
		*why = "__init/__exit: the kernel's";
		return false;
	}
	/*
	 * An existing variable or constant keeps its address: an ops table
	 * compared with f->f_op, an array walked up to its end pointer, a
	 * string used as a key are the running kernel's, whether or not the
	 * section that holds them is copied for a new neighbour.
	 */
	if (is_data_object(t) && t->twin && t->status == ELP_SAME &&
	    !is_special_static(t)) {
		*why = "existing data: the kernel's instance";
		return false;
	}
	if (sec->include) {
		*why = "in a section the output has";
		return true;
	}
	if (t->status == ELP_NEW || sec->status == ELP_NEW) {
		*why = "new in the patch";
		return true;
	}
	if (elp_inc_is_changed_func(t) || elp_is_cold(t->name)) {
		*why = "changed code";
		return true;
	}
	if (is_special_static(t)) {
		*why = "once flag, ratelimit state or similar: the livepatch's own";
		return true;
	}
	if (t->bind == STB_LOCAL && !elp_sec_is_text(sec) &&
	    !is_writable(sec)) {
		*why = "changed constant data";
		return true;
	}
	*why = "existing symbol: the kernel's";
	return false;
}

static struct elp_sym *undefined_sym(struct elp_diff_state *st,
				     const char *name, unsigned char bind)
{
	size_t i;

	for (i = 1; i < st->patched->nr_syms; i++) {
		struct elp_sym *s = st->patched->syms[i];

		if (!s->sec && s->type != STT_SECTION &&
		    s->s.st_shndx == SHN_UNDEF && !strcmp(s->name, name)) {
			if (bind == STB_WEAK || s->bind == STB_WEAK) {
				if (s->bind != bind)
					continue;
			}
			return s;
		}
	}
	return elp_obj_add_sym(st->patched, name, STT_NOTYPE, bind, NULL, 0, 0);
}

static int klp_marker(struct elp_diff_state *st, const char *obj,
		      const char *name, bool global, struct elp_sym **out)
{
	unsigned long pos = 0;
	char *marker;
	int ret;

	if (st->req->symtab) {
		ret = elp_symtab_sympos(st->req->symtab, obj, name, global,
					st->neighbours, st->nr_neighbours,
					&pos);
		if (ret)
			return elp_inc_sympos_error(st, name, obj, ret);
	}
	if (asprintf(&marker, ELP_KLP_MARKER "%s.%lu.%s", obj, pos, name) < 0)
		return -ENOMEM;
	*out = undefined_sym(st, marker, STB_WEAK);
	free(marker);
	return *out ? 0 : -ENOMEM;
}

/* Record the namespace of an export the output references plainly. */
static int note_namespace(struct elp_diff_state *st, const char *ns)
{
	if (!ns || !*ns)
		return 0;
	return elp_strv_add_unique(&st->result->namespaces,
				   &st->result->nr_namespaces, ns);
}

/*
 * The replacement for a reference to t, which stays in the kernel.  Only
 * exports of vmlinux (and, from a module, of the other modules it links
 * against) are left to the module loader: a symbol of the target module,
 * exported or not, gets a klp relocation so that the livepatch loads
 * before that module does.
 */
static int kernel_ref(struct elp_diff_state *st, struct elp_sym *t,
		      struct elp_sym **out)
{
	const struct elp_symtab *symtab = st->req->symtab;
	const char *name = t->twin ? t->twin->name : t->name;
	bool in_vmlinux = !strcmp(elp_inc_target(st), "vmlinux");
	const char *eobj = NULL, *ns = NULL;

	if (t->sec) {
		bool global = t->bind != STB_LOCAL;

		if (global && in_vmlinux &&
		    elp_symtab_export_of(symtab, "vmlinux", name, &ns)) {
			*out = undefined_sym(st, name, STB_GLOBAL);
			return *out ? note_namespace(st, ns) : -ENOMEM;
		}
		return klp_marker(st, elp_inc_target(st), name, global, out);
	}
	/* undefined in the unit: lives elsewhere in the target or vmlinux */
	if (!symtab) {
		*out = t;
		return 0;
	}
	if (elp_symtab_export_of(symtab, "vmlinux", name, &ns)) {
		*out = t;
		return note_namespace(st, ns);
	}
	if (!in_vmlinux) {
		if (elp_symtab_count(symtab, elp_inc_target(st), name) ||
		    elp_symtab_export_of(symtab, elp_inc_target(st), name,
					 NULL))
			return klp_marker(st, elp_inc_target(st), name, true,
					  out);
		/* a module the target links against (loaded before it) */
		if (elp_symtab_is_exported(symtab, name, &eobj) &&
		    elp_symtab_export_of(symtab, eobj, name, &ns)) {
			elp_dbg(st->ctx, "%s: %s: export of %s",
				elp_inc_unit(st), name, eobj);
			*out = t;
			return note_namespace(st, ns);
		}
	}
	if (elp_symtab_count(symtab, "vmlinux", name))
		return klp_marker(st, "vmlinux", name, true, out);
	/* maybe a new global of another file of the patch: the caller warns */
	elp_dbg(st->ctx, "%s: %s: left to the module loader", elp_inc_unit(st),
		name);
	*out = t;
	return elp_strv_add_unique(&st->result->loader_syms,
				   &st->result->nr_loader_syms, name);
}

/* Name of what holds a relocation, for messages. */
static const char *site_name(const struct elp_sec *from,
			     const struct elp_rela *r)
{
	const struct elp_sym *f = elp_sec_is_text(from)
					  ? elp_inc_func_at(from, r->offset)
					  : from->bundled;

	return f ? f->name : from->name;
}

/*
 * A reference to the entry of a changed function that is not a direct
 * call or jump: its address is taken (w.fn = work_fn, ops tables,
 * single_open(file, show, ...)).  Kernel structures may keep it after the
 * livepatch is disabled and unloaded.
 */
static bool is_func_pointer(const struct elp_sec *from,
			    const struct elp_rela *r)
{
	const struct elp_sym *fn = r->sym;

	if (!elp_inc_is_changed_func(fn) || elp_is_cold(fn->name) ||
	    fn->via_callers || !fn->twin || !fn->twin->sec ||
	    elp_inc_is_metadata_section(from))
		return false;
	if (elp_rela_target_offset(from, r) != (long)fn->s.st_value)
		return false;
	return !elp_sec_is_text(from) ||
	       !elp_inc_is_branch_site(from, r->offset, r->type);
}

/*
 * The original function, which ftrace redirects to the new one while the
 * patch is enabled, as kpatch does for function pointers: a pointer to the
 * livepatch's copy would dangle once the module is unloaded.
 */
static int func_pointer_ref(struct elp_diff_state *st,
			    const struct elp_sec *from, struct elp_rela *r)
{
	struct elp_sym *fn = r->sym, *repl = NULL;
	int ret;

	ret = klp_marker(st, elp_inc_target(st), fn->twin->name,
			 fn->twin->bind != STB_LOCAL, &repl);
	if (ret)
		return ret;
	if (!repl)
		return -ENOMEM;
	elp_dbg(st->ctx,
		"%s: %s: address of changed %s: the kernel's original (redirected while patched)",
		elp_inc_unit(st), site_name(from, r), fn->name);
	repl->include = true;
	r->sym = repl;
	return 0;
}

/* The object of sec that holds off, or else the one that ends there. */
static struct elp_sym *object_at(const struct elp_sec *sec, long off)
{
	struct elp_sym *end = NULL;
	size_t i;

	for (i = 0; i < sec->nr_syms; i++) {
		struct elp_sym *o = sec->syms[i];
		long start = (long)o->s.st_value;

		if (o->type != STT_OBJECT)
			continue;
		if (off >= start && off < start + (long)o->s.st_size)
			return o;
		if (off == start + (long)o->s.st_size)
			end = o;
	}
	return end;
}

/*
 * A relocation against the section symbol of existing data that
 * correlation could not pin to an object: an end pointer (a + N past the
 * last object of the section), as kpatch resolves it, to the object it
 * ends.  Writable data that cannot be pinned is refused: a copy would be
 * the livepatch's own, not the state the kernel uses.
 */
static int pin_section_ref(struct elp_diff_state *st,
			   const struct elp_sec *from, struct elp_rela *r)
{
	struct elp_sec *sec = r->sym->sec;
	long off = elp_rela_target_offset(from, r);
	struct elp_sym *o = NULL;

	/* constants with no name have no identity: a copy will do */
	if (off == ELP_OFF_UNKNOWN) {
		if (!is_writable(sec) && !sec->nr_syms)
			return 0;
		elp_err(st->ctx,
			"%s: %s: the instruction at %s+%lu that refers to %s is not understood, so the variable or constant it uses is not known; a copy of the section would be the livepatch's own, not the data the kernel uses",
			elp_inc_unit(st), site_name(from, r), from->name,
			r->offset, sec->name);
		return -ENOTSUP;
	}
	o = object_at(sec, off);
	if (o) {
		elp_dbg(st->ctx, "%s: %s: %s+%ld is %s%s", elp_inc_unit(st),
			site_name(from, r), sec->name, off, o->name,
			off == (long)(o->s.st_value + o->s.st_size)
				? " (its end)"
				: "");
		r->addend -= (long)o->s.st_value - (long)r->sym->s.st_value;
		r->sym = o;
		return 0;
	}
	if (!is_writable(sec))
		return 0;
	elp_err(st->ctx,
		"%s: %s: refers to %s+%ld, which is inside no variable of that section; a copy of the section would be the livepatch's own, not the data the kernel uses, so it cannot be resolved; access the variable by its name in the patch",
		elp_inc_unit(st), site_name(from, r), sec->name, off);
	return -ENOTSUP;
}

/* Does the kernel's symbol table resolve t (uniquely)? */
static bool kernel_has(struct elp_diff_state *st, const struct elp_sym *t)
{
	unsigned long pos;

	return !st->req->symtab ||
	       !elp_symtab_sympos(st->req->symtab, elp_inc_target(st),
				  t->twin->name, t->twin->bind != STB_LOCAL,
				  st->neighbours, st->nr_neighbours, &pos);
}

/*
 * Is the 32-bit field at off in code the displacement of a memory operand
 * (the data is read or written in place), rather than an address that is
 * computed (lea) or used as an immediate?
 */
static bool is_memory_operand(const struct elp_sec *text, unsigned long off,
			      unsigned int type)
{
	const unsigned char *d = text->data;
	struct elp_insn in;
	size_t start, modrm, oplen;

	if (!elp_insn_at(text, off, &in, &start) || in.opcode == 0x8d)
		return false; /* not understood, or lea */
	oplen = in.opcode > 0xffff ? 3 : in.opcode > 0xff ? 2 : 1;
	modrm = start + in.opcode_off + oplen;
	if (modrm + 1 >= start + in.len)
		return false;
	/* disp32(%rip): ModRM mod 00 r/m 101 */
	if (type == R_X86_64_PC32)
		return (d[modrm] & 0xc7) == 0x05 && off == modrm + 1;
	/* disp32(,%index,scale): ModRM mod 00 r/m 100, SIB without base */
	if (type == R_X86_64_32S || type == R_X86_64_32)
		return (d[modrm] & 0xc7) == 0x04 && (d[modrm + 1] & 7) == 5 &&
		       off == modrm + 2;
	return false;
}

/*
 * Existing constant data the kernel's symbol table does not list (or not
 * uniquely) may still be copied when it is pure constant data nobody
 * compares by address: it holds no pointers, and the unit only reads it in
 * place (its address is never taken, stored or compared).
 */
static bool is_pure_constant(struct elp_obj *obj, const struct elp_sym *t)
{
	const struct elp_sec *rs = t->sec->rela;
	size_t i, j;

	if (!is_data_object(t) || is_writable(t->sec) || !t->twin)
		return false;
	for (i = 0; rs && i < rs->nr_relas; i++)
		if (rs->relas[i].offset >= t->s.st_value &&
		    rs->relas[i].offset < t->s.st_value + t->s.st_size)
			return false;
	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *r = obj->secs[i], *base = r->base;

		if (!elp_sec_is_rela(r) || !base ||
		    elp_inc_is_metadata_section(base))
			continue;
		for (j = 0; j < r->nr_relas; j++) {
			const struct elp_rela *x = &r->relas[j];

			if (x->sym != t && !(x->sym->type == STT_SECTION &&
					     x->sym->sec == t->sec))
				continue;
			if (!elp_sec_is_text(base) ||
			    !is_memory_operand(base, x->offset, x->type))
				return false;
		}
	}
	return true;
}

/* The klp shadow calls that run a constructor or destructor before they
 * return, and the argument register that carries it (SysV: rdi rsi rdx rcx
 * r8 r9 are 7 6 2 1 8 9). */
static const struct {
	const char *name;
	int reg;
} shadow_calls[] = {
	{ "klp_shadow_alloc", 8 },
	{ "klp_shadow_get_or_alloc", 8 },
	{ "klp_shadow_free", 2 },
	{ "klp_shadow_free_all", 6 },
	{ NULL, 0 },
};

/*
 * The register an instruction loads an address into: mov $imm32, %reg
 * (b8+r, c7 /0 on a register) or lea disp32(%rip), %reg; -1 otherwise.
 */
static int address_load_reg(const unsigned char *d, size_t start,
			    const struct elp_insn *in)
{
	size_t o = start + in->opcode_off + 1;
	int b = in->rex & 1 ? 8 : 0, r = in->rex & 4 ? 8 : 0;

	if (in->prefixed)
		return -1;
	if (in->opcode >= 0xb8 && in->opcode <= 0xbf)
		return (int)(in->opcode & 7) + b;
	if (in->opcode == 0xc7 && (d[o] & 0xf8) == 0xc0)
		return (d[o] & 7) + b;
	if (in->opcode == 0x8d && (d[o] & 0xc7) == 0x05)
		return ((d[o] >> 3) & 7) + r;
	return -1;
}

/*
 * May an instruction between the load of reg and the call stand there:
 * it neither reads nor writes reg (so the address is not copied or stored
 * anywhere) and it is a plain move, ALU or nop that cannot branch?
 */
static bool leaves_reg(const unsigned char *d, size_t start,
		       const struct elp_insn *in, int reg)
{
	size_t o = start + in->opcode_off + (in->opcode > 0xff ? 2 : 1);
	int b = in->rex & 1 ? 8 : 0, r = in->rex & 4 ? 8 : 0,
	    x = in->rex & 2 ? 8 : 0;
	unsigned char m, mod;

	if (in->opcode >= 0xb8 && in->opcode <= 0xbf)
		return (int)(in->opcode & 7) + b != reg;
	if (in->opcode == 0x90)
		return !(in->rex & 1); /* with REX.B: xchg %r8, %rax */
	switch (in->opcode) {
	case 0x01:
	case 0x03:
	case 0x09:
	case 0x0b:
	case 0x21:
	case 0x23:
	case 0x29:
	case 0x2b:
	case 0x31:
	case 0x33:
	case 0x39:
	case 0x3b:
	case 0x63:
	case 0x85:
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b:
	case 0x8d:
	case 0xc6:
	case 0xc7:
	case 0x80:
	case 0x81:
	case 0x83:
	case 0x0fb6:
	case 0x0fb7:
	case 0x0fbe:
	case 0x0fbf:
	case 0x0f1f:
		break;
	default:
		return false;
	}
	m = d[o];
	mod = m >> 6;
	if (((m >> 3) & 7) + r == reg)
		return false;
	if (mod == 3)
		return (m & 7) + b != reg;
	/* a memory operand: its base and index registers */
	if ((m & 7) == 4) {
		unsigned char sib = d[o + 1];

		if (((sib >> 3) & 7) + x == reg)
			return false;
		return (sib & 7) + b != reg;
	}
	return (mod == 0 && (m & 7) == 5) || (m & 7) + b != reg;
}

/* The name a call's relocation refers to, without the klp marker. */
static const char *called_name(const struct elp_sec *text, size_t field)
{
	const struct elp_sec *rs = text->rela;
	const char *obj, *name;
	size_t i, len;

	for (i = 0; rs && i < rs->nr_relas; i++) {
		const struct elp_sym *t = rs->relas[i].sym;

		if (rs->relas[i].offset != field)
			continue;
		return elp_inc_parse_marker(t->name, &obj, &len, &name)
			       ? name
			       : t->name;
	}
	return NULL;
}

/*
 * Is the address loaded by the instruction that holds off only the
 * constructor or destructor argument of the klp shadow call that follows
 * (samples/livepatch/livepatch-shadow-fix*.c)?  Those callbacks run before
 * the call returns, so no pointer to them outlives the livepatch.
 */
static bool is_shadow_callback(const struct elp_sec *text, unsigned long off)
{
	const unsigned char *d = text->data;
	struct elp_insn in;
	size_t start, n;
	const char *name;
	int reg, k;

	if (!elp_insn_at(text, off, &in, &start))
		return false;
	reg = address_load_reg(d, start, &in);
	if (reg < 0)
		return false;
	for (n = 0; n < 32; n++) {
		start += in.len;
		if (!elp_insn_at(text, start, &in, &start))
			return false;
		if (in.opcode == 0xe8 || in.opcode == 0xe9)
			break;
		if (!leaves_reg(d, start, &in, reg))
			return false;
	}
	if (n == 32 || in.prefixed)
		return false;
	name = called_name(text, start + in.opcode_off + 1);
	for (k = 0; name && shadow_calls[k].name; k++)
		if (!strcmp(name, shadow_calls[k].name))
			return shadow_calls[k].reg == reg;
	return false;
}

/*
 * A function the patch adds lives only as long as the livepatch module:
 * a direct call or jump to it is fine, its address must not escape into
 * kernel data (ops tables, work items, callbacks kept by the kernel),
 * which would point into freed memory once the livepatch is disabled and
 * unloaded.  The klp shadow constructor and destructor are the exception.
 */
static int check_new_func_ref(struct elp_diff_state *st,
			      const struct elp_sec *from,
			      const struct elp_rela *r)
{
	const struct elp_sym *fn = r->sym;
	long off;

	if (fn->type != STT_FUNC || !fn->sec || fn->status != ELP_NEW ||
	    elp_is_cold(fn->name) || elp_inc_is_metadata_section(from))
		return 0;
	off = elp_rela_target_offset(from, r);
	if (off != ELP_OFF_UNKNOWN && off != (long)fn->s.st_value)
		return 0; /* into its body */
	if (elp_sec_is_text(from) &&
	    elp_inc_is_branch_site(from, r->offset, r->type))
		return 0;
	if (elp_sec_is_text(from) && is_shadow_callback(from, r->offset)) {
		elp_dbg(st->ctx,
			"%s: %s: %s is a klp shadow constructor or destructor (run before the call returns)",
			elp_inc_unit(st), site_name(from, r), fn->name);
		return 0;
	}
	elp_err(st->ctx,
		"%s: %s: takes the address of %s, a function the patch adds; the kernel may keep that pointer after the livepatch is disabled and unloaded, when it points into freed memory; call it directly, or pass it only as the constructor of klp_shadow_alloc()/klp_shadow_get_or_alloc() or the destructor of klp_shadow_free()/klp_shadow_free_all()",
		elp_inc_unit(st), site_name(from, r), fn->name);
	return -ENOTSUP;
}

/* Does the original unit take the address of the function named name? */
static bool orig_takes_address(struct elp_obj *orig, const char *name)
{
	size_t i, j;

	for (i = 1; i < orig->nr_secs; i++) {
		const struct elp_sec *rs = orig->secs[i], *base = rs->base;

		if (!elp_sec_is_rela(rs) || !base ||
		    elp_inc_is_metadata_section(base))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			const struct elp_rela *x = &rs->relas[j];

			if (strcmp(x->sym->name, name) != 0)
				continue;
			if (!elp_sec_is_text(base) ||
			    !elp_inc_is_branch_site(base, x->offset, x->type))
				return true;
		}
	}
	return false;
}

/*
 * With CONFIG_X86_KERNEL_IBT the kernel replaces at boot the ENDBR of every
 * function whose address nothing in it takes (objtool's seal list): an
 * indirect call to such a function faults (kpatch issue #1320).  A patch
 * that newly takes the address of a kernel function is safe only when the
 * kernel took it too: the function is exported, or the original unit
 * takes it as well.
 */
static int check_sealed_target(struct elp_diff_state *st,
			       const struct elp_sec *from,
			       const struct elp_rela *r)
{
	const struct elp_sym *t = r->sym;
	const char *name = t->twin ? t->twin->name : t->name;
	const char *obj = elp_inc_target(st);
	long off;

	if (!st->req->ibt || elp_inc_is_metadata_section(from) ||
	    (elp_sec_is_text(from) &&
	     elp_inc_is_branch_site(from, r->offset, r->type)))
		return 0;
	if (t->sec) {
		/* the kernel's copy: existing, not the livepatch's own */
		if (t->type != STT_FUNC || !t->twin || t->status == ELP_NEW ||
		    t->via_callers || elp_is_cold(t->name))
			return 0;
		off = elp_rela_target_offset(from, r);
		if (off != ELP_OFF_UNKNOWN && off != (long)t->s.st_value)
			return 0;
	} else {
		if (t->type == STT_SECTION || !st->req->symtab)
			return 0;
		if (!elp_symtab_is_text(st->req->symtab, obj, name) &&
		    !elp_symtab_is_text(st->req->symtab, "vmlinux", name))
			return 0;
		if (!elp_symtab_is_text(st->req->symtab, obj, name))
			obj = "vmlinux";
	}
	if (elp_symtab_is_exported(st->req->symtab, name, NULL) ||
	    orig_takes_address(st->orig, name))
		return 0;
	elp_err(st->ctx,
		"%s: %s: takes the address of %s, which %s may have sealed at boot (CONFIG_X86_KERNEL_IBT: the ENDBR of a function whose address the kernel never takes is removed), so an indirect call through that pointer would fault; call it directly, or use a function whose address the kernel already takes",
		elp_inc_unit(st), site_name(from, r), name, obj);
	return -ENOTSUP;
}

static int resolve_rela(struct elp_diff_state *st, const struct elp_sec *from,
			struct elp_rela *r)
{
	struct elp_sym *t = r->sym, *repl = NULL;
	const char *why = NULL;
	bool copy;
	int ret;

	/* every reference, also to a symbol an earlier one resolved */
	ret = check_sealed_target(st, from, r);
	if (!ret)
		ret = check_new_func_ref(st, from, r);
	if (ret)
		return ret;
	if (t->ref) {
		r->sym = t->ref;
		return 0;
	}
	/* alternative code is trimmed to what is used, then resolved */
	if (t->sec && elp_is_alt_code_section(t->sec->name) &&
	    !t->sec->include) {
		t->include = true;
		return 0;
	}
	if (t->sec && is_func_pointer(from, r))
		return func_pointer_ref(st, from, r);
	if (t->sec && t->type == STT_SECTION && t->sec->twin &&
	    !elp_sec_is_text(t->sec) && !elp_sec_is_string(t->sec) &&
	    !elp_is_special_section(t->sec->name)) {
		ret = pin_section_ref(st, from, r);
		if (ret)
			return ret;
		t = r->sym;
		if (t->ref) {
			r->sym = t->ref;
			return 0;
		}
	}
	copy = t->sec && want_copy(t, &why);
	if (t->sec && !copy && is_data_object(t) && t->twin &&
	    !kernel_has(st, t) && is_pure_constant(st->patched, t)) {
		copy = true;
		why = "constant data without pointers, only read in place, that the kernel's symbol table does not resolve";
	}
	if (copy) {
		if (!t->sec->include)
			elp_dbg(st->ctx, "%s: %s: copied (%s)",
				elp_inc_unit(st),
				t->type == STT_SECTION ? t->sec->name : t->name,
				why);
		ret = elp_inc_include_sec(st, t->sec);
		if (ret)
			return ret;
		t->include = true;
		return 0;
	}
	if (t->sec && t->type == STT_SECTION) {
		t->include = true;
		return 0;
	}
	ret = kernel_ref(st, t, &repl);
	if (ret)
		return ret;
	if (!repl)
		return -ENOMEM;
	if (t->sec)
		elp_dbg(st->ctx, "%s: %s: %s (%s)", elp_inc_unit(st), t->name,
			repl->name, why);
	repl->include = true;
	t->ref = repl;
	r->sym = repl;
	return 0;
}

static int drain(struct elp_diff_state *st)
{
	size_t i = 0, j;
	int ret, err = 0;

	/* st->work grows while we walk it */
	for (i = 0; i < st->nr_work; i++) {
		struct elp_sec *sec = st->work[i];

		if (!sec->rela)
			continue;
		for (j = 0; j < sec->rela->nr_relas; j++) {
			ret = resolve_rela(st, sec, &sec->rela->relas[j]);
			if (ret == -ENOMEM)
				return ret;
			if (ret)
				err = ret;
		}
	}
	st->nr_work = 0;
	return err;
}

int elp_resolve_refs(struct elp_diff_state *st)
{
	size_t i;
	int ret;

	ret = drain(st);
	if (ret)
		return ret;
	/* special sections were regenerated: resolve what their entries use */
	for (i = 1; i < st->patched->nr_secs; i++) {
		struct elp_sec *sec = st->patched->secs[i];

		if (sec->special && sec->include && !elp_sec_is_rela(sec)) {
			ret = elp_inc_push_work(st, sec);
			if (ret)
				return ret;
		}
	}
	return drain(st);
}
