/* Writes the parser fuzzers' seed corpora: gen_corpus <dir> fills <dir>/<target>/ (the
 * checked-in test/fuzz/parsers/corpus; `ninja fuzz-corpus` runs it). The seeds are small valid
 * inputs built the way the host unit tests build theirs (test/host/mb2_builder.h, the ELF and
 * ACPI layouts of test_elf.c and test_acpi.c), plus a few near-misses; each valid one is parsed
 * here first, so a seed that stopped being valid fails the generator instead of silently
 * starting the fuzzer from an early error path. */
#include "acpi.h"
#include "mb2_builder.h"
#include "multiboot2.h"
#include <errno.h>
#include <keel/channel.h>
#include <keel/elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s\n", what);
    exit(1);
}

static void seed(const char *target, const char *name, const void *bytes, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, size, f) != size || fclose(f))
        die(path);
}

static void put(uint8_t *p, uint64_t off, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

/* ---- ELF (test_elf.c's layout: Ehdr, then program headers at 64) ---- */
static uint8_t elf[0x1000];

static void elf_header(uint64_t entry, uint16_t phnum)
{
    memset(elf, 0, sizeof elf);
    memcpy(elf, "\x7f" "ELF\x02\x01\x01", 7);
    put(elf, 16, 2, 2);  /* ET_EXEC */
    put(elf, 18, 62, 2); /* EM_X86_64 */
    put(elf, 20, 1, 4);
    put(elf, 24, entry, 8);
    put(elf, 32, 64, 8);
    put(elf, 52, 64, 2);
    put(elf, 54, 56, 2);
    put(elf, 56, phnum, 2);
}

static void elf_phdr(unsigned i, uint32_t type, uint32_t flags, uint64_t off, uint64_t va, uint64_t fsz, uint64_t msz)
{
    uint64_t p = 64 + 56ull * i;
    put(elf, p, type, 4), put(elf, p + 4, flags, 4), put(elf, p + 8, off, 8), put(elf, p + 16, va, 8);
    put(elf, p + 24, va, 8), put(elf, p + 32, fsz, 8), put(elf, p + 40, msz, 8), put(elf, p + 48, 4096, 8);
}

static void elf_check_and_seed(const char *name, size_t size)
{
    struct keel_elf_image img;
    int err = keel_elf_parse(elf, size, 0x0000800000000000ull, &img);
    if (err)
        die(keel_elf_strerror(err));
    seed("elf", name, elf, size);
}

static void elf_seeds(void)
{
    /* text RX, rodata R, data RW + bss, a GNU_STACK header; headers out of address order. The
     * segments share file pages (each in pages of its own in memory) to keep the seed small. */
    elf_header(0x401210, 4);
    elf_phdr(0, 1, 6, 0x380, 0x403380, 0x40, 0x2000);
    elf_phdr(1, 0x6474e551u, 6, 0, 0, 0, 0);
    elf_phdr(2, 1, 5, 0x200, 0x401200, 0x100, 0x100);
    elf_phdr(3, 1, 4, 0x300, 0x402300, 0x80, 0x80);
    for (unsigned i = 0x200; i < 0x3c0; i++)
        elf[i] = (uint8_t)i;
    elf_check_and_seed("three-segments", 0x3c0);
    /* The first segment covers the headers (offset 0); a pure-bss segment. Small: 1 KiB. */
    elf_header(0x400080, 2);
    elf_phdr(0, 1, 5, 0, 0x400000, 0x400, 0x400);
    elf_phdr(1, 1, 6, 0x400, 0x600400, 0, 0x10000);
    elf_check_and_seed("headers-in-text-bss", 0x400);
    /* One segment ending exactly at the top of the user half. */
    elf_header(0x7fffffffe000ull, 1);
    elf_phdr(0, 1, 5, 0, 0x7fffffffe000ull, 0x100, 0x2000);
    elf_check_and_seed("at-user-top", 0x100);
    /* The limit: 16 loadable segments, one page each (the fuzzer adds the 17th). */
    elf_header(0x400400, 16);
    for (unsigned i = 0; i < 16; i++)
        elf_phdr(i, 1, i ? 4 : 5, 0x400, 0x400400 + 0x1000ull * i, 0x10, 0x10);
    elf_check_and_seed("16-segments", 0x410);
    elf_header(0x400400, 17);
    for (unsigned i = 0; i < 17; i++)
        elf_phdr(i, 1, i ? 4 : 5, 0x400, 0x400400 + 0x1000ull * i, 0x10, 0x10);
    seed("elf", "17-segments", elf, 0x410);
    /* Near-misses: W+X, and segments sharing a page. */
    elf_header(0x400000, 1);
    elf_phdr(0, 1, 7, 0, 0x400000, 0x100, 0x100);
    seed("elf", "write-exec", elf, 0x100);
    elf_header(0x400000, 2);
    elf_phdr(0, 1, 5, 0, 0x400000, 0x100, 0x100);
    elf_phdr(1, 1, 6, 0x100, 0x400100, 0x10, 0x10);
    seed("elf", "shared-page", elf, 0x110);
}

/* ---- multiboot2 (test_multiboot2.c's GRUB-like list) ---- */
static struct mb mb;

static void mb_check_and_seed(const char *name)
{
    static struct mb2_info info;
    struct diag d;
    if (mb2_parse(mb.words, 0x10000, &info, &d))
        die(d.msg);
    seed("multiboot2", name, mb.words, mb.len);
}

static void multiboot2_seeds(void)
{
    static const struct mb_mmap_entry mmap[] = {
        { 0x0, 0x9fc00, MB2_MEM_AVAILABLE },        { 0x9fc00, 0x400, MB2_MEM_RESERVED },
        { 0xf0000, 0x10000, MB2_MEM_RESERVED },     { 0x100000, 0x7ee0000, MB2_MEM_AVAILABLE },
        { 0x7fe0000, 0x20000, MB2_MEM_ACPI_RECLAIMABLE }, { 0xfffc0000, 0x40000, MB2_MEM_RESERVED },
        { 0x100000000, 0x40000000, MB2_MEM_AVAILABLE },
    };
    mb_init(&mb);
    mb_string_tag(&mb, 1, "log=debug init.manifest=manifest.txt");
    mb_string_tag(&mb, 2, "GRUB 2.06");
    mb_begin(&mb, 4);
    mb_u32(&mb, 639);
    mb_u32(&mb, 130048);
    mb_end(&mb);
    mb_module(&mb, 0x200000, 0x210000, "init");
    mb_module(&mb, 0x210000, 0x212345, "manifest.txt");
    mb_mmap(&mb, mmap, sizeof mmap / sizeof mmap[0]);
    mb_begin(&mb, 8); /* RGB framebuffer, 1024x768x32 */
    mb_u64(&mb, 0xfd000000);
    mb_u32(&mb, 4096), mb_u32(&mb, 1024), mb_u32(&mb, 768);
    mb_u8(&mb, 32), mb_u8(&mb, 1), mb_u16(&mb, 0);
    mb_u8(&mb, 16), mb_u8(&mb, 8), mb_u8(&mb, 8), mb_u8(&mb, 8), mb_u8(&mb, 0), mb_u8(&mb, 8);
    mb_end(&mb);
    mb_elf_sections(&mb, 64, 4, 3, 3, 0x400000);
    uint8_t r[36];
    mb_rsdp_bytes(r, 2);
    mb_begin(&mb, 15);
    mb_put(&mb, r, 36);
    mb_end(&mb);
    mb_finish(&mb);
    mb_check_and_seed("grub-bios");

    /* A UEFI-like list: EGA-less, EFI tags, old RSDP, an indexed framebuffer. */
    mb_init(&mb);
    mb_string_tag(&mb, 1, "");
    mb_module(&mb, 0x300000, 0x301000, "init");
    mb_mmap(&mb, mmap + 3, 2);
    mb_begin(&mb, 12);
    mb_u64(&mb, 0x7f9e018);
    mb_end(&mb);
    mb_begin(&mb, 18);
    mb_end(&mb);
    mb_begin(&mb, 8);
    mb_u64(&mb, 0xb8000);
    mb_u32(&mb, 160), mb_u32(&mb, 80), mb_u32(&mb, 25);
    mb_u8(&mb, 16), mb_u8(&mb, 2), mb_u16(&mb, 0);
    mb_end(&mb);
    mb_rsdp_bytes(r, 0);
    mb_begin(&mb, 14);
    mb_put(&mb, r, 20);
    mb_end(&mb);
    mb_finish(&mb);
    mb_check_and_seed("efi-ega");

    mb_init(&mb);
    mb_finish(&mb);
    mb_check_and_seed("empty");

    /* The limits: 32 modules, and 128 available regions, disjoint and apart (the free list's
     * 128 entries, less the first MiB). The fuzzer adds the 33rd and the 129th. */
    mb_init(&mb);
    for (uint32_t i = 0; i < MB2_MAX_MODULES; i++)
        mb_module(&mb, 0x400000 + 0x1000 * i, 0x400800 + 0x1000 * i, "m");
    mb_finish(&mb);
    mb_check_and_seed("32-modules");
    mb.len -= 8; /* reopen: one module more, then the end tag again */
    mb_module(&mb, 0x300000, 0x300800, "m");
    mb_finish(&mb);
    seed("multiboot2", "33-modules", mb.words, mb.len);
    static struct mb_mmap_entry many[MB2_MAX_MMAP];
    for (uint32_t i = 0; i < MB2_MAX_MMAP; i++)
        many[i] = (struct mb_mmap_entry){ 0x100000ull + 0x2000ull * i, 0x1000, MB2_MEM_AVAILABLE };
    mb_init(&mb);
    mb_mmap(&mb, many, MB2_MAX_MMAP);
    mb_finish(&mb);
    mb_check_and_seed("128-regions");
    mb_init(&mb); /* one entry more */
    mb_begin(&mb, 6);
    mb_u32(&mb, 24);
    mb_u32(&mb, 0);
    for (uint32_t i = 0; i <= MB2_MAX_MMAP; i++)
        mb_u64(&mb, 0x100000ull + 0x2000ull * i), mb_u64(&mb, 0x1000), mb_u32(&mb, MB2_MEM_AVAILABLE), mb_u32(&mb, 0);
    mb_end(&mb);
    mb_finish(&mb);
    seed("multiboot2", "129-regions", mb.words, mb.len);
}

/* ---- ACPI: mode byte, RSDP copy (36), then memory from phys 0x1000 (fuzz_acpi.c) ---- */
#define ACPI_MEM_BASE 0x1000u
static uint8_t acpi_in[1 + 36 + 0x480];
static uint8_t *const acpi_rsdp = acpi_in + 1;
static uint8_t *const acpi_mem = acpi_in + 37;

static void sum_fix(uint8_t *p, uint32_t len, uint32_t at)
{
    uint8_t s = 0;
    p[at] = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    p[at] = (uint8_t)-s;
}

/* An SDT at memory offset `off` with `body` after its 36-byte header; returns its length. */
static uint32_t sdt(uint32_t off, const char *sig, const void *body, uint32_t body_len)
{
    uint8_t *t = acpi_mem + off;
    memset(t, 0, 36);
    memcpy(t, sig, 4);
    put(t, 4, 36 + body_len, 4);
    t[8] = 1;
    memcpy(t + 10, "KEELTS", 6);
    memcpy(t + 16, "SYNTHTBL", 8);
    memcpy(t + 36, body, body_len);
    sum_fix(t, 36 + body_len, 9);
    return 36 + body_len;
}

static const void *acpi_map(uint64_t phys, uint64_t len, void *ctx)
{
    (void)ctx;
    uint64_t size = sizeof acpi_in - 37;
    if (phys < ACPI_MEM_BASE || phys - ACPI_MEM_BASE > size || len > size - (phys - ACPI_MEM_BASE))
        return NULL;
    return acpi_mem + (phys - ACPI_MEM_BASE);
}

static void acpi_seeds(void)
{
    /* MADT: LAPIC address, PCAT; 2 LAPICs, an x2APIC, an I/O APIC, 2 overrides. */
    static const uint8_t madt[] = {
        0x00, 0x00, 0xe0, 0xfe, 1, 0, 0, 0,
        0, 8, 0, 0, 1, 0, 0, 0,
        0, 8, 1, 1, 1, 0, 0, 0,
        9, 16, 0, 0, 0x2c, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
        1, 12, 2, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0,
        2, 10, 0, 0, 2, 0, 0, 0, 0, 0,
        2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0,
    };
    static const uint8_t hpet[] = { 0x01, 0xa2, 0x86, 0x80, 0, 64, 0, 0, 0, 0, 0xd0, 0xfe, 0, 0, 0, 0, 0, 0x80, 0, 0 };
    for (int xsdt = 0; xsdt < 2; xsdt++) {
        memset(acpi_in, 0, sizeof acpi_in);
        acpi_in[0] = 1; /* the harness fixes checksums up too */
        uint32_t madt_at = 0x100, hpet_at = 0x200;
        sdt(madt_at, "APIC", madt, sizeof madt);
        sdt(hpet_at, "HPET", hpet, sizeof hpet);
        uint8_t entries[16];
        uint32_t esize = xsdt ? 8 : 4;
        memset(entries, 0, sizeof entries);
        put(entries, 0, ACPI_MEM_BASE + madt_at, esize);
        put(entries, esize, ACPI_MEM_BASE + hpet_at, esize);
        sdt(0, xsdt ? "XSDT" : "RSDT", entries, 2 * esize);
        memcpy(acpi_rsdp, "RSD PTR ", 8);
        memcpy(acpi_rsdp + 9, "KEELTS", 6);
        acpi_rsdp[15] = xsdt ? 2 : 0;
        put(acpi_rsdp, 16, xsdt ? 0 : ACPI_MEM_BASE, 4);
        put(acpi_rsdp, 20, 36, 4);
        put(acpi_rsdp, 24, xsdt ? ACPI_MEM_BASE : 0, 8);
        sum_fix(acpi_rsdp, 20, 8);
        sum_fix(acpi_rsdp, 36, 32);
        static struct acpi_info info;
        struct diag d;
        if (acpi_parse(acpi_rsdp, 36, acpi_map, NULL, &info, &d) || info.cpu_count != 3 || !info.has_hpet)
            die(d.msg);
        seed("acpi", xsdt ? "xsdt-madt-hpet" : "rsdt-madt-hpet", acpi_in, 37 + 0x300);
    }
    acpi_in[0] = 2; /* a 20-byte RSDP copy, checksums as they are (the RSDT's RSDP) */
    seed("acpi", "rsdp-v1-copy", acpi_in, 37 + 0x300);

    /* Every limit: 70 CPUs, 12 I/O APICs, 20 overrides (the extras dropped with warnings that
     * overflow the message buffer), and a LAPIC address override. */
    static uint8_t big[4 + 4 + 70 * 8 + 12 * 12 + 20 * 10 + 12];
    uint32_t at = 0;
    put(big, at, 0xfee00000, 4), put(big, at + 4, 1, 4), at += 8;
    for (uint32_t i = 0; i < 70; i++, at += 8)
        big[at] = 0, big[at + 1] = 8, big[at + 2] = (uint8_t)i, big[at + 3] = (uint8_t)i, put(big, at + 4, 1, 4);
    for (uint32_t i = 0; i < 12; i++, at += 12)
        big[at] = 1, big[at + 1] = 12, big[at + 2] = (uint8_t)i, put(big, at + 4, 0xfec00000 + 0x1000 * i, 4),
        put(big, at + 8, 24 * i, 4);
    for (uint32_t i = 0; i < 20; i++, at += 10)
        big[at] = 2, big[at + 1] = 10, big[at + 3] = (uint8_t)i, put(big, at + 4, i, 4);
    big[at] = 5, big[at + 1] = 12, put(big, at + 4, 0xfee10000, 8), at += 12;
    memset(acpi_in, 0, sizeof acpi_in);
    acpi_in[0] = 1;
    sdt(0x40, "APIC", big, at);
    uint8_t entry[4];
    put(entry, 0, ACPI_MEM_BASE + 0x40, 4);
    sdt(0, "RSDT", entry, 4);
    memcpy(acpi_rsdp, "RSD PTR ", 8);
    put(acpi_rsdp, 16, ACPI_MEM_BASE, 4);
    sum_fix(acpi_rsdp, 20, 8);
    static struct acpi_info info;
    struct diag d;
    if (acpi_parse(acpi_rsdp, 36, acpi_map, NULL, &info, &d) || info.cpus_dropped != 6 || !strstr(d.msg, "..."))
        die("madt-limits seed");
    seed("acpi", "madt-limits", acpi_in, 37 + 0x40 + 36 + at);
}

/* ---- manifest, keymap: text and bytes written by hand ---- */
static void text_seed(const char *target, const char *name, const char *text) { seed(target, name, text, strlen(text)); }

static void manifest_seeds(void)
{
    text_seed("manifest", "drivers",
              "# drivers\n"
              "serial ioports=0x3f8-0x3ff irq=4 serves=serial restart=always limit=5\n"
              "ps2kbd ioports=0x60 ioports=0x64 irq=1 serves=keyboard restart=on-crash priority=200\n"
              "console caps=screen serves=console mem=2M stack=16K\n"
              "shell uses=serial,keyboard,console caps=debug -- --prompt keel>\n");
    text_seed("manifest", "errors",
              "hello restrat=always\n"
              "a irq=2\n"
              "b ioports=0x70-0x60\n"
              "c mem=3K\r\n"
              "serial irq=4\n"
              "serial2 irq=4 uses=a,,b caps=debug,debug\n");
    text_seed("manifest", "args", "  echo\tprogram=hello   a b c # comment\n\n\nx=y\n");
}

static void keymap_seeds(void)
{
    static const uint8_t typing[] = { 0x23, 0xa3, 0x12, 0x92, 0x2a, 0x26, 0xa6, 0xaa, 0x3a, 0xba, 0x18, 0x98,
                                      0x1d, 0x2e, 0x9d, 0x1c, 0x9c };
    static const uint8_t extended[] = { 0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0x1d, 0xe0, 0x53, 0xe0, 0x9d,
                                        0xe0, 0x2a, 0xe0, 0x47, 0xe0, 0x1c, 0xe0, 0x35, 0xe0, 0xb8 };
    static const uint8_t noise[] = { 0xfa, 0xfe, 0x00, 0xff, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5, 0x59, 0x1e };
    seed("keymap", "typing", typing, sizeof typing);
    seed("keymap", "extended", extended, sizeof extended);
    seed("keymap", "noise", noise, sizeof noise);
}

/* ---- channels ---- */
static int ring_ok(void *ctx) { (void)ctx; return 0; }
static const struct keel_channel_ops ops = { ring_ok, ring_ok, NULL };

static void channel_seeds(void)
{
    static _Alignas(64) uint8_t region[4096];
    static const struct { uint32_t sq, cq, data, queued; const char *name; } geo[] = {
        { 4, 4, 256, 0, "4x4-fresh" },
        { 2, 8, 64, 2, "2x8-two-queued" },
        { 1, 1, 0, 1, "1x1-no-data" },
    };
    for (unsigned g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        size_t size = keel_channel_region_size(geo[g].sq, geo[g].cq, geo[g].data);
        struct keel_channel_config cfg = { geo[g].sq, geo[g].cq, geo[g].data, 0 };
        memset(region, 0, sizeof region);
        if (!size || size > sizeof region || keel_channel_init(region, size, &cfg))
            die("channel geometry");
        struct keel_channel client;
        struct keel_channel_inflight inflight[8];
        if (keel_channel_attach_client(&client, region, size, &ops, inflight, 8))
            die("channel attach");
        for (uint32_t i = 0; i < geo[g].queued; i++) {
            struct keel_channel_desc d = { .tag = i, .opcode = 1, .offset = 16 * i, .length = geo[g].data ? 16 : 0 };
            if (keel_channel_submit(&client, &d))
                die("channel submit");
        }
        seed("channel_header", geo[g].name, region, size);
    }
    /* channel_peer scripts: geometry word, then ops (fuzz_channel_peer.c). Client side: submit,
     * the server completes it by copying slot 0, reap; then a bad length and a bogus index. */
    static const uint8_t client_script[] = {
        0x05, 0x01, 0x00, 0x00,         /* sq 2, cq 2, data 256, client */
        0x00, 0x00, 0x00, 0x10, 0x00,   /* submit offset 0 length 16 */
        0x03, 0x00, 0x00, 0x08, 0x00, 0x08, /* server: slot 0 -> cq 0, length 8, status 0 */
        0x05, 0x00, 0x01,               /* server: cq_tail += 1 */
        0x02, 0x08,                     /* reap up to 8 */
        0x00, 0x10, 0x00, 0x20, 0x00,   /* submit offset 16 length 32 */
        0x03, 0x01, 0x01, 0x00, 0x01, 0x08, /* completion with length 256: too long */
        0x05, 0x00, 0x01, 0x02, 0x08,
        0x00, 0x00, 0x00, 0x00, 0x00,   /* submit, then the server's cq_tail jumps */
        0x05, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 0x02, 0x08,
    };
    seed("channel_peer", "client-complete-reap", client_script, sizeof client_script);
    static const uint8_t server_script[] = {
        0x25, 0x01, 0x00, 0x00,         /* sq 2, cq 2, data 256, server */
        0x02, 0x00, 0x01, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, /* request offset 0 len 16 */
        0x03, 0x00, 0x01,               /* client: sq_tail += 1 */
        0x00,                           /* pop */
        0x01, 0x08, 0x00,               /* complete with length 8 */
        0x02, 0x01, 0x02, 0x01, 0xf0, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, /* offset 240 len 32: outside */
        0x03, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
        0x03, 0x00, 0x85, 0x00, 0x01, 0x00, 0x00, 0x00, /* sq_tail far ahead */
        0x00, 0x05, 0x06,
    };
    seed("channel_peer", "server-pop-complete", server_script, sizeof server_script);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus <corpus directory>\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) && errno != EEXIST)
        die(root);
    elf_seeds();
    multiboot2_seeds();
    acpi_seeds();
    manifest_seeds();
    keymap_seeds();
    channel_seeds();
    return 0;
}
