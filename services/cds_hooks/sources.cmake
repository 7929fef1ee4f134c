# The service's sources without its commands (serve_command, audit_command): one list for the
# library ppmg_cds_hooks (CMakeLists.txt here) and for the fuzz build (tests/fuzz), which compiles
# them with its instrumentation.
set(PPMG_CDS_SERVICE_SOURCES
    cds_audit.cpp cds_cards.cpp cds_fetch.cpp cds_jwt.cpp cds_random.cpp cds_replay.cpp cds_scale.cpp cds_server.cpp
    cds_service_content.cpp cds_store.cpp cds_view.cpp http_message.cpp http_server.cpp)
list(TRANSFORM PPMG_CDS_SERVICE_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
