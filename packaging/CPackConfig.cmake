# What an integrator installs, beyond the targets that sdk/ and plugin/ install themselves
# (bin/ppmg, the plugin, the headers, the loader library, the content): the CMake package
# (find_package(ppmg CONFIG) -> ppmg::sdk, ppmg::host), pkg-config files, docs, licence, man
# page; then the CPack settings for the Debian 12 .deb and the .tar.gz.
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

# ---- CPack ----------------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME ppmg)
set(CPACK_PACKAGE_VENDOR "The ppmg authors")
set(CPACK_PACKAGE_CONTACT "ppmg maintainers <ppmg@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "postpartum massage guidance plugin for health records")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_FILE_NAME ${CPACK_PACKAGE_NAME}-${PROJECT_VERSION}-linux-${CMAKE_SYSTEM_PROCESSOR})

# Debian 12. Depends comes from dpkg-shlibdeps on the plugin and the program (libc6, libstdc++6,
# libpoco*80, libxml2, libxslt1.1, libsimdjson14, ...). The CMake package's ppmg::host needs the
# Poco headers, so libpoco-dev is recommended (a C host using only ppmg::sdk does not need it).
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpoco-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, pkgconf")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# A .so under /usr/lib must activate libc's ldconfig trigger (Debian policy 8.1.1), even one that
# is loaded by path like the plugin. (CPack also writes ldconfig calls into postinst/postrm.)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PPMG_PACKAGING_DIR}/deb/triggers ${PPMG_PACKAGING_DIR}/deb/conffiles)
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"ppmg is a clinical content plugin that an electronic health record loads as a
shared library. Given a patient's FHIR R4 record it decides, for four
postpartum massages, whether each may be done now, later, with precautions,
not at all, or only after a clinician looks, and writes that guidance as an
HL7 CDA R2 document with every finding traced to its rule and data.
.
This package holds the plugin, the ppmg command line, the clinical content and
its stylesheet, and the SDK: C and C++ headers, the loader library, a CMake
package (find_package(ppmg)), pkg-config files and example hosts.")

set(CPACK_PROJECT_CONFIG_FILE ${PPMG_PACKAGING_DIR}/deb/cpack_per_generator.cmake)
include(CPack)
