// The engine behind the C ABI: content loaded once, then read -> assess -> write per request.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "content/content.hpp"
#include "ppmg/ppmg.h"
#include "read/record_reader.hpp"

namespace ppmg::core {

struct CdaFragments;  // write/cda_writer.hpp
class HtmlView;       // write/html_view.hpp

struct EngineConfig {
    std::string contentDir;  // "" = installed beside the plugin (pluginPath()), else PPMG_E_CONTENT
    std::string custodianName = "ppmg";
    std::string custodianOid = PPMG_OID_ROOT;
    ReadLimits limits;
};

struct RequestSpec {
    std::string_view data;
    ppmg_input_format inputFormat = PPMG_INPUT_AUTO;
    ppmg_output_format outputFormat = PPMG_OUTPUT_DEFAULT;
    std::string asOf;  // "" = today (UTC); the ABI refuses an empty as_of before it gets here
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

// The path of the plugin's own file, as the host's init call gave it (or, for a host built before
// ABI 1.2, as the dynamic loader records it: abi/entry.cpp); "" until one of them has said.
void setPluginPath(const std::string& path);
std::string pluginPath();
// Where the content installed beside a plugin at that path may be: <dir>/../share/ppmg/content
// (<prefix>/lib, or the build tree's bin/ beside its copy of the content) and
// <dir>/../../share/ppmg/content (a multiarch <prefix>/lib/x86_64-linux-gnu).
std::vector<std::string> installedContentCandidates(const std::string& plugin);
// The first candidate that holds ppmg-content.xml, or "".
std::string installedContentDir(const std::string& plugin);

}  // namespace ppmg::core
