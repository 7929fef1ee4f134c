// The one exception type inside the plugin. The ABI layer turns it into a status and a
// ppmg_error; nothing crosses the C boundary as an exception.
#pragma once

#include <stdexcept>
#include <string>

#include "ppmg/ppmg.h"

namespace ppmg {

struct Location {
    std::string file;
    std::string fhirPath;
    std::string resourceId;
    long line = 0;
};

class Error : public std::runtime_error {
public:
    Error(ppmg_status status, const std::string& message, Location where = {})
        : std::runtime_error(message), status_(status), where_(std::move(where)) {}
    ppmg_status status() const { return status_; }
    const Location& where() const { return where_; }

private:
    ppmg_status status_;
    Location where_;
};

}  // namespace ppmg
