/* Address → function name, for panic backtraces. Linear search: panics are rare and the kernel
 * has a few hundred functions. */
#include "symbols.h"

#define STT_FUNC 2
#define SHN_UNDEF 0

struct symbol_table kernel_symbols;

bool symbols_init(struct symbol_table *t, const void *symtab, uint64_t symtab_size, uint64_t entsize,
                  const char *strtab, uint64_t strtab_size)
{
    memset(t, 0, sizeof *t);
    if (!symtab || !strtab || entsize != sizeof(struct elf64_sym) || symtab_size % entsize ||
        strtab_size == 0 || strtab[strtab_size - 1] != '\0')
        return false;
    t->syms = symtab;
    t->count = symtab_size / entsize;
    t->strings = strtab;
    t->strings_size = strtab_size;
    return true;
}

const char *symbols_lookup(const struct symbol_table *t, uint64_t addr, uint64_t *offset)
{
    const struct elf64_sym *best = 0;
    for (uint64_t i = 0; i < t->count; i++) {
        const struct elf64_sym *s = &t->syms[i];
        if ((s->st_info & 0xf) != STT_FUNC || s->st_shndx == SHN_UNDEF || s->st_name >= t->strings_size)
            continue;
        if (s->st_value <= addr && (!best || s->st_value > best->st_value))
            best = s;
    }
    if (!best)
        return 0;
    /* Past the end of a sized function means the address is in something we do not know. */
    if (best->st_size && addr >= best->st_value + best->st_size)
        return 0;
    if (offset)
        *offset = addr - best->st_value;
    return t->strings + best->st_name;
}
