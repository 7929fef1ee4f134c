// libFuzzer target: the FHIR XML reader, through readRecord's checks (size, NUL, UTF-8).
#include <string_view>

#include "fuzz_common.hpp"
#include "read/record_reader.hpp"

int ppmgFuzzFhirXml(const uint8_t* data, size_t size) {
    ppmg::core::ReadLimits limits;
    limits.maxStringBytes = 4096;
    limits.maxResources = 64;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        ppmg::core::RawRecord r = ppmg::core::readRecord(input, PPMG_INPUT_FHIR_XML, limits, "fuzz.xml");
        if (r.patients.empty()) ppmg::fuzz::bug("a record without a Patient was accepted");
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::checkRefusal(e);
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzFhirXml)
