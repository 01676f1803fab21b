/* CPU features found by CPUID at boot, and which of them the kernel turned on. */
#ifndef KEEL_ARCH_FEATURES_H
#define KEEL_ARCH_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

struct cpu_features {
    char vendor[13];
    char brand[49];
    uint32_t family, model, stepping;
    bool pcid, invpcid, pku, smep, smap, umip, nx, page1g, x2apic, tsc_deadline, xsave, fsgsbase;
    bool apic, tsc, invariant_tsc, pge, pat, syscall, fxsr, sse2, hypervisor;
    uint8_t phys_addr_bits, virt_addr_bits;
};

/* What the kernel uses: detected ∧ allowed by the command line. */
struct cpu_enabled {
    bool pcid, invpcid, pku, smep, smap, umip, nx, page1g;
};

extern struct cpu_features cpu_features;
extern struct cpu_enabled cpu_enabled;

void features_detect(struct cpu_features *f);
/* "PCID- INVPCID- PKU+ ..." for the boot log. */
void features_format(const struct cpu_features *f, char *buf, unsigned long len);

#endif
