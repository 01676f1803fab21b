# Boot tests of issue 13 (using the system: images, the launch script, the shell, the tutorial).
# Included from test/boot/CMakeLists.txt, whose keel_boot_test() it uses.

# Every image boots in every build preset. The tests labelled "images" are the ones test/run also
# runs in build-release after the whole suite in build/ (docs/building.md): keel-test
# (boot.bios.max, the whole guest suite), the shell image, the tutorial's system and keel-bench.
set_property(TEST boot.bios.max boot.keel.tutorial APPEND PROPERTY LABELS images)
add_test(NAME boot.image.shell COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/shell-smoke.sh --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(boot.image.shell PROPERTIES TIMEOUT 90 LABELS "boot;images")
keel_boot_test(boot.image.bench 120 --expect "^keelbench: (DEBUG|release) kernel" --expect "^BENCH-DONE"
               --expect "KEEL-EXIT: pass" --reject "unknown syscall"
               -- --image keel-bench --timeout 90)
set_property(TEST boot.image.bench APPEND PROPERTY LABELS images)

# boot/qemu from an interactive terminal (a pty): --timeout, typing into the shell, the terminal's
# modes afterwards, a test image's verdict and --serial-log.
add_test(NAME boot.qemu.tty COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/qemu-tty.sh --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(boot.qemu.tty PROPERTIES TIMEOUT 120 LABELS boot)

# A user adds programs to boot/manifest.txt: the shell's end-to-end test stays green on a copy with
# three more lines at the top (every pid and channel number shifts).
add_test(NAME boot.keel.manifest_extra COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/manifest-extra.sh
         --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(boot.keel.manifest_extra PROPERTIES TIMEOUT 120 LABELS boot)

# docs/debugging.md's gdb session, run by gdb in batch mode against boot/qemu --gdb with
# boot/keel-gdb.py (a breakpoint in one named process, its backtrace, a step, a kernel breakpoint,
# keel-ps, keel-bt).
add_test(NAME boot.gdb.session COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gdb-session.sh --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(boot.gdb.session PROPERTIES TIMEOUT 120 LABELS boot)
