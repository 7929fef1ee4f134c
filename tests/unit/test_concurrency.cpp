// One engine shared by a host's worker pool: thousands of mixed assess and render calls on 8
// threads, through the real plugin, each compared with the single-threaded result.
#include <dirent.h>
#include <atomic>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <ppmg/host/plugin_loader.hpp>
#include "ppmg/ppmg.hpp"
#include "support/fhir_builder.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

struct Job {
    std::string name;
    std::string data;
    bool render = false;
    ppmg_output_format format = PPMG_OUTPUT_DEFAULT;
    std::string patientId;
};

// The result of a job as text: the normalised output, or the status and message of the failure.
std::string perform(const ppmg::Engine& engine, const Job& job) {
    ppmg::Request r;
    r.data = job.data;
    r.asOf = "2025-11-15";
    r.outputFormat = job.format;
    r.patientId = job.patientId;
    r.sourceName = job.name;
    try {
        return normaliseDocument(job.render ? engine.render(r) : engine.assess(r));
    } catch (const ppmg::Exception& e) {
        return "error " + std::to_string(e.status()) + ": " + e.what() + " @" + e.fhirPath() + ":" +
               std::to_string(e.line());
    }
}

std::vector<std::string> records(std::vector<std::string>& names) {
    std::vector<std::string> out;
    auto add = [&](const std::string& name, const std::string& data) {
        names.push_back(name);
        out.push_back(data);
    };
    add("sample", readText(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json"));
    // Vignettes with different outcomes: deferral, escalation, a caesarean with a wound.
    add("vaginal-day-3", Bundle::withBackground().procedure(kSct, "177184002", "2025-11-12").json());
    add("fever", Bundle::withBackground()
                     .procedure(kSct, "177184002", "2025-10-20")
                     .quantity("8310-5", 38.9, "Cel", "2025-11-14")
                     .json());
    add("dvt", Bundle::withBackground().procedure(kSct, "11466000", "2025-10-01").condition(kSct, "128053003").json());
    add("caesarean-wound", Bundle::withBackground()
                               .procedure(kSct, "11466000", "2025-10-01")
                               .woundStatus("healed", "2025-11-01")
                               .bloodPressure(150, 95, "2025-11-14")
                               .json());
    add("xml",
        "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"collection\"/><entry><resource><Patient>"
        "<id value=\"x1\"/><gender value=\"female\"/><birthDate value=\"1991-03-04\"/></Patient></resource>"
        "</entry><entry><resource><Procedure><id value=\"d\"/><status value=\"completed\"/><code><coding>"
        "<system value=\"http://snomed.info/sct\"/><code value=\"177184002\"/></coding></code><subject>"
        "<reference value=\"Patient/x1\"/></subject><performedDateTime value=\"2025-11-01\"/></Procedure>"
        "</resource></entry></Bundle>");
    // Failures, which must be as deterministic as successes.
    add("truncated", R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Pat)");
    add("not-fhir", R"({"name":"x"})");
    add("dtd", "<!DOCTYPE Patient [<!ENTITY a \"b\">]><Patient xmlns=\"http://hl7.org/fhir\"/>");
    add("no-patient", R"({"resourceType":"Observation","id":"o"})");
    add("deep", "{\"resourceType\":\"Patient\",\"x\":" + std::string(200, '[') + std::string(200, ']') + "}");
    const std::string shared = sharedDir();
    if (!shared.empty()) {
        for (const char* f :
             {"caesarean-day-31-wound-healed.json", "vaginal-day-25-fever-tachycardia.json", "vaginal-day-6.xml"})
            add(f, readText(shared + "/examples/" + f));
    }
    return out;
}

}  // namespace

TEST_CASE("Concurrency: 8 threads share one engine and each result equals the single-threaded one", "[concurrency]") {
    ppmg::host::Plugin plugin(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    const ppmg::Engine engine(plugin.core());

    std::vector<std::string> names;
    const std::vector<std::string> data = records(names);
    std::vector<Job> jobs;
    for (size_t i = 0; i < data.size(); ++i) {
        jobs.push_back({names[i], data[i], false, PPMG_OUTPUT_JSON, ""});
        jobs.push_back({names[i], data[i], false, PPMG_OUTPUT_TEXT, ""});
        jobs.push_back({names[i], data[i], true, PPMG_OUTPUT_CDA, ""});
        jobs.push_back({names[i], data[i], true, PPMG_OUTPUT_HTML, ""});
    }
    jobs.push_back({"sample-by-id", data[0], true, PPMG_OUTPUT_CDA, "no-such-patient"});

    // The single-threaded results, twice: they must already agree with themselves.
    std::vector<std::string> expected;
    for (const auto& job : jobs) expected.push_back(perform(engine, job));
    for (size_t j = 0; j < jobs.size(); ++j) REQUIRE(perform(engine, jobs[j]) == expected[j]);
    size_t failures = 0;
    for (const auto& e : expected) failures += e.rfind("error ", 0) == 0;
    REQUIRE(failures >= 5);
    REQUIRE(failures < expected.size());

    constexpr int kThreads = 8;
    constexpr int kPerThread = 400;  // 3,200 calls in all
    std::atomic<int> mismatches{0}, done{0};
    std::mutex firstMutex;
    std::string first;  // the first mismatch, for the report
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t) {
        pool.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            // Each thread walks the jobs in its own order, so different jobs overlap.
            size_t k = static_cast<size_t>(t) * 7919u;
            for (int i = 0; i < kPerThread; ++i) {
                k = (k * 1103515245u + 12345u) & 0x7fffffffu;
                const size_t j = k % jobs.size();
                const std::string got = perform(engine, jobs[j]);
                if (got != expected[j]) {
                    if (mismatches.fetch_add(1) == 0) {
                        std::lock_guard<std::mutex> lock(firstMutex);
                        first = jobs[j].name + " (" + std::to_string(jobs[j].format) + "):\n" + got.substr(0, 400) +
                                "\nexpected:\n" + expected[j].substr(0, 400);
                    }
                }
                ++done;
            }
        });
    }
    go = true;
    for (auto& th : pool) th.join();
    INFO(first);
    CHECK(done.load() == kThreads * kPerThread);
    CHECK(mismatches.load() == 0);
}

TEST_CASE("Concurrency: engines created and destroyed while others render", "[concurrency]") {
    ppmg::host::Plugin plugin(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    const ppmg::Engine shared(plugin.core());
    const std::string sample = readText(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    ppmg::Request r;
    r.data = sample;
    r.asOf = "2025-11-15";
    r.outputFormat = PPMG_OUTPUT_JSON;
    const std::string expected = shared.assess(r);
    std::atomic<int> wrong{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                if (t % 2 == 0) {
                    ppmg::Engine own(plugin.core());  // its own content load, then destroy
                    if (own.assess(r) != expected) ++wrong;
                } else if (shared.assess(r) != expected) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    CHECK(wrong.load() == 0);
}
