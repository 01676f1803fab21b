/* acpi_parse over synthetic firmware tables placed in fake physical memory. */
#define CHECK_MAIN
#include "acpi.h"
#include "check.h"

/* Two windows of "physical memory": one below 4 GiB, one above (for 64-bit XSDT entries). */
#define LOW_BASE 0x7fe0000ull
#define LOW_SIZE 0x20000u
#define HIGH_BASE 0x100000000ull
#define HIGH_SIZE 0x10000u

static uint8_t low_mem[LOW_SIZE];
static uint8_t high_mem[HIGH_SIZE];
static unsigned map_calls;

static const void *fake_map(uint64_t phys, uint64_t len, void *ctx)
{
    (void)ctx;
    map_calls++;
    if (phys >= LOW_BASE && phys - LOW_BASE <= LOW_SIZE && len <= LOW_SIZE - (phys - LOW_BASE))
        return low_mem + (phys - LOW_BASE);
    if (phys >= HIGH_BASE && phys - HIGH_BASE <= HIGH_SIZE && len <= HIGH_SIZE - (phys - HIGH_BASE))
        return high_mem + (phys - HIGH_BASE);
    return NULL;
}

static uint8_t *phys_ptr(uint64_t phys)
{
    return (uint8_t *)fake_map(phys, 1, NULL);
}

/* Addresses of the tables the tests lay out. */
#define RSDT_PHYS 0x7fe1000ull
#define MADT_PHYS 0x7fe2000ull
#define HPET_PHYS 0x7fe3000ull
#define FACP_PHYS 0x7fe4000ull
#define SSDT_PHYS 0x7fe5000ull
#define XSDT_PHYS 0x100000000ull
#define MADT_HIGH_PHYS 0x100002000ull
#define NOWHERE 0xdead0000ull

static struct acpi_info info;
static struct diag d;
static uint8_t rsdp[36];

/* ---- table builder ---- */

static uint8_t tbuf[8192];
static uint32_t tlen;

static void t_begin(const char *sig)
{
    memset(tbuf, 0, sizeof tbuf);
    memcpy(tbuf, sig, 4);
    tbuf[8] = 1;
    memcpy(tbuf + 10, "KEELTS", 6);
    memcpy(tbuf + 16, "SYNTHTBL", 8);
    tlen = 36;
}

static void t_put(const void *p, uint32_t n)
{
    memcpy(tbuf + tlen, p, n);
    tlen += n;
}
static void t_u8(uint8_t v) { t_put(&v, 1); }
static void t_u16(uint16_t v) { t_put(&v, 2); }
static void t_u32(uint32_t v) { t_put(&v, 4); }
static void t_u64(uint64_t v) { t_put(&v, 8); }

static uint8_t checksum_fix(const uint8_t *p, uint32_t len)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)(0x100 - s);
}

/* Writes length and checksum, copies the table to phys. */
static void t_place(uint64_t phys)
{
    memcpy(tbuf + 4, &tlen, 4);
    tbuf[9] = 0;
    tbuf[9] = checksum_fix(tbuf, tlen);
    memcpy(phys_ptr(phys), tbuf, tlen);
}

static void lapic(uint8_t uid, uint8_t id, uint32_t flags)
{
    t_u8(0), t_u8(8), t_u8(uid), t_u8(id), t_u32(flags);
}
static void x2apic(uint32_t id, uint32_t uid, uint32_t flags)
{
    t_u8(9), t_u8(16), t_u16(0), t_u32(id), t_u32(flags), t_u32(uid);
}
static void ioapic(uint8_t id, uint32_t addr, uint32_t gsi)
{
    t_u8(1), t_u8(12), t_u8(id), t_u8(0), t_u32(addr), t_u32(gsi);
}
static void iso(uint8_t irq, uint32_t gsi, uint16_t flags)
{
    t_u8(2), t_u8(10), t_u8(0), t_u8(irq), t_u32(gsi), t_u16(flags);
}

static void madt_begin(void)
{
    t_begin("APIC");
    t_u32(0xfee00000);
    t_u32(1); /* PCAT_COMPAT */
}

/* A MADT like a 4-CPU machine's: one disabled, one hot-pluggable, an x2APIC CPU, IRQ overrides. */
static void place_standard_madt(uint64_t phys)
{
    madt_begin();
    lapic(0, 0, 1);
    lapic(1, 1, 1);
    lapic(2, 2, 0);      /* disabled, not online capable: unusable */
    lapic(3, 3, 2);      /* online capable */
    x2apic(300, 4, 1);   /* APIC ID beyond 8 bits */
    x2apic(1, 1, 1);     /* duplicate of the LAPIC entry above: skipped */
    ioapic(2, 0xfec00000, 0);
    iso(0, 2, 0);
    iso(9, 9, 0xd);      /* active low, level triggered */
    t_u8(0x7f), t_u8(4), t_u16(0); /* unknown entry type: skipped */
    t_u8(5), t_u8(12), t_u16(0), t_u64(0xfee10000); /* LAPIC address override */
    t_place(phys);
}

static void place_hpet(uint64_t phys, uint8_t space, uint64_t addr)
{
    t_begin("HPET");
    t_u32(0x8086a201);                                   /* event timer block id */
    t_u8(space), t_u8(64), t_u8(0), t_u8(0), t_u64(addr); /* generic address structure */
    t_u8(0), t_u16(0x80), t_u8(0);
    t_place(phys);
}

static void place_facp(uint64_t phys)
{
    t_begin("FACP");
    for (int i = 0; i < 80; i++)
        t_u32(0);
    t_place(phys);
}

static void place_rsdt(const uint64_t *entries, int n)
{
    t_begin("RSDT");
    for (int i = 0; i < n; i++)
        t_u32((uint32_t)entries[i]);
    t_place(RSDT_PHYS);
}

static void place_xsdt(const uint64_t *entries, int n)
{
    t_begin("XSDT");
    for (int i = 0; i < n; i++)
        t_u64(entries[i]);
    t_place(XSDT_PHYS);
}

static void make_rsdp(uint8_t revision, uint64_t rsdt, uint64_t xsdt)
{
    memset(rsdp, 0, sizeof rsdp);
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "BOCHS ", 6);
    rsdp[15] = revision;
    uint32_t rsdt32 = (uint32_t)rsdt, len = 36;
    memcpy(rsdp + 16, &rsdt32, 4);
    rsdp[8] = checksum_fix(rsdp, 20);
    if (revision >= 2) {
        memcpy(rsdp + 20, &len, 4);
        memcpy(rsdp + 24, &xsdt, 8);
        rsdp[32] = checksum_fix(rsdp, 36);
    }
}

static void reset_memory(void)
{
    memset(low_mem, 0, sizeof low_mem);
    memset(high_mem, 0, sizeof high_mem);
}

/* The usual machine: RSDT → FACP, MADT, HPET. */
static void build_v1_machine(void)
{
    reset_memory();
    place_facp(FACP_PHYS);
    place_standard_madt(MADT_PHYS);
    place_hpet(HPET_PHYS, 0, 0xfed00000);
    const uint64_t e[] = { FACP_PHYS, MADT_PHYS, HPET_PHYS };
    place_rsdt(e, 3);
    make_rsdp(0, RSDT_PHYS, 0);
}

static int parse(uint32_t len) { return acpi_parse(rsdp, len, fake_map, NULL, &info, &d); }

static void check_standard_madt(void)
{
    CHECK_EQ_U64(info.lapic_phys, 0xfee10000); /* the override wins */
    CHECK(info.pcat_compat);
    CHECK_EQ_U64(info.cpu_count, 5);
    CHECK_EQ_U64(info.cpus_dropped, 0);
    CHECK_EQ_U64(info.cpus[0].apic_id, 0);
    CHECK(info.cpus[0].enabled && !info.cpus[0].x2apic);
    CHECK_EQ_U64(info.cpus[1].apic_id, 1);
    CHECK_EQ_U64(info.cpus[1].acpi_uid, 1);
    CHECK(!info.cpus[1].x2apic); /* the x2APIC duplicate did not replace it */
    CHECK(!info.cpus[2].enabled && !info.cpus[2].online_capable);
    CHECK(!info.cpus[3].enabled && info.cpus[3].online_capable);
    CHECK_EQ_U64(info.cpus[4].apic_id, 300);
    CHECK_EQ_U64(info.cpus[4].acpi_uid, 4);
    CHECK(info.cpus[4].enabled && info.cpus[4].x2apic);
    CHECK_EQ_U64(info.ioapic_count, 1);
    CHECK_EQ_U64(info.ioapics[0].id, 2);
    CHECK_EQ_U64(info.ioapics[0].phys, 0xfec00000);
    CHECK_EQ_U64(info.ioapics[0].gsi_base, 0);
    CHECK_EQ_U64(info.override_count, 2);
    CHECK_EQ_U64(info.overrides[0].source_irq, 0);
    CHECK_EQ_U64(info.overrides[0].gsi, 2);
    CHECK_EQ_U64(info.overrides[1].source_irq, 9);
    CHECK_EQ_U64(info.overrides[1].gsi, 9);
    CHECK_EQ_U64(info.overrides[1].flags, 0xd);
    CHECK_EQ_U64(info.overrides[1].bus, 0);
}

TEST(rsdp_v1_with_rsdt)
{
    build_v1_machine();
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK_EQ_U64(info.revision, 0);
    CHECK_EQ_STR(info.oem_id, "BOCHS ");
    CHECK(!info.used_xsdt);
    check_standard_madt();
    CHECK(info.has_hpet);
    CHECK_EQ_U64(info.hpet_phys, 0xfed00000);
    CHECK_EQ_U64(info.table_count, 4);
    CHECK_EQ_STR(info.tables[0], "RSDT");
    CHECK_EQ_STR(info.tables[1], "FACP");
    CHECK_EQ_STR(info.tables[2], "APIC");
    CHECK_EQ_STR(info.tables[3], "HPET");
}

TEST(rsdp_v2_prefers_xsdt)
{
    reset_memory();
    place_facp(FACP_PHYS);
    place_standard_madt(MADT_HIGH_PHYS);
    place_hpet(HPET_PHYS, 0, 0xfed00000);
    const uint64_t e[] = { FACP_PHYS, MADT_HIGH_PHYS, HPET_PHYS };
    place_xsdt(e, 3);
    make_rsdp(2, NOWHERE, XSDT_PHYS); /* a broken RSDT proves it is not used */
    CHECK_EQ_U64(parse(36), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK(info.used_xsdt);
    CHECK_EQ_U64(info.revision, 2);
    check_standard_madt();
    CHECK(info.has_hpet);
    CHECK_EQ_STR(info.tables[0], "XSDT");
    CHECK_EQ_U64(info.table_count, 4);
}

TEST(rsdp_v2_without_xsdt_uses_rsdt)
{
    build_v1_machine();
    make_rsdp(2, RSDT_PHYS, 0);
    CHECK_EQ_U64(parse(36), 0);
    CHECK(!info.used_xsdt);
    CHECK_EQ_U64(info.revision, 2);
    CHECK_EQ_STR(info.tables[0], "RSDT");
}

TEST(rsdp_v2_revision_with_only_a_v1_copy_uses_rsdt)
{
    build_v1_machine();
    make_rsdp(2, RSDT_PHYS, XSDT_PHYS); /* no XSDT in memory: must not be touched */
    CHECK_EQ_U64(parse(20), 0);
    CHECK(!info.used_xsdt);
    check_standard_madt();
}

TEST(rsdp_errors)
{
    build_v1_machine();
    CHECK_EQ_U64(acpi_parse(NULL, 20, fake_map, NULL, &info, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "acpi: RSDP copy has 0 bytes");
    CHECK_EQ_U64(parse(12), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: RSDP copy has 12 bytes, need at least 20");

    rsdp[0] = 'X';
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "RSDP signature");

    make_rsdp(0, RSDT_PHYS, 0);
    rsdp[8] = (uint8_t)(rsdp[8] + 0x3c);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: RSDP has a bad checksum (sum 0x3c)");
}

TEST(rsdp_bad_extended_checksum)
{
    build_v1_machine();
    make_rsdp(2, RSDT_PHYS, XSDT_PHYS);
    rsdp[33] = 0x11; /* reserved byte: only the extended checksum covers it */
    CHECK_EQ_U64(parse(36), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: RSDP has a bad extended checksum (sum 0x11)");

    make_rsdp(2, RSDT_PHYS, XSDT_PHYS);
    uint32_t len = 20;
    memcpy(rsdp + 20, &len, 4);
    rsdp[32] = 0;
    rsdp[32] = checksum_fix(rsdp, 36);
    CHECK_EQ_U64(parse(36), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "acpi: RSDP length field is 20, expected 36");
}

TEST(root_table_errors_are_fatal)
{
    build_v1_machine();
    make_rsdp(0, NOWHERE, 0);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: table at 0xdead0000 is not mappable");

    build_v1_machine();
    phys_ptr(RSDT_PHYS)[40] ^= 0x04; /* flip a bit in an entry */
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "acpi: table RSDT at 0x7fe1000 has a bad checksum (sum 0x");

    build_v1_machine();
    make_rsdp(0, MADT_PHYS, 0);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: table at 0x7fe2000 named by the RSDP is APIC, expected RSDT");

    build_v1_machine();
    t_begin("RSDT");
    t_u32((uint32_t)MADT_PHYS);
    t_u16(0); /* half an entry */
    t_place(RSDT_PHYS);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: RSDT at 0x7fe1000 has length 42, not 36 plus whole 4-byte entries");

    build_v1_machine();
    uint32_t bad_len = 20;
    memcpy(phys_ptr(RSDT_PHYS) + 4, &bad_len, 4);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "acpi: table RSDT at 0x7fe1000 has length 20, outside 36..");
}

TEST(xsdt_with_partial_entry_is_fatal)
{
    reset_memory();
    place_standard_madt(MADT_PHYS);
    t_begin("XSDT");
    t_u64(MADT_PHYS);
    t_u32(0);
    t_place(XSDT_PHYS);
    make_rsdp(2, RSDT_PHYS, XSDT_PHYS);
    CHECK_EQ_U64(parse(36), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: XSDT at 0x100000000 has length 48, not 36 plus whole 8-byte entries");
}

TEST(bad_madt_checksum_is_fatal)
{
    build_v1_machine();
    phys_ptr(MADT_PHYS)[50] = (uint8_t)(phys_ptr(MADT_PHYS)[50] + 0x3c);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: table APIC at 0x7fe2000 has a bad checksum (sum 0x3c)");
}

TEST(bad_hpet_checksum_is_skipped)
{
    build_v1_machine();
    phys_ptr(HPET_PHYS)[44] ^= 1;
    CHECK_EQ_U64(parse(20), 0);
    CHECK(!info.has_hpet);
    CHECK_EQ_STR(d.msg, "acpi: table HPET at 0x7fe3000 has a bad checksum (sum 0x1), skipped");
    CHECK_EQ_U64(info.table_count, 3); /* RSDT FACP APIC */
    check_standard_madt();
}

TEST(unmappable_and_short_tables_are_skipped)
{
    build_v1_machine();
    /* FACP claiming to run past the end of mappable memory. */
    uint32_t huge = 0x40000;
    memcpy(phys_ptr(FACP_PHYS) + 4, &huge, 4);
    const uint64_t e[] = { FACP_PHYS, NOWHERE, 0, MADT_PHYS, HPET_PHYS };
    place_rsdt(e, 5);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_STR(d.msg, "acpi: table FACP at 0x7fe4000 (length 262144) is not mappable, skipped; "
                        "acpi: table at 0xdead0000 is not mappable, skipped");
    CHECK(info.has_hpet);
    CHECK_EQ_U64(info.cpu_count, 5);
    CHECK_EQ_U64(info.table_count, 3); /* RSDT APIC HPET; the null entry is ignored silently */

    t_begin("SSDT");
    t_place(SSDT_PHYS);
    uint32_t short_len = 24;
    memcpy(phys_ptr(SSDT_PHYS) + 4, &short_len, 4);
    const uint64_t e2[] = { SSDT_PHYS, MADT_PHYS };
    place_rsdt(e2, 2);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_STR(d.msg, "acpi: table SSDT at 0x7fe5000 has length 24, outside 36..16777216, skipped");
    CHECK_EQ_U64(info.table_count, 2);
}

TEST(missing_madt_is_fatal)
{
    build_v1_machine();
    const uint64_t e[] = { FACP_PHYS, HPET_PHYS };
    place_rsdt(e, 2);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: no MADT (APIC table) among the 2 tables listed by the RSDT");

    /* An unmappable MADT is as good as none. */
    const uint64_t e2[] = { NOWHERE, FACP_PHYS };
    place_rsdt(e2, 2);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "acpi: no MADT");
}

/* Places a MADT whose entries are given raw, after the standard header. */
static void place_raw_madt(const uint8_t *entries, uint32_t n)
{
    madt_begin();
    lapic(0, 0, 1);
    t_put(entries, n);
    t_place(MADT_PHYS);
}

TEST(malformed_madt_entries_are_fatal)
{
    build_v1_machine();
    place_raw_madt((const uint8_t[]){ 0, 0, 0, 0 }, 4);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: MADT at 0x7fe2000: entry type 0 (local APIC) at offset 0x34 has "
                        "length 0, below 2");

    place_raw_madt((const uint8_t[]){ 0, 6, 1, 1, 1, 0 }, 6);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "entry type 0 (local APIC) at offset 0x34 has length 6, below 8");

    place_raw_madt((const uint8_t[]){ 1, 12, 0, 0, 0, 0 }, 6); /* IOAPIC cut off by the table end */
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "entry type 1 (I/O APIC) at offset 0x34 has length 12, but only 6 "
                              "bytes remain in the table");

    place_raw_madt((const uint8_t[]){ 9 }, 1);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "entry at offset 0x34 is truncated (1 byte left)");

    place_raw_madt((const uint8_t[]){ 2, 8, 0, 0, 0, 0, 0, 0 }, 8); /* override needs 10 */
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "entry type 2 (interrupt source override) at offset 0x34 has length 8, below 10");

    madt_begin();
    tlen = 40; /* shorter than the MADT's fixed fields */
    t_place(MADT_PHYS);
    CHECK_EQ_U64(parse(20), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "acpi: MADT at 0x7fe2000 has length 40, below 44");
}

TEST(madt_entries_longer_than_needed_are_accepted)
{
    build_v1_machine();
    /* A future revision may grow an entry; we read the fields we know and skip the rest. */
    place_raw_madt((const uint8_t[]){ 0, 10, 7, 7, 1, 0, 0, 0, 0xee, 0xee }, 10);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_U64(info.cpu_count, 2);
    CHECK_EQ_U64(info.cpus[1].apic_id, 7);
    CHECK_EQ_U64(info.lapic_phys, 0xfee00000);
}

TEST(more_cpus_than_supported_are_counted)
{
    build_v1_machine();
    madt_begin();
    for (int i = 0; i < 70; i++)
        lapic((uint8_t)i, (uint8_t)i, 1);
    t_place(MADT_PHYS);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_U64(info.cpu_count, ACPI_MAX_CPUS);
    CHECK_EQ_U64(info.cpus_dropped, 6);
    CHECK_EQ_U64(info.cpus[63].apic_id, 63);
    CHECK_EQ_STR(d.msg, "");
}

TEST(more_ioapics_and_overrides_than_supported_warn)
{
    build_v1_machine();
    madt_begin();
    lapic(0, 0, 1);
    for (int i = 0; i < 9; i++)
        ioapic((uint8_t)i, 0xfec00000u + (uint32_t)i * 0x1000, (uint32_t)i * 24);
    for (int i = 0; i < 17; i++)
        iso((uint8_t)i, (uint32_t)i + 100, 0);
    t_place(MADT_PHYS);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_U64(info.ioapic_count, ACPI_MAX_IOAPICS);
    CHECK_EQ_U64(info.ioapics[7].gsi_base, 7 * 24);
    CHECK_EQ_U64(info.override_count, ACPI_MAX_OVERRIDES);
    CHECK_EQ_STR(d.msg, "acpi: I/O APIC 8 ignored, at most 8 are supported; "
                        "acpi: override of IRQ 16 ignored, at most 16 are supported");
}

TEST(hpet_outside_memory_space_is_ignored)
{
    build_v1_machine();
    place_hpet(HPET_PHYS, 1, 0x500);
    CHECK_EQ_U64(parse(20), 0);
    CHECK(!info.has_hpet);
    CHECK_STR_CONTAINS(d.msg, "acpi: HPET at 0x7fe3000 has base 0x500 in address space 1");

    place_hpet(HPET_PHYS, 0, 0);
    CHECK_EQ_U64(parse(20), 0);
    CHECK(!info.has_hpet);
    CHECK_STR_CONTAINS(d.msg, "has base 0x0 in address space 0");

    t_begin("HPET");
    t_u32(0);
    t_place(HPET_PHYS);
    CHECK_EQ_U64(parse(20), 0);
    CHECK(!info.has_hpet);
    CHECK_STR_CONTAINS(d.msg, "acpi: HPET at 0x7fe3000 has length 40, below 56, ignored");
}

TEST(table_list_is_capped)
{
    build_v1_machine();
    uint64_t e[41];
    for (int i = 0; i < 40; i++)
        e[i] = FACP_PHYS;
    e[40] = MADT_PHYS;
    place_rsdt(e, 41);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_U64(info.table_count, ACPI_MAX_TABLES);
    CHECK_EQ_STR(info.tables[31], "FACP");
    CHECK_EQ_U64(info.cpu_count, 5); /* the MADT past the cap is still parsed */
}

TEST(only_the_first_madt_counts)
{
    build_v1_machine();
    madt_begin();
    lapic(0, 42, 1);
    t_place(SSDT_PHYS); /* a second MADT, placed at another address */
    const uint64_t e[] = { MADT_PHYS, SSDT_PHYS };
    place_rsdt(e, 2);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_EQ_U64(info.cpu_count, 5);
    CHECK_EQ_U64(info.table_count, 3);
}

TEST(signatures_in_messages_are_sanitised)
{
    build_v1_machine();
    t_begin("A\nB\x01");
    t_place(SSDT_PHYS);
    phys_ptr(SSDT_PHYS)[20] ^= 0xff;
    const uint64_t e[] = { SSDT_PHYS, MADT_PHYS };
    place_rsdt(e, 2);
    CHECK_EQ_U64(parse(20), 0);
    CHECK_STR_CONTAINS(d.msg, "acpi: table A?B? at 0x7fe5000 has a bad checksum");
}

TEST(failure_clears_previous_results_and_null_diag_is_allowed)
{
    build_v1_machine();
    CHECK_EQ_U64(parse(20), 0);
    const uint64_t e[] = { FACP_PHYS };
    place_rsdt(e, 1);
    CHECK_EQ_U64(acpi_parse(rsdp, 20, fake_map, NULL, &info, NULL), (uint64_t)-1);
    CHECK_EQ_U64(info.cpu_count, 0);
    map_calls = 0;
    build_v1_machine();
    CHECK_EQ_U64(acpi_parse(rsdp, 20, fake_map, NULL, &info, NULL), 0);
    CHECK(map_calls >= 8); /* header then body, for each of the four tables */
}
