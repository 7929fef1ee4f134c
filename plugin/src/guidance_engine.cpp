#include "guidance_engine.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <libxml/parser.h>
#include <sys/stat.h>

#include <mutex>

#include "assess/rule_engine.hpp"
#include "base/errors.hpp"
#include "read/record_mapping.hpp"
#include "write/assessment_writers.hpp"
#include "write/cda_writer.hpp"
#include "write/document_id.hpp"
#include "write/html_view.hpp"
#include "write/mdm_writer.hpp"

namespace ppmg::core {

namespace {

const char* kHtmlStylesheet = "xsl/cda-to-html.xsl";

Date today() {
    Poco::DateTime now;
    return Date{daysFromCivil(now.year(), static_cast<unsigned>(now.month()), static_cast<unsigned>(now.day()))};
}

}  // namespace

namespace {

std::mutex gPluginPathMutex;
std::string& pluginPathStore() {
    static auto* path = new std::string();  // never destroyed: an engine may be created at exit
    return *path;
}

bool isFile(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The folder part of a path, without a trailing slash ("" for a bare name).
std::string folderOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void setPluginPath(const std::string& path) {
    std::lock_guard<std::mutex> lock(gPluginPathMutex);
    pluginPathStore() = path;
}

std::string pluginPath() {
    std::lock_guard<std::mutex> lock(gPluginPathMutex);
    return pluginPathStore();
}

std::vector<std::string> installedContentCandidates(const std::string& plugin) {
    // <prefix>/lib/libppmg_plugin.so, <prefix>/lib/<multiarch>/libppmg_plugin.so, and the build
    // tree's <build>/bin/libppmg_plugin.so beside its copy <build>/share/ppmg/content.
    std::vector<std::string> out;
    std::string dir = folderOf(plugin);
    if (dir.empty()) dir = ".";
    for (const char* up : {"/..", "/../.."}) out.push_back(dir + up + "/" PPMG_INSTALL_CONTENT_REL);
    return out;
}

std::string installedContentDir(const std::string& plugin) {
    for (const auto& candidate : installedContentCandidates(plugin))
        if (isFile(candidate + "/ppmg-content.xml")) return candidate;
    return "";
}

struct GuidanceEngine::Prepared {
    Assessment assessment;
};

GuidanceEngine::GuidanceEngine(EngineConfig config) : config_(std::move(config)) {
    xmlInitParser();
    if (config_.contentDir.empty()) {
        const std::string plugin = pluginPath();
        if (plugin.empty())
            throw Error(PPMG_E_CONTENT,
                        "no content folder was given, and the plugin does not know where it is installed to "
                        "find its own (the host did not tell it)");
        config_.contentDir = installedContentDir(plugin);
        if (config_.contentDir.empty()) {
            std::string looked;
            for (const auto& c : installedContentCandidates(plugin)) looked += (looked.empty() ? "" : ", ") + c;
            throw Error(PPMG_E_CONTENT, "no content folder was given, and none is installed beside the plugin " +
                                            plugin + " (looked in " + looked + ")");
        }
    }
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
        r.outputFormat != PPMG_OUTPUT_HTML && r.outputFormat != PPMG_OUTPUT_MDM)
        throw Error(PPMG_E_UNSUPPORTED, "render writes CDA, HTML or MDM only");
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
    if (r.outputFormat == PPMG_OUTPUT_MDM) return writeMdm(p.assessment, cda, ctx);
    if (r.outputFormat != PPMG_OUTPUT_HTML) return cda;
    return htmlView_->transform(cda);
}

}  // namespace ppmg::core
