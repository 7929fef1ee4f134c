// The engine behind the C ABI: content loaded once, then read -> assess -> write per request.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "content/content.hpp"
#include "ppmg/ppmg.h"
#include "read/record_reader.hpp"

namespace ppmg::core {

struct CdaFragments;  // write/cda_writer.hpp
class HtmlView;       // write/html_view.hpp

struct EngineConfig {
    std::string contentDir;  // "" = beside the plugin, else the source tree's content/
    std::string custodianName = "ppmg";
    std::string custodianOid = PPMG_OID_ROOT;
    ReadLimits limits;
};

struct RequestSpec {
    std::string_view data;
    ppmg_input_format inputFormat = PPMG_INPUT_AUTO;
    ppmg_output_format outputFormat = PPMG_OUTPUT_DEFAULT;
    std::string asOf;  // "" = today (UTC)
    std::string patientId;
    std::string sourceName;                            // for messages; "" = "input"
    ppmg_audience audience = PPMG_AUDIENCE_CLINICIAN;  // render: the clinician's guidance or her handout
    std::string language;                              // BCP 47; "" = "en" (the handout's languages)
};

class GuidanceEngine {
public:
    explicit GuidanceEngine(EngineConfig config);  // throws Error(PPMG_E_CONTENT, ...)
    ~GuidanceEngine();
    GuidanceEngine(const GuidanceEngine&) = delete;
    GuidanceEngine& operator=(const GuidanceEngine&) = delete;

    std::string assess(const RequestSpec& r) const;  // JSON or text
    std::string render(const RequestSpec& r) const;  // CDA or HTML
    // Both from one reading of the record: the JSON assessment, and the document (CDA or HTML,
    // as r.outputFormat) that render would write.
    struct Both {
        std::string assessment;
        std::string document;
    };
    Both assessAndRender(const RequestSpec& r) const;
    const Content& content() const { return *content_; }
    const EngineConfig& config() const { return config_; }

private:
    struct Prepared;
    Prepared prepare(const RequestSpec& r) const;
    void checkDocumentFormat(const RequestSpec& r) const;
    size_t languageIndex(const RequestSpec& r) const;
    std::string document(const Prepared& p, const RequestSpec& r) const;

    EngineConfig config_;
    std::shared_ptr<const Content> content_;
    std::unique_ptr<const HtmlView> htmlView_;          // content/xsl/cda-to-html.xsl, when present
    std::unique_ptr<const CdaFragments> cdaFragments_;  // the CDA's content-only parts, written once
};

// Where the content is when the options name none.
std::string defaultContentDir();

}  // namespace ppmg::core
