// libFuzzer target: the FHIR JSON reader, through readRecord's checks (size, NUL, UTF-8).
#include <string_view>

#include "fuzz_common.hpp"
#include "read/record_reader.hpp"

int ppmgFuzzFhirJson(const uint8_t* data, size_t size) {
    ppmg::core::ReadLimits limits;
    limits.maxStringBytes = 4096;  // small limits, so the fuzzer reaches them
    limits.maxResources = 64;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        ppmg::core::RawRecord r = ppmg::core::readRecord(input, PPMG_INPUT_FHIR_JSON, limits, "fuzz.json");
        if (r.patients.empty()) ppmg::fuzz::bug("a record without a Patient was accepted");
        if (r.resourceCount > limits.maxResources) ppmg::fuzz::bug("the resource limit was not enforced");
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::checkRefusal(e);
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzFhirJson)
