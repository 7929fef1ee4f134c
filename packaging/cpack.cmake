# The CPack settings for the Debian 12 .deb and the .tar.gz (what they install: install.cmake and
# the targets' own install rules).
#
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr -DPPMG_BUILD_TESTS=OFF
#   cmake --build build-pkg -j2 && (cd build-pkg && cpack -G "DEB;TGZ")
include_guard(GLOBAL)
set(PPMG_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})

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
# libpoco*80, libxml2, libxslt1.1, libsimdjson14, ...). A host built with the SDK needs none of
# them at build time: ppmg::sdk is headers, ppmg::host needs only the C++ library and libdl.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
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
