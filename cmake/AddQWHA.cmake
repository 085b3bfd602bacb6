# Helpers shared by the QWHA build, modelled on CIRCT's AddCIRCT.cmake.

include_guard()

# A QWHA library: an MLIR library that links the shared libMLIR.so, is kept
# out of libMLIR's aggregation, and is installed into the `QWHATargets` export
# set so that downstream projects can `find_package(QWHA)` and link it.
function(add_qwha_library name)
  add_mlir_library(${name} ${ARGN} EXCLUDE_FROM_LIBMLIR DISABLE_INSTALL)
  set_property(GLOBAL APPEND PROPERTY QWHA_EXPORTED_LIBS ${name})
  set_target_properties(${name} PROPERTIES OUTPUT_NAME ${name})
  target_include_directories(${name} INTERFACE
    $<BUILD_INTERFACE:${QWHA_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${QWHA_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  install(TARGETS ${name}
    EXPORT QWHATargets
    ARCHIVE DESTINATION lib${LLVM_LIBDIR_SUFFIX}
    LIBRARY DESTINATION lib${LLVM_LIBDIR_SUFFIX}
    COMPONENT ${name})
endfunction()

# Dialect libraries register under a common property so tools can link them all.
function(add_qwha_dialect_library name)
  set_property(GLOBAL APPEND PROPERTY QWHA_DIALECT_LIBS ${name})
  add_qwha_library(${name} ${ARGN})
endfunction()

function(add_qwha_conversion_library name)
  set_property(GLOBAL APPEND PROPERTY QWHA_CONVERSION_LIBS ${name})
  add_qwha_library(${name} ${ARGN})
endfunction()

# A QWHA tool: an executable linked against libMLIR.so, installed with the
# package.
function(add_qwha_tool name)
  add_llvm_executable(${name} ${ARGN})
  # Installed tools must still find libMLIR.so and libLLVM.so.
  set_target_properties(${name} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${QWHA_TOOLS_DIR}
    INSTALL_RPATH "\$ORIGIN/../lib${LLVM_LIBDIR_SUFFIX};${LLVM_LIBRARY_DIR}")
  install(TARGETS ${name} EXPORT QWHATargets RUNTIME DESTINATION bin
    COMPONENT ${name})
endfunction()
