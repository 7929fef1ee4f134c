// ppmg_fhir_to_ccda: writes a FHIR R4 JSON record as the C-CDA document that carries the same facts
// (support/fhir_ccda_convert.hpp), for the benchmark's C-CDA twin of the reference bundles
// (bench/run_bench.sh, scripts/test.d/60-bench-smoke.sh) and for making test fixtures.
// Usage: ppmg_fhir_to_ccda [--r11] [--no-narrative] IN.json OUT.xml
// Code system OIDs come from the content in the source tree (or $PPMG_CONTENT_DIR).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>

#include "content/content.hpp"
#include "support/fhir_ccda_convert.hpp"

int main(int argc, char** argv) {
    ppmg::test::CcdaStyle style;
    std::string in, out;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--r11")
            style.r11 = true;
        else if (a == "--no-narrative")
            style.narrative = false;
        else if (in.empty())
            in = a;
        else if (out.empty())
            out = a;
        else
            in.clear(), out.clear(), i = argc;
    }
    if (in.empty() || out.empty()) {
        std::cerr << "usage: ppmg_fhir_to_ccda [--r11] [--no-narrative] IN.json OUT.xml\n";
        return 2;
    }
    try {
        const char* dir = std::getenv("PPMG_CONTENT_DIR");
        const auto content = ppmg::core::loadContent(dir ? dir : PPMG_SOURCE_CONTENT_DIR);
        std::ifstream f(in, std::ios::binary);
        if (!f) throw std::runtime_error("cannot read " + in);
        const std::string json((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const std::function<std::string(std::string_view)> oid = [&](std::string_view uri) {
            const auto* s = content->systemByUri(uri);
            return s ? s->oid : std::string();
        };
        const ppmg::test::CcdaConversion c = ppmg::test::fhirJsonToCcda(json, oid, style);
        std::ofstream o(out, std::ios::binary);
        o << c.xml;
        if (!o) throw std::runtime_error("cannot write " + out);
        if (!c.exact) std::cerr << "ppmg_fhir_to_ccda: " << in << ": not exactly the same facts: " << c.losses << "\n";
    } catch (const std::exception& e) {
        std::cerr << "ppmg_fhir_to_ccda: " << in << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
