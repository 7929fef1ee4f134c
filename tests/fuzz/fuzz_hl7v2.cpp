// libFuzzer target: the HL7 v2 parser, through readRecord's checks (size, NUL, UTF-8), then the
// mapping (any patient).
#include <string_view>

#include "fuzz_common.hpp"
#include "read/record_reader.hpp"

int ppmgFuzzHl7v2(const uint8_t* data, size_t size) {
    ppmg::core::ReadLimits limits;
    limits.maxStringBytes = 4096;  // small limits, so the fuzzer reaches them
    limits.maxResources = 64;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        ppmg::core::RawRecord r = ppmg::core::readRecord(input, PPMG_INPUT_HL7V2, limits, "fuzz.hl7");
        if (r.resourceCount > limits.maxResources) ppmg::fuzz::bug("the resource limit was not enforced");
        for (const auto& p : r.patients)
            if (p.fullUrl.empty()) ppmg::fuzz::bug("a v2 Patient without its fullUrl");
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::checkRefusal(e);
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzHl7v2)
