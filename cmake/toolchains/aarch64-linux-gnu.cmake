# SPDX-License-Identifier: Apache-2.0
# Cross compilation for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu.
# Programs run on x86 under qemu-user: qemu-aarch64 -L /usr/aarch64-linux-gnu PROGRAM
# (CMAKE_CROSSCOMPILING_EMULATOR below lets ctest do that by itself).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
find_program(RG_QEMU_AARCH64 qemu-aarch64)
if(RG_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RG_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
