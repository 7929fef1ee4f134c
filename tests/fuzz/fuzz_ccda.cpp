// libFuzzer target: the C-CDA reader, through readRecord's checks (size, NUL, UTF-8); and the
// fast XML scanner against libxml2 on the same bytes (read/xml_tree.hpp): whatever the scanner
// accepts, libxml2 must accept and read as the same tree.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "read/record_reader.hpp"
#include "read/xml_tree.hpp"

int ppmgFuzzCcda(const uint8_t* data, size_t size) {
    ppmg::core::ReadLimits limits;
    limits.maxStringBytes = 4096;
    limits.maxResources = 64;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        ppmg::core::RawRecord r = ppmg::core::readRecord(input, PPMG_INPUT_CCDA, limits, "fuzz.xml");
        if (r.patients.empty()) ppmg::fuzz::bug("a document without a patient was accepted");
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::checkRefusal(e);
    }
    ppmg::core::xml::Tree fast;
    if (!ppmg::core::xml::parseFast(input, limits, fast)) return 0;
    try {
        const ppmg::core::xml::Tree slow = ppmg::core::xml::parseWithLibxml(input, limits, "fuzz.xml", "C-CDA", true);
        if (ppmg::core::xml::describeTree(fast) != ppmg::core::xml::describeTree(slow))
            ppmg::fuzz::bug("the fast XML scanner and libxml2 read different trees");
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::bug(std::string("the fast XML scanner accepted what libxml2 refuses: ") + e.what());
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzCcda)
