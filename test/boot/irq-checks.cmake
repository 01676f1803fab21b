# Interrupt routing and the EOI rule on several CPUs (issue 11): keeltest's irq_ tests --
# WriteRegisters of a thread running on another CPU racing its timer ticks, and every IOAPIC line
# in every trigger mode and polarity routed from each CPU while the others take shootdowns, with
# the RTC's line really firing (a level line left asserted must fire again at each Ack). The
# debug kernel checks every interrupt's EOI as it happens ("EOI check: ..." panics). Included
# from CMakeLists.txt in this directory (keel_boot_test, ${summary}).
set(irq_ok --expect "^ok [0-9]+ irq_write_registers_of_running_thread"
           --expect "^ok [0-9]+ irq_every_line_and_mode_from_every_cpu" --expect ${summary}
           --expect "KEEL-EXIT: pass" --reject "lock watchdog|KERNEL PANIC|EOI check")

# Four CPUs, q35 (the default machine) and the older i440FX "pc" (another ACPI interrupt model:
# PCI interrupts through the ISA IRQs, level-triggered overrides). lockwatch=5000 as for the
# 4-CPU fuzzer: on a loaded host a preempted emulated CPU can hold the lock past 1 s.
keel_boot_test(boot.irq.smp4 240 --expect "smp: 4 CPUs online" ${irq_ok}
               -- --image keel-test --smp 4 --cmdline "selftest lockwatch=5000 keeltest=irq_" --timeout 210)
keel_boot_test(boot.irq.smp4.pc 240 --expect "smp: 4 CPUs online" ${irq_ok}
               -- --image keel-test --smp 4 --cmdline "selftest lockwatch=5000 keeltest=irq_" --timeout 210
               -- -machine pc)
set_tests_properties(boot.irq.smp4 boot.irq.smp4.pc PROPERTIES RUN_SERIAL TRUE)

# Bochs: its own IOAPIC, LAPIC and RTC models (a masked pin drops edges, as the 82093AA does; QEMU
# is more lenient), four CPUs. One host thread and time counted in instructions: no starved
# emulated CPUs, so it need not run alone.
find_program(BOCHS_FOR_IRQ bochs)
if(BOCHS_FOR_IRQ)
  keel_boot_test(boot.bochs.irq 300 --expect "smp: 4 CPUs online" ${irq_ok}
                 -- --image keel-test --bochs --smp 4 --cpu corei7_icelake_u
                 --cmdline "selftest lockwatch=5000 keeltest=irq_" --timeout 240)
endif()
