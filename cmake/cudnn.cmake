# SPDX-License-Identifier: Apache-2.0
# cuDNN 9 for the CUDA backend: under RALSGAN_CUDNN_ROOT (include/ and lib/,
# e.g. the pip package nvidia-cudnn-cu13's folder), then the CUDA toolkit, then
# the system. Included from the top level after CUDA is found.
set(RALSGAN_CUDNN_ROOT "" CACHE PATH "cuDNN 9 root (holds include/cudnn.h and lib/libcudnn.so.9)")
set(RALSGAN_CUDNN_INCLUDE_DIR "" CACHE PATH "cuDNN include directory (overrides RALSGAN_CUDNN_ROOT)")
set(RALSGAN_CUDNN_LIBRARY "" CACHE FILEPATH "cuDNN library file (overrides RALSGAN_CUDNN_ROOT)")
set(_cudnn_hints ${RALSGAN_CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR} /usr/local/cuda /usr)
if(NOT RALSGAN_CUDNN_INCLUDE_DIR)
  find_path(RALSGAN_CUDNN_INCLUDE_DIR_FOUND cudnn.h HINTS ${_cudnn_hints} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include NO_CACHE)
  set(RALSGAN_CUDNN_INCLUDE_DIR ${RALSGAN_CUDNN_INCLUDE_DIR_FOUND})
endif()
if(NOT RALSGAN_CUDNN_LIBRARY)
  # The pip wheel ships only libcudnn.so.9 (no unversioned link), so name it too.
  find_library(RALSGAN_CUDNN_LIBRARY_FOUND NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_hints}
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu NO_CACHE)
  set(RALSGAN_CUDNN_LIBRARY ${RALSGAN_CUDNN_LIBRARY_FOUND})
endif()
if(NOT RALSGAN_CUDNN_INCLUDE_DIR OR NOT RALSGAN_CUDNN_LIBRARY)
  if(RALSGAN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "cuDNN 9 not found: set RALSGAN_CUDNN_ROOT (include/cudnn.h, lib/libcudnn.so.9)")
  endif()
  message(STATUS "ralsgan: nvcc found but no cuDNN 9: CUDA backend off (set RALSGAN_CUDNN_ROOT to enable it)")
  set(RALSGAN_HAVE_CUDA OFF)
else()
  message(STATUS "ralsgan: cuDNN ${RALSGAN_CUDNN_INCLUDE_DIR} ${RALSGAN_CUDNN_LIBRARY}")
endif()
