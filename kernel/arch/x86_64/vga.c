/* VGA text console: mirrors the log on screen on BIOS machines, and shows the panic screen. */
#include "arch/layout.h"
#include "console.h"
#include "klib.h"

static volatile uint16_t *cells;
static uint64_t cells_phys;
static uint32_t cols, rows, cur_x, cur_y;
static uint8_t attr = 0x07;

void vga_init(uint64_t phys, uint32_t columns, uint32_t nrows)
{
    if (!columns || !nrows || columns > 256 || nrows > 128)
        return;
    cells = phys_to_virt(phys);
    cells_phys = phys;
    cols = columns;
    rows = nrows;
    vga_clear();
}

void vga_clear(void)
{
    if (!cells)
        return;
    cur_x = cur_y = 0;
    for (uint32_t i = 0; i < cols * rows; i++)
        cells[i] = (uint16_t)(attr << 8 | ' ');
}

bool vga_present(void) { return cells != 0; }

bool vga_screen(uint64_t *phys, uint32_t *columns, uint32_t *nrows)
{
    if (!cells)
        return false;
    *phys = cells_phys;
    *columns = cols;
    *nrows = rows;
    return true;
}
void vga_set_colour(uint8_t a) { attr = a; }

static void scroll(void)
{
    for (uint32_t i = 0; i < cols * (rows - 1); i++)
        cells[i] = cells[i + cols];
    for (uint32_t i = cols * (rows - 1); i < cols * rows; i++)
        cells[i] = (uint16_t)(attr << 8 | ' ');
    cur_y = rows - 1;
}

void vga_write(const char *s, size_t n)
{
    if (!cells)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            cur_x = 0;
            cur_y++;
        } else if (c == '\r') {
            cur_x = 0;
        } else {
            cells[cur_y * cols + cur_x] = (uint16_t)(attr << 8 | (uint8_t)c);
            if (++cur_x == cols) {
                cur_x = 0;
                cur_y++;
            }
        }
        if (cur_y >= rows)
            scroll();
    }
}
