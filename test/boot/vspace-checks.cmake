# VSpace lifetime checks (issue 11): keeltest's vspace_reuse tests -- memory that was a VSpace, or
# was under one, used again at once, then a blocking Recv so that schedule() switches into the
# VSpace concerned. The debug kernel checks every CR3 load (a live PML4 with the kernel half) and
# the invariant checker what every CPU has loaded or recorded. Included from CMakeLists.txt in
# this directory (keel_boot_test, ${summary}).
set(vspace_reuse_ok --expect "^ok 1 vspace_reuse_root_survives_retype_over_faulted_endpoint"
                    --expect "^ok 2 vspace_reuse_losing_asid_unlinks_tables" --expect "^2 passed, 0 failed"
                    --expect "KEEL-EXIT: pass" --reject "KERNEL PANIC|invariant:")

keel_boot_test(boot.vspace.reuse 60 ${vspace_reuse_ok}
               -- --image keel-test --cmdline "selftest keeltest=vspace_reuse" --timeout 45)
# Two CPUs: the other CPU, idle, must let go of a VSpace losing its ASID too (smp_forget_vspace).
keel_boot_test(boot.vspace.reuse.smp2 90 --expect "smp: 2 CPUs online" ${vspace_reuse_ok}
               -- --image keel-test --smp 2 --cmdline "selftest keeltest=vspace_reuse" --timeout 75)

# Bochs keeps no global kernel TLB entries across a CR3 load the way QEMU's TCG does, so a root
# without the kernel half (the issue's report) triple-faults there at once. Once with PCIDs (the
# PCID tables must drop a VSpace that loses its ASID) and once without (the reported setup).
find_program(BOCHS_FOR_VSPACE bochs)
if(BOCHS_FOR_VSPACE)
  keel_boot_test(boot.bochs.vspace_reuse 300 --expect "TLB mode: PCID\\+INVPCID" ${vspace_reuse_ok}
                 -- --image keel-test --bochs --cpu corei7_icelake_u --cmdline "selftest keeltest=vspace_reuse"
                 --timeout 240)
  keel_boot_test(boot.bochs.vspace_reuse.pcid_off 300 --expect "TLB mode: no PCID" ${vspace_reuse_ok}
                 -- --image keel-test --bochs --cpu corei7_icelake_u
                 --cmdline "selftest pcid=off invpcid=off keeltest=vspace_reuse" --timeout 240)
endif()
