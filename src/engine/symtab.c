// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Symbols of the target kernel: kallsyms dumps, Module.symvers exports and
 * the symbol tables of module objects, indexed by name.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define NONE SIZE_MAX

struct ksym_obj {
	char *name;
	size_t *entries; /* symbol indexes in kallsyms order */
	size_t nr, cap;
};

struct export
{
	const char *name;
	const char *obj;
	const char *ns; /* symbol namespace, "" when none */
};

struct elp_symtab {
	struct elp_ksym *syms;
	size_t nr, cap;
	struct elp_hindex sym_ix; /* syms by name */
	struct ksym_obj *objs;
	size_t nr_objs, cap_objs;
	struct export *exports;
	size_t nr_exports, cap_exports;
	struct elp_hindex export_ix; /* exports by name */
	char **blocks; /* owned string storage */
	size_t nr_blocks, cap_blocks;
};

static int keep_block(struct elp_symtab *st, char *block)
{
	char **b = elp_grow(st->blocks, &st->cap_blocks, st->nr_blocks + 1,
			    sizeof(*b));

	if (!b)
		return -ENOMEM;
	st->blocks = b;
	st->blocks[st->nr_blocks++] = block;
	return 0;
}

static char *keep_str(struct elp_symtab *st, const char *s)
{
	char *copy = strdup(s);

	if (!copy || keep_block(st, copy)) {
		free(copy);
		return NULL;
	}
	return copy;
}

/* Index of the object called name, created if needed; NONE when OOM. */
static size_t get_obj(struct elp_symtab *st, const char *name)
{
	struct ksym_obj *objs;
	size_t i;

	for (i = st->nr_objs; i-- > 0;)
		if (!strcmp(st->objs[i].name, name))
			return i;
	objs = elp_grow(st->objs, &st->cap_objs, st->nr_objs + 1,
			sizeof(*objs));
	if (!objs)
		return NONE;
	st->objs = objs;
	memset(&objs[st->nr_objs], 0, sizeof(*objs));
	objs[st->nr_objs].name = strdup(name);
	if (!objs[st->nr_objs].name)
		return NONE;
	return st->nr_objs++;
}

static const struct ksym_obj *find_obj(const struct elp_symtab *st,
				       const char *name)
{
	size_t i;

	for (i = 0; i < st->nr_objs; i++)
		if (!strcmp(st->objs[i].name, name))
			return &st->objs[i];
	return NULL;
}

static int add_sym(struct elp_symtab *st, size_t objidx, const char *name,
		   unsigned long addr, char type)
{
	struct ksym_obj *obj = &st->objs[objidx];
	struct elp_ksym *syms, *k;
	size_t *entries;

	syms = elp_grow(st->syms, &st->cap, st->nr + 1, sizeof(*syms));
	if (!syms)
		return -ENOMEM;
	st->syms = syms;
	entries = elp_grow(obj->entries, &obj->cap, obj->nr + 1,
			   sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	obj->entries = entries;
	k = &st->syms[st->nr];
	k->name = name;
	k->obj = obj->name;
	k->addr = addr;
	k->type = type;
	k->objpos = obj->nr;
	obj->entries[obj->nr++] = st->nr;
	st->nr++;
	return elp_hindex_add(&st->sym_ix, name, strlen(name));
}

static int read_file(struct elp_ctx *ctx, const char *path, char **out,
		     size_t *len)
{
	struct stat stb;
	char *buf = NULL;
	size_t size = 0, cap = 0, hint = 65536;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		elp_err(ctx, "cannot open '%s': %s", path, strerror(errno));
		return ret;
	}
	/* /proc files report size 0: read until EOF */
	if (!fstat(fd, &stb) && stb.st_size > 0)
		hint = stb.st_size + 1;
	for (;;) {
		char *p = elp_grow(buf, &cap, size + hint, 1);

		if (!p) {
			ret = -ENOMEM;
			goto fail;
		}
		buf = p;
		n = read(fd, buf + size, cap - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			elp_err(ctx, "cannot read '%s': %s", path,
				strerror(errno));
			goto fail;
		}
		if (!n)
			break;
		size += n;
	}
	close(fd);
	buf[size] = '\0';
	*out = buf;
	*len = size;
	return 0;
fail:
	close(fd);
	free(buf);
	return ret;
}

static struct elp_symtab *symtab_new(void)
{
	return calloc(1, sizeof(struct elp_symtab));
}

static int parse_kallsyms(struct elp_ctx *ctx, struct elp_symtab *st, char *buf,
			  const char *path)
{
	size_t vmlinux = get_obj(st, "vmlinux"), last = NONE;
	char *line = buf, *next;
	unsigned long lineno = 0;
	int ret;

	if (vmlinux == NONE)
		return -ENOMEM;
	for (; *line; line = next) {
		char *p, *end, *name, *mod = NULL;
		size_t obj = vmlinux;
		unsigned long addr;
		char type;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (!*line)
			continue;
		addr = strtoul(line, &end, 16);
		p = end;
		if (p == line || *p != ' ' || !p[1] || p[2] != ' ' || !p[3])
			goto bad;
		type = p[1];
		name = p + 3;
		p = name + strcspn(name, " \t");
		if (*p) {
			*p++ = '\0';
			p += strspn(p, " \t");
			if (*p == '[') {
				mod = p + 1;
				p = strchr(mod, ']');
				if (!p)
					goto bad;
				*p = '\0';
			}
		}
		if (mod) {
			if (last == NONE ||
			    strcmp(st->objs[last].name, mod) != 0)
				last = get_obj(st, mod);
			if (last == NONE)
				return -ENOMEM;
			obj = last;
		}
		ret = add_sym(st, obj, name, addr, type);
		if (ret)
			return ret;
		continue;
	bad:
		elp_err(ctx, "%s:%lu: malformed kallsyms line", path, lineno);
		return -EINVAL;
	}
	return 0;
}

int elp_symtab_load(struct elp_ctx *ctx, const char *kallsyms_path,
		    struct elp_symtab **out)
{
	struct elp_symtab *st;
	size_t len;
	char *buf;
	int ret;

	st = symtab_new();
	if (!st)
		return -ENOMEM;
	ret = read_file(ctx, kallsyms_path, &buf, &len);
	if (ret)
		goto fail;
	ret = keep_block(st, buf);
	if (ret) {
		free(buf);
		goto fail;
	}
	ret = parse_kallsyms(ctx, st, buf, kallsyms_path);
	if (ret)
		goto fail;
	elp_dbg(ctx, "%s: %zu symbols in %zu objects", kallsyms_path, st->nr,
		st->nr_objs);
	*out = st;
	return 0;
fail:
	if (ret == -ENOMEM)
		elp_err(ctx, "%s: out of memory", kallsyms_path);
	elp_symtab_free(st);
	return ret;
}

static char sym_letter(const GElf_Sym *s, const GElf_Shdr *sh)
{
	char c;

	if (GELF_ST_TYPE(s->st_info) == STT_FUNC ||
	    (sh->sh_flags & SHF_EXECINSTR))
		c = 't';
	else if (sh->sh_type == SHT_NOBITS)
		c = 'b';
	else if (sh->sh_flags & SHF_WRITE)
		c = 'd';
	else
		c = 'r';
	if (GELF_ST_BIND(s->st_info) != STB_LOCAL)
		c = toupper(c);
	return c;
}

int elp_symtab_add_module(struct elp_ctx *ctx, struct elp_symtab *symtab,
			  const char *modname, const char *ko_path)
{
	Elf_Scn *scn = NULL;
	size_t obj;
	Elf_Data *data;
	GElf_Shdr sh;
	Elf *elf;
	size_t i, n;
	int fd, ret = 0;

	elf_version(EV_CURRENT);
	fd = open(ko_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		elp_err(ctx, "cannot open '%s': %s", ko_path, strerror(errno));
		return ret;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		ret = elp_elf_error(ctx, "opening", ko_path);
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			break;
	if (!scn) {
		elp_err(ctx, "%s: no symbol table", ko_path);
		ret = -EINVAL;
		goto out;
	}
	data = elf_getdata(scn, NULL);
	if (!data) {
		ret = elp_elf_error(ctx, "reading symbols of", ko_path);
		goto out;
	}
	obj = get_obj(symtab, modname);
	if (obj == NONE) {
		ret = -ENOMEM;
		goto out;
	}
	n = sh.sh_size / sizeof(Elf64_Sym);
	for (i = 1; i < n; i++) {
		GElf_Shdr tsh;
		GElf_Sym s;
		const char *name;
		Elf_Scn *tscn;
		char *copy;
		int type;

		if (!gelf_getsym(data, i, &s))
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
		    type == STT_SECTION || type == STT_FILE)
			continue;
		name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		tscn = elf_getscn(elf, s.st_shndx);
		if (!tscn || !gelf_getshdr(tscn, &tsh) ||
		    !(tsh.sh_flags & SHF_ALLOC))
			continue;
		copy = keep_str(symtab, name);
		if (!copy) {
			ret = -ENOMEM;
			goto out;
		}
		ret = add_sym(symtab, obj, copy, s.st_value,
			      sym_letter(&s, &tsh));
		if (ret)
			goto out;
	}
out:
	if (ret == -ENOMEM)
		elp_err(ctx, "%s: out of memory", ko_path);
	if (elf)
		elf_end(elf);
	close(fd);
	return ret;
}

static int add_export(struct elp_symtab *st, const char *name, const char *obj,
		      const char *ns)
{
	struct export *e;

	e = elp_grow(st->exports, &st->cap_exports, st->nr_exports + 1,
		     sizeof(*e));
	if (!e)
		return -ENOMEM;
	st->exports = e;
	e[st->nr_exports].name = name;
	e[st->nr_exports].obj = obj;
	e[st->nr_exports].ns = ns;
	st->nr_exports++;
	return elp_hindex_add(&st->export_ix, name, strlen(name));
}

int elp_symtab_load_exports(struct elp_ctx *ctx, struct elp_symtab *symtab,
			    const char *module_symvers_path)
{
	char *buf = NULL, *line, *next;
	unsigned long lineno = 0;
	size_t len;
	int ret;

	ret = read_file(ctx, module_symvers_path, &buf, &len);
	if (ret)
		return ret;
	if (!buf)
		return -EIO;
	ret = keep_block(symtab, buf);
	if (ret) {
		free(buf);
		goto out;
	}
	for (line = buf; *line; line = next) {
		char *fields[5] = { NULL }, *p, *slash;
		int nf = 0;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (!*line)
			continue;
		for (p = line; nf < 5; nf++) {
			fields[nf] = p;
			p = strchr(p, '\t');
			if (!p) {
				nf++;
				break;
			}
			*p++ = '\0';
		}
		if (nf < 3 || !*fields[1] || !*fields[2]) {
			elp_err(ctx, "%s:%lu: malformed Module.symvers line",
				module_symvers_path, lineno);
			ret = -EINVAL;
			goto out;
		}
		slash = strrchr(fields[2], '/');
		ret = add_export(symtab, fields[1],
				 slash ? slash + 1 : fields[2],
				 nf > 4 ? fields[4] : "");
		if (ret)
			goto out;
	}
out:
	if (ret == -ENOMEM)
		elp_err(ctx, "%s: out of memory", module_symvers_path);
	return ret;
}

bool elp_symtab_is_exported(const struct elp_symtab *st, const char *name,
			    const char **obj)
{
	size_t i;

	if (!st)
		return false;
	for (i = elp_hindex_first(&st->export_ix, name, strlen(name));
	     i != ELP_HINDEX_END; i = elp_hindex_next(&st->export_ix, i)) {
		if (!strcmp(st->exports[i].name, name)) {
			if (obj)
				*obj = st->exports[i].obj;
			return true;
		}
	}
	return false;
}

/* Module names: kbuild's "snd-hda-codec" is the kernel's "snd_hda_codec". */
static bool same_module(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b &&
		    !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

bool elp_symtab_export_of(const struct elp_symtab *st, const char *obj,
			  const char *name, const char **ns)
{
	size_t i;

	if (!st)
		return false;
	for (i = elp_hindex_first(&st->export_ix, name, strlen(name));
	     i != ELP_HINDEX_END; i = elp_hindex_next(&st->export_ix, i)) {
		if (!strcmp(st->exports[i].name, name) &&
		    same_module(st->exports[i].obj, obj)) {
			if (ns)
				*ns = st->exports[i].ns;
			return true;
		}
	}
	return false;
}

bool elp_symtab_has_obj(const struct elp_symtab *st, const char *obj)
{
	return st && find_obj(st, obj);
}

/* Candidates for name in obj, sorted by position in the object. */
static size_t candidates(const struct elp_symtab *st, const char *obj,
			 const char *name, size_t *out, size_t max)
{
	size_t i, n = 0, j;

	if (!st)
		return 0;
	for (i = elp_hindex_first(&st->sym_ix, name, strlen(name));
	     i != ELP_HINDEX_END; i = elp_hindex_next(&st->sym_ix, i)) {
		if (strcmp(st->syms[i].name, name) != 0 ||
		    strcmp(st->syms[i].obj, obj) != 0)
			continue;
		if (n < max) {
			/* insertion sort on objpos */
			for (j = n; j > 0 && st->syms[out[j - 1]].objpos >
						     st->syms[i].objpos;
			     j--)
				out[j] = out[j - 1];
			out[j] = i;
		}
		n++;
	}
	return n;
}

size_t elp_symtab_count(const struct elp_symtab *st, const char *obj,
			const char *name)
{
	return candidates(st, obj, name, NULL, 0);
}

bool elp_symtab_is_text(const struct elp_symtab *st, const char *obj,
			const char *name)
{
	size_t i;

	if (!st)
		return false;
	for (i = elp_hindex_first(&st->sym_ix, name, strlen(name));
	     i != ELP_HINDEX_END; i = elp_hindex_next(&st->sym_ix, i))
		if (!strcmp(st->syms[i].name, name) &&
		    !strcmp(st->syms[i].obj, obj) &&
		    strchr("TtWw", st->syms[i].type))
			return true;
	return false;
}

/* Names scripts/kallsyms.c leaves out of the kernel's symbol table. */
static bool kallsyms_ignores(const char *name)
{
	static const char *const prefixes[] = {
		".L",		"$",	      "__crc_",	      "__kstrtab_",
		"__kstrtabns_", "__ksymtab_", "__ksymtabns_", "__efistub_",
		NULL,
	};
	size_t i;

	if (!*name)
		return true;
	for (i = 0; prefixes[i]; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/*
 * The output section a symbol's input section is linked into: the kernel
 * is built without -ffunction-sections/-fdata-sections, so ".text.foo"
 * holding foo is ".text", ".bss.bar" holding bar is ".bss" and
 * ".text.unlikely.foo" holding foo.cold is ".text.unlikely"; a section
 * chosen by attribute (".init.text", ".data.once") is its own.
 */
static char *section_family(const char *sec, const char *sym)
{
	const char *cold = strstr(sym, ".cold");
	size_t ls = strlen(sec), ln = strlen(sym);

	if (cold && elp_is_cold(sym))
		ln = cold - sym;
	if (ls > ln + 1 && sec[ls - ln - 1] == '.' &&
	    !strncmp(sec + ls - ln, sym, ln))
		return strndup(sec, ls - ln - 1);
	return strdup(sec);
}

int elp_unit_syms(const struct elp_obj *obj, struct elp_unit_sym **out,
		  size_t *nr)
{
	struct elp_unit_sym *u = calloc(obj->nr_syms, sizeof(*u));
	size_t i, n = 0;

	if (!u)
		return -ENOMEM;
	for (i = 1; i < obj->nr_syms; i++) {
		const struct elp_sym *s = obj->syms[i];

		if (!s->sec || s->type == STT_SECTION || s->type == STT_FILE ||
		    !(s->sec->sh.sh_flags & SHF_ALLOC) ||
		    kallsyms_ignores(s->name))
			continue;
		u[n].name = s->name;
		u[n].family = section_family(s->sec->name, s->name);
		if (!u[n].family) {
			elp_unit_syms_free(u, n);
			return -ENOMEM;
		}
		u[n].local = s->bind == STB_LOCAL;
		u[n].weak = s->bind == STB_WEAK;
		u[n].code = elp_sec_is_text(s->sec);
		u[n].init = !strncmp(s->sec->name, ".init.", 6);
		n++;
	}
	*out = u;
	*nr = n;
	return 0;
}

void elp_unit_syms_free(struct elp_unit_sym *syms, size_t nr)
{
	size_t i;

	for (i = 0; syms && i < nr; i++)
		free(syms[i].family);
	free(syms);
}

#define MAX_CANDIDATES 256

/* The unit's symbols, and those expected in the wanted one's block. */
struct unit_block {
	struct elp_strset all; /* every name the unit defines */
	struct elp_strset expected;
	bool code;
	bool vmlinux;
};

/*
 * vmlinux is sorted by address: the unit's symbols of one output section
 * (".text", ".data", ...), global or local, form one block.  A module's
 * kallsyms follows its symbol table, where the locals of a file are
 * together (the .init ones are dropped once the module is live) and the
 * globals of all files come after them.  Weak symbols may have lost to
 * another definition: they prove nothing either way.
 */
static int unit_block_init(struct unit_block *b, const char *obj,
			   const struct elp_unit_sym *want,
			   const struct elp_unit_sym *unit, size_t nr)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	b->all.borrow = b->expected.borrow = true;
	b->code = want->code;
	b->vmlinux = !strcmp(obj, "vmlinux");
	for (i = 0; i < nr; i++) {
		const struct elp_unit_sym *u = &unit[i];

		if (elp_strset_add(&b->all, u->name) < 0)
			goto nomem;
		if (u->weak || u->code != want->code)
			continue;
		if ((b->vmlinux ? !strcmp(u->family, want->family)
				: u->local && !u->init) &&
		    elp_strset_add(&b->expected, u->name) < 0)
			goto nomem;
	}
	return 0;
nomem:
	elp_strset_free(&b->all);
	elp_strset_free(&b->expected);
	return -ENOMEM;
}

/* Is a kallsyms entry of the kind the block compares? */
static bool block_kind(const struct unit_block *b, char type)
{
	char t = (char)tolower((unsigned char)type);

	if (t == 'w' || t == 'v' || t == 'u' || t == 'n')
		return false;
	if (!b->vmlinux && !islower((unsigned char)type))
		return false;
	return (t == 't') == b->code;
}

/*
 * Does the block of unit symbols around pos hold exactly the expected
 * symbols (kpatch's locals_match, on kallsyms order)?
 */
static bool block_matches(const struct elp_symtab *st, const struct ksym_obj *o,
			  size_t pos, const struct unit_block *b)
{
	size_t lo = pos, hi = pos, j;
	struct elp_strset seen = { .borrow = true };
	bool ok = true;

	while (lo > 0 &&
	       elp_strset_has(&b->all, st->syms[o->entries[lo - 1]].name))
		lo--;
	while (hi + 1 < o->nr &&
	       elp_strset_has(&b->all, st->syms[o->entries[hi + 1]].name))
		hi++;
	for (j = lo; j <= hi && ok; j++) {
		const struct elp_ksym *k = &st->syms[o->entries[j]];

		if (!block_kind(b, k->type))
			continue;
		ok = elp_strset_has(&b->expected, k->name) &&
		     elp_strset_add(&seen, k->name) >= 0;
	}
	ok = ok && seen.n == b->expected.n;
	elp_strset_free(&seen);
	return ok;
}

int elp_symtab_sympos(const struct elp_symtab *st, const char *obj,
		      const char *name, bool global,
		      const struct elp_unit_sym *unit, size_t nr_unit,
		      unsigned long *sympos)
{
	size_t cand[MAX_CANDIDATES], n, i, best = NONE, matches = 0;
	const struct elp_unit_sym *want = NULL;
	const struct ksym_obj *o;
	struct unit_block b;

	n = candidates(st, obj, name, cand, MAX_CANDIDATES);
	if (!n)
		return -ENOENT;
	if (n == 1) {
		*sympos = 0;
		return 0;
	}
	if (n > MAX_CANDIDATES)
		return -ENOTSUP;
	if (global) {
		for (i = 0; i < n; i++) {
			if (!isupper((unsigned char)st->syms[cand[i]].type))
				continue;
			if (best != NONE)
				return -ENOTSUP;
			best = i;
		}
		if (best == NONE)
			return -ENOTSUP;
		*sympos = best + 1;
		return 0;
	}
	for (i = 0; i < nr_unit && !want; i++)
		if (unit[i].local && !strcmp(unit[i].name, name))
			want = &unit[i];
	o = find_obj(st, obj);
	if (!o || !want || unit_block_init(&b, obj, want, unit, nr_unit))
		return -ENOTSUP;
	for (i = 0; i < n; i++) {
		const struct elp_ksym *k = &st->syms[cand[i]];

		if (isupper((unsigned char)k->type) ||
		    !block_matches(st, o, k->objpos, &b))
			continue;
		best = i;
		matches++;
	}
	elp_strset_free(&b.all);
	elp_strset_free(&b.expected);
	if (matches != 1)
		return -ENOTSUP;
	*sympos = best + 1;
	return 0;
}

void elp_symtab_free(struct elp_symtab *symtab)
{
	size_t i;

	if (!symtab)
		return;
	for (i = 0; i < symtab->nr_objs; i++) {
		free(symtab->objs[i].name);
		free(symtab->objs[i].entries);
	}
	for (i = 0; i < symtab->nr_blocks; i++)
		free(symtab->blocks[i]);
	free(symtab->blocks);
	free(symtab->objs);
	free(symtab->syms);
	elp_hindex_free(&symtab->sym_ix);
	free(symtab->exports);
	elp_hindex_free(&symtab->export_ix);
	free(symtab);
}
