// `ppmg bench`, run as a user would: the shape of its --json output and its usage errors. A few
// dozen documents only; the timings themselves are for bench/run_bench.sh.
#include <algorithm>
#include <regex>
#include <string>

#include "support/run_process.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

const std::string kSample = std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json";

// The number after "key": in a one-line JSON object (the first one: nested objects come last).
double number(const std::string& json, const std::string& key) {
    std::smatch m;
    if (!std::regex_search(json, m, std::regex("\"" + key + "\":(-?[0-9]+(\\.[0-9]+)?)"))) return -1;
    return std::stod(m[1].str());
}

}  // namespace

TEST_CASE("CLI: bench --json prints one object with latency, throughput, memory and the floor", "[cli][bench]") {
    auto r = runProcess({ppmgBinary(), "bench", "--json", "--iterations", "50", "--warmup-ms", "20", "--as-of",
                         "2025-11-15", "--unit", "two-calls", kSample});
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    INFO(r.out);
    CHECK_THAT(r.out, Catch::StartsWith("{\"p50_us\":"));
    CHECK_THAT(r.out, Catch::EndsWith("}\n"));
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    for (const char* key : {"p50_us", "p99_us", "docs_per_s", "peak_rss_kb", "p90_us", "mean_us", "assess_p50_us",
                            "render_p50_us", "bytes_out_per_doc", "plugin_load_ms", "engine_create_ms", "rss_start_kb",
                            "rss_end_kb", "read_p50_us", "write_p50_us", "total_p50_us", "ratio"})
        CHECK(number(r.out, key) >= 0);
    CHECK(number(r.out, "iterations") == 50);
    CHECK(number(r.out, "threads") == 1);
    CHECK(number(r.out, "p50_us") > 0);
    CHECK(number(r.out, "p99_us") >= number(r.out, "p50_us"));
    CHECK(number(r.out, "docs_per_s") > 0);
    CHECK(number(r.out, "bytes_out_per_doc") > 1000);
    CHECK_THAT(r.out, Catch::Contains("\"unit\":\"assess+render\""));
    CHECK_THAT(r.out, Catch::Contains("\"as_of\":\"2025-11-15\""));
}

TEST_CASE("CLI: bench's default unit is one assess_and_render call, with both outputs", "[cli][bench]") {
    auto r = runProcess({ppmgBinary(), "bench", "--json", "--iterations", "30", "--warmup-ms", "20", "--as-of",
                         "2025-11-15", "--no-floor", kSample});
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK_THAT(r.out, Catch::Contains("\"unit\":\"assess_and_render\""));
    CHECK(number(r.out, "p50_us") > 0);
    CHECK(number(r.out, "render_p50_us") == -1);  // one call: nothing to time apart
    CHECK(number(r.out, "assess_p50_us") == -1);
    // Both outputs are counted: the CDA and the JSON of each document.
    CHECK(number(r.out, "bytes_out_per_doc") == number(r.out, "cda_bytes_mean") + number(r.out, "json_bytes_mean"));
}

TEST_CASE("CLI: bench --unit render times the render call alone, here on several threads", "[cli][bench]") {
    auto r = runProcess({ppmgBinary(), "bench", "--json", "--iterations", "40", "--warmup-ms", "20", "--threads", "2",
                         "--unit", "render", "--no-floor", kSample, kSample});
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK_THAT(r.out, Catch::Contains("\"unit\":\"render\""));
    CHECK(number(r.out, "threads") == 2);
    CHECK(number(r.out, "files") == 2);
    CHECK(number(r.out, "assess_p50_us") == -1);  // not measured
    CHECK(number(r.out, "document_p50_us") == -1);
    CHECK(number(r.out, "render_p50_us") == number(r.out, "p50_us"));
    CHECK_THAT(r.out, !Catch::Contains("\"floor\""));
}

TEST_CASE("CLI: bench refuses bad usage and unreadable files with exit 2", "[cli][bench]") {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"bench"},
                                                 {"bench", "--iterations", "0", kSample},
                                                 {"bench", "--threads", "x", kSample},
                                                 {"bench", "--unit", "assess", kSample},
                                                 {"bench", "--as-of", "15/11/2025", kSample},
                                                 {"bench", "/no/such/file.json"}}) {
        std::vector<std::string> argv{ppmgBinary()};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = runProcess(argv);
        const std::string shown = args.size() > 1 ? args[1] : args[0];
        INFO(shown);
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        CHECK_THAT(r.err, Catch::StartsWith("ppmg: "));
    }
}
