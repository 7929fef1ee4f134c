// The `ppmg` command line, run as a user would: outputs, exit statuses and messages.
#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "support/run_process.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

const std::string kSample = std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json";

std::string tempPath(const std::string& name) { return "/tmp/ppmg-test-" + std::to_string(::getpid()) + "-" + name; }

void writeText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

size_t lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

TEST_CASE("CLI: assess prints one JSON object with the sample patient's outcomes", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", kSample});
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Catch::StartsWith("{\"applicable\":true,\"asOf\":\"2025-11-15\",\"postpartumDay\":44,"
                                        "\"deliveryMode\":\"caesarean\""));
    for (const char* type : {"abdominal", "low-back", "breast", "shoulder-neck"})
        CHECK_THAT(r.out, Catch::Contains(std::string("\"") + type + "\":{\"outcome\":\"modify\""));
    for (const auto& t : content().massageTypes)
        CHECK_THAT(r.out, Catch::Contains("\"display\":\"" + t.display + "\""));
    CHECK_THAT(r.out, Catch::Contains("\"content\":{\"version\":\"" + content().version + "\",\"sha256\":\"" +
                                      content().sha256 + "\",\"signOff\":\"" + content().signOffStatus + "\""));
}

TEST_CASE("CLI: the text format says the outcomes, the reasons and the gaps in plain words", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "--format", "text", kSample});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("postpartum day 44"));
    CHECK_THAT(r.out, Catch::Contains("Abdominal"));
    CHECK_THAT(r.out, Catch::Contains("PPM-PREC-01"));
    CHECK_THAT(r.out, Catch::Contains("Missing data"));
}

TEST_CASE("CLI: render writes a CDA document to stdout or atomically to -o", "[cli]") {
    auto r = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", kSample});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith("<?xml"));
    CHECK_THAT(r.out, Catch::Contains("<ClinicalDocument"));
    const std::string out = tempPath("doc.xml");
    auto w = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", out, kSample});
    REQUIRE(w.status == 0);
    CHECK(w.out.empty());
    CHECK_THAT(readText(out), Catch::Contains("massage-outcome"));
    std::remove(out.c_str());
}

TEST_CASE("CLI: bad input exits 2 with one line naming the file, and no document", "[cli][errors]") {
    const std::string truncated = tempPath("truncated.json");
    writeText(truncated, R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Pat)");
    const std::string notFhir = tempPath("notfhir.json");
    writeText(notFhir, R"({"name":"not a FHIR resource"})");
    const std::string noPatient = tempPath("obs.json");
    writeText(noPatient, R"({"resourceType":"Observation","id":"o1","status":"final"})");
    const std::string target = tempPath("never.xml");
    for (const auto& file : {truncated, notFhir, noPatient, std::string("/nonexistent/record.json")}) {
        INFO(file);
        for (const char* cmd : {"assess", "render"}) {
            auto r = runProcess({ppmgBinary(), cmd, "--as-of", "2025-11-15", "-o", target, file});
            CHECK(r.status == 2);
            CHECK(r.out.empty());
            CHECK(lines(r.err) == 1);
            CHECK_THAT(r.err, Catch::StartsWith("ppmg: " + file + ": "));
            std::ifstream never(target);
            CHECK_FALSE(never.good());
        }
    }
    for (const auto& f : {truncated, notFhir, noPatient}) std::remove(f.c_str());
}

TEST_CASE("CLI: usage errors exit 2 with a plain message", "[cli][errors]") {
    CHECK(runProcess({ppmgBinary(), "assess"}).status == 2);
    CHECK(runProcess({ppmgBinary(), "frobnicate"}).status == 2);
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "15/11/2025", kSample});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("YYYY-MM-DD"));
    CHECK(runProcess({ppmgBinary(), "render", "--bogus", kSample}).status == 2);
}

TEST_CASE("CLI: --plugin overrides where the plugin is found, and a wrong one is reported", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--plugin", "/nonexistent/libppmg_plugin.so", kSample});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("plugin not found"));
    auto ok = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "--plugin",
                          std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so", kSample});
    CHECK(ok.status == 0);
}

TEST_CASE("CLI: reads the record from stdin with '-'", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "-"}, readText(kSample));
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("\"postpartumDay\":44"));
}

TEST_CASE("CLI: validate accepts our document and rejects one that breaks the schema", "[cli][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string xsd = sharedDir() + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
    const std::string doc = tempPath("valid.xml");
    REQUIRE(runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", doc, kSample}).status == 0);
    auto ok = runProcess({ppmgBinary(), "validate", "--schema", xsd, doc});
    CHECK(ok.status == 0);
    std::string broken = readText(doc);
    broken.replace(broken.find("<title>"), 7, "<bogus/><title>");
    writeText(doc, broken);
    auto bad = runProcess({ppmgBinary(), "validate", "--schema", xsd, doc});
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Catch::Contains("bogus"));
    std::remove(doc.c_str());
}
