// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal x86-64 instruction length decoder for the code gcc emits in
 * kernel objects.  What it does not know (VEX/EVEX, 3DNow!, invalid
 * opcodes) makes it fail, and callers treat a failure as "cannot tell".
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_prefix(unsigned char b)
{
	return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 ||
	       b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
	       b == 0x65;
}

enum { NO_MODRM = 0, MODRM = 1, BAD = 2 };

/* One-byte map: ModRM presence and immediate size (z: 2 or 4, v: 2/4/8). */
static int onebyte(unsigned char op, bool opsize, bool rexw, bool addr32,
		   const unsigned char *modrm, size_t *imm)
{
	size_t z = opsize ? 2 : 4;

	*imm = 0;
	if (op < 0x40 && (op & 7) < 4)
		return MODRM; /* add/or/adc/sbb/and/sub/xor/cmp r/m forms */
	if (op < 0x40 && (op & 7) == 4) {
		*imm = 1;
		return NO_MODRM;
	}
	if (op < 0x40 && (op & 7) == 5) {
		*imm = z;
		return NO_MODRM;
	}
	if (op < 0x40)
		return BAD; /* push/pop seg, daa, ... invalid in 64-bit mode */
	switch (op) {
	case 0x50 ... 0x5f:
	case 0x6c ... 0x6f:
	case 0x90 ... 0x99:
	case 0x9b ... 0x9f:
	case 0xa4 ... 0xa7:
	case 0xaa ... 0xaf:
	case 0xc3:
	case 0xc9:
	case 0xcb:
	case 0xcc:
	case 0xcf:
	case 0xd7:
	case 0xec ... 0xef:
	case 0xf1:
	case 0xf4:
	case 0xf5:
	case 0xf8 ... 0xfd:
		return NO_MODRM;
	case 0x63:
	case 0x84 ... 0x8f:
	case 0xd0 ... 0xd3:
	case 0xd8 ... 0xdf:
	case 0xfe:
	case 0xff:
		return MODRM;
	case 0x68:
	case 0xa9:
		*imm = z;
		return NO_MODRM;
	case 0x69:
	case 0x81:
	case 0xc7:
		*imm = z;
		return MODRM;
	case 0x6a:
	case 0x70 ... 0x7f:
	case 0xa8:
	case 0xb0 ... 0xb7:
	case 0xcd:
	case 0xe0 ... 0xe7:
	case 0xeb:
		*imm = 1;
		return NO_MODRM;
	case 0x6b:
	case 0x80:
	case 0x83:
	case 0xc0:
	case 0xc1:
	case 0xc6:
		*imm = 1;
		return MODRM;
	case 0xa0 ... 0xa3:
		*imm = addr32 ? 4 : 8; /* moffs */
		return NO_MODRM;
	case 0xb8 ... 0xbf:
		*imm = rexw ? 8 : z;
		return NO_MODRM;
	case 0xc2:
	case 0xca:
		*imm = 2;
		return NO_MODRM;
	case 0xc8:
		*imm = 3;
		return NO_MODRM;
	case 0xe8:
	case 0xe9:
		*imm = 4;
		return opsize ? BAD : NO_MODRM;
	case 0xf6:
	case 0xf7:
		/* test r/m, imm is /0 (and /1); the others have no imm */
		if (modrm && ((*modrm >> 3) & 7) <= 1)
			*imm = op == 0xf6 ? 1 : z;
		return modrm ? MODRM : BAD;
	default:
		return BAD; /* 0x62 EVEX, 0xc4/0xc5 VEX, 0x9a, 0xce, 0xd4... */
	}
}

static int twobyte(unsigned char op, size_t *imm)
{
	*imm = 0;
	switch (op) {
	case 0x04:
	case 0x0a:
	case 0x0c:
	case 0x0f: /* 3DNow! */
	case 0x24 ... 0x27:
	case 0x36:
	case 0x39:
	case 0x3b ... 0x3f:
	case 0x7a:
	case 0x7b:
	case 0xa6:
	case 0xa7:
		return BAD;
	case 0x05 ... 0x09:
	case 0x0b:
	case 0x0e:
	case 0x30 ... 0x35:
	case 0x37:
	case 0x77:
	case 0xa0 ... 0xa2:
	case 0xa8 ... 0xaa:
	case 0xc8 ... 0xcf:
		return NO_MODRM;
	case 0x80 ... 0x8f:
		*imm = 4;
		return NO_MODRM;
	case 0x70 ... 0x73:
	case 0xa4:
	case 0xac:
	case 0xba:
	case 0xc2:
	case 0xc4 ... 0xc6:
		*imm = 1;
		return MODRM;
	default:
		return MODRM;
	}
}

/* Bytes taken by a ModRM byte, its SIB and displacement (32/64-bit). */
static size_t modrm_len(const unsigned char *d, size_t avail)
{
	unsigned char modrm, mod, rm;
	size_t n = 1;

	if (!avail)
		return 0;
	modrm = d[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (avail < 2)
			return 0;
		n++;
		if (mod == 0 && (d[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= avail ? n : 0;
}

/* Decode the instruction at d; false when it is not understood. */
bool elp_insn_decode(const unsigned char *d, size_t avail, struct elp_insn *in)
{
	bool opsize = false, addr32 = false;
	size_t o = 0, imm = 0, m = 0;
	int kind;

	memset(in, 0, sizeof(*in));
	while (o < avail && o < 14 && is_prefix(d[o])) {
		opsize |= d[o] == 0x66;
		addr32 |= d[o] == 0x67;
		o++;
	}
	in->prefixed = o > 0;
	if (o < avail && (d[o] & 0xf0) == 0x40)
		in->rex = d[o++];
	if (o >= avail)
		return false;
	in->opcode_off = o;
	if (d[o] != 0x0f) {
		in->opcode = d[o++];
		kind = onebyte(in->opcode, opsize, in->rex & 8, addr32,
			       o < avail ? &d[o] : NULL, &imm);
	} else if (o + 1 < avail && (d[o + 1] == 0x38 || d[o + 1] == 0x3a)) {
		kind = MODRM;
		imm = d[o + 1] == 0x3a ? 1 : 0;
		in->opcode = 0x0f0000 | d[o + 1] << 8;
		o += 2;
		if (o >= avail)
			return false;
		in->opcode |= d[o++];
	} else if (o + 1 < avail) {
		in->opcode = 0x0f00 | d[o + 1];
		kind = twobyte(d[o + 1], &imm);
		o += 2;
	} else {
		return false;
	}
	if (kind == BAD)
		return false;
	if (kind == MODRM) {
		m = modrm_len(d + o, avail - o);
		if (!m)
			return false;
		o += m;
	}
	if (o + imm > avail)
		return false;
	in->imm_len = imm;
	in->len = o + imm;
	return true;
}

/*
 * Where each instruction of a code section starts, decoded once per data
 * buffer (the alternative-code pass replaces it) from the section's first
 * byte up to the first instruction not understood.  A cache: the section is
 * otherwise unchanged, hence the cast.
 */
static bool index_insns(const struct elp_sec *text)
{
	struct elp_sec *sec = (struct elp_sec *)text;
	const unsigned char *d = text->data;
	size_t o = 0, n = 0;
	uint32_t *starts;

	if (sec->insn_for == text->data && sec->insn_starts)
		return true;
	free(sec->insn_starts);
	sec->insn_starts = NULL;
	sec->nr_insn_starts = 0;
	sec->insn_for = NULL;
	if (!d || !text->size || text->size > UINT32_MAX)
		return false;
	starts = malloc(text->size * sizeof(*starts));
	if (!starts)
		return false;
	while (o < text->size) {
		struct elp_insn in;

		if (!elp_insn_decode(d + o, text->size - o, &in))
			break;
		starts[n++] = (uint32_t)o;
		o += in.len;
	}
	sec->insn_starts = starts;
	sec->nr_insn_starts = n;
	sec->insn_for = text->data;
	/* the end of the last decoded instruction */
	sec->insn_end = o;
	return true;
}

bool elp_insn_at(const struct elp_sec *text, size_t off, struct elp_insn *in,
		 size_t *start)
{
	size_t lo = 0, hi;

	if (!elp_sec_is_text(text) || !index_insns(text) ||
	    off >= text->insn_end || !text->nr_insn_starts)
		return false;
	hi = text->nr_insn_starts;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (text->insn_starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	*start = text->insn_starts[lo];
	return elp_insn_decode((const unsigned char *)text->data + *start,
			       text->size - *start, in);
}

long elp_rel32_tail(const struct elp_sec *text, size_t off)
{
	struct elp_insn in;
	size_t start, tail;

	if (!elp_insn_at(text, off, &in, &start) ||
	    off < start + in.opcode_off + 1 || off + 4 > start + in.len)
		return -1;
	tail = start + in.len - off;
	/* a branch's rel32 is its last field; a RIP-relative displacement
	 * is followed by the immediate */
	if (in.opcode == 0xe8 || in.opcode == 0xe9 ||
	    (in.opcode >= 0x0f80 && in.opcode <= 0x0f8f))
		return tail == 4 ? 4 : -1;
	return tail == 4 + in.imm_len ? (long)tail : -1;
}
