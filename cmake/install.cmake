# SPDX-License-Identifier: Apache-2.0
# `cmake --install`: the public headers (include/rg), the engine's static
# libraries, a CMake package (find_package(rg): rg::rg and one target per
# library) and a pkg-config file (rg.pc). docs/library.md shows how to use both.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RG_CONFIG_ONEDNN 0)
set(RG_CONFIG_CUDA 0)
set(_rg_libs rg_graph rg_engine rg_io rg_backend_ref)
if(TARGET rg_backend_onednn)
  set(RG_CONFIG_ONEDNN 1)
  list(APPEND _rg_libs rg_backend_onednn)
endif()
if(TARGET rg_backend_cuda)
  set(RG_CONFIG_CUDA 1)
  list(APPEND _rg_libs rg_backend_cuda)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/rg_config.h.in ${PROJECT_BINARY_DIR}/include/rg/config.h @ONLY)

# rg::graph, rg::engine, ...; rg::rg is all of them.
foreach(lib ${_rg_libs})
  string(REGEX REPLACE "^rg_" "" _name ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${_name})
endforeach()
add_library(rg_all INTERFACE)
set_target_properties(rg_all PROPERTIES EXPORT_NAME rg)
target_link_libraries(rg_all INTERFACE ${_rg_libs})

install(TARGETS ${_rg_libs} rg_all EXPORT rgTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# rg/onnx.h belongs to rg_onnx, which is built in the tree (the rg tool, the
# tests) but not installed yet: it would bring libonnx and protobuf into the
# package's dependencies.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/rg DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN "onnx.h" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/include/rg/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rg)
install(EXPORT rgTargets NAMESPACE rg:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rg)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/rgConfig.cmake.in ${PROJECT_BINARY_DIR}/rgConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rg)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rgConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rgConfig.cmake ${PROJECT_BINARY_DIR}/rgConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rg)

# pkg-config: static libraries, so every library they need is in Libs, users
# of a backend first (the linker resolves left to right).
set(RG_PC_LIBS "")
foreach(lib rg_backend_cuda rg_backend_onednn rg_backend_ref rg_engine rg_graph rg_io)
  if(lib IN_LIST _rg_libs)
    string(APPEND RG_PC_LIBS " -l${lib}")
  endif()
endforeach()
if(RG_CONFIG_ONEDNN)
  string(APPEND RG_PC_LIBS " -ldnnl ${OpenMP_CXX_FLAGS}")
endif()
if(RG_CONFIG_CUDA)
  get_filename_component(_cudnn_dir ${RALSGAN_CUDNN_LIBRARY} DIRECTORY)
  string(APPEND RG_PC_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart -lnvrtc ${RALSGAN_CUDNN_LIBRARY}"
         " -Wl,-rpath,${_cudnn_dir} -ldl -pthread")
endif()
string(STRIP "${RG_PC_LIBS}" RG_PC_LIBS)
# The prefix relative to the .pc file's folder, so `cmake --install --prefix
# DIR` anywhere gives a working file; @ONLY keeps pkg-config's ${...} variables.
file(RELATIVE_PATH RG_PC_PREFIX_FROM_PCFILEDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" RG_PC_PREFIX_FROM_PCFILEDIR "${RG_PC_PREFIX_FROM_PCFILEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/rg.pc.in ${PROJECT_BINARY_DIR}/rg.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rg.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CI: the examples build against an installed prefix (the consumer both ways);
# the Fashion-MNIST program it builds is trained by a test of tests/classifier.
if(BUILD_TESTING)
  add_test(NAME consumer_package COMMAND ${PROJECT_SOURCE_DIR}/tools/check_consumer.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(consumer_package PROPERTIES LABELS package TIMEOUT 300 FIXTURES_SETUP installed_examples)
  # The core build tools/gpu_check.sh makes on the GPU machine (no OpenCV):
  # configures, builds, and trains and generates as this build does.
  if(NOT RALSGAN_CORE_ONLY AND TARGET ralsgan)
    add_test(NAME core_app_matches_full_build COMMAND ${PROJECT_SOURCE_DIR}/tools/check_core_app.sh ${PROJECT_BINARY_DIR})
    set_tests_properties(core_app_matches_full_build PROPERTIES LABELS package TIMEOUT 900)
  endif()
endif()
