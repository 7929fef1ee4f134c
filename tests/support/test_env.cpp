#include "support/test_env.hpp"

#include "fhir_to_hl7v2.hpp"
#include "guidance_engine.hpp"
#include "support/fhir_ccda_convert.hpp"
#include "support/fhir_xml_convert.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

namespace ppmg::test {

namespace {
// The tests link the plugin's core, not the plugin: they say where the plugin is, as a host's init
// call would, so an engine made with no content folder finds the build tree's copy of the content
// beside it (<build>/bin/../share/ppmg/content), as the plugin does.
const bool kPluginPathSet = [] {
    ppmg::core::setPluginPath(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    return true;
}();
}  // namespace

const Content& content() {
    static std::shared_ptr<const Content> c = loadContent(PPMG_SOURCE_CONTENT_DIR);
    return *c;
}

Assessment assessRecord(const std::string& record, const std::string& asOf, const std::string& patientId) {
    RawRecord raw = readRecord(record, PPMG_INPUT_AUTO, ReadLimits{}, "vignette");
    PatientRecord rec = mapRecord(std::move(raw), patientId, content(), "vignette");
    const bool isJson =
        record.find_first_not_of(" \t\r\n") != std::string::npos && record[record.find_first_not_of(" \t\r\n")] == '{';
    if (isJson) {
        // Every JSON vignette is also a parity check: the same record as FHIR XML gives the same facts.
        const std::string xml = fhirJsonToXml(record);
        PatientRecord twin =
            mapRecord(readRecord(xml, PPMG_INPUT_FHIR_XML, ReadLimits{}, "vignette"), patientId, content(), "vignette");
        INFO("the vignette as FHIR XML:\n" << xml);
        CHECK(describeFacts(twin) == describeFacts(rec));
    }
    auto d = parseIsoDate(asOf);
    REQUIRE(d.has_value());
    Assessment a = assess(content(), rec, *d);
    if (isJson) checkHl7v2Twin(record, rec, a, *d);
    if (isJson) checkCcdaTwin(record, rec, a, asOf);  // and as C-CDA too
    return a;
}

std::string oidOf(std::string_view uri) {
    const CodeSystem* s = content().systemByUri(uri);
    return s ? s->oid : std::string();
}

std::string comparableFacts(const PatientRecord& record) {
    std::istringstream in(describeFacts(record, false));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        for (const char* v : {"confirmed", "unconfirmed", "provisional", "differential"}) {
            const std::string from = std::string(" verification=read:") + v + " ";
            for (size_t at; (at = line.find(from)) != std::string::npos;)
                line.replace(at, from.size(), " verification=absent ");
        }
        lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

std::string assessmentSummary(const Assessment& a) {
    std::string out;
    for (const auto& kv : outcomes(a)) out += "outcome " + kv.first + " " + kv.second + "\n";
    std::vector<std::string> lines;
    for (const auto& f : a.findings) {
        std::string l = "finding " + f.rule->id + " " + outcomeCode(f.outcome);
        for (size_t t : f.types) l += " " + content().massageTypes[t].code;
        lines.push_back(l);
    }
    for (const auto& g : a.dataGaps) lines.push_back("gap " + g.id);
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) out += l + "\n";
    return out;
}

bool checkCcdaTwin(const std::string& json, const PatientRecord& fhir, const Assessment& fhirAssessment,
                   const std::string& asOf) {
    CcdaConversion twin;
    try {
        twin = fhirJsonToCcda(json, oidOf);
    } catch (const NotExpressible&) {
        return false;
    }
    INFO("the vignette as C-CDA" << (twin.exact ? "" : " (not exactly: " + twin.losses + ")") << ":\n" << twin.xml);
    PatientRecord rec =
        mapRecord(readRecord(twin.xml, PPMG_INPUT_AUTO, ReadLimits{}, "vignette.ccda"), "", content(), "vignette.ccda");
    const Assessment a = assess(content(), rec, *parseIsoDate(asOf));
    CHECK(outcomes(a) == outcomes(fhirAssessment));
    if (twin.exact) {
        CHECK(comparableFacts(rec) == comparableFacts(fhir));
        CHECK(assessmentSummary(a) == assessmentSummary(fhirAssessment));
    }
    return true;
}

namespace {
std::vector<std::string> ruleIds(const Assessment& a) {
    std::vector<std::string> ids;
    for (const auto& f : a.findings) ids.push_back(f.rule->id);
    std::sort(ids.begin(), ids.end());
    return ids;
}
}  // namespace

// The HL7 v2 twin of a JSON record (bench/fhir_to_hl7v2.hpp), when v2 can carry it: the same
// outcomes and findings; and, when the twin carries the same facts, the same facts (sources aside,
// which v2 names otherwise) up to what v2 spells otherwise: PID-3 carries a Patient without
// identifiers by its id; a completed Procedure is a PR1 (no status); an allergy clinically active
// is an IAM without a clinical status.
void checkHl7v2Twin(const std::string& json, const PatientRecord& fhir, const Assessment& fhirAssessment, Date asOf) {
    const auto v2 = ppmg::bench::fhirJsonToHl7v2(json);
    if (!v2) return;
    ++hl7v2TwinCount();
    INFO("the vignette as HL7 v2:\n"
         << [&] {
                std::string s = v2->messages;
                std::replace(s.begin(), s.end(), '\r', '\n');
                return s;
            }());
    PatientRecord twin =
        mapRecord(readRecord(v2->messages, PPMG_INPUT_HL7V2, ReadLimits{}, "vignette.hl7"), "", content(), "vignette");
    const Assessment b = assess(content(), twin, asOf);
    CHECK(outcomes(b) == outcomes(fhirAssessment));
    CHECK(ruleIds(b) == ruleIds(fhirAssessment));
    if (!v2->sameFacts) return;
    PatientRecord spelled = fhir;
    for (auto& p : spelled.procedures)
        if (std::string_view(p.status) == "completed") p.status = "";
    for (auto& al : spelled.allergies)
        if (al.clinicalStatus.state == StatusReading::State::Read &&
            std::string_view(al.clinicalStatus.code) == "active")
            al.clinicalStatus = StatusReading{};
    if (fhir.patient.identifiers.empty() && twin.patient.identifiers.size() == 1 &&
        twin.patient.identifiers[0].system.empty() && twin.patient.identifiers[0].value == fhir.patient.source.id)
        twin.patient.identifiers.clear();
    CHECK(describeFacts(twin, false) == describeFacts(spelled, false));
}

size_t& hl7v2TwinCount() {
    static size_t n = 0;
    return n;
}

std::map<std::string, std::string> outcomes(const Assessment& a) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < a.massages.size(); ++i)
        out[content().massageTypes[i].code] = outcomeCode(a.massages[i].outcome);
    return out;
}

std::string earliest(const Assessment& a, const std::string& type) {
    for (size_t i = 0; i < a.massages.size(); ++i)
        if (content().massageTypes[i].code == type && a.massages[i].earliestDate)
            return formatIsoDate(*a.massages[i].earliestDate);
    return "";
}

bool hasFinding(const Assessment& a, const std::string& ruleId) {
    for (const auto& f : a.findings)
        if (f.rule->id == ruleId) return true;
    return false;
}

bool hasGap(const Assessment& a, const std::string& gapId) {
    for (const auto& g : a.dataGaps)
        if (g.id == gapId) return true;
    return false;
}

std::string sharedDir() {
    struct stat st {};
    std::string dir = PPMG_SHARED_DIR;
    if (::stat((dir + "/docs/clinical-rules.md").c_str(), &st) != 0) return "";
    return dir;
}

std::string normaliseDocument(const std::string& out) {
    static const std::regex uuid("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    static const std::regex created("[0-9]{14}\\+0000");
    static const std::regex shown("(Document created: </span>)(<time[^>]*>[^<]*</time>|[^<]*)");
    return std::regex_replace(std::regex_replace(std::regex_replace(out, uuid, "UUID"), created, "TIME"), shown,
                              "$1TIME");
}

std::string readText(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f.good());
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace ppmg::test
