# SPDX-License-Identifier: Apache-2.0
# ctest -P script: the runtime's hot loops use vector instructions at every
# optimisation level (docs/embedded.md, "Speed"): rg_gemm.c and rg_kernels.c
# compiled by CC with FLAGS (-O2 or -Os, and the target's ISA) to assembly
# must contain the packed multiply and add of PATTERN (x86: mulps/addps,
# AArch64: fmul/fadd on .4s). Prints "SKIP:" when CC is missing.
if(NOT CC OR NOT EXISTS "${CC}")
  message("SKIP: no compiler ${CC} (cross compiler not installed? see tools/setup.sh)")
  return()
endif()
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
foreach(src rg_gemm.c rg_kernels.c)
  execute_process(COMMAND ${CC} -std=c11 -ffp-contract=off ${flags} -S -o - -I${SRC} ${SRC}/${src}
                  OUTPUT_VARIABLE asm ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${CC} ${FLAGS} ${src} failed: ${err}")
  endif()
  foreach(p ${PATTERNS})
    string(REGEX MATCHALL "${p}" hits "${asm}")
    list(LENGTH hits n)
    set(least 4)  # the matrix product's tiles
    if(src STREQUAL "rg_kernels.c")
      set(least 1)  # the chains' block loops: one of each operation
    endif()
    if(n LESS least)
      message(FATAL_ERROR "${src} at ${FLAGS}: ${n} instructions match '${p}'; the hot loops are not vectorised")
    endif()
    message("${src} at ${FLAGS}: ${n} x '${p}'")
  endforeach()
endforeach()
