# What an integrator installs, beyond the targets that sdk/, plugin/ and tools/ install themselves
# (bin/ppmg, the plugin, the headers, the loader library, the content): the CMake package
# (find_package(ppmg CONFIG) -> ppmg::sdk, ppmg::host), pkg-config files, docs, licence, man
# page, the systemd units. The CPack settings for the .deb and the .tar.gz are in cpack.cmake.
#
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr -DPPMG_BUILD_TESTS=OFF
#   cmake --build build-pkg -j2 && (cd build-pkg && cpack -G "DEB;TGZ")
#
# Installed layout (prefix /usr gives the multiarch libdir lib/x86_64-linux-gnu, any other
# prefix gives lib): bin/ppmg, <libdir>/libppmg_plugin.so, <libdir>/libppmg_host.a,
# include/ppmg/, <libdir>/cmake/ppmg/, <libdir>/pkgconfig/ppmg{,-host}.pc,
# share/ppmg/content/, share/doc/ppmg/, share/man/man1/ppmg.1.gz.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(PPMG_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PPMG_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ppmg)

# The ABI major the installed headers speak, read from the header itself.
file(STRINGS ${PROJECT_SOURCE_DIR}/sdk/include/ppmg/ppmg.h _ppmg_abi_line
     REGEX "^#define PPMG_ABI_VERSION_MAJOR [0-9]+u?$")
string(REGEX REPLACE "^#define PPMG_ABI_VERSION_MAJOR ([0-9]+)u?$" "\\1" PPMG_ABI_MAJOR "${_ppmg_abi_line}")

# ---- CMake package --------------------------------------------------------------------------
install(EXPORT ppmgTargets NAMESPACE ppmg:: FILE ppmgTargets.cmake
        DESTINATION ${PPMG_CMAKE_INSTALL_DIR} COMPONENT sdk)
set(PPMG_PLUGIN_FILE ${CMAKE_INSTALL_LIBDIR}/libppmg_plugin.so)
set(PPMG_CONTENT_DIR ${CMAKE_INSTALL_DATADIR}/ppmg/content)
configure_package_config_file(${PPMG_PACKAGING_DIR}/ppmgConfig.cmake.in
  ${PROJECT_BINARY_DIR}/packaging/ppmgConfig.cmake
  INSTALL_DESTINATION ${PPMG_CMAKE_INSTALL_DIR}
  PATH_VARS PPMG_PLUGIN_FILE PPMG_CONTENT_DIR)
# Same major = same ABI major (docs/versioning.md); not arch-independent: it ships a static library.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/packaging/ppmgConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/packaging/ppmgConfig.cmake
              ${PROJECT_BINARY_DIR}/packaging/ppmgConfigVersion.cmake
        DESTINATION ${PPMG_CMAKE_INSTALL_DIR} COMPONENT sdk)

# ---- pkg-config: relocatable, every path relative to the .pc file ------------------------------
file(RELATIVE_PATH PPMG_PC_RELATIVE_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" PPMG_PC_RELATIVE_PREFIX "${PPMG_PC_RELATIVE_PREFIX}")
set(PPMG_PC_DL_LIBS "")
foreach(_ppmg_lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND PPMG_PC_DL_LIBS " -l${_ppmg_lib}")
endforeach()
string(STRIP "${PPMG_PC_DL_LIBS}" PPMG_PC_DL_LIBS)
foreach(_ppmg_pc ppmg ppmg-host)
  configure_file(${PPMG_PACKAGING_DIR}/${_ppmg_pc}.pc.in ${PROJECT_BINARY_DIR}/packaging/${_ppmg_pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/${_ppmg_pc}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
endforeach()

# ---- Docs, licence, examples, man page, changelog -----------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${PPMG_PACKAGING_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
# docs/ keeps its folder so the README's links (docs/integration.md, ...) still resolve.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        COMPONENT doc FILES_MATCHING PATTERN "*.md" PATTERN "*.png" PATTERN "*.svg")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        COMPONENT doc)
install(FILES ${PROJECT_SOURCE_DIR}/samples/sample-patient.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT doc)

# `ppmg serve` as a system service: the systemd unit and its options (a conffile), at the absolute
# paths systemd and Debian want. Installed only into a DESTDIR (the .deb is staged in one), never
# onto the build machine's own /etc, and not into the relocatable .tar.gz.
install(CODE "
  if(NOT \"\$ENV{DESTDIR}\" STREQUAL \"\")
    file(INSTALL ${PPMG_PACKAGING_DIR}/deb/ppmg-serve.service DESTINATION /lib/systemd/system)
    file(INSTALL ${PPMG_PACKAGING_DIR}/deb/serve.conf DESTINATION /etc/ppmg)
    file(INSTALL ${PPMG_PACKAGING_DIR}/deb/ppmg-listen.service DESTINATION /lib/systemd/system)
    file(INSTALL ${PPMG_PACKAGING_DIR}/deb/listen.conf DESTINATION /etc/ppmg)
  endif()" COMPONENT runtime)

# Debian wants the man page and the changelog compressed with gzip -9n (no name, no timestamp:
# reproducible).
find_program(PPMG_GZIP gzip)
if(PPMG_GZIP)
  set(_ppmg_gz_dir ${PROJECT_BINARY_DIR}/packaging)
  configure_file(${PPMG_PACKAGING_DIR}/ppmg.1 ${_ppmg_gz_dir}/ppmg.1 @ONLY)
  configure_file(${PPMG_PACKAGING_DIR}/changelog ${_ppmg_gz_dir}/changelog COPYONLY)
  foreach(_ppmg_gz ppmg.1 changelog)
    execute_process(COMMAND ${PPMG_GZIP} -9nf ${_ppmg_gz} WORKING_DIRECTORY ${_ppmg_gz_dir}
                    RESULT_VARIABLE _ppmg_gz_rc)
    if(NOT _ppmg_gz_rc EQUAL 0)
      message(FATAL_ERROR "gzip ${_ppmg_gz} failed: ${_ppmg_gz_rc}")
    endif()
  endforeach()
  install(FILES ${_ppmg_gz_dir}/ppmg.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT doc)
  install(FILES ${_ppmg_gz_dir}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
endif()
