// The three vignettes in ../shared/examples, with the outcomes their expected.json gives.
#include <simdjson.h>

#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;

TEST_CASE("The shared example vignettes give their expected outcomes and earliest dates", "[examples][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string dir = sharedDir() + "/examples/";
    simdjson::dom::parser parser;
    simdjson::padded_string expectedText(readText(dir + "expected.json"));
    simdjson::dom::object expected = parser.parse(expectedText).get_object();
    size_t checked = 0;
    for (auto [file, spec] : expected) {
        std::string name(file);
        INFO(name);
        std::string asOf(spec["asOf"].get_string().value());
        Assessment a = assessRecord(readText(dir + name), asOf);
        auto got = outcomes(a);
        for (auto [type, outcome] : spec["outcomes"].get_object()) {
            INFO(std::string(type));
            CHECK(got[std::string(type)] == std::string(outcome.get_string().value()));
        }
        for (auto [type, date] : spec["earliest"].get_object())
            CHECK(earliest(a, std::string(type)) == std::string(date.get_string().value()));
        // A type without an expected earliest date has none.
        for (const auto& t : content().massageTypes)
            if (spec["earliest"][t.code].error()) CHECK(earliest(a, t.code).empty());
        ++checked;
    }
    CHECK(checked == 3);
}
