// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checking a kernel's inputs against its image, or the vmlinux of a built
 * tree.  An x86 bzImage carries the kernel as a compressed ELF (vmlinux with
 * symbols stripped, section headers kept): its build-id note must be the running kernel's (/sys/kernel/notes)
 * when the symbol table is the live /proc/kallsyms, and the symbol table's
 * linux_banner must point at "Linux version RELEASE " in it.  A table of
 * another kernel points elsewhere.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "kernel.h"
#include "util.h"

struct vmlinux {
	char *data;
	size_t len;
	const Elf64_Ehdr *eh;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * The kernel ELF of an image: a vmlinux as it is, or from a bzImage (boot
 * protocol 2.08+: the payload at (setup_sects + 1) * 512 + offset).
 */
static int image_vmlinux(struct elp_ctx *ctx, const char *path,
			 struct vmlinux *v)
{
	const unsigned char *img;
	struct archive_entry *entry;
	struct elp_buf buf = { 0 };
	char *data = NULL, chunk[65536];
	size_t len = 0, start, plen, setup;
	struct archive *a;
	la_ssize_t n;
	int err;

	err = elp_read_file(ctx, path, &data, &len);
	if (err)
		return err;
	img = (const unsigned char *)data;
	/* a vmlinux as the build left it */
	if (len >= sizeof(Elf64_Ehdr) && !memcmp(img, ELFMAG, SELFMAG) &&
	    img[EI_CLASS] == ELFCLASS64) {
		v->data = data;
		v->len = len;
		v->eh = (const Elf64_Ehdr *)(const void *)data;
		return 0;
	}
	err = -ENOTSUP;
	if (len < 0x250 || memcmp(img + 0x202, "HdrS", 4) != 0 ||
	    (img[0x206] | img[0x207] << 8) < 0x208)
		goto out;
	setup = img[0x1f1] ? img[0x1f1] : 4;
	start = (setup + 1) * 512 + le32(img + 0x248);
	plen = le32(img + 0x24c);
	if (!plen || start + plen > len)
		goto out;
	a = archive_read_new();
	if (!a) {
		err = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, img + start, plen) == ARCHIVE_OK &&
	    archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		err = 0;
		while (!err &&
		       (n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
			err = elp_buf_append(&buf, chunk, (size_t)n);
	}
	archive_read_free(a);
	if (!err && buf.len >= sizeof(Elf64_Ehdr) &&
	    !memcmp(buf.data, ELFMAG, SELFMAG) &&
	    buf.data[EI_CLASS] == ELFCLASS64) {
		v->data = buf.data;
		v->len = buf.len;
		v->eh = (const Elf64_Ehdr *)(const void *)buf.data;
		buf.data = NULL;
	} else if (!err) {
		err = -ENOTSUP;
	}
out:
	elp_buf_free(&buf);
	free(data);
	return err;
}

static const Elf64_Shdr *section(const struct vmlinux *v, size_t i)
{
	size_t off = v->eh->e_shoff + i * sizeof(Elf64_Shdr);

	if (i >= v->eh->e_shnum || off + sizeof(Elf64_Shdr) > v->len)
		return NULL;
	return (const Elf64_Shdr *)(const void *)(v->data + off);
}

static const char *section_name(const struct vmlinux *v, const Elf64_Shdr *s)
{
	const Elf64_Shdr *strs = section(v, v->eh->e_shstrndx);

	if (!strs || strs->sh_offset + s->sh_name >= v->len)
		return "";
	return v->data + strs->sh_offset + s->sh_name;
}

static const Elf64_Shdr *section_by_name(const struct vmlinux *v,
					 const char *name)
{
	const Elf64_Shdr *s;
	size_t i;

	for (i = 0; (s = section(v, i)) != NULL; i++)
		if (!strcmp(section_name(v, s), name))
			return s;
	return NULL;
}

static char *build_id(const struct vmlinux *v)
{
	const Elf64_Shdr *s;
	size_t i;

	for (i = 0; (s = section(v, i)) != NULL; i++) {
		char *id;

		if (s->sh_type != SHT_NOTE ||
		    s->sh_offset + s->sh_size > v->len)
			continue;
		id = elp_notes_build_id(v->data + s->sh_offset, s->sh_size);
		if (id)
			return id;
	}
	return NULL;
}

/* The string at a link-time address, or NULL when none of it is there. */
static const char *string_at(const struct vmlinux *v, uint64_t addr)
{
	const Elf64_Shdr *s;
	size_t i;

	for (i = 0; (s = section(v, i)) != NULL; i++) {
		if (s->sh_type != SHT_PROGBITS || !(s->sh_flags & SHF_ALLOC) ||
		    addr < s->sh_addr || addr >= s->sh_addr + s->sh_size ||
		    s->sh_offset + s->sh_size > v->len)
			continue;
		return v->data + s->sh_offset + (addr - s->sh_addr);
	}
	return NULL;
}

/* The address of a vmlinux symbol in a kallsyms/System.map text. */
static bool table_address(const char *text, const char *name, uint64_t *addr)
{
	size_t n = strlen(name);
	const char *line;

	for (line = text; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p = strchr(line, ' ');

		if (!p || !p[1] || p[2] != ' ' ||
		    strncmp(p + 3, name, n) != 0 ||
		    (p[3 + n] != '\n' && p[3 + n] != '\0'))
			continue;
		*addr = strtoull(line, NULL, 16);
		return true;
	}
	return false;
}

static int check_banner(struct elp_ctx *ctx, const struct elp_kernel *k,
			const struct vmlinux *v, const char *image)
{
	const struct elp_kernel_origin *o = &k->inputs[ELP_KERNEL_SYMBOLS];
	const Elf64_Shdr *text = section_by_name(v, ".text");
	uint64_t text_addr, banner_addr;
	const char *banner;
	char want[256];

	if (!text || !table_address(k->symbols_text, "_text", &text_addr) ||
	    !table_address(k->symbols_text, "linux_banner", &banner_addr)) {
		elp_info(
			ctx,
			"'%s' has no _text or linux_banner: not checked against '%s'",
			o->path, image);
		return 0;
	}
	/* a KASLR offset moves every address alike */
	banner = string_at(v, banner_addr - (text_addr - text->sh_addr));
	snprintf(want, sizeof(want), "Linux version %s ", k->release);
	if (banner && !strncmp(banner, want, strlen(want)))
		return 0;
	elp_err(ctx,
		"'%s' is another kernel's symbol table: its linux_banner does not point at \"%s...\" in '%s'",
		o->path, want, image);
	return -EINVAL;
}

/* The image, else a vmlinux in the build or source dir (a built tree). */
static char *kernel_elf(const struct elp_kernel *k)
{
	const char *dirs[] = { k->build_dir, k->source };
	char *p = NULL;
	size_t i;

	if (k->image_path)
		return strdup(k->image_path);
	for (i = 0; i < 2; i++) {
		if (!dirs[i] || asprintf(&p, "%s/vmlinux", dirs[i]) < 0)
			continue;
		if (elp_is_file(p))
			return p;
		free(p);
		p = NULL;
	}
	return NULL;
}

int elp_kernel_check_image(struct elp_ctx *ctx, struct elp_kernel *k)
{
	const char *origin = k->inputs[ELP_KERNEL_SYMBOLS].origin;
	bool live = origin && !strcmp(origin, ELP_KERNEL_LIVE_SYMBOLS);
	struct vmlinux v = { 0 };
	char *image = kernel_elf(k), *id = NULL;
	int err;

	if (!image)
		return 0;
	err = image_vmlinux(ctx, image, &v);
	if (err == -ENOTSUP) {
		elp_warn(
			ctx,
			"cannot read the kernel inside image '%s': its build-id and banner are not checked",
			image);
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	id = build_id(&v);
	if (live && id && k->build_id && strcmp(id, k->build_id) != 0) {
		elp_err(ctx,
			"the running kernel's build-id %s (/sys/kernel/notes) is not that of '%s' (%s): its /proc/kallsyms describes another build",
			k->build_id, image, id);
		err = -EINVAL;
	} else if (id && !k->build_id) {
		k->build_id = id;
		id = NULL;
	}
	if (!err && k->symbols_text)
		err = check_banner(ctx, k, &v, image);
out:
	free(id);
	free(v.data);
	free(image);
	return err;
}
