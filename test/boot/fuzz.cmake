# The stateful guest fuzzer (keeltest fuzz_state, docs/fuzzing.md) with CI-sized call budgets and
# fixed seeds, so a failure replays with the same command line. Included from CMakeLists.txt in
# this directory (keel_boot_test, ${summary}). The ordinary suite runs fuzz_state briefly too.
set(fuzz_done "# fuzz_state: seed 0x[0-9a-f]+: [0-9]+ steps, [0-9]+ calls .*, 0 invariant reports")

# One CPU: >= 10^6 syscalls (runner and workers); single-CPU runs replay step for step.
keel_boot_test(boot.fuzz.smp1 300 --expect ${fuzz_done} --expect "^ok 1 fuzz_state" --expect "KEEL-EXIT: pass"
               --reject "lock watchdog|KERNEL PANIC|invariant:"
               -- --image keel-test --cmdline "selftest keeltest=fuzz_state fuzz.seed=0x5eed0001 fuzz.calls=1000000"
               --timeout 270)
# Four CPUs: >= 2*10^5 syscalls, workers spread over every CPU (cross-CPU Suspend, eviction,
# shootdowns) and IOAPIC lines of every trigger and polarity routed to every CPU. Not step-exact
# (the workers race the runner), but the seed fixes what the runner does. lockwatch=5000: on a
# loaded host the default 1 s watchdog fired during boot (CPU 0 building the root task, running
# slowly, not stuck); the wedges this test is after last 20 s and more.
keel_boot_test(boot.fuzz.smp4 420 --expect "smp: 4 CPUs online" --expect ${fuzz_done} --expect "^ok 1 fuzz_state"
               --expect "KEEL-EXIT: pass" --reject "lock watchdog|KERNEL PANIC|invariant:"
               -- --image keel-test --smp 4 --cmdline "selftest lockwatch=5000 keeltest=fuzz_state fuzz.seed=0x5eed0004 fuzz.calls=200000"
               --timeout 400)
set_tests_properties(boot.fuzz.smp4 PROPERTIES RUN_SERIAL TRUE)

find_program(BOCHS_FOR_FUZZ bochs)
if(BOCHS_FOR_FUZZ)
  # Bochs (PCID, INVPCID, no global-TLB leniency): 10^5 syscalls (the target is 10^4; ~65 s on a busy host).
  keel_boot_test(boot.bochs.fuzz 600 --expect "TLB mode: PCID\\+INVPCID" --expect ${fuzz_done}
                 --expect "^ok 1 fuzz_state" --expect "KEEL-EXIT: pass" --reject "lock watchdog|KERNEL PANIC|invariant:"
                 -- --image keel-test --bochs --cpu corei7_icelake_u
                 --cmdline "selftest keeltest=fuzz_state fuzz.seed=0x5eedb0c5 fuzz.calls=100000" --timeout 540)
endif()
