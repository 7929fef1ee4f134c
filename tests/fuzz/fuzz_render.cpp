// libFuzzer target: the whole request, read -> choose patient -> assess -> write, on one engine.
// The first byte picks the output; the rest is the record. Every document written must be
// well-formed XML (or JSON), and the engine must give the same result again.
#include <libxml/parser.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "guidance_engine.hpp"

namespace {

const ppmg::core::GuidanceEngine& engine() {
    static const ppmg::core::GuidanceEngine e([] {
        ppmg::core::EngineConfig c;
        c.contentDir = PPMG_SOURCE_CONTENT_DIR;  // the fuzzers link the core, not the plugin
        c.limits.maxStringBytes = 4096;
        c.limits.maxResources = 64;
        return c;
    }());
    return e;
}

void checkXml(const std::string& doc) {
    xmlDocPtr d = xmlReadMemory(doc.data(), static_cast<int>(doc.size()), "out.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) ppmg::fuzz::bug("the CDA document is not well-formed XML");
    xmlFreeDoc(d);
}

void checkJson(const std::string& doc) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(doc).get(root)) ppmg::fuzz::bug("the assessment is not well-formed JSON");
}

}  // namespace

int ppmgFuzzRender(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static const ppmg_output_format kFormats[] = {PPMG_OUTPUT_CDA,  PPMG_OUTPUT_JSON, PPMG_OUTPUT_TEXT,
                                                  PPMG_OUTPUT_CDA,  PPMG_OUTPUT_JSON, PPMG_OUTPUT_CDA,
                                                  PPMG_OUTPUT_JSON, PPMG_OUTPUT_HTML};
    const ppmg_output_format format = kFormats[data[0] & 7];
    ppmg::core::RequestSpec r;
    r.data = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
    r.asOf = (data[0] & 8) ? "2025-06-01" : "2025-11-15";
    r.outputFormat = format;
    r.sourceName = "fuzz";
    const bool render = format == PPMG_OUTPUT_CDA || format == PPMG_OUTPUT_HTML;
    try {
        std::string out = render ? engine().render(r) : engine().assess(r);
        if (out.empty()) ppmg::fuzz::bug("an empty document");
        if (format == PPMG_OUTPUT_CDA) checkXml(out);
        if (format == PPMG_OUTPUT_JSON) {
            checkJson(out);
            if (engine().assess(r) != out) ppmg::fuzz::bug("the same request gave another assessment");
        }
    } catch (const ppmg::core::Error& e) {
        ppmg::fuzz::checkRefusal(e);
    }
    return 0;
}

PPMG_FUZZ_TARGET(ppmgFuzzRender)
