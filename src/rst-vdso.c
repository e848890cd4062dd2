// SPDX-License-Identifier: MIT
/*
 * Restore of the vDSO. The dumped [vdso] pages are compared with this kernel's vDSO: when
 * they are byte-identical and the [vvar]/[vvar_vclock]/[vdso] block has the same layout,
 * the blob moves our block to the dumped addresses (mremap of the special mappings).
 * Otherwise (or with FERRY_VDSO_FORCE_PROXY=1) the dumped vDSO stays as a plain copy at its
 * old address with each exported function patched into a jump to the same function of
 * our vDSO, which is kept (or moved) where it collides with nothing. ELF parsing of both
 * images (dynamic symbols via PT_DYNAMIC) happens here, never in the blob.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#define LOG_PREFIX "vdso: "
#include "log.h"
#include "rst.h"
#include "rst-maps.h"
#include "vma.h"

#define JMP_LEN 12 /* movabs $addr, %rax; jmp *%rax */

struct elf_syms {
	const Elf64_Sym *sym;
	size_t nr;
	const char *str;
	size_t str_len;
	uint64_t base;		/* p_vaddr of the first PT_LOAD */
};

struct vdso_block {
	struct rst_map piece[3];	/* in address order */
	int nr;
	unsigned long lo, hi, vdso, vdso_len;
};

static bool in_image(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

static int elf_base(const unsigned char *img, size_t len, const Elf64_Ehdr *eh, uint64_t *base)
{
	const Elf64_Phdr *ph;
	int i;

	if (eh->e_phentsize != sizeof(*ph) ||
	    !in_image(len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph)))
		return -EINVAL;
	ph = (const Elf64_Phdr *)(img + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			*base = ph[i].p_vaddr;
			return 0;
		}
	return -EINVAL;
}

static const Elf64_Phdr *elf_dynamic(const unsigned char *img, size_t len, const Elf64_Ehdr *eh)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
	int i;

	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC && in_image(len, ph[i].p_offset, ph[i].p_filesz))
			return &ph[i];
	return NULL;
}

/*
 * Find the dynamic symbols through PT_DYNAMIC (DT_SYMTAB, DT_STRTAB, DT_STRSZ, DT_HASH):
 * the headers and the dynamic segment sit in the first page, which is dumped, while the
 * section headers at the end of the image may not be. Every offset is bounds-checked.
 */
static int elf_parse(const void *image, size_t len, struct elf_syms *es)
{
	const unsigned char *img = image;
	const Elf64_Ehdr *eh = image;
	uint64_t symtab = 0, strtab = 0, strsz = 0, hash = 0;
	const Elf64_Phdr *dyn;
	const Elf64_Dyn *d;
	size_t i;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || elf_base(img, len, eh, &es->base))
		return -EINVAL;
	dyn = elf_dynamic(img, len, eh);
	if (!dyn)
		return -EINVAL;
	d = (const Elf64_Dyn *)(img + dyn->p_offset);
	for (i = 0; i < dyn->p_filesz / sizeof(*d) && d[i].d_tag != DT_NULL; i++) {
		if (d[i].d_tag == DT_SYMTAB)
			symtab = d[i].d_un.d_ptr - es->base;
		else if (d[i].d_tag == DT_STRTAB)
			strtab = d[i].d_un.d_ptr - es->base;
		else if (d[i].d_tag == DT_STRSZ)
			strsz = d[i].d_un.d_val;
		else if (d[i].d_tag == DT_HASH)
			hash = d[i].d_un.d_ptr - es->base;
	}
	if (!symtab || !strtab || !in_image(len, strtab, strsz) || !strsz)
		return -EINVAL;
	if (hash && in_image(len, hash, 8))
		es->nr = ((const uint32_t *)(img + hash))[1];
	else
		es->nr = strtab > symtab ? (strtab - symtab) / sizeof(Elf64_Sym) : 0;
	if (!in_image(len, symtab, es->nr * sizeof(Elf64_Sym)))
		return -EINVAL;
	es->sym = (const Elf64_Sym *)(img + symtab);
	es->str = (const char *)img + strtab;
	es->str_len = strsz;
	return 0;
}

static const char *sym_name(const struct elf_syms *es, const Elf64_Sym *s)
{
	if (s->st_name >= es->str_len || !memchr(es->str + s->st_name, 0, es->str_len - s->st_name))
		return NULL;
	return es->str + s->st_name;
}

static bool exported_func(const Elf64_Sym *s)
{
	return ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
	       (ELF64_ST_BIND(s->st_info) == STB_GLOBAL || ELF64_ST_BIND(s->st_info) == STB_WEAK);
}

static const Elf64_Sym *sym_lookup(const struct elf_syms *es, const char *name)
{
	size_t i;

	for (i = 0; i < es->nr; i++) {
		const char *n = sym_name(es, &es->sym[i]);

		if (n && exported_func(&es->sym[i]) && !strcmp(n, name))
			return &es->sym[i];
	}
	return NULL;
}

/* Patch every exported function of the dumped copy into a jump to our vDSO at new_base. */
static int patch_proxy(unsigned char *old, size_t old_len, const void *cur, size_t cur_len,
		       unsigned long new_base)
{
	struct elf_syms os, ns;
	size_t i, patched = 0;

	if (elf_parse(old, old_len, &os) || elf_parse(cur, cur_len, &ns)) {
		pr_err("cannot parse the dynamic symbols of the %s vDSO",
		       elf_parse(old, old_len, &os) ? "dumped" : "current");
		return -EINVAL;
	}
	for (i = 0; i < os.nr; i++) {
		const Elf64_Sym *s = &os.sym[i], *n;
		const char *name = sym_name(&os, s);
		uint64_t off = s->st_value - os.base, to;

		if (!name || !exported_func(s))
			continue;
		n = sym_lookup(&ns, name);
		if (!n) {
			pr_warn("%s of the dumped vDSO has no counterpart in this kernel's vDSO", name);
			continue;
		}
		if (s->st_value < os.base || !in_image(old_len, off, JMP_LEN)) {
			pr_err("dumped vDSO symbol %s lies outside the image", name);
			return -EINVAL;
		}
		to = new_base + n->st_value - ns.base;
		old[off] = 0x48;
		old[off + 1] = 0xb8;
		memcpy(old + off + 2, &to, 8);
		old[off + 10] = 0xff;
		old[off + 11] = 0xe0;
		patched++;
	}
	pr_info("patched %zu functions of the dumped vDSO into this kernel's vDSO", patched);
	return 0;
}

static int current_block(struct vdso_block *b)
{
	struct rst_map *maps = calloc(RST_MAX_UNMAP, sizeof(*maps));
	ssize_t n, i;

	if (!maps)
		return -ENOMEM;
	n = rst_maps_read(maps, RST_MAX_UNMAP);
	memset(b, 0, sizeof(*b));
	b->lo = -1UL;
	for (i = 0; i < n; i++) {
		if (maps[i].kind != RST_MAP_VDSO && maps[i].kind != RST_MAP_VVAR &&
		    maps[i].kind != RST_MAP_VVAR_VCLOCK)
			continue;
		if (b->nr == 3)
			break;
		b->piece[b->nr++] = maps[i];
		b->lo = maps[i].start < b->lo ? maps[i].start : b->lo;
		b->hi = maps[i].end > b->hi ? maps[i].end : b->hi;
		if (maps[i].kind == RST_MAP_VDSO) {
			b->vdso = maps[i].start;
			b->vdso_len = maps[i].end - maps[i].start;
		}
	}
	free(maps);
	return n < 0 ? (int)n : 0;
}

static const VmaEntry *dumped_vdso(const MmEntry *mm)
{
	size_t i;

	for (i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->status & VMA_AREA_VDSO)
			return mm->vmas[i];
	return NULL;
}

/*
 * Same vDSO bytes (in every dumped page: a page never touched is not in the pagemap), and
 * every piece of our block has a dumped twin at the same offset.
 */
static bool same_vdso(const MmEntry *mm, const struct vdso_block *b, unsigned long copy,
		      uint64_t present)
{
	const VmaEntry *dv = dumped_vdso(mm);
	size_t i, nr_dumped = 0;
	long delta;
	int j;

	if (!dv || !copy || !b->vdso || dv->end - dv->start != b->vdso_len)
		return false;
	for (i = 0; i < b->vdso_len / RST_PAGE; i++)
		if ((i >= 64 || present & (1ULL << i)) &&
		    memcmp((char *)copy + i * RST_PAGE, (char *)b->vdso + i * RST_PAGE, RST_PAGE))
			return false;
	delta = dv->start - b->vdso;
	for (i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->status & (VMA_AREA_VVAR | VMA_AREA_VDSO))
			nr_dumped++;
	if (nr_dumped != (size_t)b->nr)
		return false;
	for (j = 0; j < b->nr; j++) {
		bool found = false;

		for (i = 0; i < mm->n_vmas; i++)
			if (mm->vmas[i]->start == b->piece[j].start + delta &&
			    mm->vmas[i]->end == b->piece[j].end + delta)
				found = true;
		if (!found)
			return false;
	}
	return true;
}

static void set_moves(struct rst_task *t, const struct vdso_block *b, unsigned long scratch,
		      long delta)
{
	int i;

	t->args->nr_vdso = 0;
	if (!delta)
		return;
	for (i = 0; i < b->nr; i++)
		t->args->vdso[t->args->nr_vdso++] = (struct rst_vdso_move){
			.cur = b->piece[i].start,
			.scratch = scratch + b->piece[i].start - b->lo,
			.final = b->piece[i].start + delta,
			.len = b->piece[i].end - b->piece[i].start,
		};
}

/* Where our block may stay: its place if no target VMA is there, else a free gap. */
static unsigned long proxy_place(const struct rst_task *t, const struct vdso_block *b)
{
	const MmEntry *mm = t->mm;
	struct rst_map *busy;
	unsigned long at = b->lo;
	size_t i, n = 0;

	for (i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->start < b->hi && mm->vmas[i]->end > b->lo)
			at = 0;
	if (at)
		return at;
	busy = calloc(mm->n_vmas + 1, sizeof(*busy));
	if (!busy)
		return 0;
	for (i = 0; i < mm->n_vmas; i++)
		busy[n++] = (struct rst_map){ mm->vmas[i]->start, mm->vmas[i]->end, RST_MAP_OTHER };
	busy[n++] = (struct rst_map){ t->region, t->region + t->region_len, RST_MAP_OTHER };
	at = rst_find_gap(busy, n, b->hi - b->lo, RST_TASK_SIZE - RST_PAGE);
	free(busy);
	return at;
}

int rst_vdso_setup(struct rst_task *t, unsigned long copy, uint64_t present,
		   unsigned long scratch, bool *keep_dumped)
{
	const VmaEntry *dv = dumped_vdso(t->mm);
	const char *force = getenv("FERRY_VDSO_FORCE_PROXY");
	struct vdso_block b;
	unsigned long at;
	int ret;

	*keep_dumped = false;
	ret = current_block(&b);
	if (ret || !b.vdso) {
		pr_err("cannot find this kernel's vDSO in /proc/self/maps");
		return ret ? ret : -ENOENT;
	}
	if (!(force && !strcmp(force, "1")) && same_vdso(t->mm, &b, copy, present)) {
		pr_info("the dumped vDSO is identical: moving ours to %#lx", (unsigned long)dv->start);
		set_moves(t, &b, scratch, dv->start - b.vdso);
		t->vdso_new = dv->start;
		return 0;
	}
	if (dv && !copy) {
		pr_err("the vDSO differs and the dump lacks its ELF header page: cannot proxy it");
		return -EINVAL;
	}
	at = proxy_place(t, &b);
	if (!at) {
		pr_err("no free address for this kernel's vDSO in the restored layout");
		return -ENOMEM;
	}
	set_moves(t, &b, scratch, at - b.lo);
	t->vdso_new = b.vdso + (at - b.lo);
	if (!dv)
		return 0;
	*keep_dumped = true;
	pr_info("the vDSO differs: proxying the dumped one at %#lx to ours at %#lx",
		(unsigned long)dv->start, t->vdso_new);
	return patch_proxy((unsigned char *)copy, dv->end - dv->start, (void *)b.vdso, b.vdso_len,
			   t->vdso_new);
}
