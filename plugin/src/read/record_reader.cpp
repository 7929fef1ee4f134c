// Input checks common to every format, format sniffing, and the choice of the parser.
#include <simdjson.h>

#include <algorithm>
#include <string_view>

#include "base/errors.hpp"
#include "read/hl7v2_parser.hpp"
#include "read/record_reader.hpp"

namespace ppmg::core {
namespace {

// Returns the offset of the first invalid UTF-8 sequence, or npos.
size_t invalidUtf8At(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else
            return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return std::string_view::npos;
}

long lineOf(std::string_view s, size_t offset) {
    return 1 + static_cast<long>(std::count(s.begin(), s.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace

RawRecord readRecord(std::string_view data, ppmg_input_format format, const ReadLimits& limits,
                     const std::string& sourceName) {
    if (data.size() > limits.maxInputBytes)
        throw Error(PPMG_E_LIMIT,
                    "the input is " + std::to_string(data.size()) + " bytes, over the limit of " +
                        std::to_string(limits.maxInputBytes),
                    Location{sourceName, "", "", 0});
    if (data.substr(0, 2) == "\xFF\xFE" || data.substr(0, 2) == "\xFE\xFF")
        throw Error(PPMG_E_ENCODING, "the input is UTF-16 (it starts with a UTF-16 byte order mark); ppmg reads UTF-8",
                    Location{sourceName, "", "", 1});
    if (size_t nul = data.find('\0'); nul != std::string_view::npos)
        throw Error(PPMG_E_ENCODING, "the input holds a NUL byte at offset " + std::to_string(nul),
                    Location{sourceName, "", "", lineOf(data, nul)});
    // simdjson's vectorised check first; the byte-wise scan only finds the offset to report.
    if (!simdjson::validate_utf8(data.data(), data.size())) {
        if (size_t bad = invalidUtf8At(data); bad != std::string_view::npos)
            throw Error(PPMG_E_ENCODING, "the input is not valid UTF-8 (at byte offset " + std::to_string(bad) + ")",
                        Location{sourceName, "", "", lineOf(data, bad)});
    }
    std::string_view body = data;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 byte order mark
    if (format == PPMG_INPUT_AUTO) {
        size_t first = body.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos)
            throw Error(PPMG_E_PARSE, "the input is empty", Location{sourceName, "", "", 0});
        if (body[first] == '{' || body[first] == '[')
            format = PPMG_INPUT_FHIR_JSON;
        else if (looksLikeHl7v2(body))
            format = PPMG_INPUT_HL7V2;
        else if (body[first] == '<')
            format = isCcda(body.substr(first)) ? PPMG_INPUT_CCDA : PPMG_INPUT_FHIR_XML;
        else
            throw Error(PPMG_E_PARSE,
                        "the input is neither JSON, XML nor HL7 v2 (it starts with none of '{', '<', MSH, FHS, BHS)",
                        Location{sourceName, "", "", lineOf(body, first)});
    }
    switch (format) {
        case PPMG_INPUT_FHIR_JSON: return readFhirJson(body, limits, sourceName);
        case PPMG_INPUT_FHIR_XML: return readFhirXml(body, limits, sourceName);
        case PPMG_INPUT_CCDA: return readCcda(body, limits, sourceName);
        case PPMG_INPUT_HL7V2: return readHl7v2(body, limits, sourceName);
        default: throw Error(PPMG_E_UNSUPPORTED, "unknown input format", Location{sourceName, "", "", 0});
    }
}

}  // namespace ppmg::core
