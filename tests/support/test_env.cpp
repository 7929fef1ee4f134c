#include "support/test_env.hpp"

#include "guidance_engine.hpp"
#include "support/fhir_xml_convert.hpp"

#include <sys/stat.h>
#include <fstream>
#include <iterator>
#include <regex>

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
    if (record.find_first_not_of(" \t\r\n") != std::string::npos &&
        record[record.find_first_not_of(" \t\r\n")] == '{') {
        // Every JSON vignette is also a parity check: the same record as FHIR XML gives the same facts.
        const std::string xml = fhirJsonToXml(record);
        PatientRecord twin =
            mapRecord(readRecord(xml, PPMG_INPUT_FHIR_XML, ReadLimits{}, "vignette"), patientId, content(), "vignette");
        INFO("the vignette as FHIR XML:\n" << xml);
        CHECK(describeFacts(twin) == describeFacts(rec));
    }
    auto d = parseIsoDate(asOf);
    REQUIRE(d.has_value());
    return assess(content(), rec, *d);
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
