// The one exception type inside the plugin. The ABI layer turns it into a status and a
// ppmg_error; nothing crosses the C boundary as an exception.
#pragma once

#include <stdexcept>
#include <string>

#include "ppmg/ppmg.h"

namespace ppmg::core {

struct Location {
    std::string file;
    std::string fhirPath;
    std::string resourceId;
    long line = 0;
};

class Error : public std::runtime_error {
public:
    Error(ppmg_status status, const std::string& message, Location where = {})
        : std::runtime_error(oneLine(message)), status_(status), where_(std::move(where)) {}
    ppmg_status status() const { return status_; }
    const Location& where() const { return where_; }

    // A message is one line for a person, whatever record text it quotes: control characters
    // become spaces, and past 1,000 bytes it is cut (on a UTF-8 boundary) and ends in "...".
    static std::string oneLine(std::string m) {
        for (char& c : m)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
        constexpr size_t kMax = 1000;
        if (m.size() > kMax) {
            size_t cut = kMax;
            while (cut > 0 && (static_cast<unsigned char>(m[cut]) & 0xC0) == 0x80) --cut;
            m.resize(cut);
            m += "...";
        }
        return m;
    }

private:
    ppmg_status status_;
    Location where_;
};

}  // namespace ppmg::core
