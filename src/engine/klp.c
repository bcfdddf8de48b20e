// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * elp_klp_finalize(): post-link pass over the livepatch module.  The diff
 * pass left references to the running kernel as undefined weak symbols
 * "__elp_klp.<obj>.<sympos>.<name>"; here they become SHN_LIVEPATCH symbols
 * ".klp.sym.<obj>.<name>,<sympos>" and their relocations move to
 * ".klp.rela.<obj>.<section>" sections (module-elf-format.rst).  Every other
 * section of the module is written back unchanged.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct marker {
	size_t symidx;
	char *obj;
};

struct klp_rela_sec {
	char *obj;
	size_t target; /* index of the section relocated */
	GElf_Rela *relas;
	size_t nr, cap;
};

struct finalize {
	struct elp_ctx *ctx;
	const char *path;
	Elf *elf;
	size_t symtab_idx;
	struct marker *markers; /* indexed by symbol index, obj NULL if not */
	size_t nr_syms;
	size_t nr_markers;
	struct klp_rela_sec *secs;
	size_t nr_secs, cap_secs;
	void **bufs; /* buffers handed to libelf, freed after */
	size_t nr_bufs, cap_bufs;
};

static int keep_buf(struct finalize *f, void *buf)
{
	void **b = elp_grow(f->bufs, &f->cap_bufs, f->nr_bufs + 1, sizeof(*b));

	if (!b) {
		free(buf);
		return -ENOMEM;
	}
	f->bufs = b;
	f->bufs[f->nr_bufs++] = buf;
	return 0;
}

/* Append strings to a string table section; offsets returned in offs. */
static int strtab_append(struct finalize *f, size_t idx,
			 const char *const *strs, size_t n, size_t *offs)
{
	Elf_Scn *scn = elf_getscn(f->elf, idx);
	Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;
	size_t len = 0, i, pos;
	char *buf;
	int ret;

	if (!data)
		return elp_elf_error(f->ctx, "reading string table of",
				     f->path);
	for (i = 0; i < n; i++)
		len += strlen(strs[i]) + 1;
	buf = malloc(data->d_size + len);
	if (!buf)
		return -ENOMEM;
	ret = keep_buf(f, buf);
	if (ret)
		return ret;
	memcpy(buf, data->d_buf, data->d_size);
	pos = data->d_size;
	for (i = 0; i < n; i++) {
		size_t l = strlen(strs[i]) + 1;

		memcpy(buf + pos, strs[i], l);
		offs[i] = pos;
		pos += l;
	}
	data->d_buf = buf;
	data->d_size = pos;
	elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY);
	return 0;
}

/* "__elp_klp.<obj>.<pos>.<name>" -> obj, ".klp.sym.<obj>.<name>,<pos>" */
static int parse_marker(const char *marker, char **obj, char **klpname)
{
	const char *p = marker + strlen(ELP_KLP_MARKER), *dot, *name;
	unsigned long pos;
	char *end;

	dot = strchr(p, '.');
	if (!dot || dot == p)
		return -EINVAL;
	pos = strtoul(dot + 1, &end, 10);
	if (end == dot + 1 || *end != '.' || !end[1])
		return -EINVAL;
	name = end + 1;
	*obj = strndup(p, dot - p);
	if (!*obj)
		return -ENOMEM;
	if (asprintf(klpname, ".klp.sym.%s.%s,%lu", *obj, name, pos) < 0) {
		free(*obj);
		*obj = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int convert_symbols(struct finalize *f, Elf_Scn *symscn,
			   GElf_Shdr *symsh)
{
	Elf_Data *data = elf_getdata(symscn, NULL);
	char **names = NULL;
	size_t *idx = NULL, *offs = NULL, n = 0, i;
	int ret = 0;

	if (!data)
		return elp_elf_error(f->ctx, "reading symbols of", f->path);
	f->nr_syms = symsh->sh_size / sizeof(Elf64_Sym);
	f->markers = calloc(f->nr_syms ? f->nr_syms : 1, sizeof(*f->markers));
	names = calloc(f->nr_syms ? f->nr_syms : 1, sizeof(*names));
	idx = calloc(f->nr_syms ? f->nr_syms : 1, sizeof(*idx));
	offs = calloc(f->nr_syms ? f->nr_syms : 1, sizeof(*offs));
	if (!f->markers || !names || !idx || !offs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 1; i < f->nr_syms; i++) {
		const char *name;
		GElf_Sym s;

		if (!gelf_getsym(data, i, &s)) {
			ret = elp_elf_error(f->ctx, "reading symbol of",
					    f->path);
			goto out;
		}
		name = elf_strptr(f->elf, symsh->sh_link, s.st_name);
		if (!name || s.st_shndx != SHN_UNDEF ||
		    strncmp(name, ELP_KLP_MARKER, strlen(ELP_KLP_MARKER)) != 0)
			continue;
		ret = parse_marker(name, &f->markers[i].obj, &names[n]);
		if (ret) {
			if (ret == -EINVAL)
				elp_err(f->ctx, "%s: malformed klp marker '%s'",
					f->path, name);
			goto out;
		}
		f->markers[i].symidx = i;
		idx[n++] = i;
	}
	f->nr_markers = n;
	if (!n)
		goto out;
	ret = strtab_append(f, symsh->sh_link, (const char *const *)names, n,
			    offs);
	if (ret)
		goto out;
	for (i = 0; i < n; i++) {
		GElf_Sym s;

		gelf_getsym(data, idx[i], &s);
		s.st_name = offs[i];
		s.st_shndx = SHN_LIVEPATCH;
		s.st_info = GELF_ST_INFO(STB_GLOBAL, STT_NOTYPE);
		s.st_value = 0;
		s.st_size = 0;
		if (!gelf_update_sym(data, idx[i], &s)) {
			ret = elp_elf_error(f->ctx, "updating symbol of",
					    f->path);
			goto out;
		}
	}
	elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY);
out:
	if (names)
		for (i = 0; i < n; i++)
			free(names[i]);
	free(names);
	free(idx);
	free(offs);
	return ret;
}

static struct klp_rela_sec *klp_sec(struct finalize *f, const char *obj,
				    size_t target)
{
	struct klp_rela_sec *s;
	size_t i;

	for (i = 0; i < f->nr_secs; i++)
		if (f->secs[i].target == target && !strcmp(f->secs[i].obj, obj))
			return &f->secs[i];
	s = elp_grow(f->secs, &f->cap_secs, f->nr_secs + 1, sizeof(*s));
	if (!s)
		return NULL;
	f->secs = s;
	s = &f->secs[f->nr_secs];
	memset(s, 0, sizeof(*s));
	s->obj = strdup(obj);
	if (!s->obj)
		return NULL;
	s->target = target;
	f->nr_secs++;
	return s;
}

static int move_relas(struct finalize *f, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n, i, kept = 0;

	if (!data)
		return elp_elf_error(f->ctx, "reading relocations of", f->path);
	n = sh->sh_size / sizeof(Elf64_Rela);
	for (i = 0; i < n; i++) {
		struct klp_rela_sec *ks;
		size_t symi;
		GElf_Rela r;
		GElf_Rela *p;

		if (!gelf_getrela(data, i, &r))
			return elp_elf_error(f->ctx, "reading relocation of",
					     f->path);
		symi = GELF_R_SYM(r.r_info);
		if (symi >= f->nr_syms || !f->markers[symi].obj) {
			if (kept != i && !gelf_update_rela(data, kept, &r))
				return elp_elf_error(f->ctx,
						     "updating relocation of",
						     f->path);
			kept++;
			continue;
		}
		ks = klp_sec(f, f->markers[symi].obj, sh->sh_info);
		if (!ks)
			return -ENOMEM;
		p = elp_grow(ks->relas, &ks->cap, ks->nr + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		ks->relas = p;
		ks->relas[ks->nr++] = r;
	}
	if (kept != n) {
		data->d_size = kept * sizeof(Elf64_Rela);
		elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY);
	}
	return 0;
}

static int add_klp_sections(struct finalize *f, size_t shstrndx)
{
	char **names;
	size_t *offs, i;
	int ret = 0;

	names = calloc(f->nr_secs ? f->nr_secs : 1, sizeof(*names));
	offs = calloc(f->nr_secs ? f->nr_secs : 1, sizeof(*offs));
	if (!names || !offs) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < f->nr_secs; i++) {
		Elf_Scn *scn = elf_getscn(f->elf, f->secs[i].target);
		const char *tname = NULL;
		GElf_Shdr sh;

		if (scn && gelf_getshdr(scn, &sh))
			tname = elf_strptr(f->elf, shstrndx, sh.sh_name);
		if (!tname) {
			ret = elp_elf_error(f->ctx, "reading section name of",
					    f->path);
			goto out;
		}
		if (asprintf(&names[i], ".klp.rela.%s.%s", f->secs[i].obj,
			     tname) < 0) {
			names[i] = NULL;
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = strtab_append(f, shstrndx, (const char *const *)names, f->nr_secs,
			    offs);
	if (ret)
		goto out;
	for (i = 0; i < f->nr_secs; i++) {
		struct klp_rela_sec *ks = &f->secs[i];
		Elf_Scn *scn = elf_newscn(f->elf);
		Elf64_Rela *buf;
		Elf_Data *data;
		GElf_Shdr sh;
		size_t j;

		if (!scn || !(data = elf_newdata(scn)) ||
		    !gelf_getshdr(scn, &sh)) {
			ret = elp_elf_error(f->ctx, "creating section in",
					    f->path);
			goto out;
		}
		buf = calloc(ks->nr, sizeof(*buf));
		if (!buf || keep_buf(f, buf)) {
			ret = -ENOMEM;
			goto out;
		}
		for (j = 0; j < ks->nr; j++) {
			buf[j].r_offset = ks->relas[j].r_offset;
			buf[j].r_info = ks->relas[j].r_info;
			buf[j].r_addend = ks->relas[j].r_addend;
		}
		data->d_buf = buf;
		data->d_size = ks->nr * sizeof(*buf);
		data->d_type = ELF_T_RELA;
		data->d_align = 8;
		sh.sh_name = offs[i];
		sh.sh_type = SHT_RELA;
		sh.sh_flags = SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH;
		sh.sh_link = f->symtab_idx;
		sh.sh_info = ks->target;
		sh.sh_entsize = sizeof(Elf64_Rela);
		sh.sh_addralign = 8;
		sh.sh_size = data->d_size;
		if (!gelf_update_shdr(scn, &sh)) {
			ret = elp_elf_error(f->ctx, "updating section of",
					    f->path);
			goto out;
		}
		elp_dbg(f->ctx, "%s: %s: %zu relocations", f->path, names[i],
			ks->nr);
	}
out:
	if (names)
		for (i = 0; i < f->nr_secs; i++)
			free(names[i]);
	free(names);
	free(offs);
	return ret;
}

static int finalize(struct finalize *f)
{
	Elf_Scn *scn = NULL, *symscn = NULL;
	size_t shstrndx;
	GElf_Ehdr eh;
	GElf_Shdr sh, symsh = { 0 };
	int ret;

	if (!gelf_getehdr(f->elf, &eh) || elf_getshdrstrndx(f->elf, &shstrndx))
		return elp_elf_error(f->ctx, "reading headers of", f->path);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_REL ||
	    eh.e_machine != EM_X86_64) {
		elp_err(f->ctx, "%s: not an x86_64 kernel module", f->path);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(f->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return elp_elf_error(f->ctx, "reading section of",
					     f->path);
		if (sh.sh_type == SHT_SYMTAB) {
			symscn = scn;
			symsh = sh;
		}
	}
	if (!symscn) {
		elp_err(f->ctx, "%s: no symbol table", f->path);
		return -EINVAL;
	}
	f->symtab_idx = elf_ndxscn(symscn);
	ret = convert_symbols(f, symscn, &symsh);
	if (ret || !f->nr_markers)
		return ret;
	scn = NULL;
	while ((scn = elf_nextscn(f->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return elp_elf_error(f->ctx, "reading section of",
					     f->path);
		if (sh.sh_type != SHT_RELA ||
		    (sh.sh_flags & SHF_RELA_LIVEPATCH) ||
		    sh.sh_link != f->symtab_idx)
			continue;
		ret = move_relas(f, scn, &sh);
		if (ret)
			return ret;
	}
	return add_klp_sections(f, shstrndx);
}

int elp_klp_finalize(struct elp_ctx *ctx, const char *ko_path)
{
	struct finalize f = { .ctx = ctx, .path = ko_path };
	size_t i;
	int fd, ret;

	elf_version(EV_CURRENT);
	fd = open(ko_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		elp_err(ctx, "cannot open '%s': %s", ko_path, strerror(errno));
		return ret;
	}
	f.elf = elf_begin(fd, ELF_C_RDWR, NULL);
	if (!f.elf) {
		ret = elp_elf_error(ctx, "opening", ko_path);
		close(fd);
		return ret;
	}
	ret = finalize(&f);
	if (!ret && f.nr_markers && elf_update(f.elf, ELF_C_WRITE) < 0)
		ret = elp_elf_error(ctx, "writing", ko_path);
	if (ret == -ENOMEM)
		elp_err(ctx, "%s: out of memory", ko_path);
	if (!ret)
		elp_dbg(ctx, "%s: %zu klp symbols, %zu klp relocation sections",
			ko_path, f.nr_markers, f.nr_secs);
	elf_end(f.elf);
	close(fd);
	for (i = 0; i < f.nr_bufs; i++)
		free(f.bufs[i]);
	free(f.bufs);
	if (f.markers)
		for (i = 0; i < f.nr_syms; i++)
			free(f.markers[i].obj);
	free(f.markers);
	for (i = 0; i < f.nr_secs; i++) {
		free(f.secs[i].obj);
		free(f.secs[i].relas);
	}
	free(f.secs);
	return ret;
}
