# Read by CPack for each generator (CPACK_PROJECT_CONFIG_FILE). The .deb is staged through a
# DESTDIR, so that the files with absolute destinations (the systemd unit, /etc/ppmg/serve.conf)
# land in the package; the .tar.gz stays relocatable and without them.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_SET_DESTDIR ON)
endif()
