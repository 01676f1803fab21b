/* Local APIC in xAPIC (MMIO) mode: enable, EOI, and a periodic timer calibrated against the PIT.
 * (x2APIC and TSC-deadline are used when present once SMP lands; TCG has neither.) */
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/paging.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "log.h"

#define REG_ID 0x20
#define REG_TPR 0x80
#define REG_EOI 0xb0
#define REG_SVR 0xf0
#define REG_ESR 0x280
#define REG_LVT_TIMER 0x320
#define REG_LVT_LINT0 0x350
#define REG_LVT_LINT1 0x360
#define REG_LVT_ERROR 0x370
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CURRENT 0x390
#define REG_TIMER_DIVIDE 0x3e0

#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define SVR_ENABLE (1u << 8)
#define DIVIDE_BY_16 0x3

#define CALIBRATION_US 10000u

static volatile uint32_t *regs;
static uint64_t timer_hz_value, tsc_khz_value;

static uint32_t rd(uint32_t reg) { return regs[reg / 4]; }
static void wr(uint32_t reg, uint32_t v) { regs[reg / 4] = v; }

#define REG_ISR 0x100 /* 8 registers, 0x10 apart: in-service bits of vectors 0-255 */

static bool isr_any(void)
{
    for (uint32_t r = 0; r < 8; r++)
        if (rd(REG_ISR + 0x10 * r))
            return true;
    return false;
}

void lapic_init(uint64_t phys)
{
    /* The MSR agrees with the MADT on every machine we know; trust the MADT. */
    regs = paging_map_mmio(phys, 4096);
    lapic_init_local();
}

void lapic_init_local(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & (1u << 11)))
        wrmsr(MSR_APIC_BASE, base | (1u << 11));
    wr(REG_TPR, 0);
    wr(REG_LVT_ERROR, VEC_LAPIC_ERROR);
    wr(REG_ESR, 0);
    wr(REG_ESR, 0);
    wr(REG_LVT_TIMER, LVT_MASKED);
    wr(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
    /* Whatever the firmware left in service would block its priority class here for good: one
     * EOI ends the highest in service, so repeat until none is. */
    for (int i = 0; i < 256 && isr_any(); i++)
        wr(REG_EOI, 0);
}

uint32_t lapic_id(void) { return rd(REG_ID) >> 24; }

#define REG_ICR_LOW 0x300
#define REG_ICR_HIGH 0x310
#define ICR_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_LEVEL_TRIGGER (1u << 15)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)

static void icr_send(uint32_t apic_id, uint32_t low)
{
    for (int i = 0; i < 1000000 && (rd(REG_ICR_LOW) & ICR_PENDING); i++)
        cpu_relax();
    wr(REG_ICR_HIGH, apic_id << 24);
    wr(REG_ICR_LOW, low);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector) { icr_send(apic_id, vector | ICR_LEVEL_ASSERT); }
void lapic_send_nmi(uint32_t apic_id) { icr_send(apic_id, ICR_NMI | ICR_LEVEL_ASSERT); }

void lapic_start_ap(uint32_t apic_id, uint8_t start_page)
{
    /* INIT, then two STARTUPs (Intel SDM Vol. 3A, 9.4.4 and the MP specification). */
    icr_send(apic_id, ICR_INIT | ICR_LEVEL_ASSERT | ICR_LEVEL_TRIGGER);
    pit_wait_us(10000);
    icr_send(apic_id, ICR_INIT | ICR_LEVEL_TRIGGER);
    for (int i = 0; i < 2; i++) {
        icr_send(apic_id, ICR_STARTUP | start_page);
        pit_wait_us(200);
    }
}
void lapic_eoi(void)
{
    if (KEEL_DEBUG)
        trap_note_eoi();
    wr(REG_EOI, 0);
}

bool lapic_timer_calibrate(void)
{
    wr(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    wr(REG_LVT_TIMER, LVT_MASKED);
    wr(REG_TIMER_INIT, 0xffffffffu);
    uint64_t tsc0 = rdtsc();
    if (!pit_wait_us(CALIBRATION_US)) {
        log_error("pit: channel 2 never finished counting; cannot calibrate the LAPIC timer");
        return false;
    }
    uint32_t elapsed = 0xffffffffu - rd(REG_TIMER_CURRENT);
    uint64_t tsc1 = rdtsc();
    wr(REG_TIMER_INIT, 0);
    timer_hz_value = (uint64_t)elapsed * (1000000u / CALIBRATION_US);
    tsc_khz_value = (tsc1 - tsc0) / (CALIBRATION_US / 1000u);
    return elapsed != 0;
}

void lapic_timer_start(uint32_t hz)
{
    uint64_t count = timer_hz_value / hz;
    if (count == 0)
        count = 1;
    if (count > 0xffffffffu)
        count = 0xffffffffu;
    wr(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    wr(REG_LVT_TIMER, LVT_PERIODIC | VEC_LAPIC_TIMER);
    wr(REG_TIMER_INIT, (uint32_t)count);
}

uint64_t lapic_timer_hz(void) { return timer_hz_value; }
uint64_t tsc_khz(void) { return tsc_khz_value; }
