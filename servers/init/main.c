/* init: the root task of the default image. It receives every capability from the kernel; for
 * now it reports what it was given and waits. (Drivers, channels and the shell come next.) */
#include <keel/bootinfo.h>
#include <keel/invoke.h>
#include <keel/stdio.h>

int main(struct keel_bootinfo *bi)
{
    keel_printf("init: Keel root task running\n");
    keel_bootinfo_print(bi);
    keel_printf("init: no drivers or shell yet; idling\n");
    return 0;
}
