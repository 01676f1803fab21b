/* Interrupt controllers and timers: legacy PIC (masked), PIT (calibration only), local APIC
 * (timer, IPIs), IOAPIC (device interrupts). */
#ifndef KEEL_ARCH_APIC_H
#define KEEL_ARCH_APIC_H

#include <stdbool.h>
#include <stdint.h>

void pic_disable(void);
/* An interrupt from the 8259 pair (IRQ 0-15): sends the PIC's EOI if it was real and masks the
 * pair again; false for a spurious one. */
bool pic_acknowledge(unsigned irq);

/* Busy-waits `us` microseconds on PIT channel 2 (boot-time calibration only); false if the PIT
 * never finished counting. */
bool pit_wait_us(uint32_t us);

void lapic_init(uint64_t phys);
void lapic_init_local(void); /* this CPU's LAPIC registers (the MMIO mapping is shared) */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_nmi(uint32_t apic_id); /* delivery mode NMI (the self-test sends itself one) */
void lapic_start_ap(uint32_t apic_id, uint8_t start_page);
uint32_t lapic_id(void);
void lapic_eoi(void); /* exactly once per interrupt taken from the LAPIC (trap.c: the EOI rule) */
/* Measures the LAPIC timer and TSC against the PIT; returns false if the timer does not count. */
bool lapic_timer_calibrate(void);
void lapic_timer_start(uint32_t hz);
uint64_t lapic_timer_hz(void);  /* LAPIC timer input clock after the divider */
uint64_t tsc_khz(void);

void ioapic_init(uint8_t id, uint64_t phys, uint32_t gsi_base);
uint32_t ioapic_gsi_count(void);
/* Routes a GSI to `vector` on the CPU with `apic_id`, left masked; false if no IOAPIC has it. */
bool ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, uint32_t apic_id);
void ioapic_set_masked(uint32_t gsi, bool masked);

#endif
