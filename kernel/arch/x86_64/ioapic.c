/* IOAPICs: every redirection entry masked at boot; IRQ handler capabilities unmask and route
 * lines (GSI n → vector VEC_IOAPIC_BASE + n) when userspace asks for them. */
#include "arch/apic.h"
#include "arch/paging.h"
#include "log.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define REG_VERSION 0x01
#define REG_REDIRECTION(n) (0x10 + 2 * (n))
#define REDIR_MASKED (1u << 16)
#define MAX_IOAPICS 8

struct ioapic {
    volatile uint32_t *regs;
    uint32_t gsi_base, count;
    uint8_t id;
};

static struct ioapic ioapics[MAX_IOAPICS];
static uint32_t ioapic_count, total_gsis;

static uint32_t rd(struct ioapic *io, uint32_t reg)
{
    io->regs[IOREGSEL / 4] = reg;
    return io->regs[IOWIN / 4];
}

static void wr(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[IOREGSEL / 4] = reg;
    io->regs[IOWIN / 4] = v;
}

void ioapic_init(uint8_t id, uint64_t phys, uint32_t gsi_base)
{
    if (ioapic_count == MAX_IOAPICS) {
        log_warn("ioapic: more than %d IOAPICs; ignoring id %u", MAX_IOAPICS, id);
        return;
    }
    struct ioapic *io = &ioapics[ioapic_count++];
    io->regs = paging_map_mmio(phys, 4096);
    io->id = id;
    io->gsi_base = gsi_base;
    io->count = ((rd(io, REG_VERSION) >> 16) & 0xff) + 1;
    for (uint32_t i = 0; i < io->count; i++) {
        wr(io, REG_REDIRECTION(i), REDIR_MASKED);
        wr(io, REG_REDIRECTION(i) + 1, 0);
    }
    if (gsi_base + io->count > total_gsis)
        total_gsis = gsi_base + io->count;
    log_info("ioapic: id %u at %#lx, GSIs %u-%u, all masked", id, phys, gsi_base, gsi_base + io->count - 1);
}

uint32_t ioapic_gsi_count(void) { return total_gsis; }

static struct ioapic *ioapic_for(uint32_t gsi, uint32_t *pin)
{
    for (uint32_t i = 0; i < ioapic_count; i++)
        if (gsi >= ioapics[i].gsi_base && gsi < ioapics[i].gsi_base + ioapics[i].count) {
            *pin = gsi - ioapics[i].gsi_base;
            return &ioapics[i];
        }
    return 0;
}

bool ioapic_route(uint32_t gsi, uint8_t vector, bool level, bool active_low, uint32_t apic_id)
{
    uint32_t pin;
    struct ioapic *io = ioapic_for(gsi, &pin);
    if (!io)
        return false;
    /* Fixed delivery, physical destination, masked until the driver is ready for it. */
    uint32_t low = vector | REDIR_MASKED | (level ? 1u << 15 : 0) | (active_low ? 1u << 13 : 0);
    wr(io, REG_REDIRECTION(pin) + 1, apic_id << 24);
    wr(io, REG_REDIRECTION(pin), low);
    return true;
}

void ioapic_set_masked(uint32_t gsi, bool masked)
{
    uint32_t pin;
    struct ioapic *io = ioapic_for(gsi, &pin);
    if (!io)
        return;
    uint32_t low = rd(io, REG_REDIRECTION(pin));
    wr(io, REG_REDIRECTION(pin), masked ? low | REDIR_MASKED : low & ~REDIR_MASKED);
}
