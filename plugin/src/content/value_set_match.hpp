// Code matching for value sets: any coding of a CodeableConcept may match; ICD-10, ICD-10-CM
// and ATC match by prefix with the dot removed (content marks those systems).
#pragma once

#include <string>
#include <string_view>

namespace ppmg::core {

inline std::string withoutDots(std::string_view code) {
    std::string out;
    out.reserve(code.size());
    for (char c : code)
        if (c != '.') out.push_back(c);
    return out;
}

inline bool codingInValueSet(const ValueSet& vs, std::string_view system, std::string_view code) {
    auto e = vs.exact.find(system);
    if (e != vs.exact.end() && e->second.count(code)) return true;
    if (vs.prefixes.empty()) return false;
    auto p = vs.prefixes.find(system);
    if (p != vs.prefixes.end()) {
        for (std::string_view prefix : p->second)
            if (startsWithIgnoringDots(code, prefix)) return true;
    }
    return false;
}

template <class Codings>
bool inValueSet(const ValueSet& vs, const Codings& codes) {
    for (const auto& c : codes)
        if (codingInValueSet(vs, c.system, c.code)) return true;
    return false;
}

}  // namespace ppmg::core
