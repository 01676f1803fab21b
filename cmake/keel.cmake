# Flags and helpers shared by the kernel and userspace builds.

# One optimisation level for every build type: Debug differs by its checks (KEEL_DEBUG), not by
# code shape, so debug and release path lengths stay comparable.
set(CMAKE_C_FLAGS_DEBUG "")
set(CMAKE_C_FLAGS_RELEASE "")
set(CMAKE_ASM_FLAGS_DEBUG "")
set(CMAKE_ASM_FLAGS_RELEASE "")

set(KEEL_WARNINGS -Wall -Wextra -Werror -Wvla -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter -Wimplicit-fallthrough)

set(KEEL_FREESTANDING -ffreestanding -nostdlibinc -fno-stack-protector -fno-pic -fno-pie
    -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-asynchronous-unwind-tables
    -fno-unwind-tables -O2 -g)

set(KEEL_KERNEL_CFLAGS ${KEEL_FREESTANDING} -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-sse2
    -mno-avx -mno-80387 -msoft-float ${KEEL_WARNINGS})

if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(KEEL_DEBUG 1)
else()
  set(KEEL_DEBUG 0)
endif()

find_package(Git QUIET)
set(KEEL_VERSION_STRING "${PROJECT_VERSION}")
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE KEEL_GIT_REV
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(KEEL_GIT_REV)
    set(KEEL_VERSION_STRING "${PROJECT_VERSION}-${KEEL_GIT_REV}")
  endif()
endif()
if(KEEL_DEBUG)
  string(APPEND KEEL_VERSION_STRING " debug")
endif()
