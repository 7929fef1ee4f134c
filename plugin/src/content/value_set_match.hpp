// Code matching for value sets: any coding of a CodeableConcept may match; ICD-10, ICD-10-CM
// and ATC match by prefix with the dot removed (content marks those systems).
#pragma once

#include <string>

namespace ppmg {

inline std::string withoutDots(const std::string& code) {
    std::string out;
    out.reserve(code.size());
    for (char c : code)
        if (c != '.') out.push_back(c);
    return out;
}

inline bool codingInValueSet(const ValueSet& vs, const std::string& system, const std::string& code) {
    auto e = vs.exact.find(system);
    if (e != vs.exact.end() && e->second.count(code)) return true;
    auto p = vs.prefixes.find(system);
    if (p != vs.prefixes.end()) {
        std::string bare = withoutDots(code);
        for (const auto& prefix : p->second)
            if (bare.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
}

template <class Codings>
bool inValueSet(const ValueSet& vs, const Codings& codes) {
    for (const auto& c : codes)
        if (codingInValueSet(vs, c.system, c.code)) return true;
    return false;
}

}  // namespace ppmg
