# SPDX-License-Identifier: Apache-2.0
# ctest -P script: the symbols a runtime library (LIB) leaves undefined, by
# NM, must all be in the allowed list: libm, five string.h functions and the
# ARM EABI's soft-float helpers. No malloc/free, no operator new, no __cxa_*,
# no stdio. Prints "SKIP:" (ctest reports the test skipped) when the library
# or nm is missing.
if(NOT EXISTS "${LIB}" OR NOT NM)
  message("SKIP: ${LIB} or its nm is missing (cross compiler not installed? see tools/setup.sh)")
  return()
endif()
execute_process(COMMAND ${NM} -u ${LIB} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc1)
execute_process(COMMAND ${NM} --defined-only ${LIB} OUTPUT_VARIABLE defined RESULT_VARIABLE rc2)
if(rc1 OR rc2)
  message(FATAL_ERROR "${NM} failed on ${LIB}")
endif()
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_.]*\n" undefined "${undefined}")
set(bad "")
set(used "")
foreach(sym ${undefined})
  string(STRIP "${sym}" sym)
  if(defined MATCHES " ${sym}\n")  # defined in another object of the library
    continue()
  endif()
  list(APPEND used ${sym})
  if(NOT sym MATCHES "^(memcpy|memset|memcmp|strncmp|strlen|tanhf|expf|exp|pow|sqrt|log|cos|sin|sincos|floor|__aeabi_[a-z0-9]+)$")
    list(APPEND bad ${sym})
  endif()
endforeach()
list(REMOVE_DUPLICATES used)
message("${LIB} needs: ${used}")
if(bad)
  message(FATAL_ERROR "${LIB} needs symbols outside the allowed list: ${bad}")
endif()
if(NOT used MATCHES "exp")
  message(FATAL_ERROR "nm listed no exp: the check did not read the library")
endif()
