// The content's code index: for any coding, the mask of the value sets that hold it must say exactly
// what asking each value set would say.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "content/content.hpp"

using namespace ppmg::core;

namespace {

struct Probe {
    std::string system, code;
};

// Every code of every value set, the same codes with dots moved or a character changed, and codes
// under systems the sets do not name.
std::vector<Probe> probesFor(const std::unordered_map<std::string, ValueSet>& sets) {
    std::vector<Probe> out;
    for (const auto& kv : sets) {
        for (const auto& [system, codes] : kv.second.exact)
            for (std::string_view code : codes) {
                out.push_back({std::string(system), std::string(code)});
                out.push_back({std::string(system), std::string(code) + "0"});
                out.push_back({std::string(system), std::string(code.substr(0, code.size() - 1))});
                out.push_back({"urn:other", std::string(code)});
            }
        for (const auto& [system, prefixes] : kv.second.prefixes)
            for (std::string_view prefix : prefixes) {
                const std::string p(prefix);
                out.push_back({std::string(system), p});
                out.push_back({std::string(system), p.substr(0, 1) + "." + p.substr(1)});
                out.push_back({std::string(system), p + ".9"});
                out.push_back({std::string(system), p.substr(0, p.size() - 1)});
                out.push_back({std::string(system), "Z" + p});
            }
    }
    out.push_back({"", ""});
    return out;
}

void checkAgrees(const std::unordered_map<std::string, ValueSet>& sets, const CodeIndex& index) {
    for (const Probe& p : probesFor(sets)) {
        const CodeIndex::Mask m = index.mask(p.system, p.code);
        for (const auto& kv : sets) {
            const ValueSet& vs = kv.second;
            const bool direct = codingInValueSet(vs, p.system, p.code);
            INFO(vs.id << " " << p.system << "|" << p.code);
            if (CodeIndex::indexed(vs)) REQUIRE(((m & CodeIndex::bit(vs)) != 0) == direct);
        }
    }
}

}  // namespace

TEST_CASE("code index: agrees with every value set of the real content", "[content][index]") {
    std::shared_ptr<const Content> c = loadContent(PPMG_SOURCE_CONTENT_DIR);
    REQUIRE(c->valueSets.size() <= CodeIndex::kBits);  // all indexed today
    for (const auto& kv : c->valueSets) CHECK(CodeIndex::indexed(kv.second));
    checkAgrees(c->valueSets, c->codeIndex);
}

TEST_CASE("code index: value sets past the mask's width are left to direct lookup", "[content][index]") {
    std::unordered_map<std::string, ValueSet> sets;
    for (int i = 0; i < 70; ++i) {
        char id[8];
        std::snprintf(id, sizeof id, "vs%02d", i);
        ValueSet& vs = sets[id];
        vs.id = id;
        vs.addCode("http://snomed.info/sct", std::to_string(1000 + i));
        vs.addCode("http://snomed.info/sct", "shared");
        vs.addPrefix("http://hl7.org/fhir/sid/icd-10-cm", "O" + std::to_string(10 + i));
    }
    CodeIndex index;
    index.build(sets);
    size_t indexed = 0;
    for (const auto& kv : sets) indexed += CodeIndex::indexed(kv.second) ? 1 : 0;
    CHECK(indexed == CodeIndex::kBits);
    CHECK_FALSE(CodeIndex::indexed(sets.at("vs69")));  // numbered in id order
    CHECK(CodeIndex::indexed(sets.at("vs00")));
    CHECK(index.mask("http://snomed.info/sct", "shared") == ~CodeIndex::Mask{0});
    CHECK(index.mask("http://snomed.info/sct", "1003") == CodeIndex::bit(sets.at("vs03")));
    CHECK(index.mask("http://hl7.org/fhir/sid/icd-10-cm", "O1.2.3") == CodeIndex::bit(sets.at("vs02")));
    CHECK(index.mask("http://hl7.org/fhir/sid/icd-10-cm", "O79") == 0);  // vs69: not indexed
    checkAgrees(sets, index);
}
