#include "guidance_engine.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <dlfcn.h>
#include <libxml/parser.h>

#include "assess/rule_engine.hpp"
#include "base/errors.hpp"
#include "read/record_mapping.hpp"
#include "write/assessment_writers.hpp"
#include "write/cda_writer.hpp"
#include "write/document_id.hpp"
#include "write/html_view.hpp"

namespace ppmg::core {

namespace {

const char* kHtmlStylesheet = "xsl/cda-to-html.xsl";

Date today() {
    Poco::DateTime now;
    return Date{daysFromCivil(now.year(), static_cast<unsigned>(now.month()), static_cast<unsigned>(now.day()))};
}

}  // namespace

std::string defaultContentDir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&defaultContentDir), &info) && info.dli_fname) {
        // The plugin sits in <prefix>/lib or in a multiarch <prefix>/lib/x86_64-linux-gnu.
        Poco::Path installed = Poco::Path(info.dli_fname).parent();
        for (int up = 1; up <= 2 && installed.depth() > 0; ++up) {
            installed.popDirectory();
            Poco::Path candidate(installed);
            candidate.append(Poco::Path(PPMG_INSTALL_CONTENT_REL).makeDirectory());
            if (Poco::File(candidate.toString() + "ppmg-content.xml").exists()) return candidate.toString();
        }
    }
    return PPMG_SOURCE_CONTENT_DIR;
}

struct GuidanceEngine::Prepared {
    Assessment assessment;
};

GuidanceEngine::GuidanceEngine(EngineConfig config) : config_(std::move(config)) {
    xmlInitParser();
    if (config_.contentDir.empty()) config_.contentDir = defaultContentDir();
    content_ = loadContent(config_.contentDir);
    cdaFragments_ = prepareCdaFragments(*content_);
    std::string xsl = Poco::Path(Poco::Path(config_.contentDir).makeDirectory(), kHtmlStylesheet).toString();
    if (Poco::File(xsl).exists()) htmlView_ = std::make_unique<HtmlView>(xsl);
}

GuidanceEngine::~GuidanceEngine() = default;

GuidanceEngine::Prepared GuidanceEngine::prepare(const RequestSpec& r) const {
    const std::string source = r.sourceName.empty() ? "input" : r.sourceName;
    Date asOf = today();
    if (!r.asOf.empty()) {
        auto d = parseIsoDate(r.asOf);
        if (!d) throw Error(PPMG_E_INVALID_ARGUMENT, "the as-of date \"" + r.asOf + "\" is not YYYY-MM-DD");
        asOf = *d;
    }
    RawRecord raw = readRecord(r.data, r.inputFormat, config_.limits, source);
    PatientRecord record = mapRecord(std::move(raw), r.patientId, *content_, source);
    return Prepared{ppmg::core::assess(*content_, record, asOf)};
}

std::string GuidanceEngine::assess(const RequestSpec& r) const {
    if (r.outputFormat != PPMG_OUTPUT_DEFAULT && r.outputFormat != PPMG_OUTPUT_JSON &&
        r.outputFormat != PPMG_OUTPUT_TEXT)
        throw Error(PPMG_E_UNSUPPORTED, "assess writes JSON or text only");
    Prepared p = prepare(r);
    if (r.outputFormat == PPMG_OUTPUT_TEXT) return writeAssessmentText(p.assessment, *content_, PPMG_VERSION);
    return writeAssessmentJson(p.assessment, *content_, PPMG_VERSION);
}

// The handout's language index for the request; the clinician's guidance is English whatever the
// request's language (clinical rules 1.1 leave it English-only), so its index is 0.
size_t GuidanceEngine::languageIndex(const RequestSpec& r) const {
    const std::string code = r.language.empty() ? "en" : r.language;
    const Handout& h = content_->handout;
    const size_t i = h.language(code);
    if (i == static_cast<size_t>(-1)) {
        std::string known;
        for (const auto& l : h.languages) known.append(known.empty() ? "" : ", ").append(l.code);
        if (code == "en" && h.languages.empty()) return 0;
        throw Error(PPMG_E_INVALID_ARGUMENT, "the language \"" + code + "\" is not one of the content's (" +
                                                 (known.empty() ? std::string("en") : known) + ")");
    }
    return i;
}

void GuidanceEngine::checkDocumentFormat(const RequestSpec& r) const {
    if (r.audience != PPMG_AUDIENCE_CLINICIAN && r.audience != PPMG_AUDIENCE_PATIENT)
        throw Error(PPMG_E_INVALID_ARGUMENT, "unknown audience " + std::to_string(static_cast<int>(r.audience)));
    if (r.audience == PPMG_AUDIENCE_PATIENT && content_->handout.languages.empty())
        throw Error(PPMG_E_UNSUPPORTED, "the content has no patient handout");
    languageIndex(r);
    if (r.outputFormat != PPMG_OUTPUT_DEFAULT && r.outputFormat != PPMG_OUTPUT_CDA &&
        r.outputFormat != PPMG_OUTPUT_HTML)
        throw Error(PPMG_E_UNSUPPORTED, "render writes CDA or HTML only");
    if (r.outputFormat == PPMG_OUTPUT_HTML && !htmlView_)
        throw Error(PPMG_E_UNSUPPORTED, "no HTML stylesheet in the content (" + std::string(kHtmlStylesheet) + ")");
}

std::string GuidanceEngine::render(const RequestSpec& r) const {
    checkDocumentFormat(r);
    return document(prepare(r), r);
}

GuidanceEngine::Both GuidanceEngine::assessAndRender(const RequestSpec& r) const {
    checkDocumentFormat(r);
    Prepared p = prepare(r);
    Both out;
    out.assessment = writeAssessmentJson(p.assessment, *content_, PPMG_VERSION);
    out.document = document(p, r);
    return out;
}

std::string GuidanceEngine::document(const Prepared& p, const RequestSpec& r) const {
    RenderContext ctx;
    ctx.pluginVersion = PPMG_VERSION;
    ctx.custodianName = config_.custodianName;
    ctx.custodianOid = config_.custodianOid;
    ctx.documentId = newDocumentId();
    ctx.effectiveTime = Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y%m%d%H%M%S+0000");
    ctx.patient = r.audience == PPMG_AUDIENCE_PATIENT;
    ctx.language = ctx.patient ? languageIndex(r) : 0;
    std::string cda = writeCda(p.assessment, *content_, ctx, ctx.patient ? nullptr : cdaFragments_.get());
    if (r.outputFormat != PPMG_OUTPUT_HTML) return cda;
    return htmlView_->transform(cda);
}

}  // namespace ppmg::core
