/* Kernel symbol lookup for backtraces, from the ELF symbol table GRUB loads with the image. */
#ifndef KEEL_SYMBOLS_H
#define KEEL_SYMBOLS_H

#include "klib.h"

struct elf64_sym {
    uint32_t st_name;
    uint8_t st_info;
    uint8_t st_other;
    uint16_t st_shndx;
    uint64_t st_value;
    uint64_t st_size;
};

struct symbol_table {
    const struct elf64_sym *syms;
    uint64_t count;
    const char *strings;
    uint64_t strings_size;
};

/* Checks the table's shape (entry size, string offsets); returns false if it is unusable. */
bool symbols_init(struct symbol_table *t, const void *symtab, uint64_t symtab_size, uint64_t entsize,
                  const char *strtab, uint64_t strtab_size);
/* Nearest function symbol at or below addr; NULL when none covers it. */
const char *symbols_lookup(const struct symbol_table *t, uint64_t addr, uint64_t *offset);

extern struct symbol_table kernel_symbols;

#endif
