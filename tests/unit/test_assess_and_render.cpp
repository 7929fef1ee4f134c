// ABI 1.1's assess_and_render: the assessment and the document from one call, exactly what an
// assess call and a render call on the same request give; both or neither.
#include <cstddef>
#include <string>
#include <vector>

#include <ppmg/host/plugin_loader.hpp>
#include "ppmg/ppmg.hpp"
#include "support/fhir_builder.hpp"
#include "support/run_process.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

ppmg::Request requestFor(const std::string& data, ppmg_output_format format = PPMG_OUTPUT_DEFAULT) {
    ppmg::Request r;
    r.data = data;
    r.asOf = "2025-11-15";
    r.outputFormat = format;
    r.sourceName = "record.json";
    return r;
}

}  // namespace

TEST_CASE("assess_and_render: the same assessment and document as two calls", "[abi][both]") {
    ppmg::host::Plugin plugin(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    ppmg::Engine e(plugin.core());
    REQUIRE(e.hasAssessAndRender());
    const std::string sample = readText(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    Bundle escalated = Bundle::withBackground();
    escalated.procedure(kSct, "11466000", "2025-11-08T10:00:00Z").condition(kSct, "128053003");  // a DVT
    const std::vector<std::string> records = {sample, escalated.json()};
    for (const std::string& record : records) {
        for (ppmg_output_format format : {PPMG_OUTPUT_DEFAULT, PPMG_OUTPUT_CDA, PPMG_OUTPUT_HTML}) {
            const ppmg::Request r = requestFor(record, format);
            const ppmg::Engine::Both both = e.assessAndRender(r);
            ppmg::Request json = r;
            json.outputFormat = PPMG_OUTPUT_JSON;
            CHECK(both.assessment == e.assess(json));
            CHECK(normaliseDocument(both.document) == normaliseDocument(e.render(r)));
            CHECK(both.document.find(format == PPMG_OUTPUT_HTML ? "<html" : "<ClinicalDocument") != std::string::npos);
        }
    }
}

TEST_CASE("assess_and_render: a failure gives a status, an error and no buffer", "[abi][both]") {
    ppmg::host::Plugin plugin(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    const ppmg_core_api_v1& api = plugin.core();
    REQUIRE(PPMG_CORE_API_HAS(&api, assess_and_render));
    ppmg_engine* engine = nullptr;
    REQUIRE(api.engine_create(nullptr, &engine, nullptr) == PPMG_OK);
    const std::string sample = readText(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    ppmg_request req{};
    req.struct_size = sizeof req;
    req.data = sample.data();
    req.size = sample.size();
    req.as_of = "2025-11-15";

    ppmg_buffer sentinel{};
    struct Case {
        const char* what;
        const char* data;
        ppmg_output_format format;
        ppmg_status expected;
    };
    for (const Case& c :
         {Case{"broken JSON", "{\"resourceType\":", PPMG_OUTPUT_DEFAULT, PPMG_E_PARSE},
          Case{"no patient", "{\"resourceType\":\"Bundle\",\"entry\":[]}", PPMG_OUTPUT_DEFAULT, PPMG_E_NO_PATIENT},
          Case{"a JSON document", nullptr, PPMG_OUTPUT_JSON, PPMG_E_UNSUPPORTED},
          Case{"a text document", nullptr, PPMG_OUTPUT_TEXT, PPMG_E_UNSUPPORTED}}) {
        INFO(c.what);
        ppmg_request r = req;
        if (c.data != nullptr) {
            r.data = c.data;
            r.size = std::char_traits<char>::length(c.data);
        }
        r.output_format = c.format;
        ppmg_buffer* a = &sentinel;
        ppmg_buffer* d = &sentinel;
        ppmg_error* err = nullptr;
        CHECK(api.assess_and_render(engine, &r, &a, &d, &err) == c.expected);
        CHECK(a == nullptr);
        CHECK(d == nullptr);
        REQUIRE(err != nullptr);
        CHECK(err->status == c.expected);
        api.error_free(err);
    }
    // Misuse: the usual checks, in the usual order, then the second output pointer.
    ppmg_buffer* a = &sentinel;
    ppmg_buffer* d = &sentinel;
    CHECK(api.assess_and_render(nullptr, &req, &a, &d, nullptr) == PPMG_E_BAD_HANDLE);
    CHECK(api.assess_and_render(engine, nullptr, &a, &d, nullptr) == PPMG_E_INVALID_ARGUMENT);
    CHECK(api.assess_and_render(engine, &req, nullptr, &d, nullptr) == PPMG_E_INVALID_ARGUMENT);
    CHECK(api.assess_and_render(engine, &req, &a, nullptr, nullptr) == PPMG_E_INVALID_ARGUMENT);
    CHECK(api.assess_and_render(engine, &req, &a, &a, nullptr) == PPMG_E_INVALID_ARGUMENT);  // one pointer twice
    CHECK(a == nullptr);
    CHECK(d == nullptr);
    api.engine_destroy(engine);
    CHECK(api.assess_and_render(engine, &req, &a, &d, nullptr) == PPMG_E_BAD_HANDLE);
}

TEST_CASE("assess_and_render: the C++ wrapper falls back to two calls on a table without it", "[abi][both]") {
    ppmg::host::Plugin plugin(std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so");
    ppmg_core_api_v1 older = plugin.core();  // an ABI 1.0 table: the prefix before the new member
    older.struct_size = static_cast<uint32_t>(offsetof(ppmg_core_api_v1, assess_and_render));
    ppmg::Engine e(older);
    CHECK_FALSE(e.hasAssessAndRender());
    const std::string sample = readText(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    const ppmg::Request r = requestFor(sample);
    const ppmg::Engine::Both both = e.assessAndRender(r);
    ppmg::Request json = r;
    json.outputFormat = PPMG_OUTPUT_JSON;
    CHECK(both.assessment == e.assess(json));
    CHECK(normaliseDocument(both.document) == normaliseDocument(e.render(r)));
}

TEST_CASE("assess_and_render: an SDK 1.1 host loads an ABI 1.0 plugin and falls back to two calls", "[abi][both]") {
    ppmg::host::Plugin old(PPMG_STUB_PLUGIN_1_0);  // a plugin whose table ends before assess_and_render
    CHECK(old.entry().abi_version == ((1u << 16) | 0u));
    CHECK_FALSE(PPMG_ENTRY_HAS_1_2(&old.entry()));  // so the loader negotiated the 1.0 way, without init
    CHECK(old.abiVersion() == ((1u << 16) | 0u));
    CHECK_FALSE(PPMG_CORE_API_HAS(&old.core(), assess_and_render));
    ppmg::Engine e(old.core(), nullptr, old.abiVersion());
    CHECK_FALSE(e.hasAssessAndRender());
    ppmg::Request r;
    r.data = "{}";
    const ppmg::Engine::Both both = e.assessAndRender(r);
    CHECK(both.assessment == "{\"applicable\":true,\"stub\":\"abi 1.0\"}");
    CHECK(both.document == "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>");
    // A 1.2 request member is not sent to a plugin that would ignore it: refused on this side.
    r.audience = PPMG_AUDIENCE_PATIENT;
    try {
        e.assess(r);
        FAIL("a patient audience was sent to an ABI 1.0 plugin");
    } catch (const ppmg::Exception& ex) {
        CHECK(ex.status() == PPMG_E_UNSUPPORTED);
        CHECK_THAT(ex.what(), Catch::Contains("1.0") && Catch::Contains("audience"));
    }

    // The benchmark's default unit needs the 1.1 call, and says so; two calls work.
    const std::string sample = std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json";
    auto refused = runProcess({ppmgBinary(), "bench", "--plugin", PPMG_STUB_PLUGIN_1_0, "--iterations", "5", sample});
    CHECK(refused.status == 1);
    CHECK_THAT(refused.err, Catch::Contains("assess_and_render") && Catch::Contains("two-calls"));
    auto twoCalls = runProcess({ppmgBinary(), "bench", "--plugin", PPMG_STUB_PLUGIN_1_0, "--unit", "two-calls",
                                "--iterations", "5", "--warmup-ms", "1", "--no-floor", "--json", sample});
    CHECK(twoCalls.status == 0);
    CHECK_THAT(twoCalls.out, Catch::Contains("\"unit\":\"assess+render\""));
}
