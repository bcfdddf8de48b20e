// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ELF model: read an x86_64 ET_REL object into lists of sections, symbols
 * and relocations, and write a new ET_REL object back from that model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int elp_elf_error(struct elp_ctx *ctx, const char *what, const char *file)
{
	elp_err(ctx, "libelf: %s '%s': %s", what, file, elf_errmsg(-1));
	return -EIO;
}

struct elp_sec *elp_find_sec(struct elp_obj *obj, const char *name)
{
	size_t i;

	for (i = 1; i < obj->nr_secs; i++)
		if (!strcmp(obj->secs[i]->name, name))
			return obj->secs[i];
	return NULL;
}

struct elp_sym *elp_find_sym(struct elp_obj *obj, const char *name)
{
	size_t i;

	for (i = 1; i < obj->nr_syms; i++)
		if (obj->syms[i]->type != STT_SECTION &&
		    !strcmp(obj->syms[i]->name, name))
			return obj->syms[i];
	return NULL;
}

struct elp_sym *elp_obj_add_sym(struct elp_obj *obj, const char *name,
				unsigned char type, unsigned char bind,
				struct elp_sec *sec, GElf_Addr value,
				GElf_Xword size)
{
	struct elp_sym **syms, *sym;

	syms = elp_grow(obj->syms, &obj->cap_syms, obj->nr_syms + 1,
			sizeof(struct elp_sym *));
	if (!syms)
		return NULL;
	obj->syms = syms;
	sym = calloc(1, sizeof(*sym));
	if (!sym)
		return NULL;
	sym->alloc_name = strdup(name);
	if (!sym->alloc_name) {
		free(sym);
		return NULL;
	}
	sym->name = sym->alloc_name;
	sym->type = type;
	sym->bind = bind;
	sym->sec = sec;
	sym->s.st_info = GELF_ST_INFO(bind, type);
	sym->s.st_value = value;
	sym->s.st_size = size;
	sym->s.st_shndx = sec ? sec->index : SHN_UNDEF;
	sym->index = obj->nr_syms;
	sym->created = true;
	sym->status = ELP_NEW;
	obj->syms[obj->nr_syms++] = sym;
	return sym;
}

static int read_sections(struct elp_obj *obj)
{
	size_t shnum, shstrndx, i;

	if (elf_getshdrnum(obj->elf, &shnum) ||
	    elf_getshdrstrndx(obj->elf, &shstrndx))
		return elp_elf_error(obj->ctx, "reading section headers of",
				     obj->path);
	obj->secs = calloc(shnum ? shnum : 1, sizeof(struct elp_sec *));
	if (!obj->secs)
		return -ENOMEM;
	obj->cap_secs = shnum ? shnum : 1;
	obj->nr_secs = shnum;
	for (i = 0; i < shnum; i++) {
		struct elp_sec *sec = calloc(1, sizeof(*sec));
		Elf_Scn *scn = elf_getscn(obj->elf, i);
		Elf_Data *data;

		if (!sec)
			return -ENOMEM;
		obj->secs[i] = sec;
		sec->index = i;
		if (!scn || !gelf_getshdr(scn, &sec->sh))
			return elp_elf_error(obj->ctx, "reading section of",
					     obj->path);
		sec->name = elf_strptr(obj->elf, shstrndx, sec->sh.sh_name);
		if (!sec->name)
			return elp_elf_error(
				obj->ctx, "reading section name of", obj->path);
		if (i == 0)
			continue;
		if (sec->sh.sh_type == SHT_REL ||
		    sec->sh.sh_type == SHT_SYMTAB_SHNDX) {
			elp_err(obj->ctx, "%s: unsupported section %s",
				obj->path, sec->name);
			return -ENOTSUP;
		}
		data = elf_getdata(scn, NULL);
		if (!data && elf_errno())
			return elp_elf_error(
				obj->ctx, "reading section data of", obj->path);
		if (sec->sh.sh_type == SHT_NOBITS) {
			sec->size = sec->sh.sh_size;
		} else if (data) {
			sec->data = data->d_buf;
			sec->size = data->d_size;
		}
		if (sec->sh.sh_type == SHT_SYMTAB) {
			if (obj->symtab) {
				elp_err(obj->ctx, "%s: several symbol tables",
					obj->path);
				return -EINVAL;
			}
			obj->symtab = sec;
		}
	}
	if (!obj->symtab) {
		elp_err(obj->ctx, "%s: no symbol table", obj->path);
		return -EINVAL;
	}
	if (obj->symtab->sh.sh_link >= shnum)
		return -EINVAL;
	obj->strtab = obj->secs[obj->symtab->sh.sh_link];
	return 0;
}

static int read_symbols(struct elp_obj *obj)
{
	Elf_Data *data =
		elf_getdata(elf_getscn(obj->elf, obj->symtab->index), NULL);
	size_t n, i;

	if (!data)
		return elp_elf_error(obj->ctx, "reading symbols of", obj->path);
	n = obj->symtab->sh.sh_size / sizeof(Elf64_Sym);
	obj->syms = calloc(n ? n : 1, sizeof(struct elp_sym *));
	if (!obj->syms)
		return -ENOMEM;
	obj->cap_syms = n ? n : 1;
	obj->nr_syms = n;
	for (i = 0; i < n; i++) {
		struct elp_sym *sym = calloc(1, sizeof(*sym));

		if (!sym)
			return -ENOMEM;
		obj->syms[i] = sym;
		sym->index = i;
		if (!gelf_getsym(data, i, &sym->s))
			return elp_elf_error(obj->ctx, "reading symbol of",
					     obj->path);
		sym->name = elf_strptr(obj->elf, obj->strtab->index,
				       sym->s.st_name);
		if (!sym->name)
			return elp_elf_error(obj->ctx, "reading symbol name of",
					     obj->path);
		sym->type = GELF_ST_TYPE(sym->s.st_info);
		sym->bind = GELF_ST_BIND(sym->s.st_info);
		if (sym->s.st_shndx != SHN_UNDEF &&
		    sym->s.st_shndx < SHN_LORESERVE) {
			if (sym->s.st_shndx >= obj->nr_secs)
				return -EINVAL;
			sym->sec = obj->secs[sym->s.st_shndx];
			if (sym->type == STT_SECTION) {
				sym->name = sym->sec->name;
				if (!sym->sec->secsym)
					sym->sec->secsym = sym;
			}
		}
	}
	return 0;
}

static int read_relas(struct elp_obj *obj)
{
	size_t i, j;

	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];
		Elf_Data *data;

		if (!elp_sec_is_rela(sec))
			continue;
		if (sec->sh.sh_info >= obj->nr_secs ||
		    sec->sh.sh_link != obj->symtab->index)
			return -EINVAL;
		sec->base = obj->secs[sec->sh.sh_info];
		sec->base->rela = sec;
		data = elf_getdata(elf_getscn(obj->elf, i), NULL);
		if (!data)
			return elp_elf_error(obj->ctx, "reading relocations of",
					     obj->path);
		sec->nr_relas = sec->sh.sh_size / sizeof(Elf64_Rela);
		sec->relas = calloc(sec->nr_relas ? sec->nr_relas : 1,
				    sizeof(*sec->relas));
		if (!sec->relas)
			return -ENOMEM;
		sec->own_relas = true;
		for (j = 0; j < sec->nr_relas; j++) {
			struct elp_rela *rela = &sec->relas[j];
			GElf_Rela r;
			size_t symi;

			if (!gelf_getrela(data, j, &r))
				return elp_elf_error(obj->ctx,
						     "reading relocation of",
						     obj->path);
			symi = GELF_R_SYM(r.r_info);
			if (symi >= obj->nr_syms)
				return -EINVAL;
			rela->offset = r.r_offset;
			rela->type = GELF_R_TYPE(r.r_info);
			rela->addend = r.r_addend;
			rela->sym = obj->syms[symi];
			rela->string = elp_rela_string(sec->base, rela);
			rela->konst = elp_rela_const(sec->base, rela,
						     &rela->konst_len);
		}
	}
	return 0;
}

long elp_rela_target_offset(const struct elp_sec *from,
			    const struct elp_rela *rela)
{
	/* hostile objects: wrap, never overflow (undefined) */
	long off = (long)((uint64_t)rela->sym->s.st_value +
			  (uint64_t)rela->addend),
	     tail;

	/* in data, a pc-relative field is its own base (".long x - .") */
	if (!elp_sym_is_pcrel(rela->type) || (from && !elp_sec_is_text(from)))
		return off;
	/* in code, the base is the end of the instruction that holds it */
	tail = from ? elp_rel32_tail(from, rela->offset) : -1;
	return tail < 0 ? ELP_OFF_UNKNOWN
			: (long)((uint64_t)off + (uint64_t)tail);
}

/*
 * The string a relocation into a merged string section points at, from the
 * exact offset it refers to (a string may be referred to in its middle).
 */
const char *elp_rela_string(const struct elp_sec *from,
			    const struct elp_rela *rela)
{
	const struct elp_sec *sec = rela->sym->sec;
	long off;

	if (!sec || !elp_sec_is_string(sec) || !sec->data || !sec->size)
		return NULL;
	off = elp_rela_target_offset(from, rela);
	if (off < 0 || (size_t)off >= sec->size ||
	    !memchr((const char *)sec->data + off, '\0', sec->size - off))
		return NULL;
	return (const char *)sec->data + off;
}

/*
 * The constant a relocation into a merged constant section (SHF_MERGE
 * without SHF_STRINGS: .rodata.cst2 ... .rodata.cst32) points at, one entry
 * of *len bytes; NULL when the target is not a whole entry of one.
 */
const void *elp_rela_const(const struct elp_sec *from,
			   const struct elp_rela *rela, size_t *len)
{
	const struct elp_sec *sec = rela->sym->sec;
	size_t entsize;
	long off;

	*len = 0;
	if (!sec || !(sec->sh.sh_flags & SHF_MERGE) || elp_sec_is_string(sec) ||
	    !sec->data || !sec->size)
		return NULL;
	entsize = sec->sh.sh_entsize;
	off = elp_rela_target_offset(from, rela);
	if (!entsize || off < 0 || (size_t)off % entsize ||
	    (size_t)off + entsize > sec->size)
		return NULL;
	*len = entsize;
	return (const char *)sec->data + off;
}

int elp_obj_read(struct elp_ctx *ctx, const char *path, struct elp_obj **out)
{
	struct elp_obj *obj;
	int ret;

	elf_version(EV_CURRENT);
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	obj->ctx = ctx;
	obj->path = path;
	obj->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (obj->fd < 0) {
		ret = -errno;
		elp_err(ctx, "cannot open '%s': %s", path, strerror(errno));
		free(obj);
		return ret;
	}
	obj->elf = elf_begin(obj->fd, ELF_C_READ, NULL);
	if (!obj->elf) {
		ret = elp_elf_error(ctx, "opening", path);
		goto fail;
	}
	if (elf_kind(obj->elf) != ELF_K_ELF) {
		elp_err(ctx, "%s: not an ELF object", path);
		ret = -ENOEXEC;
		goto fail;
	}
	if (!gelf_getehdr(obj->elf, &obj->eh)) {
		ret = elp_elf_error(ctx, "reading ELF header of", path);
		goto fail;
	}
	if (obj->eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    obj->eh.e_type != ET_REL || obj->eh.e_machine != EM_X86_64) {
		elp_err(ctx, "%s: not an x86_64 relocatable object", path);
		ret = -ENOEXEC;
		goto fail;
	}
	ret = read_sections(obj);
	if (!ret)
		ret = read_symbols(obj);
	if (!ret)
		ret = read_relas(obj);
	if (ret)
		goto fail;
	*out = obj;
	return 0;
fail:
	if (ret == -ENOMEM)
		elp_err(ctx, "%s: out of memory", path);
	else if (ret == -EINVAL)
		elp_err(ctx, "%s: malformed object", path);
	elp_obj_free(obj);
	return ret;
}

void elp_obj_free(struct elp_obj *obj)
{
	size_t i;

	if (!obj)
		return;
	for (i = 0; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (!sec)
			continue;
		if (sec->own_data)
			free(sec->data);
		if (sec->own_relas)
			free(sec->relas);
		free(sec->syms);
		free(sec->chunks);
		free(sec->insn_starts);
		free(sec->alloc_name);
		free(sec);
	}
	free(obj->secs);
	for (i = 0; i < obj->nr_syms; i++) {
		struct elp_sym *sym = obj->syms[i];

		if (!sym)
			continue;
		free(sym->alloc_name);
		free(sym->norm);
		free(sym);
	}
	free(obj->syms);
	if (obj->elf)
		elf_end(obj->elf);
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj);
}

/* ---- writer ---- */

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

static long strbuf_add(struct strbuf *sb, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = elp_grow(sb->buf, &sb->cap, sb->len + n, 1);
	long off;

	if (!p)
		return -1;
	sb->buf = p;
	memcpy(sb->buf + sb->len, s, n);
	off = (long)sb->len;
	sb->len += n;
	return off;
}

struct writer {
	struct elp_obj *obj;
	bool all;
	struct elp_sec **out; /* output sections, out[0] unused */
	size_t nr_out;
	struct elp_sym **osyms;
	size_t nr_osyms;
	size_t first_global;
	size_t *secsym_idx; /* out section index -> section symbol */
	struct strbuf shstr, str;
	Elf64_Sym *symbuf;
	Elf64_Rela **relabufs;
	size_t shstrndx;
};

static bool sec_selected(struct writer *w, struct elp_sec *sec)
{
	if (sec == w->obj->symtab || sec == w->obj->strtab ||
	    sec->index == w->obj->eh.e_shstrndx ||
	    sec->sh.sh_type == SHT_GROUP || sec->sh.sh_type == SHT_NULL)
		return false;
	if (elp_sec_is_rela(sec))
		return sec->nr_relas && sec->base &&
		       (w->all || sec->base->include) &&
		       sec_selected(w, sec->base);
	return w->all || sec->include;
}

static bool sym_selected(struct writer *w, struct elp_sym *sym)
{
	if (!sym->index || sym->type == STT_SECTION)
		return false;
	if (w->all)
		return sym->type != STT_FILE || sym->index == 1;
	return sym->include;
}

static int writer_layout(struct writer *w)
{
	struct elp_obj *obj = w->obj;
	size_t i, n = 1;

	w->out = calloc(obj->nr_secs + 1, sizeof(struct elp_sec *));
	w->osyms = calloc(obj->nr_syms + obj->nr_secs + 1,
			  sizeof(struct elp_sym *));
	w->secsym_idx = calloc(obj->nr_secs + 1, sizeof(*w->secsym_idx));
	if (!w->out || !w->osyms || !w->secsym_idx)
		return -ENOMEM;
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		sec->out_index = 0;
		if (sec_selected(w, sec)) {
			sec->out_index = n;
			w->out[n++] = sec;
		}
	}
	w->nr_out = n;
	/* symbols: null, section symbols, locals, globals */
	w->nr_osyms = 1;
	for (i = 1; i < w->nr_out; i++) {
		if (elp_sec_is_rela(w->out[i]))
			continue;
		w->secsym_idx[i] = w->nr_osyms;
		w->osyms[w->nr_osyms++] = NULL; /* generated */
	}
	for (i = 1; i < obj->nr_syms; i++) {
		struct elp_sym *sym = obj->syms[i];

		sym->out_index = 0;
		if (sym->bind == STB_LOCAL && sym_selected(w, sym)) {
			sym->out_index = w->nr_osyms;
			w->osyms[w->nr_osyms++] = sym;
		}
	}
	w->first_global = w->nr_osyms;
	for (i = 1; i < obj->nr_syms; i++) {
		struct elp_sym *sym = obj->syms[i];

		if (sym->bind != STB_LOCAL && sym_selected(w, sym)) {
			sym->out_index = w->nr_osyms;
			w->osyms[w->nr_osyms++] = sym;
		}
	}
	return 0;
}

static int writer_symbols(struct writer *w)
{
	size_t i;

	w->symbuf = calloc(w->nr_osyms, sizeof(*w->symbuf));
	if (!w->symbuf || strbuf_add(&w->str, "") < 0)
		return -ENOMEM;
	for (i = 1; i < w->nr_osyms; i++) {
		struct elp_sym *sym = w->osyms[i];
		Elf64_Sym *s = &w->symbuf[i];
		long name;

		if (!sym) {
			s->st_info = GELF_ST_INFO(STB_LOCAL, STT_SECTION);
			continue;
		}
		name = strbuf_add(&w->str, sym->name);
		if (name < 0)
			return -ENOMEM;
		s->st_name = name;
		s->st_info = GELF_ST_INFO(sym->bind, sym->type);
		s->st_other = sym->s.st_other;
		s->st_value = sym->s.st_value;
		s->st_size = sym->s.st_size;
		if (sym->sec) {
			if (!sym->sec->out_index) {
				elp_err(w->obj->ctx,
					"internal: symbol %s in dropped section %s",
					sym->name, sym->sec->name);
				return -EINVAL;
			}
			s->st_shndx = sym->sec->out_index;
		} else {
			s->st_shndx = sym->s.st_shndx;
		}
	}
	/* section symbols point at their sections */
	for (i = 1; i < w->nr_out; i++)
		if (w->secsym_idx[i])
			w->symbuf[w->secsym_idx[i]].st_shndx = i;
	return 0;
}

static int writer_rela(struct writer *w, struct elp_sec *sec, Elf64_Rela **buf)
{
	size_t i;

	*buf = calloc(sec->nr_relas, sizeof(**buf));
	if (!*buf)
		return -ENOMEM;
	for (i = 0; i < sec->nr_relas; i++) {
		struct elp_rela *r = &sec->relas[i];
		size_t idx;

		if (r->sym->type == STT_SECTION && r->sym->sec)
			idx = w->secsym_idx[r->sym->sec->out_index];
		else
			idx = r->sym->out_index;
		if (!idx) {
			elp_err(w->obj->ctx,
				"internal: relocation in %s to dropped symbol %s",
				sec->name, r->sym->name);
			return -EINVAL;
		}
		(*buf)[i].r_offset = r->offset;
		(*buf)[i].r_info = ELF64_R_INFO(idx, r->type);
		(*buf)[i].r_addend = r->addend;
	}
	return 0;
}

static int new_section(struct writer *w, Elf *elf, const char *name,
		       const GElf_Shdr *tmpl, void *buf, size_t size,
		       Elf_Type type)
{
	Elf_Scn *scn = elf_newscn(elf);
	Elf_Data *data;
	GElf_Shdr sh;
	long off;

	if (!scn)
		return elp_elf_error(w->obj->ctx, "creating section in",
				     w->obj->path);
	off = strbuf_add(&w->shstr, name);
	if (off < 0)
		return -ENOMEM;
	data = elf_newdata(scn);
	if (!data)
		return elp_elf_error(w->obj->ctx, "creating data in",
				     w->obj->path);
	data->d_buf = buf;
	data->d_size = size;
	data->d_type = type;
	data->d_align = tmpl->sh_addralign ? tmpl->sh_addralign : 1;
	if (!gelf_getshdr(scn, &sh))
		return elp_elf_error(w->obj->ctx, "reading new section of",
				     w->obj->path);
	sh = *tmpl;
	sh.sh_name = off;
	sh.sh_offset = 0;
	sh.sh_size = size;
	if (!gelf_update_shdr(scn, &sh))
		return elp_elf_error(w->obj->ctx, "updating section of",
				     w->obj->path);
	return 0;
}

static int writer_emit(struct writer *w, Elf *elf)
{
	size_t symtab_idx = w->nr_out, strtab_idx = w->nr_out + 1;
	GElf_Shdr sh;
	size_t i;
	int ret;

	w->relabufs = calloc(w->nr_out, sizeof(Elf64_Rela *));
	if (!w->relabufs || strbuf_add(&w->shstr, "") < 0)
		return -ENOMEM;
	for (i = 1; i < w->nr_out; i++) {
		struct elp_sec *sec = w->out[i];

		sh = sec->sh;
		sh.sh_flags &= ~(GElf_Xword)SHF_GROUP;
		sh.sh_addr = 0;
		if (elp_sec_is_rela(sec)) {
			ret = writer_rela(w, sec, &w->relabufs[i]);
			if (ret)
				return ret;
			sh.sh_link = symtab_idx;
			sh.sh_info = sec->base->out_index;
			sh.sh_entsize = sizeof(Elf64_Rela);
			ret = new_section(
				w, elf, sec->name, &sh, w->relabufs[i],
				sec->nr_relas * sizeof(Elf64_Rela), ELF_T_RELA);
		} else {
			if (sh.sh_flags & SHF_LINK_ORDER)
				sh.sh_link = sh.sh_link < w->obj->nr_secs
						     ? w->obj->secs[sh.sh_link]
							       ->out_index
						     : 0;
			else
				sh.sh_link = 0;
			sh.sh_info = 0;
			ret = new_section(w, elf, sec->name, &sh,
					  sec->sh.sh_type == SHT_NOBITS
						  ? NULL
						  : sec->data,
					  sec->size, ELF_T_BYTE);
		}
		if (ret)
			return ret;
	}
	memset(&sh, 0, sizeof(sh));
	sh.sh_type = SHT_SYMTAB;
	sh.sh_link = strtab_idx;
	sh.sh_info = w->first_global;
	sh.sh_entsize = sizeof(Elf64_Sym);
	sh.sh_addralign = 8;
	ret = new_section(w, elf, ".symtab", &sh, w->symbuf,
			  w->nr_osyms * sizeof(Elf64_Sym), ELF_T_SYM);
	if (ret)
		return ret;
	memset(&sh, 0, sizeof(sh));
	sh.sh_type = SHT_STRTAB;
	sh.sh_addralign = 1;
	ret = new_section(w, elf, ".strtab", &sh, w->str.buf, w->str.len,
			  ELF_T_BYTE);
	if (ret)
		return ret;
	/* the name must be in the table before the table is handed over */
	if (strbuf_add(&w->shstr, ".shstrtab") < 0)
		return -ENOMEM;
	{
		Elf_Scn *scn = elf_newscn(elf);
		Elf_Data *data;

		if (!scn || !(data = elf_newdata(scn)) ||
		    !gelf_getshdr(scn, &sh))
			return elp_elf_error(w->obj->ctx, "creating section in",
					     w->obj->path);
		data->d_buf = w->shstr.buf;
		data->d_size = w->shstr.len;
		data->d_type = ELF_T_BYTE;
		data->d_align = 1;
		sh.sh_type = SHT_STRTAB;
		sh.sh_name = w->shstr.len - strlen(".shstrtab") - 1;
		sh.sh_addralign = 1;
		sh.sh_size = w->shstr.len;
		if (!gelf_update_shdr(scn, &sh))
			return elp_elf_error(w->obj->ctx, "updating section of",
					     w->obj->path);
		w->shstrndx = elf_ndxscn(scn);
	}
	return 0;
}

int elp_obj_write(struct elp_obj *obj, const char *path, bool all)
{
	struct writer w = { .obj = obj, .all = all };
	GElf_Ehdr eh;
	Elf *elf = NULL;
	int fd, ret;
	size_t i;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		elp_err(obj->ctx, "cannot create '%s': %s", path,
			strerror(errno));
		return ret;
	}
	ret = writer_layout(&w);
	if (!ret)
		ret = writer_symbols(&w);
	if (ret)
		goto out;
	elf = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!elf || !gelf_newehdr(elf, ELFCLASS64) || !gelf_getehdr(elf, &eh)) {
		ret = elp_elf_error(obj->ctx, "creating", path);
		goto out;
	}
	memcpy(eh.e_ident, obj->eh.e_ident, EI_NIDENT);
	eh.e_type = ET_REL;
	eh.e_machine = obj->eh.e_machine;
	eh.e_version = obj->eh.e_version;
	eh.e_flags = obj->eh.e_flags;
	ret = writer_emit(&w, elf);
	if (ret)
		goto out;
	eh.e_shstrndx = w.shstrndx;
	if (!gelf_update_ehdr(elf, &eh)) {
		ret = elp_elf_error(obj->ctx, "writing ELF header of", path);
		goto out;
	}
	if (elf_update(elf, ELF_C_WRITE) < 0)
		ret = elp_elf_error(obj->ctx, "writing", path);
out:
	if (elf)
		elf_end(elf);
	close(fd);
	if (ret) {
		if (ret == -ENOMEM)
			elp_err(obj->ctx, "%s: out of memory", path);
		unlink(path);
	}
	if (w.relabufs)
		for (i = 0; i < w.nr_out; i++)
			free(w.relabufs[i]);
	free(w.relabufs);
	free(w.symbuf);
	free(w.str.buf);
	free(w.shstr.buf);
	free(w.out);
	free(w.osyms);
	free(w.secsym_idx);
	return ret;
}
