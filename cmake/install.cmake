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

# The programs, their man pages (from their own --help, tools/make_man.sh),
# the documentation, the licence and NOTICE.
if(TARGET ralsgan)
  install(TARGETS ralsgan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
set(_man_pages "")
function(rg_man_page target name what)
  set(out ${PROJECT_BINARY_DIR}/man/${name}.1)
  add_custom_command(OUTPUT ${out}
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
                     COMMAND ${PROJECT_SOURCE_DIR}/tools/make_man.sh $<TARGET_FILE:${target}> ${name} "${what}" ${out} ${ARGN}
                     DEPENDS ${target} ${PROJECT_SOURCE_DIR}/tools/make_man.sh VERBATIM)
  set(_man_pages ${_man_pages} ${out} PARENT_SCOPE)
endfunction()
if(TARGET ralsgan)
  rg_man_page(ralsgan ralsgan "train a RaLSGAN on a folder of photos and generate images deterministically"
              preprocess train generate export eval inspect demo)
endif()
if(TARGET rg)
  rg_man_page(rg rg "run, benchmark, inspect and export ONNX models" inspect run bench export)
endif()
if(TARGET rg_run_file)
  rg_man_page(rg_run_file rg_run_file "run a plan file with the C runtime on .npy inputs")
endif()
if(_man_pages)
  add_custom_target(man_pages ALL DEPENDS ${_man_pages})
  install(FILES ${_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/NOTICE
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# `cpack -G DEB` (the `package` preset: no CUDA, x86-64-v3): Depends
# from the linked shared libraries (dpkg-shlibdeps). tools/test_package.sh
# installs it into a scratch root and runs it.
set(CPACK_PACKAGE_NAME ralsgan)
set(CPACK_PACKAGE_VENDOR "ralsgan developers")
set(CPACK_PACKAGE_CONTACT "ralsgan developers <ralsgan@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "RaLSGAN training and deterministic generation; ONNX conv nets on CPU; a C runtime for devices")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "ralsgan cleans and letterboxes a folder of photos, trains a RaLSGAN with a DCGAN architecture and generates images deterministically (oneDNN on CPUs). rg runs, benchmarks and exports ONNX conv nets. The C runtime (librg_runtime, rg_run_file) runs exported plans bit-identically to the reference backend. Built for x86-64-v3 (AVX2 and FMA: Intel Haswell, AMD Zen and later); no CUDA backend (build from source for GPUs).")
include(CPack)

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
