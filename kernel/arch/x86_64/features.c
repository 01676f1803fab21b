/* CPUID feature detection (Intel SDM Vol. 2A, CPUID). */
#include "arch/features.h"
#include "arch/x86.h"
#include "klib.h"

struct cpu_features cpu_features;
struct cpu_enabled cpu_enabled;

#define BIT(r, n) (((r) >> (n)) & 1u)

void features_detect(struct cpu_features *f)
{
    memset(f, 0, sizeof *f);
    struct cpuid_regs r = cpuid(0, 0);
    uint32_t max_leaf = r.eax;
    memcpy(f->vendor + 0, &r.ebx, 4);
    memcpy(f->vendor + 4, &r.edx, 4);
    memcpy(f->vendor + 8, &r.ecx, 4);

    r = cpuid(1, 0);
    f->stepping = r.eax & 0xf;
    f->model = (r.eax >> 4) & 0xf;
    f->family = (r.eax >> 8) & 0xf;
    if (f->family == 0xf)
        f->family += (r.eax >> 20) & 0xff;
    if (f->family >= 6)
        f->model |= ((r.eax >> 16) & 0xf) << 4;
    f->tsc = BIT(r.edx, 4);
    f->pat = BIT(r.edx, 16);
    f->pge = BIT(r.edx, 13);
    f->apic = BIT(r.edx, 9);
    f->fxsr = BIT(r.edx, 24);
    f->sse2 = BIT(r.edx, 26);
    f->pcid = BIT(r.ecx, 17);
    f->x2apic = BIT(r.ecx, 21);
    f->tsc_deadline = BIT(r.ecx, 24);
    f->xsave = BIT(r.ecx, 26);
    f->hypervisor = BIT(r.ecx, 31);

    if (max_leaf >= 7) {
        r = cpuid(7, 0);
        f->fsgsbase = BIT(r.ebx, 0);
        f->smep = BIT(r.ebx, 7);
        f->invpcid = BIT(r.ebx, 10);
        f->smap = BIT(r.ebx, 20);
        f->umip = BIT(r.ecx, 2);
        f->pku = BIT(r.ecx, 3);
    }

    r = cpuid(0x80000000, 0);
    uint32_t max_ext = r.eax;
    if (max_ext >= 0x80000001) {
        r = cpuid(0x80000001, 0);
        f->syscall = BIT(r.edx, 11);
        f->nx = BIT(r.edx, 20);
        f->page1g = BIT(r.edx, 26);
    }
    if (max_ext >= 0x80000004) {
        for (uint32_t i = 0; i < 3; i++) {
            r = cpuid(0x80000002 + i, 0);
            memcpy(f->brand + 16 * i + 0, &r.eax, 4);
            memcpy(f->brand + 16 * i + 4, &r.ebx, 4);
            memcpy(f->brand + 16 * i + 8, &r.ecx, 4);
            memcpy(f->brand + 16 * i + 12, &r.edx, 4);
        }
        /* Brand strings are right-justified with leading spaces on some parts. */
        unsigned lead = 0;
        while (f->brand[lead] == ' ')
            lead++;
        memmove(f->brand, f->brand + lead, sizeof f->brand - lead);
    }
    if (max_ext >= 0x80000007)
        f->invariant_tsc = BIT(cpuid(0x80000007, 0).edx, 8);
    if (max_ext >= 0x80000008) {
        r = cpuid(0x80000008, 0);
        f->phys_addr_bits = r.eax & 0xff;
        f->virt_addr_bits = (r.eax >> 8) & 0xff;
    } else {
        f->phys_addr_bits = 36;
        f->virt_addr_bits = 48;
    }
}

void features_format(const struct cpu_features *f, char *buf, unsigned long len)
{
    const struct {
        const char *name;
        bool on;
    } list[] = {
        { "PCID", f->pcid }, { "INVPCID", f->invpcid }, { "PKU", f->pku }, { "SMEP", f->smep },
        { "SMAP", f->smap }, { "UMIP", f->umip }, { "NX", f->nx }, { "1G", f->page1g },
        { "X2APIC", f->x2apic }, { "TSC-DEADLINE", f->tsc_deadline }, { "XSAVE", f->xsave },
        { "FSGSBASE", f->fsgsbase },
    };
    unsigned long used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < ARRAY_SIZE(list) && used < len; i++)
        used += (unsigned long)ksnprintf(buf + used, len - used, "%s%s%c", i ? " " : "", list[i].name,
                                         list[i].on ? '+' : '-');
}
