// The clinician's HTML page (render with PPMG_OUTPUT_HTML, content/xsl/cda-to-html.xsl): the four
// massage types with their outcomes, "urgent" at the top when a warning sign is on record, no
// script, patient text escaped with its Unicode intact, a language, and a page that parses as HTML.
// tests/browser/ opens the same pages in Chromium.
#include <catch2/catch.hpp>

#include <libxml/HTMLparser.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "guidance_engine.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;

namespace {

const char* const kTypeNames[] = {"Abdominal massage", "Low-back massage", "Breast massage",
                                  "Shoulder and neck massage"};

const GuidanceEngine& engine() {
    static const GuidanceEngine e{EngineConfig{}};
    return e;
}

std::string renderHtml(const std::string& record, const std::string& asOf = "2025-11-15") {
    RequestSpec r;
    r.data = record;
    r.outputFormat = PPMG_OUTPUT_HTML;
    r.asOf = asOf;
    r.sourceName = "test_html_view";
    return engine().render(r);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// ---- the page, parsed by libxml2's HTML parser ---------------------------------------------------

struct ParseErrors {
    std::vector<std::string> messages;
};

void collectError(void* data, xmlErrorPtr e) {
    // HTML5 elements (section, main, header, footer, time, bdi) are unknown to the HTML 4 parser:
    // not an error in the page. Anything else (a broken tag, a bad entity, an unclosed element) is.
    if (e == nullptr || e->code == XML_HTML_UNKNOWN_TAG) return;
    static_cast<ParseErrors*>(data)->messages.push_back(std::to_string(e->line) + ": " +
                                                        (e->message ? e->message : "error"));
}

struct HtmlPage {
    std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc{nullptr, xmlFreeDoc};
    std::vector<std::string> errors;

    explicit HtmlPage(const std::string& html) {
        ParseErrors errs;
        htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
        REQUIRE(ctxt != nullptr);
        xmlSetStructuredErrorFunc(&errs, collectError);
        doc.reset(htmlCtxtReadMemory(ctxt, html.data(), static_cast<int>(html.size()), "page.html", "UTF-8",
                                     HTML_PARSE_NONET));
        xmlSetStructuredErrorFunc(nullptr, nullptr);
        htmlFreeParserCtxt(ctxt);
        errors = errs.messages;
    }

    double number(const char* xpath) const {
        std::unique_ptr<xmlXPathContext, void (*)(xmlXPathContextPtr)> ctx(xmlXPathNewContext(doc.get()),
                                                                           xmlXPathFreeContext);
        std::unique_ptr<xmlXPathObject, void (*)(xmlXPathObjectPtr)> r(
            xmlXPathEvalExpression(BAD_CAST xpath, ctx.get()), xmlXPathFreeObject);
        REQUIRE(r != nullptr);
        return xmlXPathCastToNumber(r.get());
    }

    std::string string(const char* xpath) const {
        std::unique_ptr<xmlXPathContext, void (*)(xmlXPathContextPtr)> ctx(xmlXPathNewContext(doc.get()),
                                                                           xmlXPathFreeContext);
        std::unique_ptr<xmlXPathObject, void (*)(xmlXPathObjectPtr)> r(
            xmlXPathEvalExpression(BAD_CAST xpath, ctx.get()), xmlXPathFreeObject);
        REQUIRE(r != nullptr);
        xmlChar* s = xmlXPathCastToString(r.get());
        std::string out(reinterpret_cast<const char*>(s));
        xmlFree(s);
        return out;
    }
};

// Checks every page must pass.
void requireWellFormedPage(const std::string& html) {
    INFO(html.substr(0, 400));
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(lower(html).find("<script") == std::string::npos);
    CHECK(lower(html).find("javascript:") == std::string::npos);
    HtmlPage page(html);
    REQUIRE(page.doc != nullptr);
    CHECK(page.errors == std::vector<std::string>{});
    CHECK(page.number("count(/html)") == 1);
    CHECK(page.number("count(/html/head/title)") == 1);
    CHECK(page.number("count(/html/body)") == 1);
    CHECK(page.number("count(//script)") == 0);
    CHECK(page.number("count(//*[@*[starts-with(translate(name(), 'ON', 'on'), 'on')]])") == 0);
    CHECK(page.number("count(//iframe | //object | //embed | //img | //link)") == 0);
    CHECK(page.string("/html/@lang") == "en-US");
    CHECK(page.number("count(//main)") == 1);
    CHECK(page.number("count(//h1)") == 1);
    CHECK(page.number("count(//table[not(normalize-space(caption))])") == 0);
    CHECK(page.number("count(//style)") == 1);
    // The four massage types, each a section with a heading and an outcome label in words.
    CHECK(page.number("count(//section[@data-massage-type])") == 4);
    CHECK(page.number(
              "count(//section[@data-massage-type][h3 or */h3][.//*[@class='badge-label'][normalize-space()]])") == 4);
    const std::string text = page.string("string(/html/body)");
    for (const char* name : kTypeNames) {
        INFO(name);
        CHECK(text.find(name) != std::string::npos);
    }
    // Provenance: content version, plugin version, as-of date.
    CHECK(text.find("Content version: 1.1.0") != std::string::npos);
    CHECK(text.find("Plugin version: " PPMG_VERSION) != std::string::npos);
    CHECK(text.find("As-of date: 2025-11-15") != std::string::npos);
}

const char* kEscalateRecord = R"({"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1990-05-01",
   "name":[{"family":"Urgent","given":["Test"]}]}},
 {"resource":{"resourceType":"Procedure","id":"d1","status":"completed",
   "code":{"coding":[{"system":"http://snomed.info/sct","code":"177184002"}]},
   "subject":{"reference":"Patient/p1"},"performedDateTime":"2025-10-21"}},
 {"resource":{"resourceType":"Observation","id":"t1","status":"final",
   "code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/p1"},
   "effectiveDateTime":"2025-11-14T07:00:00Z",
   "valueQuantity":{"value":38.9,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}},
 {"resource":{"resourceType":"Observation","id":"h1","status":"final",
   "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},
   "effectiveDateTime":"2025-11-14T07:00:00Z",
   "valueQuantity":{"value":124,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}}]})";

// Hostile patient text: markup, quotes, a CDATA end, right-to-left scripts and an emoji.
const char* kHostileGiven = "<script>alert(1)</script>";
const char* kHostileFamily = "O'Brien \"Nour\" ]]> נועה כהן نور الهدى 🌸";
const char* kHostileRecord = R"({"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Patient","id":"p2","gender":"female","birthDate":"1994-07-09",
   "identifier":[{"system":"urn:oid:2.16.840.1.113883.19.5","value":"MRN-<b>&amp;\"7\"</b>"}],
   "name":[{"family":"O'Brien \"Nour\" ]]> נועה כהן نور الهدى 🌸","given":["<script>alert(1)</script>"]}]}},
 {"resource":{"resourceType":"Procedure","id":"d2","status":"completed",
   "code":{"coding":[{"system":"http://snomed.info/sct","code":"177184002",
     "display":"Normal delivery <img src=x onerror=alert(2)> 'לידה'"}]},
   "subject":{"reference":"Patient/p2"},"performedDateTime":"2025-11-09"}}]})";

}  // namespace

TEST_CASE("HTML view: the sample patient's page names the four types and has no urgent banner", "[html]") {
    const std::string html = renderHtml(ppmg::test::readText(PPMG_SAMPLES_DIR "/sample-patient.json"));
    requireWellFormedPage(html);
    HtmlPage page(html);
    CHECK(page.number("count(//section[@data-outcome='modify'])") == 4);
    CHECK(page.number("count(//*[contains(concat(' ', @class, ' '), ' urgent ')])") == 0);
    CHECK(page.string("string(//*[contains(@class, 'fact-patient')])").find("Amara Grace Okafor-Lindqvist") !=
          std::string::npos);
    // The warning-sign checklist, the references, the data gaps and the provenance are there.
    CHECK(page.number("count(//ul[@class='checklist']/li)") >= 6);
    CHECK(page.number("count(//section[@id='v-references']//li[@id])") > 0);
    CHECK(page.string("string(//section[@id='v-findings'])").find("Data gaps") != std::string::npos);
    CHECK(page.number("count(//section[@id='v-provenance'])") == 1);
    // Benefits carry their evidence grade.
    CHECK(page.number("count(//section[@data-massage-type]//*[@class='grade'])") > 0);
}

TEST_CASE("HTML view: a warning sign puts URGENT at the top of the page", "[html]") {
    const std::string html = renderHtml(kEscalateRecord);
    requireWellFormedPage(html);
    HtmlPage page(html);
    CHECK(page.number("count(//section[@data-outcome='escalate'])") == 4);
    // The banner comes before the guidance, says urgent, and carries the data that triggered it.
    const std::string banner = page.string("string(//main/*[1][@role='alert'])");
    CHECK(lower(banner).find("urgent") != std::string::npos);
    CHECK(banner.find("PPM-ESC-04") != std::string::npos);
    CHECK(banner.find("38.9") != std::string::npos);
    CHECK(page.string("string(//main/*[1]//h2)").rfind("URGENT", 0) == 0);
    CHECK(page.string("/html/head/title").rfind("URGENT", 0) == 0);
    // The outcome is a label in words, not a colour.
    CHECK(page.string("string(//section[@data-massage-type='breast']//*[@class='badge-label'])") ==
          "Urgent clinical assessment");
}

TEST_CASE("HTML view: hostile patient text is escaped, verbatim and Unicode-intact", "[html]") {
    const std::string html = renderHtml(kHostileRecord);
    requireWellFormedPage(html);
    // Escaped in the file, Unicode written as UTF-8 (not as character references).
    CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(html.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
    CHECK(html.find("]]&gt; נועה כהן نور الهدى 🌸") != std::string::npos);
    CHECK(html.find("'לידה'") != std::string::npos);
    CHECK(html.find("&#") == std::string::npos);
    // The parsed page shows the text exactly as the record has it, and runs nothing.
    HtmlPage page(html);
    REQUIRE(page.doc != nullptr);
    const std::string patient = page.string("string(//*[contains(@class, 'fact-patient')]//bdi)");
    CHECK(patient == std::string(kHostileGiven) + " " + kHostileFamily);
    CHECK(page.string("string(/html/body)").find("MRN-<b>&amp;\"7\"</b>") != std::string::npos);
    CHECK(page.string("string(/html/body)").find("Normal delivery <img src=x onerror=alert(2)> 'לידה'") !=
          std::string::npos);
    CHECK(page.number("count(//img | //b)") == 0);
    CHECK(page.string("/html/head/title").find(kHostileGiven) != std::string::npos);
    // Defer, no-flag: the earliest date is shown for abdominal massage.
    CHECK(page.string("string(//section[@data-massage-type='abdominal']/@data-outcome)") == "defer");
    CHECK(page.string("string(//section[@data-massage-type='abdominal']//*[@class='earliest']//time)") == "2025-11-23");
}

TEST_CASE("HTML view: only http(s) and in-page links; the CDA's narrative IDs become anchors", "[html]") {
    const std::string html = renderHtml(ppmg::test::readText(PPMG_SAMPLES_DIR "/sample-patient.json"));
    HtmlPage page(html);
    CHECK(page.number("count(//a[not(starts-with(@href, '#') or starts-with(@href, 'https://') or "
                      "starts-with(@href, 'http://'))])") == 0);
    // Every in-page link has its target.
    CHECK(page.number("count(//a[starts-with(@href, '#')][not(substring(@href, 2) = //@id)])") == 0);
}
