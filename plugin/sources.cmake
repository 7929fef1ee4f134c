# The plugin core's sources, by room (docs/architecture.md). Included by plugin/CMakeLists.txt and
# by tests/fuzz (which builds its own instrumented copy of the core).
set(PPMG_PLUGIN_SRC ${CMAKE_CURRENT_LIST_DIR}/src)
set(PPMG_CORE_SOURCES
  ${PPMG_PLUGIN_SRC}/base/clinical_date.cpp
  ${PPMG_PLUGIN_SRC}/base/hl7_datetime.cpp
  ${PPMG_PLUGIN_SRC}/content/content_loader.cpp
  ${PPMG_PLUGIN_SRC}/read/ccda_parser.cpp
  ${PPMG_PLUGIN_SRC}/read/fhir_json.cpp
  ${PPMG_PLUGIN_SRC}/read/fhir_xml.cpp
  ${PPMG_PLUGIN_SRC}/read/hl7v2_parser.cpp
  ${PPMG_PLUGIN_SRC}/read/json_syntax.cpp
  ${PPMG_PLUGIN_SRC}/read/record_mapping.cpp
  ${PPMG_PLUGIN_SRC}/read/record_reader.cpp
  ${PPMG_PLUGIN_SRC}/read/xml_document.cpp
  ${PPMG_PLUGIN_SRC}/read/xml_tree.cpp
  ${PPMG_PLUGIN_SRC}/assess/delivery_episode.cpp
  ${PPMG_PLUGIN_SRC}/assess/rule_engine.cpp
  ${PPMG_PLUGIN_SRC}/write/assessment_writers.cpp
  ${PPMG_PLUGIN_SRC}/write/cda_writer.cpp
  ${PPMG_PLUGIN_SRC}/write/document_id.cpp
  ${PPMG_PLUGIN_SRC}/write/html_view.cpp
  ${PPMG_PLUGIN_SRC}/write/mdm_writer.cpp
  ${PPMG_PLUGIN_SRC}/write/xml_stream.cpp
  ${PPMG_PLUGIN_SRC}/guidance_engine.cpp)
set(PPMG_ABI_SOURCES ${PPMG_PLUGIN_SRC}/abi/entry.cpp)
