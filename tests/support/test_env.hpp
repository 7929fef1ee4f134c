// Shared by the tests: the loaded content, a one-call assess, and ../shared discovery.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "assess/rule_engine.hpp"
#include "content/content.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"

namespace ppmg::core {}
namespace ppmg::test {
using namespace ppmg::core;  // the tests read the plugin's internals

const Content& content();

// Reads the record (JSON or XML), chooses the patient and assesses it as of the date.
Assessment assessRecord(const std::string& record, const std::string& asOf, const std::string& patientId = "");

// The C-CDA twin of a FHIR JSON vignette (support/fhir_ccda_convert.hpp, with the content's OIDs),
// read and compared with the FHIR reading: the same outcomes always; when the document carries
// exactly the record's facts, also the same facts (comparableFacts), findings and data gaps.
// Returns false, checking nothing, when C-CDA cannot carry the record (several patients, a fact
// whose subject is not the patient).
bool checkCcdaTwin(const std::string& json, const PatientRecord& fhir, const Assessment& fhirAssessment,
                   const std::string& asOf);
// describeFacts(record, false), one fact a line, sorted, with the verification statuses C-CDA has no
// words for (confirmed, unconfirmed, provisional, differential: all count alike) read as absent.
std::string comparableFacts(const PatientRecord& record);
// Outcomes, findings (rule, outcome, types) and data gaps, one a line: what two readings of one
// record must share.
std::string assessmentSummary(const Assessment& a);
// The content's OID of a FHIR code system uri ("" when it has none).
std::string oidOf(std::string_view uri);
// The checks of a JSON record's HL7 v2 twin (assessRecord runs them for every JSON vignette), and
// how many vignettes had one.
void checkHl7v2Twin(const std::string& json, const PatientRecord& fhir, const Assessment& fhirAssessment, Date asOf);
size_t& hl7v2TwinCount();

// Outcome code per massage type code, e.g. {"abdominal": "defer", ...}.
std::map<std::string, std::string> outcomes(const Assessment& a);
std::string earliest(const Assessment& a, const std::string& type);  // "" when none
bool hasFinding(const Assessment& a, const std::string& ruleId);
bool hasGap(const Assessment& a, const std::string& gapId);

// The absolute path of ../shared, or "" when absent (then the caller skips with a notice).
std::string sharedDir();
std::string readText(const std::string& path);

// A rendered document with the two fields that differ on every render replaced: its random id (a
// UUID -> "UUID") and its creation time (the header's effectiveTime and the author's time -> "TIME",
// and the HTML page's "Document created").
std::string normaliseDocument(const std::string& out);

}  // namespace ppmg::test

namespace Catch {
template <>
struct StringMaker<std::map<std::string, std::string>> {
    static std::string convert(const std::map<std::string, std::string>& m) {
        std::string s = "{";
        for (const auto& kv : m) s += (s.size() > 1 ? ", " : "") + kv.first + ": " + kv.second;
        return s + "}";
    }
};
}  // namespace Catch

// Skips the current test, visibly, when ../shared is absent.
#define PPMG_REQUIRE_SHARED()                                         \
    do {                                                              \
        if (ppmg::test::sharedDir().empty()) {                        \
            WARN("SKIPPED: ../shared is absent; this test needs it"); \
            return;                                                   \
        }                                                             \
    } while (0)
