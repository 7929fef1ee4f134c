// The streaming XML writer behind the CDA document: it must write exactly what libxml2's
// xmlTextWriter writes for the same calls (escaping included), and what it writes must parse back
// to the same text and attribute values.
#include <catch2/catch.hpp>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include <random>
#include <string>
#include <vector>

#include "write/xml_stream.hpp"

using ppmg::core::XmlStream;

namespace {

// The same document through xmlTextWriter (the reference) and XmlStream.
struct Both {
    xmlBufferPtr buffer = xmlBufferCreate();
    xmlTextWriterPtr writer = xmlNewTextWriterMemory(buffer, 0);
    XmlStream stream;

    ~Both() {
        if (writer) xmlFreeTextWriter(writer);
        xmlBufferFree(buffer);
    }
    void open(const char* name) {
        REQUIRE(xmlTextWriterStartElement(writer, BAD_CAST name) >= 0);
        stream.open(name);
    }
    void attr(const char* name, const std::string& value) {
        REQUIRE(xmlTextWriterWriteAttribute(writer, BAD_CAST name, BAD_CAST value.c_str()) >= 0);
        stream.attr(name, value);
    }
    void text(const std::string& s) {
        REQUIRE(xmlTextWriterWriteString(writer, BAD_CAST s.c_str()) >= 0);
        stream.text(s);
    }
    void raw(const std::string& s) {
        REQUIRE(xmlTextWriterWriteRawLen(writer, BAD_CAST s.data(), static_cast<int>(s.size())) >= 0);
        stream.raw(s);
    }
    void close() {
        REQUIRE(xmlTextWriterEndElement(writer) >= 0);
        stream.close();
    }
    // {reference, ours}
    std::pair<std::string, std::string> finish() {
        REQUIRE(xmlTextWriterEndDocument(writer) >= 0);
        xmlFreeTextWriter(writer);
        writer = nullptr;
        std::string ref(reinterpret_cast<const char*>(xmlBufferContent(buffer)),
                        static_cast<size_t>(xmlBufferLength(buffer)));
        return {ref, stream.finish()};
    }
};

// Hostile and ordinary values: markup characters, whitespace that attributes normalise, and
// UTF-8 of every length. All are XML 1.0 characters (the CDA writer repairs anything else first).
const std::vector<std::string> kSamples = {
    "",
    "plain",
    "<script>alert(\"x\")</script>",
    "a & b < c > d \" e ' f",
    "&amp; already escaped &lt;",
    "tab\there, line\nfeed, carriage\rreturn, both\r\n",
    "]]> and <![CDATA[ x ]]>",
    "caf\xC3\xA9 \xE2\x80\x93 en dash, \xE2\x82\xAC euro, \xF0\x9F\x98\x80 emoji, \xEF\xBF\xBD replacement",
    "\xE4\xB8\xAD\xE6\x96\x87 and \xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A",
    "\"\"\"''' &&& <<< >>>",
    std::string(5000, 'x') + "<" + std::string(5000, 'y'),
};

std::string randomXmlText(std::mt19937& rng, size_t maxLength) {
    static const std::vector<std::string> pieces = {"a",
                                                    "Z",
                                                    "0",
                                                    " ",
                                                    "<",
                                                    ">",
                                                    "&",
                                                    "\"",
                                                    "'",
                                                    "\t",
                                                    "\n",
                                                    "\r",
                                                    ";",
                                                    "#",
                                                    "]]>",
                                                    "\xC3\xA9",
                                                    "\xC2\xA0",
                                                    "\xE2\x80\x93",
                                                    "\xEF\xBF\xBD",
                                                    "\xF0\x9F\x98\x80",
                                                    "\xF4\x8F\xBF\xBD",
                                                    "\x7F"};
    std::uniform_int_distribution<size_t> length(0, maxLength), piece(0, pieces.size() - 1);
    std::string s;
    for (size_t n = length(rng); n > 0; --n) s += pieces[piece(rng)];
    return s;
}

// The repair the CDA writer applied before it escaped (each byte that is not part of an XML 1.0
// character becomes U+FFFD), written out plainly as the reference for dataText and dataAttr.
std::string repaired(const std::string& s) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const size_t n = XmlStream::xmlCharLength(p, end);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++p;
        } else {
            out.append(reinterpret_cast<const char*>(p), n);
            p += n;
        }
    }
    return out;
}

std::string randomBytes(std::mt19937& rng, size_t maxLength) {
    static const std::vector<std::string> pieces = {"a",
                                                    " ",
                                                    "<",
                                                    "&",
                                                    "\"",
                                                    "\t",
                                                    "\n",
                                                    "\r",
                                                    std::string(1, '\0'),
                                                    "\x01",
                                                    "\x1F",
                                                    "\x7F",
                                                    "\xC3\xA9",
                                                    "\xC3",
                                                    "\xA9",
                                                    "\xC0\x80",
                                                    "\xE2\x80",
                                                    "\xED\xA0\x80",
                                                    "\xEF\xBF\xBE",
                                                    "\xEF\xBF\xBF",
                                                    "\xF0\x9F\x98\x80",
                                                    "\xF4\x90\x80\x80",
                                                    "\xF5\x80\x80\x80",
                                                    "\xFF",
                                                    std::string(20, 'x')};
    std::uniform_int_distribution<size_t> length(0, maxLength), piece(0, pieces.size() - 1);
    std::string s;
    for (size_t n = length(rng); n > 0; --n) s += pieces[piece(rng)];
    return s;
}

std::string attributeOf(xmlNodePtr node, const char* name) {
    xmlChar* v = xmlGetProp(node, BAD_CAST name);
    std::string s = v ? reinterpret_cast<const char*>(v) : "";
    xmlFree(v);
    return s;
}

std::string textOf(xmlNodePtr node) {
    xmlChar* v = xmlNodeGetContent(node);
    std::string s = v ? reinterpret_cast<const char*>(v) : "";
    xmlFree(v);
    return s;
}

}  // namespace

TEST_CASE("XML stream: writes what xmlTextWriter writes, escaping included", "[write][xml]") {
    for (const std::string& s : kSamples) {
        Both b;
        b.open("ClinicalDocument");
        b.attr("xmlns", "urn:hl7-org:v3");
        b.open("id");
        b.attr("root", s);
        b.attr("extension", s);
        b.close();
        b.open("title");
        b.text(s);
        b.close();
        b.open("empty");
        b.close();
        b.open("emptyText");
        b.text("");
        b.close();
        b.raw("<content styleCode=\"Bold\">");
        b.text(s);
        b.raw("</content>");
        b.open("open");
        b.attr("a", s);
        b.open("child");
        b.text(s);
        // finish() closes <child>, <open> and the root
        auto [reference, ours] = b.finish();
        CHECK(ours == reference);
    }
}

TEST_CASE("XML stream: random text and attribute values match xmlTextWriter", "[write][xml]") {
    std::mt19937 rng(20251125);
    for (int round = 0; round < 500; ++round) {
        Both b;
        b.open("r");
        b.attr("v", randomXmlText(rng, 40));
        for (int i = 0; i < 5; ++i) {
            b.open("e");
            if (round % 2) b.attr("w", randomXmlText(rng, 20));
            b.text(randomXmlText(rng, 60));
            b.close();
        }
        auto [reference, ours] = b.finish();
        REQUIRE(ours == reference);
    }
}

TEST_CASE("XML stream: what it writes parses back to the same values", "[write][xml]") {
    std::mt19937 rng(7);
    std::vector<std::string> values = kSamples;
    for (int i = 0; i < 200; ++i) values.push_back(randomXmlText(rng, 50));
    for (const std::string& s : values) {
        XmlStream x;
        x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.open("r");
        x.attr("v", s);
        x.open("t");
        x.text(s);
        const std::string doc = x.finish();
        xmlDocPtr parsed = xmlReadMemory(doc.data(), static_cast<int>(doc.size()), "t.xml", nullptr, XML_PARSE_NONET);
        REQUIRE(parsed != nullptr);
        xmlNodePtr root = xmlDocGetRootElement(parsed);
        CHECK(attributeOf(root, "v") == s);
        CHECK(textOf(root->children) == s);
        xmlFreeDoc(parsed);
    }
}

TEST_CASE("XML stream: data is repaired to XML characters and escaped in one pass", "[write][xml]") {
    std::mt19937 rng(42);
    std::vector<std::string> values = kSamples;
    values.push_back(std::string("nul\0inside", 11));
    values.push_back("broken \xC3 utf-8 \xE2\x82 and \xFF\xFE, surrogate \xED\xA0\x80, bell \x07");
    for (int i = 0; i < 1000; ++i) values.push_back(randomBytes(rng, 30));
    for (const std::string& s : values) {
        // The reference: repair, then xmlTextWriter's escaping.
        Both b;
        b.open("r");
        b.attr("v", repaired(s));
        b.text(repaired(s));
        const std::string reference = b.finish().first;
        XmlStream x;
        x.open("r");
        x.dataAttr("v", s);
        x.dataText(s);
        REQUIRE(x.finish() == reference);
    }
}

TEST_CASE("XML stream: start tags close lazily, empty elements are self-closed", "[write][xml]") {
    XmlStream x;
    x.open("a");
    x.attr("k", "v");
    x.open("b");
    x.close();
    x.open("c");
    x.text("");
    x.close();
    x.raw("<d/>");
    x.close();
    x.close();  // nothing open: ignored
    CHECK(x.finish() == "<a k=\"v\"><b/><c></c><d/></a>\n");
}

TEST_CASE("XML stream: empty values, including views with no storage at all, write nothing", "[write][xml]") {
    // A default-constructed view has a null data pointer (a record's absent string is one); the
    // writer must not hand it to memcpy.
    XmlStream stream(64);
    stream.open("a");
    stream.dataAttr("b", std::string_view());
    stream.attr("c", std::string_view());
    stream.dataText(std::string_view());
    stream.text(std::string_view());
    stream.raw(std::string_view());
    stream.close();
    CHECK(stream.finish() == "<a b=\"\" c=\"\"></a>\n");  // text, even empty, ends the start tag
}
