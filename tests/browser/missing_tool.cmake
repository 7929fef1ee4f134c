# A tool the browser test needs was not found when CMake configured: skip with a notice, or fail
# under CI (where scripts/setup.sh --test has installed it).
if(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL "")
  message(FATAL_ERROR "${TOOL} is not installed; scripts/setup.sh --test installs it (scripts/packages/browser.txt)")
endif()
message("SKIPPED: ${TOOL} is not installed; scripts/setup.sh --test installs it (scripts/packages/browser.txt)")
