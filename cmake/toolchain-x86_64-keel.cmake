# Cross toolchain for Keel's kernel and userspace: clang targeting bare x86-64 ELF, linked by
# ld.lld. Nothing from GCC or binutils is used.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

find_program(KEEL_CLANG NAMES clang clang-18 clang-17 clang-16 clang-15 clang-14 REQUIRED)
find_program(KEEL_LLD NAMES ld.lld ld.lld-18 ld.lld-17 ld.lld-16 ld.lld-15 ld.lld-14 REQUIRED)
find_program(KEEL_LLVM_AR NAMES llvm-ar llvm-ar-18 llvm-ar-17 llvm-ar-16 llvm-ar-15 llvm-ar-14)

set(CMAKE_C_COMPILER ${KEEL_CLANG})
set(CMAKE_ASM_COMPILER ${KEEL_CLANG})
set(CMAKE_C_COMPILER_TARGET x86_64-unknown-none-elf)
set(CMAKE_ASM_COMPILER_TARGET x86_64-unknown-none-elf)
set(CMAKE_LINKER ${KEEL_LLD})
if(KEEL_LLVM_AR)
  set(CMAKE_AR ${KEEL_LLVM_AR})
endif()

# There is no C library to link a test program against.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Link with ld.lld directly: the clang driver would look for a bare-metal runtime we do not have.
set(CMAKE_C_LINK_EXECUTABLE "<CMAKE_LINKER> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_ASM_LINK_EXECUTABLE "<CMAKE_LINKER> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
